package api

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
)

func (f *fixture) relayPage(t *testing.T, query string) relayList {
	t.Helper()
	r := f.get("/v1/relay" + query)
	expect(t, r, http.StatusOK)
	var page relayList
	r.decode(t, &page)
	return page
}

func TestRelay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		// Empty before any reply was queued.
		if page := f.relayPage(t, ""); page.Items == nil || len(page.Items) != 0 || page.NextAfter != 0 {
			t.Fatalf("empty queue: %+v", page)
		}
		var ids []int64
		for i := range 4 {
			res, err := f.st.Save(ctx, &store.Message{ReceivedAt: f.base.Add(time.Duration(i) * time.Second),
				Source: "smtp", MailFrom: "alice@customer.test", RcptTo: []string{"bounces+r@sender.fixture.test"},
				Raw: fmt.Appendf(nil, "Subject: Re: news %d\r\n\r\nThanks\r\n", i), Relay: true})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.MessageID)
		}
		if _, err := f.st.ClaimRelay(ctx, "test", time.Minute, time.Now(), 10); err != nil {
			t.Fatal(err)
		}
		if err := f.st.RelayDone(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		if err := f.st.RelayFailed(ctx, ids[1], "RCPT TO:<bounces+r@sender.fixture.test>: 550 5.1.1 No such user"); err != nil {
			t.Fatal(err)
		}

		failed := f.relayPage(t, "?state=failed")
		if len(failed.Items) != 1 {
			t.Fatalf("failed items: %+v", failed)
		}
		it := failed.Items[0]
		if it.MessageID != ids[1] || it.State != store.RelayFailed || it.Attempts != 1 ||
			!strings.Contains(it.LastError, "550 5.1.1") || it.MailFrom != "alice@customer.test" ||
			!reflect.DeepEqual(it.RcptTo, []string{"bounces+r@sender.fixture.test"}) {
			t.Errorf("failed item %+v", it)
		}
		for _, tc := range []struct {
			query string
			want  []int64
			next  int64
		}{
			{"", ids, 0},
			{"?state=queued", ids[2:], 0},
			{"?state=sent", ids[:1], 0},
			{"?limit=3", ids[:3], ids[2]},
			{fmt.Sprintf("?limit=3&after=%d", ids[2]), ids[3:], 0},
			{fmt.Sprintf("?state=queued&after=%d", ids[2]), ids[3:], 0},
		} {
			page := f.relayPage(t, tc.query)
			var got []int64
			for _, it := range page.Items {
				got = append(got, it.MessageID)
			}
			if !reflect.DeepEqual(got, tc.want) || page.NextAfter != tc.next {
				t.Errorf("%s: items %v next %d, want %v next %d", tc.query, got, page.NextAfter, tc.want, tc.next)
			}
		}

		for _, tc := range []struct{ query, param string }{
			{"?state=lost", "state"},
			{"?after=0", "after"},
			{"?after=x", "after"},
			{"?limit=0", "limit"},
			{"?cursor=abc", "cursor"},
		} {
			r := f.do(request{method: "GET", path: "/v1/relay" + tc.query, token: readToken, invalid: true})
			expect(t, r, http.StatusBadRequest)
			if p := r.problem(t); p.Parameter != tc.param {
				t.Errorf("%s: problem names %q, want %q (%s)", tc.query, p.Parameter, tc.param, p.Detail)
			}
		}
		// A read token is enough; none is not.
		expect(t, f.do(request{method: "GET", path: "/v1/relay", invalid: true}), http.StatusUnauthorized)
	})
}
