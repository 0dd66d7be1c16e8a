package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

// testSecret is a 32-byte key.
const testSecret = "whsec_" + "dGhpcy1pcy1hLXRlc3Qta2V5LW9mLTMyLWJ5dGVzISE="

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rebound.db"), store.Options{Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNewChecksEndpoints(t *testing.T) {
	s := openSQLite(t)
	tests := []struct {
		name string
		ep   Endpoint
		want string // in the error; "" for none
	}{
		{"good", Endpoint{Name: "a", URL: "https://example.com/h", Secret: testSecret}, ""},
		{"no name", Endpoint{URL: "https://example.com/h", Secret: testSecret}, "no name"},
		{"ftp", Endpoint{Name: "a", URL: "ftp://example.com/h", Secret: testSecret}, "want an http:// or https:// URL"},
		{"no prefix", Endpoint{Name: "a", URL: "http://x", Secret: "dGhpcy1pcy1hLXRlc3Qta2V5"}, `want "whsec_"`},
		{"not base64", Endpoint{Name: "a", URL: "http://x", Secret: "whsec_***"}, "not standard base64"},
		{"short key", Endpoint{Name: "a", URL: "http://x", Secret: "whsec_c2VjcmV0"}, "key of 6 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(s, Config{Endpoints: []Endpoint{tt.ep}}, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("New = %v, want an error with %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), strings.TrimPrefix(tt.ep.Secret, SecretPrefix)) && tt.ep.Secret != "":
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
	_, err := New(s, Config{Endpoints: []Endpoint{
		{Name: "a", URL: "http://x", Secret: testSecret}, {Name: "a", URL: "http://y", Secret: testSecret},
	}}, nil)
	if err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("New with a name twice = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	w := &worker{d: &Deliverer{cfg: Config{MinBackoff: time.Second, MaxBackoff: time.Minute}}}
	tests := []struct {
		failures   int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{1, 0, 500 * time.Millisecond, time.Second},
		{2, 0, time.Second, 2 * time.Second},
		{4, 0, 4 * time.Second, 8 * time.Second},
		{7, 0, 30 * time.Second, time.Minute},
		{40, 0, 30 * time.Second, time.Minute},
		{1, 10 * time.Second, 10 * time.Second, 10 * time.Second},
		{1, time.Hour, time.Minute, time.Minute},
	}
	for _, tt := range tests {
		for range 50 {
			if got := w.backoff(tt.failures, tt.retryAfter); got < tt.lo || got > tt.hi {
				t.Fatalf("backoff(%d, %s) = %s, want within [%s, %s]", tt.failures, tt.retryAfter, got, tt.lo, tt.hi)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tt.header, got, tt.want)
		}
	}
}

// TestAttemptRequest checks one POST: method, headers, body and
// signature, verified by the Standard Webhooks library; and how answers
// become outcomes.
func TestAttemptRequest(t *testing.T) {
	lib, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	status := http.StatusNoContent
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		if status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
		io.WriteString(w, "busy\x00\n"+strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()
	d, err := New(openSQLite(t), Config{Endpoints: []Endpoint{{Name: "a", URL: srv.URL + "/hook", Secret: testSecret}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{d: d, ep: d.eps[0], log: d.log}
	ev := &store.Event{ID: 42, Type: store.EventSuppressionAdded, Time: time.Date(2026, 3, 1, 12, 0, 0, 5, time.FixedZone("x", 3600)),
		Payload: json.RawMessage(`{"change":{"address":"a@example.com"},"suppression":null}`)}

	res := w.attempt(context.Background(), ev)
	if !res.ok || res.status != http.StatusNoContent || res.err != "" {
		t.Fatalf("attempt = %+v, want delivered", res)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/hook" {
		t.Errorf("request %s %s", got.Method, got.URL.Path)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "Rebound-Webhook/1",
		"Webhook-Id": "evt_42", "Webhook-Timestamp": strconv.FormatInt(res.time.Unix(), 10)} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if err := lib.Verify(gotBody, got.Header); err != nil {
		t.Errorf("the Standard Webhooks library rejects the delivery: %v", err)
	}
	var b map[string]any
	if err := json.Unmarshal(gotBody, &b); err != nil {
		t.Fatal(err)
	}
	if b["type"] != "suppression.added" || b["timestamp"] != "2026-03-01T11:00:00.000000005Z" || b["data"].(map[string]any)["suppression"] != nil {
		t.Errorf("body %s", gotBody)
	}

	tests := []struct {
		status     int
		err        string
		retryAfter time.Duration
	}{
		{http.StatusInternalServerError, "HTTP 500 busy x", 0},
		{http.StatusTooManyRequests, "HTTP 429 busy x", 3 * time.Second},
		{http.StatusFound, "HTTP 302 busy x", 0}, // redirects are not followed
	}
	for _, tt := range tests {
		status = tt.status
		res := w.attempt(context.Background(), ev)
		if res.ok || res.status != tt.status || !strings.HasPrefix(res.err, tt.err) || len(res.err) > maxErrorLen+3 || res.retryAfter != tt.retryAfter {
			t.Errorf("answer %d: attempt = %+v", tt.status, res)
		}
	}
	srv.Close()
	res = w.attempt(context.Background(), ev)
	if res.ok || res.status != 0 || res.err == "" || strings.Contains(res.err, srv.URL) {
		t.Errorf("receiver down: attempt = %+v", res)
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Endpoints: []Endpoint{{Name: "app", URL: "http://127.0.0.1:1/", Secret: testSecret}}}
	s := openSQLite(t)
	if _, err := New(s, cfg, reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{"rebound_webhook_dead_letters_total", "rebound_webhook_deliveries_total",
		"rebound_webhook_delivery_seconds", "rebound_webhook_outbox_depth"}
	if !slices.Equal(names, want) {
		t.Errorf("metrics %v, want %v", names, want)
	}
	if _, err := New(s, cfg, reg); err == nil {
		t.Errorf("a second Deliverer registered its metrics on the same registry")
	}
}
