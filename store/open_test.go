package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, scheme, location, err string
	}{
		{"/var/lib/rebound/rebound.db", "sqlite", "/var/lib/rebound/rebound.db", ""},
		{"rebound.db", "sqlite", "rebound.db", ""},
		{"./data/rebound.db", "sqlite", "./data/rebound.db", ""},
		{"data:2026/x.db", "", "", "unknown store scheme"},
		{"sqlite:///var/lib/rebound.db", "sqlite", "/var/lib/rebound.db", ""},
		{"sqlite:rebound.db", "sqlite", "rebound.db", ""},
		{"sqlite:/abs/rebound.db", "sqlite", "/abs/rebound.db", ""},
		{"SQLITE:rebound.db", "sqlite", "rebound.db", ""},
		{"sqlite3:rebound.db", "sqlite", "rebound.db", ""},
		{"sqlite://host/rebound.db", "", "", "want sqlite:///absolute/path"},
		{"sqlite:", "", "", "missing database path"},
		{"sqlite:///", "", "", "missing database path"},
		{"postgres://rebound@db.example/rebound?sslmode=disable", "postgres", "postgres://rebound@db.example/rebound?sslmode=disable", ""},
		{"postgresql://db.example/rebound", "postgres", "postgresql://db.example/rebound", ""},
		{"mysql://db.example/rebound", "", "", "unknown store scheme"},
		{"", "", "", "empty store url"},
		{`C:\rebound\rebound.db`, "sqlite", `C:\rebound\rebound.db`, ""},
	}
	for _, tc := range tests {
		scheme, location, err := store.ParseURL(tc.url)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) error %v, want one saying %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || scheme != tc.scheme || location != tc.location {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tc.url, scheme, location, err, tc.scheme, tc.location)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	backends := map[string]store.OpenFunc{"sqlite": sqlite.Open}
	path := filepath.Join(t.TempDir(), "rebound.db")
	s, err := store.Open(ctx, "sqlite://"+path, store.Options{Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Save(ctx, &store.Message{Raw: []byte("Subject: x\r\n\r\n"), ParseError: "not a report"})
	if err != nil || res.MessageID == 0 {
		t.Fatalf("Save = %+v, %v", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The same file, named as a bare path.
	s, err = store.Open(ctx, path, store.Options{Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if msgs, err := s.Messages(ctx, store.MessageQuery{}); err != nil || len(msgs) != 1 {
		t.Errorf("reopened by path: %d messages, %v", len(msgs), err)
	}

	_, err = store.Open(ctx, "postgres://db.example/rebound", store.Options{Backends: backends})
	if err == nil || !strings.Contains(err.Error(), "no postgres backend") {
		t.Errorf("Open without the postgres backend: %v", err)
	}
}
