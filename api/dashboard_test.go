package api

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

func TestSession(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		token, name string
		scopes      []string
	}{
		{readToken, "reader", []string{ScopeRead}},
		{writeToken, "ops", []string{ScopeRead, ScopeWrite}},
	} {
		r := f.do(request{method: "GET", path: "/v1/session", token: c.token})
		expect(t, r, http.StatusOK)
		var s sessionView
		r.decode(t, &s)
		if s.Token != c.name || strings.Join(s.Scopes, ",") != strings.Join(c.scopes, ",") {
			t.Errorf("session of %s: %+v", c.name, s)
		}
	}
	r := f.do(request{method: "GET", path: "/v1/session", token: "not-a-token"})
	expect(t, r, http.StatusUnauthorized)
	r.problem(t)
}

// TestSessionWriteOnly: a token without the read scope may still ask
// what it may do.
func TestSessionWriteOnly(t *testing.T) {
	f := newFixture(t)
	a, err := New(Config{Store: f.st, Tokens: []Token{{Name: "feeder", Secret: "feeder-secret-0123", Scopes: []string{ScopeWrite}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Config.Handler = a.Handler()
	r := f.do(request{method: "GET", path: "/v1/session", token: "feeder-secret-0123"})
	expect(t, r, http.StatusOK)
	var s sessionView
	r.decode(t, &s)
	if s.Token != "feeder" || len(s.Scopes) != 1 || s.Scopes[0] != ScopeWrite {
		t.Errorf("session: %+v", s)
	}
	expect(t, f.do(request{method: "GET", path: "/v1/bounces", token: "feeder-secret-0123"}), http.StatusForbidden)
}

func TestExplain(t *testing.T) {
	f := newFixture(t)
	var en, nl classify.Explanation
	r := f.get("/v1/explain?q=5.1.1")
	expect(t, r, http.StatusOK)
	r.decode(t, &en)
	if en.Status != "5.1.1" || en.Result.Class != record.ClassHard || en.Result.Explanation == "" || len(en.Entries) == 0 {
		t.Errorf("explain 5.1.1: %+v", en)
	}
	r = f.get("/v1/explain?lang=nl&q=" + url.QueryEscape("550 5.1.1 user unknown"))
	expect(t, r, http.StatusOK)
	r.decode(t, &nl)
	if nl.Result.Reason != en.Result.Reason || nl.Result.Explanation == "" || nl.Result.Explanation == en.Result.Explanation {
		t.Errorf("Dutch explanation of 5.1.1 %q; English %q", nl.Result.Explanation, en.Result.Explanation)
	}
	for _, c := range []struct {
		query  string
		status int
		param  string
	}{
		{"", http.StatusBadRequest, "q"},
		{"?q=", http.StatusBadRequest, "q"},
		{"?q=5.1.1&lang=de", http.StatusBadRequest, "lang"},
		{"?q=zzqx+plover", http.StatusNotFound, ""},
		{"?q=5.1.1&code=1", http.StatusBadRequest, "code"},
	} {
		r := f.do(request{method: "GET", path: "/v1/explain" + c.query, token: readToken, invalid: c.status == http.StatusBadRequest})
		expect(t, r, c.status)
		if p := r.problem(t); p.Parameter != c.param {
			t.Errorf("explain%s: parameter %q, want %q", c.query, p.Parameter, c.param)
		}
	}
}

func TestBouncesByMessageID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, id := range []string{"campaign-7.block@sender.fixture.test", "<campaign-7.block@sender.fixture.test>"} {
			r := f.get("/v1/bounces?message_id=" + url.QueryEscape(id))
			expect(t, r, http.StatusOK)
			var p bouncePage
			r.decode(t, &p)
			if len(p.Bounces) != 1 || p.Bounces[0].Recipient != "someone@d.example.test" {
				t.Errorf("bounces of Message-ID %s: %+v", id, p.Bounces)
			}
		}
		r := f.get("/v1/bounces?message_id=" + url.QueryEscape("<other@sender.fixture.test>"))
		expect(t, r, http.StatusOK)
		var p bouncePage
		r.decode(t, &p)
		if len(p.Bounces) != 0 {
			t.Errorf("bounces of an unknown Message-ID: %+v", p.Bounces)
		}
	})
}

func TestExportSuppressions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		// A hand-made suppression whose note and reason would be a
		// formula in a spreadsheet.
		r := f.do(request{method: "PUT", path: "/v1/suppressions/" + url.PathEscape("manual@e.example.test"), token: writeToken,
			body: `{"reason":"=HYPERLINK(\"http://x.test\")","note":"asked"}`})
		expect(t, r, http.StatusOK)

		r = f.do(request{method: "GET", path: "/v1/suppressions/export", token: readToken})
		expect(t, r, http.StatusOK)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := r.header.Get("Content-Disposition"); !strings.Contains(cd, `filename="suppressions-`) {
			t.Errorf("Content-Disposition %q", cd)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
			t.Errorf("header %v", rows[0])
		}
		if len(rows) != 1+hardMessages+1 {
			t.Fatalf("%d rows, want %d suppressions and a header", len(rows), hardMessages+1)
		}
		var manual []string
		for _, row := range rows[1:] {
			if row[0] == "manual@e.example.test" {
				manual = row
			}
			if _, err := time.Parse(time.RFC3339, row[3]); err != nil {
				t.Errorf("since %q: %v", row[3], err)
			}
		}
		if manual == nil || manual[1] != "manual" || manual[2] != `'=HYPERLINK("http://x.test")` {
			t.Errorf("manual suppression row %q", manual)
		}
		for i := 2; i < len(rows); i++ {
			if rows[i-1][0] >= rows[i][0] {
				t.Errorf("rows out of order: %s before %s", rows[i-1][0], rows[i][0])
			}
		}

		r = f.do(request{method: "GET", path: "/v1/suppressions/export?domain=a.example.test&cause=hard", token: readToken})
		expect(t, r, http.StatusOK)
		rows, err = csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1+(hardMessages+1)/2 {
			t.Errorf("%d rows for a.example.test, want %d", len(rows)-1, (hardMessages+1)/2)
		}
		r = f.do(request{method: "GET", path: "/v1/suppressions/export?cause=bogus", token: readToken, invalid: true})
		expect(t, r, http.StatusBadRequest)
		r.problem(t)
	})
}

func TestExportManyPages(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	want := exportPage + 5
	for i := range want {
		if err := f.st.AddSuppression(ctx, store.Suppression{Address: "bulk" + itoa(int64(i)) + "@bulk.example.test", Reason: "import"}); err != nil {
			t.Fatal(err)
		}
	}
	r := f.do(request{method: "GET", path: "/v1/suppressions/export?domain=bulk.example.test", token: readToken})
	expect(t, r, http.StatusOK)
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		seen[row[0]] = true
	}
	if len(rows) != want+1 || len(seen) != want {
		t.Errorf("%d rows, %d addresses; want %d", len(rows)-1, len(seen), want)
	}
}

func TestOverview(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, lang := range []string{"en", "nl"} {
			r := f.get("/v1/overview?lang=" + lang)
			expect(t, r, http.StatusOK)
			var o overviewResult
			r.decode(t, &o)
			if o.Bucket != "hour" || len(o.Buckets) < 24 || len(o.Buckets) > 25 {
				t.Fatalf("overview: bucket %s, %d buckets", o.Bucket, len(o.Buckets))
			}
			var sum = map[string]int64{}
			for i, b := range o.Buckets {
				if !b.Start.Equal(o.Since.Add(time.Duration(i) * time.Hour)) {
					t.Errorf("bucket %d starts %s", i, b.Start)
				}
				for k, n := range b.Counts {
					sum[k] += n
				}
			}
			if sum["hard"] != hardMessages || sum["soft"] != softMessages || sum["block"] != 1 ||
				o.Totals["hard"] != hardMessages || o.Totals["soft"] != softMessages || o.Totals["block"] != 1 {
				t.Errorf("counts %v, totals %v", sum, o.Totals)
			}
			domains := map[string]int64{}
			for _, d := range o.Domains {
				domains[d.Key] = d.Total
			}
			if domains["a.example.test"] != (hardMessages+1)/2 || domains["b.example.test"] != hardMessages/2 ||
				domains["c.example.test"] != softMessages || domains["d.example.test"] != 1 {
				t.Errorf("domains %+v", o.Domains)
			}
			if len(o.Reasons) == 0 || o.Reasons[0].Key != "userunknown" || o.Reasons[0].Total != hardMessages {
				t.Errorf("reasons %+v", o.Reasons)
			}
			if len(o.Incidents) != 1 || o.IncidentsOpen != 1 {
				t.Fatalf("incidents %+v", o.Incidents)
			}
			inc := o.Incidents[0]
			if inc.Status != "5.7.1" || inc.Recipients != 1 || inc.Count != 1 || inc.Explanation == "" {
				t.Errorf("incident %+v", inc)
			}
			if len(o.Webhooks) != 1 || o.Webhooks[0].Name != "crm" || !o.Webhooks[0].Healthy {
				t.Errorf("webhooks %+v", o.Webhooks)
			}
		}
		// Days: the range is widened to whole days.
		since := url.QueryEscape(f.base.Add(-48 * time.Hour).Format(time.RFC3339))
		r := f.get("/v1/overview?bucket=day&top=1&since=" + since)
		expect(t, r, http.StatusOK)
		var o overviewResult
		r.decode(t, &o)
		if o.Since.Hour() != 0 || o.Until.Hour() != 0 || o.Until.Sub(o.Since)%(24*time.Hour) != 0 ||
			len(o.Buckets) != int(o.Until.Sub(o.Since)/(24*time.Hour)) || len(o.Domains) != 1 || o.Domains[0].Key != "a.example.test" {
			t.Errorf("daily overview: since %s until %s, %d buckets, domains %+v", o.Since, o.Until, len(o.Buckets), o.Domains)
		}
		for _, c := range []struct{ query, param string }{
			{"?bucket=week", "bucket"},
			{"?top=0", "top"},
			{"?top=1000", "top"},
			{"?lang=fr", "lang"},
			{"?since=2020-01-01T00:00:00Z&until=2019-01-01T00:00:00Z", "until"},
			{"?since=1900-01-01T00:00:00Z", "bucket"},
			// More hours than the store counts in one answer, fewer
			// than /v1/stats allows.
			{"?since=2020-01-01T00:00:00Z&until=2021-01-02T00:00:00Z", "bucket"},
		} {
			r := f.do(request{method: "GET", path: "/v1/overview" + c.query, token: readToken, invalid: true})
			expect(t, r, http.StatusBadRequest)
			if p := r.problem(t); p.Parameter != c.param {
				t.Errorf("overview%s: parameter %q, want %q (%s)", c.query, p.Parameter, c.param, p.Detail)
			}
		}
	})
}
