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
	if !strings.Contains(query, " WHERE address = $1 AND recipient_domain = $2 AND class = $3 ORDER BY id LIMIT 10") {
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

func TestStatusMatch(t *testing.T) {
	for _, tc := range []struct {
		status, pattern string
		exact, bad      bool
	}{
		{status: "5", pattern: "5.%"},
		{status: "5.1", pattern: "5.1.%"},
		{status: "5.10", pattern: "5.10.%"},
		{status: "5.1.1", pattern: "5.1.1", exact: true},
		{status: "4.7.123", pattern: "4.7.123", exact: true},
		{status: "5.", bad: true},
		{status: ".1", bad: true},
		{status: "5.1.1.1", bad: true},
		{status: "5.%", bad: true},
		{status: "5_1", bad: true},
		{status: "x", bad: true},
		{status: "5.1234.1", bad: true},
	} {
		pattern, exact, err := statusMatch(tc.status)
		if tc.bad {
			if err == nil {
				t.Errorf("statusMatch(%q) = %q, want an error", tc.status, pattern)
			}
			continue
		}
		if err != nil || pattern != tc.pattern || exact != tc.exact {
			t.Errorf("statusMatch(%q) = %q, %v, %v; want %q, %v", tc.status, pattern, exact, err, tc.pattern, tc.exact)
		}
	}
}

func TestQueriesStatsPlaceholders(t *testing.T) {
	since := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	sq := store.StatsQuery{Since: since, Until: since.Add(time.Hour), Bucket: time.Minute, By: store.StatsByClass, Reason: "userunknown"}
	query, args, err := Queries{Placeholders: Dollar}.Stats(sq)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(query, "(received_at - $1) / $2") ||
		!strings.Contains(query, "received_at >= $3 AND received_at < $4 AND reason = $5") {
		t.Errorf("query %q", query)
	}
	want := []any{since.UnixNano(), int64(time.Minute), since.UnixNano(), since.Add(time.Hour).UnixNano(), "userunknown"}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args %v, want %v", args, want)
	}
}

func TestQueriesCheckAddresses(t *testing.T) {
	addrs := []string{"a@example.org", "b@example.org"}
	query, args := Queries{}.CheckAddresses(addrs, time.Unix(0, 7))
	if !strings.Contains(query, "WHERE address IN (?, ?) AND suppressed") || !reflect.DeepEqual(args, []any{"a@example.org", "b@example.org", int64(7)}) {
		t.Errorf("question: %q %v", query, args)
	}
	query, args = Queries{Placeholders: Dollar}.CheckAddresses(addrs, time.Unix(0, 7))
	if !strings.Contains(query, "WHERE address = ANY ($1) AND suppressed AND (expires = 0 OR expires > $2)") ||
		!reflect.DeepEqual(args, []any{addrs, int64(7)}) {
		t.Errorf("dollar: %q %v", query, args)
	}
}
