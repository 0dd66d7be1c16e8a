package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// oddAddresses are valid addresses in normal form (package mailaddr) that
// a store must keep byte for byte, with the form they are kept in by the
// suppression list and another spelling of each that must find them.
var oddAddresses = []struct{ recipient, kept, spelling string }{
	{`"John \"Q\" Doe"@example.org`, `"john \"q\" doe"@example.org`, `"JOHN \"Q\" DOE"@Example.ORG`},
	{`o'brien+tag/x=y@example.org`, `o'brien+tag/x=y@example.org`, `<O'Brien+tag/x=y@EXAMPLE.org>`},
	{`"=cmd|' /C calc'!A0"@example.org`, `"=cmd|' /c calc'!a0"@example.org`, `"=CMD|' /C CALC'!A0"@example.org`},
	{`-minus@example.org`, `-minus@example.org`, ` -Minus@example.org `},
	{`Jörg@xn--bcher-kva.example`, `jörg@xn--bcher-kva.example`, "jo\u0308rg@Bücher.example"},
	{`用户@xn--fsqu00a.xn--4rr70v`, `用户@xn--fsqu00a.xn--4rr70v`, `用户@例子.广告`},
	{`neko..nyaan.@example.jp`, `neko..nyaan.@example.jp`, `"neko..nyaan."@example.jp`},
	{`postmaster@[IPv6:2001:db8::1]`, `postmaster@[IPv6:2001:db8::1]`, `Postmaster@[IPv6:2001:DB8:0::1]`},
}

// testAddressBytes saves records and suppressions of addresses with odd
// characters and non-ASCII, and reads them back byte for byte: every
// backend keeps the same bytes, and finds them by any spelling of the
// address.
func testAddressBytes(t *testing.T, s store.Store) {
	ctx := context.Background()
	var recs []record.Record
	for _, a := range oddAddresses {
		r := rec(a.recipient, record.ClassHard, "userunknown", base)
		r.OriginalRecipient = a.recipient
		r.Diagnostic = "550 5.1.1 <" + a.recipient + ">: no such user"
		recs = append(recs, r)
	}
	// What a report named that was no address, as package bounce keeps
	// it: escaped, beside an empty recipient.
	invalid := rec("", record.ClassHard, "userunknown", base)
	invalid.RecipientInvalid = `invalid address "kai\r\nro\x00@example.com": control character U+000D at byte 3`
	recs = append(recs, invalid)
	save(t, s, msg("odd-addresses", base, recs...))
	sameRecords(t, "Records", records(t, s, store.Query{}), recs)

	now := at(time.Hour)
	var want []string
	for _, a := range oddAddresses {
		sup := suppression(t, s, a.spelling, now)
		if sup == nil || sup.Address != a.kept || sup.Cause != "hard" {
			t.Errorf("Suppression(%q) = %+v, want %q suppressed", a.spelling, sup, a.kept)
		}
		got := records(t, s, store.Query{Recipient: a.spelling})
		if len(got) != 1 || got[0].Recipient != a.recipient {
			t.Errorf("Records(Recipient %q) = %+v, want the record of %q", a.spelling, got, a.recipient)
		}
		want = append(want, a.kept)
	}
	if got := records(t, s, store.Query{Domain: "BÜCHER.example"}); len(got) != 1 || got[0].Recipient != `Jörg@xn--bcher-kva.example` {
		t.Errorf("Records(Domain bücher.example) = %+v", got)
	}
	sups, err := s.Suppressions(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := addresses(sups); !sameSet(got, want) {
		t.Errorf("Suppressions = %q, want %q", got, want)
	}

	// By hand, with the same bytes.
	const byHand = `"Ünï Cødé"@例子.广告`
	if err := s.AddSuppression(ctx, store.Suppression{Address: byHand, Reason: "asked", Since: base}); err != nil {
		t.Fatal(err)
	}
	if sup := suppression(t, s, `"ünï cødé"@xn--fsqu00a.xn--4rr70v`, now); sup == nil ||
		sup.Address != `"ünï cødé"@xn--fsqu00a.xn--4rr70v` || sup.Cause != "manual" {
		t.Errorf("manual suppression of %q = %+v", byHand, sup)
	}
	if had, err := s.RemoveSuppression(ctx, `"ÜNÏ CØDÉ"@XN--FSQU00A.xn--4rr70v`, store.Actor{Who: "test"}); err != nil || !had {
		t.Errorf("RemoveSuppression = %v, %v; want true", had, err)
	}
}

// testInvalidAddress gives every method that takes an address text that
// is none: each refuses it and stores nothing.
func testInvalidAddress(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, bad := range []string{"", "@", "a\r\nb@example.org", "a\x00b@example.org",
		strings.Repeat("x", 5000) + "@example.org", "user@exa_mple.org"} {
		if err := s.AddSuppression(ctx, store.Suppression{Address: bad, Reason: "r", Since: base}); err == nil {
			t.Errorf("AddSuppression(%q): no error", bad)
		}
		if sup, err := s.Suppression(ctx, bad, base); err == nil {
			t.Errorf("Suppression(%q) = %+v, no error", bad, sup)
		}
		if had, err := s.RemoveSuppression(ctx, bad, store.Actor{Who: "test"}); err == nil {
			t.Errorf("RemoveSuppression(%q) = %v, no error", bad, had)
		}
		if bad == "" {
			continue // an empty Recipient does not restrict a query
		}
		if recs, err := s.Records(ctx, store.Query{Recipient: bad}); err == nil {
			t.Errorf("Records(Recipient %q) = %d records, no error", bad, len(recs))
		}
	}
	if recs, err := s.Records(ctx, store.Query{Domain: "exa_mple.org"}); err == nil {
		t.Errorf("Records(Domain exa_mple.org) = %d records, no error", len(recs))
	}
	sups, err := s.Suppressions(ctx, base)
	if err != nil || len(sups) != 0 {
		t.Errorf("Suppressions = %+v, %v; want none", sups, err)
	}
}

// testNoAddressNoSuppression saves hard bounces and complaints whose
// recipient is no address, as a caller other than package bounce may: the
// records are kept, and suppress nothing. NUL and invalid UTF-8 are kept
// as U+FFFD by every backend.
func testNoAddressNoSuppression(t *testing.T, s store.Store) {
	var recs []record.Record
	for _, rcpt := range []string{"", "@", "a\r\nb@example.org", "a\x00b@example.org", "user@exa\xffmple.org",
		strings.Repeat("x", 5000) + "@example.org"} {
		for _, class := range []string{record.ClassHard, record.ClassComplaint, record.ClassSoft} {
			recs = append(recs, rec(rcpt, class, "userunknown", base))
		}
	}
	block := rec("a\r\nb@example.org", record.ClassBlock, "blocked", base)
	block.Diagnostic = "554 5.7.1 refused\x00 \xff"
	recs = append(recs, block)
	save(t, s, msg("no-address", base, recs...))

	want := make([]record.Record, len(recs))
	for i, r := range recs {
		r.Recipient = strings.ReplaceAll(strings.ToValidUTF8(r.Recipient, "\uFFFD"), "\x00", "\uFFFD")
		r.Diagnostic = strings.ReplaceAll(strings.ToValidUTF8(r.Diagnostic, "\uFFFD"), "\x00", "\uFFFD")
		r.OriginalMessageID = strings.ReplaceAll(strings.ToValidUTF8(r.OriginalMessageID, "\uFFFD"), "\x00", "\uFFFD")
		want[i] = r
	}
	sameRecords(t, "Records", records(t, s, store.Query{}), want)
	sups, err := s.Suppressions(context.Background(), at(time.Hour))
	if err != nil || len(sups) != 0 {
		t.Errorf("Suppressions = %+v, %v; want none", sups, err)
	}
	// The block still counts, for an unknown destination.
	ins, err := s.Incidents(context.Background(), false, at(time.Hour))
	if err != nil || len(ins) != 1 || ins[0].Sample != "554 5.7.1 refused\uFFFD \uFFFD" {
		t.Errorf("Incidents = %+v, %v; want one with the diagnostic as sample", ins, err)
	}
}

func addresses(sups []store.Suppression) []string {
	var out []string
	for _, s := range sups {
		out = append(out, s.Address)
	}
	return out
}

func sameSet(a, b []string) bool {
	set := func(l []string) map[string]bool {
		m := make(map[string]bool, len(l))
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	return len(a) == len(b) && reflect.DeepEqual(set(a), set(b))
}
