package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

func (f *fixture) register(t *testing.T, body string) sentResult {
	t.Helper()
	r := f.do(request{method: "POST", path: "/v1/sent", token: writeToken, body: body})
	expect(t, r, http.StatusOK)
	var res sentResult
	r.decode(t, &res)
	return res
}

func (f *fixture) sentTo(t *testing.T, messageID string) sentPage {
	t.Helper()
	r := f.get("/v1/sent/" + url.PathEscape(messageID))
	expect(t, r, http.StatusOK)
	var page sentPage
	r.decode(t, &page)
	return page
}

func TestSent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		sentAt := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
		body := `{"messages": [
			{"message_id": "<a1@mailer.example>", "recipient": "jane@example.com", "campaign": "spring", "tenant": "shop", "sent_at": "2026-05-04T10:00:00+02:00"},
			{"message_id": "<a1@mailer.example>", "recipient": "Joe@Example.ORG"},
			{"message_id": "b2/x@mailer.example", "recipient": "jane@example.com"}]}`
		if res := f.register(t, body); res != (sentResult{Registered: 3, New: 3}) {
			t.Errorf("first registration: %+v, want 3 registered, 3 new", res)
		}
		// Registering again is no error and adds nothing.
		if res := f.register(t, body); res != (sentResult{Registered: 3, New: 0}) {
			t.Errorf("second registration: %+v, want 3 registered, 0 new", res)
		}

		for _, id := range []string{"<a1@mailer.example>", "a1@mailer.example"} {
			page := f.sentTo(t, id)
			if page.MessageID != "a1@mailer.example" || len(page.Sent) != 2 {
				t.Fatalf("%s: %+v, want the 2 registrations of a1@mailer.example", id, page)
			}
			jane, joe := page.Sent[0], page.Sent[1]
			if jane.Recipient != "jane@example.com" || jane.Campaign != "spring" || jane.Tenant != "shop" || !jane.SentAt.Equal(sentAt) {
				t.Errorf("%s: first registration %+v", id, jane)
			}
			if joe.Recipient != "joe@example.org" || joe.Campaign != "" || joe.SentAt.IsZero() {
				t.Errorf("%s: second registration %+v, want the recipient in normal form and a time", id, joe)
			}
		}
		// A slash in a Message-ID, escaped in the path.
		if page := f.sentTo(t, "b2/x@mailer.example"); len(page.Sent) != 1 || page.Sent[0].Recipient != "jane@example.com" {
			t.Errorf("b2/x: %+v", page)
		}
		if page := f.sentTo(t, "<never@mailer.example>"); page.MessageID != "never@mailer.example" || page.Sent == nil || len(page.Sent) != 0 {
			t.Errorf("an unregistered Message-ID: %+v, want an empty list", page)
		}
		r := f.get("/v1/sent/%3C%20%3E")
		expect(t, r, http.StatusBadRequest)
		if p := r.problem(t); p.Parameter != "message_id" {
			t.Errorf("problem names %q, want message_id", p.Parameter)
		}
	})
}

// A bad entry is named and stops the batch: nothing of it is stored.
func TestSentBadInput(t *testing.T) {
	f := newFixture(t)
	good := `{"message_id": "<kept@mailer.example>", "recipient": "jane@example.com"}`
	batch := func(bad string) string { return `{"messages": [` + good + `, ` + bad + `]}` }
	var tooMany []string
	for i := range 51 {
		tooMany = append(tooMany, fmt.Sprintf(`{"message_id": "m%d@x", "recipient": "a@example.com"}`, i))
	}
	tests := []struct {
		name    string
		body    string
		status  int
		param   string
		detail  string
		invalid bool
	}{
		{"bad recipient", batch(`{"message_id": "m@x", "recipient": "nobody"}`), 422, "messages[1].recipient", `"nobody" is not a mail address`, false},
		{"empty message id", batch(`{"message_id": "", "recipient": "a@example.com"}`), 422, "messages[1].message_id", "is empty", true},
		{"brackets only", batch(`{"message_id": "< >", "recipient": "a@example.com"}`), 422, "messages[1].message_id", "is empty", false},
		{"long message id", batch(`{"message_id": "` + strings.Repeat("m", 999) + `", "recipient": "a@example.com"}`), 422, "messages[1].message_id", "at most 998", false},
		{"no recipient", batch(`{"message_id": "m@x"}`), 422, "messages[1].recipient", "missing", true},
		{"no message id", batch(`{"recipient": "a@example.com"}`), 422, "messages[1].message_id", "missing", true},
		{"bad time", batch(`{"message_id": "m@x", "recipient": "a@example.com", "sent_at": "yesterday"}`), 422, "messages[1].sent_at", "RFC 3339", true},
		{"long campaign", batch(`{"message_id": "m@x", "recipient": "a@example.com", "campaign": "` + strings.Repeat("c", 1001) + `"}`), 422, "messages[1].campaign", "at most 1000", false},
		{"unknown member", batch(`{"message_id": "m@x", "recipient": "a@example.com", "subject": "hi"}`), 400, "subject", "unknown member", true},
		{"not a string", batch(`{"message_id": 7, "recipient": "a@example.com"}`), 400, "messages.message_id", "", true},
		{"no messages", `{}`, 400, "messages", "messages", true},
		{"too many", `{"messages": [` + strings.Join(tooMany, ",") + `]}`, 413, "messages", "at most 50", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(request{method: "POST", path: "/v1/sent", token: writeToken, body: tc.body, invalid: tc.invalid})
			expect(t, r, tc.status)
			p := r.problem(t)
			if p.Parameter != tc.param || !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("problem %+v: want parameter %q and a detail with %q", p, tc.param, tc.detail)
			}
		})
	}
	if page := f.sentTo(t, "kept@mailer.example"); len(page.Sent) != 0 {
		t.Errorf("a refused batch stored %+v", page.Sent)
	}
	r := f.do(request{method: "POST", path: "/v1/sent", token: readToken, body: `{"messages": [` + good + `]}`})
	expect(t, r, http.StatusForbidden)
	r.problem(t)
	if page := f.sentTo(t, "kept@mailer.example"); len(page.Sent) != 0 {
		t.Errorf("a refused token stored %+v", page.Sent)
	}
}

// Records carry how they were authenticated, and messages the results of
// the checks.
func TestAuthFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
		const results = "rebound; verp=pass key=k1"
		res, err := f.st.Save(context.Background(), &store.Message{ReceivedAt: at, Source: "smtp",
			MailFrom: "", RcptTo: []string{"b+k1+aaaaaaaaaaaa+pat=example.com@bounces.example.net"},
			Raw: []byte("Subject: authenticated\r\n\r\nno such user pat@example.com\r\n"), Format: "rfc3464",
			AuthResults: results,
			Records: []record.Record{{Index: 1, Recipient: "pat@example.com", Action: "failed", Status: "5.1.1",
				SMTPCode: "550", Reason: "userunknown", Class: record.ClassHard, Advice: record.AdviceSuppress,
				Format: "rfc3464", Confidence: record.ConfidenceHigh, ReceivedAt: at,
				Authenticated: true, Auth: record.AuthVERP}}})
		if err != nil {
			t.Fatal(err)
		}
		r := f.get(fmt.Sprintf("/v1/messages/%d", res.MessageID))
		expect(t, r, http.StatusOK)
		var m messageView
		r.decode(t, &m)
		if m.AuthResults != results || len(m.Records) != 1 {
			t.Fatalf("message %+v, want auth_results %q and its record", m, results)
		}
		if rec := m.Records[0]; rec.Auth != record.AuthVERP || !rec.Authenticated {
			t.Errorf("record auth %q, authenticated %v; want verp, true", rec.Auth, rec.Authenticated)
		}
		r = f.get("/v1/bounces?recipient=pat%40example.com")
		expect(t, r, http.StatusOK)
		var page bouncePage
		r.decode(t, &page)
		if len(page.Bounces) != 1 || page.Bounces[0].Auth != record.AuthVERP || !page.Bounces[0].Authenticated {
			t.Errorf("bounces %+v, want one with auth verp", page.Bounces)
		}
		if !strings.Contains(string(r.body), `"auth":"verp"`) {
			t.Errorf("the answer has no auth member: %s", r.body)
		}
	})
}
