package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/store/sqlite"
)

const (
	readToken  = "read-token-0123456789"
	writeToken = "write-token-0123456789"
)

// Fixture sizes: enough records and suppressions for several pages.
const (
	hardMessages = 23 // one hard record each: one suppression each
	softMessages = 7  // one soft record each
)

// fixture is a running API over a SQLite store filled with messages.
type fixture struct {
	t        *testing.T
	srv      *httptest.Server
	st       store.Store
	reg      *prometheus.Registry
	base     time.Time
	hardIDs  []int64 // message IDs of the hard bounces, in order
	rawHard0 []byte
	unrecID  int64
	rawUnrec []byte
	blockID  int64
}

// forEachBackend runs test on a fixture of each store backend: SQLite,
// and PostgreSQL when REBOUND_TEST_POSTGRES names a test database.
func forEachBackend(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { test(t, newFixtureOn(t, backend)) })
	}
}

// newFixture is a fixture on SQLite, for the tests the backend plays no
// part in.
func newFixture(t *testing.T) *fixture { return newFixtureOn(t, "sqlite") }

func newFixtureOn(t *testing.T, backend string) *fixture {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	switch backend {
	case "sqlite":
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	case "postgres":
		st, err = postgres.Open(ctx, pgtest.SchemaURL(t, "api_"), store.Options{})
	default:
		t.Fatalf("no backend %q", backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, base: time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)}
	hardTmpl := readFile(t, "hard.eml")

	save := func(m *store.Message) int64 {
		t.Helper()
		res, err := st.Save(ctx, m)
		if err != nil {
			t.Fatalf("saving fixture message: %v", err)
		}
		return res.MessageID
	}
	at := f.base
	for i := range hardMessages {
		at = at.Add(time.Minute)
		domain := []string{"a.example.test", "b.example.test"}[i%2]
		rcpt := fmt.Sprintf("user%02d@%s", i, domain)
		raw := []byte(fmt.Sprintf(string(hardTmpl), i, rcpt))
		id := save(&store.Message{ReceivedAt: at, Source: "smtp", RemoteAddr: "192.0.2.7:4000", Helo: "mx.fixture.test",
			RcptTo: []string{"bounces@sender.fixture.test"}, Raw: raw, Format: "rfc3464",
			Records: []record.Record{{Index: 1, Recipient: rcpt, Action: "failed", Status: "5.1.1", SMTPCode: "550",
				Diagnostic: "550 5.1.1 no such user", Reason: "userunknown", Class: record.ClassHard,
				Advice: record.AdviceSuppress, Format: "rfc3464", Confidence: record.ConfidenceHigh, ReceivedAt: at}}})
		f.hardIDs = append(f.hardIDs, id)
		if i == 0 {
			f.rawHard0 = raw
		}
	}
	for i := range softMessages {
		at = at.Add(time.Minute)
		rcpt := fmt.Sprintf("full%02d@c.example.test", i)
		save(&store.Message{ReceivedAt: at, Source: "smtp", RcptTo: []string{"bounces@sender.fixture.test"},
			Raw: []byte(fmt.Sprintf("Subject: soft %d\r\n\r\nmailbox full for %s\r\n", i, rcpt)), Format: "rfc3464",
			Records: []record.Record{{Index: 1, Recipient: rcpt, Action: "delayed", Status: "4.2.2", SMTPCode: "452",
				Reason: "mailbox-full", Class: record.ClassSoft, Advice: record.AdviceRetry, Format: "rfc3464",
				Confidence: record.ConfidenceLow, ReceivedAt: at}}})
	}
	// The block is recent, so that its incident is open.
	at = time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	f.blockID = save(&store.Message{ReceivedAt: at, Source: "smtp", RcptTo: []string{"bounces@sender.fixture.test"},
		Raw: []byte("Subject: blocked\r\n\r\nblocked\r\n"), Format: "rfc3464",
		Records: []record.Record{{Index: 1, Recipient: "someone@d.example.test", Action: "failed", Status: "5.7.1",
			SMTPCode: "554", Diagnostic: "554 5.7.1 listed", Reason: "blocklisted", Class: record.ClassBlock,
			OriginalMessageID: "<campaign-7.block@sender.fixture.test>",
			Advice:            record.AdviceFixSending, Format: "rfc3464", Confidence: record.ConfidenceHigh, ReceivedAt: at}}})
	at = at.Add(time.Minute)
	f.rawUnrec = readFile(t, "unrecognized.eml")
	f.unrecID = save(&store.Message{ReceivedAt: at, Source: "smtp", RcptTo: []string{"bounces@sender.fixture.test"},
		Raw: f.rawUnrec, ParseError: "not a delivery report"})

	f.reg = prometheus.NewRegistry()
	a, err := New(Config{
		Store: st,
		Tokens: []Token{
			{Name: "reader", Secret: readToken, Scopes: []string{ScopeRead}},
			{Name: "ops", Secret: writeToken, Scopes: []string{ScopeRead, ScopeWrite}},
		},
		MaxBody:    64 << 10,
		MaxBatch:   50,
		Gatherer:   f.reg,
		Registerer: f.reg,
		Endpoints:  []string{"crm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(a.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r *response) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p Problem
	r.decode(t, &p)
	if p.Status != r.status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, r.status)
	}
	return p
}

// request is one call to the API.
type request struct {
	method, path string
	token        string // "" for none
	header       map[string]string
	body         string
	// invalid marks a request that breaks the OpenAPI document on
	// purpose (a bad parameter): only its response is validated.
	invalid bool
	// undocumented marks a request to no route of the document (an
	// unknown path or method): nothing of it is validated.
	undocumented bool
}

// do sends req to the fixture's server and validates the request and
// the response against the OpenAPI document.
func (f *fixture) do(req request) *response {
	f.t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	hr, err := http.NewRequest(req.method, f.srv.URL+req.path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if req.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	out := &response{status: res.StatusCode, header: res.Header, body: b}
	validateExchange(f.t, req, out)
	return out
}

func (f *fixture) get(path string) *response {
	f.t.Helper()
	return f.do(request{method: "GET", path: path, token: readToken})
}

// expect checks the status of a response, showing its body otherwise.
func expect(t *testing.T, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// skipUnsupported skips a test of a route whose store method the backend
// does not implement (501), and fails on any other status than want.
func skipUnsupported(t *testing.T, r *response, want int) {
	t.Helper()
	if r.status == http.StatusNotImplemented {
		t.Skipf("the store does not implement this yet: %s", r.body)
	}
	expect(t, r, want)
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	expect(t, f.do(request{method: "GET", path: "/healthz"}), http.StatusOK)
	r := f.do(request{method: "GET", path: "/healthz?x=1", invalid: true})
	expect(t, r, http.StatusBadRequest)
	if p := r.problem(t); p.Parameter != "x" {
		t.Errorf("problem names %q, want x", p.Parameter)
	}
}

func TestReadyz(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		r := f.do(request{method: "GET", path: "/readyz"})
		if r.status == http.StatusServiceUnavailable && strings.Contains(string(r.body), errors.ErrUnsupported.Error()) {
			t.Skipf("the store does not implement Ready yet: %s", r.body)
		}
		expect(t, r, http.StatusOK)
		// A closed store is not ready.
		f.st.Close()
		r = f.do(request{method: "GET", path: "/readyz"})
		expect(t, r, http.StatusServiceUnavailable)
		if p := r.problem(t); !strings.Contains(p.Detail, "not ready") {
			t.Errorf("detail %q does not say the store is not ready", p.Detail)
		}
	})
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		method    string
		path      string
		header    string
		status    int
		challenge string // in WWW-Authenticate
	}{
		{"no header", "GET", "/v1/bounces", "", 401, `Bearer realm="rebound"`},
		{"basic scheme", "GET", "/v1/bounces", "Basic dXNlcjpwYXNz", 401, `Bearer`},
		{"bearer without token", "GET", "/v1/bounces", "Bearer ", 401, `Bearer`},
		{"token with space", "GET", "/v1/bounces", "Bearer a b", 401, `Bearer`},
		{"wrong token", "GET", "/v1/bounces", "Bearer not-a-configured-token", 401, `error="invalid_token"`},
		{"prefix of a token", "GET", "/v1/bounces", "Bearer " + readToken[:10], 401, `error="invalid_token"`},
		{"read token on write route", "PUT", "/v1/suppressions/x%40example.test", "Bearer " + readToken, 403, `error="insufficient_scope"`},
		{"read token on delete", "DELETE", "/v1/suppressions/x%40example.test", "Bearer " + readToken, 403, `scope="write"`},
		{"read token on replay", "POST", "/v1/webhooks/crm/dead-letters/1/replay", "Bearer " + readToken, 403, `insufficient_scope`},
		{"read token on return paths", "POST", "/v1/verp", "Bearer " + readToken, 403, `scope="write"`},
		{"read token on registering sent mail", "POST", "/v1/sent", "Bearer " + readToken, 403, `scope="write"`},
		{"no header on the document", "GET", "/v1/openapi.json", "", 401, `Bearer`},
		{"lower-case scheme accepted", "GET", "/v1/incidents", "bearer " + readToken, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request{method: tc.method, path: tc.path, invalid: tc.status != 200}
			if tc.header != "" {
				req.header = map[string]string{"Authorization": tc.header}
			}
			r := f.do(req)
			expect(t, r, tc.status)
			if tc.status == 200 {
				return
			}
			r.problem(t)
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tc.challenge)
			}
		})
	}
}

// With no token configured, every /v1 route refuses.
func TestNoTokens(t *testing.T) {
	f := newFixture(t)
	a, err := New(Config{Store: f.st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	for _, rt := range a.routeTable() {
		if rt.scope == "" {
			continue
		}
		path := strings.NewReplacer("{id}", "1", "{address}", "a%40b.test", "{name}", "crm", "{event_id}", "1", "{message_id}", "a%40b.test").Replace(rt.path)
		req, _ := http.NewRequest(rt.method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s: status %d, want 401", rt.method, path, res.StatusCode)
		}
	}
	if _, err := New(Config{Store: f.st, Tokens: []Token{{Name: "x", Secret: "s", Scopes: []string{"admin"}}}}); err == nil {
		t.Error("New accepted an unknown scope")
	}
}

func TestBounces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		r := f.get("/v1/bounces?limit=5")
		expect(t, r, http.StatusOK)
		var page bouncePage
		r.decode(t, &page)
		if len(page.Bounces) != 5 || page.NextCursor == "" {
			t.Fatalf("got %d bounces, cursor %q; want 5 and a cursor", len(page.Bounces), page.NextCursor)
		}
		for i := 1; i < len(page.Bounces); i++ {
			if page.Bounces[i].ID >= page.Bounces[i-1].ID {
				t.Fatalf("bounces not newest first: %d after %d", page.Bounces[i].ID, page.Bounces[i-1].ID)
			}
		}
		if page.Bounces[0].Class != record.ClassBlock {
			t.Errorf("newest bounce is %q, want the block", page.Bounces[0].Class)
		}

		filters := []struct {
			query string
			want  int
		}{
			{"class=hard", hardMessages},
			{"class=soft", softMessages},
			{"domain=A.Example.Test", (hardMessages + 1) / 2},
			{"recipient=USER03%40b.example.test", 1},
			{"reason=mailbox-full", softMessages},
			{"status=5", hardMessages + 1},
			{"status=5.1.1", hardMessages},
			{"status=4.2", softMessages},
			{"confidence=low", softMessages},
			{"confidence=high", hardMessages + 1},
			{"since=" + url.QueryEscape(f.base.Add(time.Minute).Format(time.RFC3339)) +
				"&until=" + url.QueryEscape(f.base.Add(3*time.Minute).Format(time.RFC3339)), 2},
			{"class=hard&domain=b.example.test", hardMessages / 2},
		}
		for _, tc := range filters {
			t.Run(tc.query, func(t *testing.T) {
				r := f.get("/v1/bounces?limit=1000&" + tc.query)
				expect(t, r, http.StatusOK)
				var page bouncePage
				r.decode(t, &page)
				if len(page.Bounces) != tc.want {
					t.Errorf("%d bounces, want %d", len(page.Bounces), tc.want)
				}
			})
		}

		one := page.Bounces[1]
		r = f.get(fmt.Sprintf("/v1/bounces/%d", one.ID))
		skipUnsupported(t, r, http.StatusOK)
		var rec record.Record
		r.decode(t, &rec)
		if rec.ID != one.ID || rec.Recipient != one.Recipient {
			t.Errorf("bounce %d is %+v, want %+v", one.ID, rec, one)
		}
		r = f.get("/v1/bounces/999999")
		expect(t, r, http.StatusNotFound)
		r.problem(t)
	})
}

// Walking every page lists every record once, newest first.
func TestBouncesPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		all := f.get("/v1/bounces?limit=1000")
		expect(t, all, http.StatusOK)
		var want bouncePage
		all.decode(t, &want)
		if n := hardMessages + softMessages + 1; len(want.Bounces) != n || want.NextCursor != "" {
			t.Fatalf("%d bounces and cursor %q in one page, want %d and none", len(want.Bounces), want.NextCursor, n)
		}
		for _, limit := range []int{1, 4, 7, 31, 32} {
			t.Run(fmt.Sprint(limit), func(t *testing.T) {
				var got []int64
				path := fmt.Sprintf("/v1/bounces?limit=%d", limit)
				for pages := 0; ; pages++ {
					if pages > len(want.Bounces) {
						t.Fatal("the pages do not end")
					}
					r := f.get(path)
					expect(t, r, http.StatusOK)
					var page bouncePage
					r.decode(t, &page)
					if len(page.Bounces) > limit {
						t.Fatalf("page of %d, limit %d", len(page.Bounces), limit)
					}
					for _, b := range page.Bounces {
						got = append(got, b.ID)
					}
					if page.NextCursor == "" {
						break
					}
					path = fmt.Sprintf("/v1/bounces?limit=%d&cursor=%s", limit, url.QueryEscape(page.NextCursor))
				}
				if len(got) != len(want.Bounces) {
					t.Fatalf("%d records over the pages, want %d", len(got), len(want.Bounces))
				}
				for i, b := range want.Bounces {
					if got[i] != b.ID {
						t.Fatalf("record %d of the walk is %d, want %d", i, got[i], b.ID)
					}
				}
			})
		}
	})
}

func TestBadParameters(t *testing.T) {
	f := newFixture(t)
	suppCursor := encodeCursor("suppression", "x@example.test")
	tests := []struct {
		path  string
		param string
	}{
		{"/v1/bounces?clas=hard", "clas"},
		{"/v1/bounces?class=hardest", "class"},
		{"/v1/bounces?class=", "class"},
		{"/v1/bounces?class=hard&class=soft", "class"},
		{"/v1/bounces?domain=not..a.domain", "domain"},
		{"/v1/bounces?recipient=nobody", "recipient"},
		{"/v1/bounces?reason=Not%20A%20Reason", "reason"},
		{"/v1/bounces?status=6.1.1", "status"},
		{"/v1/bounces?status=5.1.1.1", "status"},
		{"/v1/bounces?confidence=medium", "confidence"},
		{"/v1/bounces?since=yesterday", "since"},
		{"/v1/bounces?until=2026-13-01T00:00:00Z", "until"},
		{"/v1/bounces?since=2026-05-02T00:00:00Z&until=2026-05-01T00:00:00Z", "until"},
		{"/v1/bounces?limit=0", "limit"},
		{"/v1/bounces?limit=1001", "limit"},
		{"/v1/bounces?limit=ten", "limit"},
		{"/v1/bounces?cursor=%21%21", "cursor"},
		{"/v1/bounces?cursor=" + suppCursor, "cursor"},
		{"/v1/bounces/abc", "id"},
		{"/v1/bounces/-1", "id"},
		{"/v1/messages?unrecognized=yes", "unrecognized"},
		{"/v1/messages?cursor=" + suppCursor, "cursor"},
		{"/v1/messages/0", "id"},
		{"/v1/messages/x/raw", "id"},
		{"/v1/suppressions?cause=bounce", "cause"},
		{"/v1/suppressions?domain=-bad-", "domain"},
		{"/v1/suppressions?cursor=" + encodeCursor("bounce", "3"), "cursor"},
		{"/v1/suppressions?limit=5000", "limit"},
		{"/v1/suppressions?address=a%40b.test", "address"},
		{"/v1/suppressions/not-an-address", "address"},
		{"/v1/suppressions/a%40b.test?verbose=1", "verbose"},
		{"/v1/suppressions/not-an-address/history", "address"},
		{"/v1/incidents?open=1", "open"},
		{"/v1/stats?by=country", "by"},
		{"/v1/stats?bucket=1s&since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z", "bucket"},
		{"/v1/stats?bucket=fortnight", "bucket"},
		{"/v1/stats?bucket=1h&since=0001-01-02T00:00:00Z&until=9999-12-31T00:00:00Z", "bucket"},
		{"/v1/stats?bucket=0d", "bucket"},
		{"/v1/stats?class=bad", "class"},
		{"/v1/webhooks?name=crm", "name"},
		{"/v1/webhooks/crm/deliveries?limit=-1", "limit"},
		{"/v1/webhooks/crm/dead-letters?replay=maybe", "replay"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := f.do(request{method: "GET", path: tc.path, token: readToken, invalid: true})
			expect(t, r, http.StatusBadRequest)
			if p := r.problem(t); p.Parameter != tc.param {
				t.Errorf("problem names %q, want %q (%s)", p.Parameter, tc.param, p.Detail)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		r := f.get(fmt.Sprintf("/v1/messages/%d", f.hardIDs[0]))
		expect(t, r, http.StatusOK)
		var m messageView
		r.decode(t, &m)
		if m.ID != f.hardIDs[0] || len(m.Records) != 1 || m.Records[0].Recipient != "user00@a.example.test" ||
			m.RawSize == nil || *m.RawSize != len(f.rawHard0) || m.Helo != "mx.fixture.test" {
			t.Errorf("message %+v", m)
		}
		if bytes.Contains(r.body, []byte("Diagnostic-Code")) {
			t.Error("the message view carries the raw message")
		}

		for _, tc := range []struct {
			id   int64
			want []byte
		}{{f.hardIDs[0], f.rawHard0}, {f.unrecID, f.rawUnrec}} {
			r := f.get(fmt.Sprintf("/v1/messages/%d/raw", tc.id))
			expect(t, r, http.StatusOK)
			if !bytes.Equal(r.body, tc.want) {
				t.Errorf("raw message %d differs from the bytes received:\n%q\nwant\n%q", tc.id, r.body, tc.want)
			}
			if ct := r.header.Get("Content-Type"); ct != "message/rfc822" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
				t.Errorf("Content-Disposition %q", cd)
			}
		}

		r = f.get("/v1/messages?unrecognized=true")
		expect(t, r, http.StatusOK)
		var page messagePage
		r.decode(t, &page)
		if len(page.Messages) != 1 || page.Messages[0].ID != f.unrecID || page.Messages[0].ParseError == "" {
			t.Errorf("unrecognized messages: %+v", page.Messages)
		}
		for _, path := range []string{"/v1/messages/999999", "/v1/messages/999999/raw"} {
			r = f.get(path)
			expect(t, r, http.StatusNotFound)
			r.problem(t)
		}
	})
}

func TestMessagesPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		total := hardMessages + softMessages + 2
		for _, limit := range []int{1, 6, total} {
			var ids []int64
			path := fmt.Sprintf("/v1/messages?limit=%d", limit)
			for range total + 1 {
				r := f.get(path)
				expect(t, r, http.StatusOK)
				var page messagePage
				r.decode(t, &page)
				for _, m := range page.Messages {
					ids = append(ids, m.ID)
				}
				if page.NextCursor == "" {
					break
				}
				path = fmt.Sprintf("/v1/messages?limit=%d&cursor=%s", limit, page.NextCursor)
			}
			if len(ids) != total {
				t.Fatalf("limit %d: %d messages over the pages, want %d", limit, len(ids), total)
			}
			for i := 1; i < len(ids); i++ {
				if ids[i] <= ids[i-1] {
					t.Fatalf("limit %d: message %d after %d", limit, ids[i], ids[i-1])
				}
			}
		}
	})
}

func TestSuppressionLookup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		r := f.get("/v1/suppressions/" + url.PathEscape("User05@B.Example.Test"))
		expect(t, r, http.StatusOK)
		var s store.Suppression
		r.decode(t, &s)
		if s.Address != "user05@b.example.test" || s.Cause != "hard" {
			t.Errorf("suppression %+v", s)
		}
		// A slash and a plus in the local part stay in the one path segment
		// and are not read as a space.
		odd := "Odd/Name+tag@example.test"
		expect(t, f.do(request{method: "PUT", path: "/v1/suppressions/" + url.PathEscape(odd), token: writeToken}), http.StatusOK)
		r = f.get("/v1/suppressions/" + strings.ReplaceAll(url.PathEscape(odd), "/", "%2F"))
		expect(t, r, http.StatusOK)
		r.decode(t, &s)
		if s.Address != "odd/name+tag@example.test" {
			t.Errorf("suppression of %q is of %q", odd, s.Address)
		}
		r = f.get("/v1/suppressions/" + url.PathEscape("full01@c.example.test"))
		expect(t, r, http.StatusNotFound)
		if p := r.problem(t); !strings.Contains(p.Detail, "not suppressed") {
			t.Errorf("detail %q", p.Detail)
		}
	})
}

func TestSuppressionsPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		r := f.get("/v1/suppressions?limit=1000")
		skipUnsupported(t, r, http.StatusOK)
		var all suppressionPage
		r.decode(t, &all)
		if len(all.Suppressions) != hardMessages {
			t.Fatalf("%d suppressions, want %d", len(all.Suppressions), hardMessages)
		}
		for _, limit := range []int{1, 5, 22, 23} {
			var got []string
			path := fmt.Sprintf("/v1/suppressions?limit=%d", limit)
			for range hardMessages + 1 {
				r := f.get(path)
				expect(t, r, http.StatusOK)
				var page suppressionPage
				r.decode(t, &page)
				for _, s := range page.Suppressions {
					got = append(got, s.Address)
				}
				if page.NextCursor == "" {
					break
				}
				path = fmt.Sprintf("/v1/suppressions?limit=%d&cursor=%s", limit, page.NextCursor)
			}
			if len(got) != len(all.Suppressions) {
				t.Fatalf("limit %d: %d over the pages, want %d", limit, len(got), len(all.Suppressions))
			}
			for i, s := range all.Suppressions {
				if got[i] != s.Address {
					t.Fatalf("limit %d: suppression %d is %s, want %s", limit, i, got[i], s.Address)
				}
			}
		}
		for _, tc := range []struct {
			query string
			want  int
		}{{"domain=a.example.test", (hardMessages + 1) / 2}, {"cause=hard", hardMessages}, {"cause=manual", 0}} {
			r := f.get("/v1/suppressions?" + tc.query)
			expect(t, r, http.StatusOK)
			var page suppressionPage
			r.decode(t, &page)
			if len(page.Suppressions) != tc.want {
				t.Errorf("%s: %d suppressions, want %d", tc.query, len(page.Suppressions), tc.want)
			}
		}
	})
}

func TestCheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		check := func(body string) *response {
			return f.do(request{method: "POST", path: "/v1/suppressions/check", token: readToken, body: body})
		}
		r := check(`{"addresses":["USER00@a.example.test","nobody@example.test","user01@b.example.test","user00@a.example.test"]}`)
		skipUnsupported(t, r, http.StatusOK)
		var res checkResult
		r.decode(t, &res)
		if res.Checked != 4 || len(res.Suppressed) != 2 || res.Suppressed[0].Address != "user00@a.example.test" ||
			res.Suppressed[1].Address != "user01@b.example.test" {
			t.Errorf("check: %+v", res)
		}

		addrs := make([]string, 51)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("a%d@example.test", i)
		}
		b, _ := json.Marshal(map[string]any{"addresses": addrs})
		r = check(string(b))
		expect(t, r, http.StatusRequestEntityTooLarge)
		if p := r.problem(t); p.Parameter != "addresses" {
			t.Errorf("problem names %q", p.Parameter)
		}
		b, _ = json.Marshal(map[string]any{"addresses": addrs[:50]})
		expect(t, check(string(b)), http.StatusOK)

		big := `{"addresses":["` + strings.Repeat("x", 70<<10) + `@example.test"]}`
		r = f.do(request{method: "POST", path: "/v1/suppressions/check", token: readToken, body: big, invalid: true})
		expect(t, r, http.StatusRequestEntityTooLarge)
		r.problem(t)

		bad := []struct{ body, param string }{
			{`{"addresses":["ok@example.test","not an address"]}`, "addresses"},
			{`{"address":["ok@example.test"]}`, "address"},
			{`{}`, "addresses"},
			{`{"addresses":"ok@example.test"}`, "addresses"},
			{`{"addresses":[]} {}`, ""},
			{`[`, ""},
		}
		for _, tc := range bad {
			r := f.do(request{method: "POST", path: "/v1/suppressions/check", token: readToken, body: tc.body, invalid: true})
			expect(t, r, http.StatusBadRequest)
			if p := r.problem(t); p.Parameter != tc.param {
				t.Errorf("%s: problem names %q, want %q", tc.body, p.Parameter, tc.param)
			}
		}
		r = f.do(request{method: "POST", path: "/v1/suppressions/check", token: readToken, body: `{"addresses":[]}`,
			header: map[string]string{"Content-Type": "text/plain"}, invalid: true})
		expect(t, r, http.StatusUnsupportedMediaType)
	})
}

// Suppressing by hand, reading the history and lifting.
func TestSuppressFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		path := "/v1/suppressions/" + url.PathEscape("Manual@Example.Test")
		write := func(method, path, body string) *response {
			return f.do(request{method: method, path: path, token: writeToken, body: body})
		}
		expect(t, f.get(path), http.StatusNotFound)
		r := write("PUT", path, `{"reason":"asked by phone","note":"ticket 4711","duration":"90d"}`)
		expect(t, r, http.StatusOK)
		var s store.Suppression
		r.decode(t, &s)
		if s.Address != "manual@example.test" || s.Cause != "manual" || s.Reason != "asked by phone" {
			t.Errorf("suppression %+v", s)
		}
		if d := s.Expires.Sub(s.Since); d != 90*24*time.Hour {
			t.Errorf("expires %s after since, want 90 days", d)
		}
		expect(t, f.get(path), http.StatusOK)

		// Without an expiry, the suppression stands until lifted.
		r = write("PUT", path, `{"reason":"for good","expires":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
		expect(t, r, http.StatusOK)

		for _, tc := range []struct{ body, param string }{
			{`{"duration":"ninety days"}`, "duration"},
			{`{"expires":"2001-01-01T00:00:00Z"}`, "expires"},
			{`{"expires":"soon"}`, "expires"},
			{`{"expires":"2099-01-01T00:00:00Z","duration":"1d"}`, "duration"},
			{`{"reason":"x","actor":"someone else"}`, "actor"},
			{`{"note":` + `"` + strings.Repeat("n", 1001) + `"}`, "note"},
		} {
			r := f.do(request{method: "PUT", path: path, token: writeToken, body: tc.body, invalid: true})
			expect(t, r, http.StatusBadRequest)
			if p := r.problem(t); p.Parameter != tc.param {
				t.Errorf("%s: problem names %q, want %q", tc.body, p.Parameter, tc.param)
			}
		}
		r = f.do(request{method: "PUT", path: "/v1/suppressions/nobody", token: writeToken, body: `{}`, invalid: true})
		expect(t, r, http.StatusBadRequest)
		r = f.do(request{method: "PUT", path: path, token: writeToken, body: `{"note":"` + strings.Repeat("n", 70<<10) + `"}`, invalid: true})
		expect(t, r, http.StatusRequestEntityTooLarge)

		expect(t, write("DELETE", path+"?note=resolved", ""), http.StatusNoContent)
		expect(t, f.get(path), http.StatusNotFound)
		r = write("DELETE", path, "")
		expect(t, r, http.StatusNotFound)
		r.problem(t)
		// A hard bounce lifted with a note in the body.
		expect(t, write("DELETE", "/v1/suppressions/user02%40a.example.test", `{"note":"fixed on their side"}`), http.StatusNoContent)

		r = f.get(path + "/history")
		skipUnsupported(t, r, http.StatusOK)
		var h historyPage
		r.decode(t, &h)
		if len(h.Changes) != 3 {
			t.Fatalf("history %+v, want 3 changes", h.Changes)
		}
		lift := h.Changes[0]
		if lift.Action != store.ChangeLifted || lift.Actor != "ops" || lift.Note != "resolved" {
			t.Errorf("newest change %+v, want lifted by ops with the note", lift)
		}
		if first := h.Changes[2]; first.Action != store.ChangeSuppressed || first.Note != "ticket 4711" || first.Actor != "ops" {
			t.Errorf("oldest change %+v", first)
		}
	})
}

func TestIncidentsAndStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, q := range []string{"", "?open=true", "?open=false"} {
			r := f.get("/v1/incidents" + q)
			expect(t, r, http.StatusOK)
			var l incidentList
			r.decode(t, &l)
			if len(l.Incidents) != 1 || l.Incidents[0].Domain == "" {
				t.Errorf("incidents%s: %+v", q, l.Incidents)
			}
		}

		since := url.QueryEscape(f.base.Format(time.RFC3339))
		r := f.get("/v1/stats?since=" + since + "&bucket=1h&by=class")
		skipUnsupported(t, r, http.StatusOK)
		var s statsResult
		r.decode(t, &s)
		byKey := map[string]int64{}
		for _, c := range s.Counts {
			byKey[c.Key] += c.Count
		}
		if byKey["hard"] != hardMessages || byKey["soft"] != softMessages || byKey["block"] != 1 {
			t.Errorf("stats by class: %v", byKey)
		}
		r = f.get("/v1/stats?since=" + since + "&bucket=1d&by=domain&class=hard")
		expect(t, r, http.StatusOK)
		r.decode(t, &s)
		if len(s.Counts) != 2 {
			t.Errorf("hard bounces by domain: %+v", s.Counts)
		}
	})
}

func TestWebhooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		r := f.get("/v1/webhooks")
		skipUnsupported(t, r, http.StatusOK)
		var l webhookList
		r.decode(t, &l)
		if len(l.Webhooks) != 1 || l.Webhooks[0].Name != "crm" || !l.Webhooks[0].Configured {
			t.Errorf("webhooks: %+v", l.Webhooks)
		}
		expect(t, f.get("/v1/webhooks/crm/deliveries"), http.StatusOK)
		expect(t, f.get("/v1/webhooks/crm/dead-letters?replay=true"), http.StatusOK)
		r = f.get("/v1/webhooks/nope/deliveries")
		expect(t, r, http.StatusNotFound)
		r.problem(t)
		r = f.do(request{method: "POST", path: "/v1/webhooks/crm/dead-letters/12345/replay", token: writeToken})
		expect(t, r, http.StatusNotFound)
		r.problem(t)
	})
}

func TestRouting(t *testing.T) {
	f := newFixture(t)
	r := f.do(request{method: "GET", path: "/v2/bounces", token: readToken, undocumented: true})
	expect(t, r, http.StatusNotFound)
	r.problem(t)
	r = f.do(request{method: "PATCH", path: "/v1/suppressions/a%40b.test", token: writeToken, undocumented: true})
	expect(t, r, http.StatusMethodNotAllowed)
	r.problem(t)
	if allow := r.header.Get("Allow"); allow != "GET, PUT, DELETE, HEAD" {
		t.Errorf("Allow %q", allow)
	}
	r = f.get("/v1/openapi.json")
	expect(t, r, http.StatusOK)
	if !bytes.Equal(r.body, openAPIDocument) {
		t.Error("the document served is not the embedded one")
	}
}

func TestMetrics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		expect(t, f.get("/v1/incidents"), http.StatusOK)
		r := f.do(request{method: "GET", path: "/metrics"})
		expect(t, r, http.StatusOK)
		for _, want := range []string{
			`rebound_api_requests_total{code="200",route="GET /v1/incidents"} 1`,
			`rebound_api_request_seconds_bucket{route="GET /v1/incidents"`,
			`rebound_incidents_open 1`,
			fmt.Sprintf(`rebound_suppressions{cause="hard"} %d`, hardMessages),
			`rebound_suppressions{cause="manual"} 0`,
		} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// A store method not implemented by the backend answers 501.
func TestUnsupported(t *testing.T) {
	f := newFixture(t)
	a, _ := New(Config{Store: f.st})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v1/bounces/1", nil)
	a.writeError(rec, req, fmt.Errorf("sqlite: %w", errors.ErrUnsupported))
	if rec.Code != http.StatusNotImplemented || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestNewServer(t *testing.T) {
	s := NewServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("server without bounds: %+v", s)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m", 48 * time.Hour: "2d",
		25 * time.Hour: "25h", 90 * time.Second: "1m30s", time.Second: "1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := parseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * 24 * time.Hour, true}, {"1h", time.Hour, true}, {"15m", 15 * time.Minute, true},
		{"0d", 0, false}, {"-1h", 0, false}, {"d", 0, false}, {"1w", 0, false}, {"99999999d", 0, false},
	} {
		got, err := parseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v", tc.in, got, err)
		}
	}
}
