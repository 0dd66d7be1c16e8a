package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/api"
	"github.com/rebound-mail/rebound/store"
)

// TestBenchLookup seeds a small store and loads a real API server over it:
// every request is answered, about half of them suppressed.
func TestBenchLookup(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bench.db")
	var progress bytes.Buffer
	if err := seedSuppressions(context.Background(), db, 500, &progress); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s, err := st.Suppression(context.Background(), benchAddress(499), time.Now()); err != nil || s == nil {
		t.Fatalf("seeded address: %v, %v", s, err)
	}
	const token = "bench-token-0123456789"
	a, err := api.New(api.Config{Store: st, Tokens: []api.Token{{Name: "bench", Secret: token, Scopes: []string{"read"}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	res, err := benchLookup(context.Background(), lookupOptions{url: srv.URL, token: token, rate: 400,
		duration: 500 * time.Millisecond, warmup: 100 * time.Millisecond, workers: 8, space: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || res.Errors != 0 || res.Suppressed+res.NotFound != res.Requests {
		t.Fatalf("result %+v", res)
	}
	if res.Suppressed < 50 || res.NotFound < 50 {
		t.Errorf("%d suppressed, %d not: want about half each", res.Suppressed, res.NotFound)
	}
	if res.Millis["p50"] <= 0 || res.Millis["max"] < res.Millis["p99"] {
		t.Errorf("latencies %v", res.Millis)
	}

	// A wrong token fails at once, with the answer's status.
	_, err = benchLookup(context.Background(), lookupOptions{url: srv.URL, token: "wrong-token-0123456789", rate: 10,
		duration: time.Second, workers: 1, space: 10})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestQuantile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0, 1}} {
		if got := quantile(d, tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}
