package sqlstore

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
)

func TestWherePlaceholders(t *testing.T) {
	since := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		p    Placeholders
		want string
	}{
		{Question, " WHERE parse_error <> '' AND a = ? AND b BETWEEN ? AND ? AND t >= ?"},
		{Dollar, " WHERE parse_error <> '' AND a = $1 AND b BETWEEN $2 AND $3 AND t >= $4"},
	} {
		w := Where{Placeholders: tc.p}
		w.Add("parse_error <> ''")
		w.Add("a = ?", "x")
		w.Add("b BETWEEN ? AND ?", 1, 2)
		w.TimeRange("t", since, time.Time{})
		if got := w.SQL(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.p, got, tc.want)
		}
		if want := []any{"x", 1, 2, since.UnixNano()}; !reflect.DeepEqual(w.Args, want) {
			t.Errorf("%v: args %v, want %v", tc.p, w.Args, want)
		}
	}
	var w Where
	if w.SQL() != "" {
		t.Errorf("no conditions: %q, want none", w.SQL())
	}
}

func TestQueriesRecords(t *testing.T) {
	q := store.Query{Recipient: " Bob@Example.ORG ", Domain: " Example.ORG", Class: "hard", Limit: 10}
	cut := Queries{Placeholders: Dollar, Clean: func(s string) string { return s[:3] }}
	query, args, err := cut.Records(q)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(query, " WHERE address = $1 AND recipient_domain = $2 AND class = $3 ORDER BY received_at, id LIMIT 10") {
		t.Errorf("query %q", query)
	}
	if want := []any{"bob", "exa", "har"}; !reflect.DeepEqual(args, want) {
		t.Errorf("args %v, want %v (cleaned)", args, want)
	}
	query, args, err = Queries{}.Records(store.Query{})
	if err != nil || strings.Contains(query, "WHERE") || strings.Contains(query, "LIMIT") || len(args) != 0 {
		t.Errorf("empty query: %q %v %v", query, args, err)
	}
	// The domain is matched in the form it is stored in: A-labels.
	_, args, err = Queries{}.Records(store.Query{Domain: "Bücher.Example"})
	if want := []any{"xn--bcher-kva.example"}; err != nil || !reflect.DeepEqual(args, want) {
		t.Errorf("IDN domain: args %v, %v; want %v", args, err, want)
	}
	for _, bad := range []store.Query{{Recipient: "@"}, {Recipient: "a\r\nb@example.org"}, {Domain: "exa_mple.org"}} {
		if query, _, err := (Queries{}).Records(bad); err == nil {
			t.Errorf("Records(%+v) = %q, want an error", bad, query)
		}
	}
}
