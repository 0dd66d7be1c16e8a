package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// runSent runs the tests of authentication: what records and messages
// keep of it, the registered sent messages and the VERP tokens.
func runSent(t *testing.T, b Backend) {
	// The store's clock stands still at clock, for registrations without
	// a time.
	clock := at(10 * day)
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store, clock time.Time)
	}{
		{"AuthRoundTrip", testAuthRoundTrip},
		{"AuthSuppression", testAuthSuppression},
		{"RegisterSent", testRegisterSent},
		{"RegisterSentBadInput", testRegisterSentBadInput},
		{"SentTo", testSentTo},
		{"PruneSent", testPruneSent},
		{"ConcurrentRegisterSent", testConcurrentRegisterSent},
		{"VERPTokens", testVERPTokens},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := b.Open(t, store.Options{Now: func() time.Time { return clock }})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s, clock)
		})
	}
	t.Run("SentAfterClose", func(t *testing.T) {
		s := b.Open(t, store.Options{})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		testSentAfterClose(t, s)
	})
}

// authRec is rec with how it was authenticated.
func authRec(recipient, class, reason, auth string, when time.Time) record.Record {
	r := rec(recipient, class, reason, when)
	r.Auth = auth
	switch auth {
	case record.AuthVERP, record.AuthSent, record.AuthDKIM:
		r.Authenticated = true
	}
	return r
}

func testAuthRoundTrip(t *testing.T, s store.Store, _ time.Time) {
	ctx := context.Background()
	const results = "rebound; verp=pass key=k1; dkim=pass header.d=example.com"
	want := []record.Record{
		authRec("verp@example.org", record.ClassHard, "userunknown", record.AuthVERP, at(time.Minute)),
		authRec("sent@example.org", record.ClassSoft, "mailboxfull", record.AuthSent, at(time.Minute)),
		authRec("dkim@example.org", record.ClassHard, "userunknown", record.AuthDKIM, at(time.Minute)),
		authRec("none@example.org", record.ClassHard, "userunknown", record.AuthNone, at(time.Minute)),
		authRec("failed@example.org", record.ClassHard, "userunknown", record.AuthFailed, at(time.Minute)),
		authRec("trusted@example.org", record.ClassHard, "userunknown", record.AuthTrusted, at(time.Minute)),
		authRec("unchecked@example.org", record.ClassHard, "userunknown", "", at(time.Minute)),
	}
	m := msg("auth", at(time.Minute), want...)
	m.AuthResults = results
	res := save(t, s, m)
	other := save(t, s, msg("unchecked", at(2*time.Minute), rec("plain@example.org", record.ClassHard, "userunknown", at(2*time.Minute))))

	sameRecords(t, "Records", records(t, s, store.Query{Until: at(2 * time.Minute)}), want)
	for _, r := range records(t, s, store.Query{}) {
		one, err := s.Record(ctx, r.ID)
		if err != nil {
			t.Fatalf("Record(%d): %v", r.ID, err)
		}
		if one.Auth != r.Auth || one.Authenticated != r.Authenticated {
			t.Errorf("Record(%d): auth %q (%v), listed as %q (%v)", r.ID, one.Auth, one.Authenticated, r.Auth, r.Authenticated)
		}
	}
	got, err := s.Message(ctx, res.MessageID)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	if got.AuthResults != results {
		t.Errorf("Message AuthResults %q, want %q", got.AuthResults, results)
	}
	sameRecords(t, "Message records", got.Records, want)
	plain, err := s.Message(ctx, other.MessageID)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	if plain.AuthResults != "" {
		t.Errorf("message saved without AuthResults reads back %q", plain.AuthResults)
	}
	msgs, err := s.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	if len(msgs) != 2 || msgs[0].AuthResults != results || msgs[1].AuthResults != "" {
		t.Errorf("Messages: %+v, want AuthResults %q then none", msgs, results)
	}
}

// testAuthSuppression saves hard bounces and complaints that differ only
// in their Auth: those not proven to concern mail the sender sent are
// stored and listed, and suppress nobody.
func testAuthSuppression(t *testing.T, s store.Store, _ time.Time) {
	ctx := context.Background()
	when := at(time.Hour)
	cases := []struct {
		auth       string
		class      string
		suppressed bool
	}{
		{record.AuthNone, record.ClassHard, false},
		{record.AuthFailed, record.ClassHard, false},
		{record.AuthNone, record.ClassComplaint, false},
		{record.AuthVERP, record.ClassHard, true},
		{record.AuthSent, record.ClassHard, true},
		{record.AuthDKIM, record.ClassComplaint, true},
		{record.AuthTrusted, record.ClassHard, true},
		{"", record.ClassHard, true},
	}
	for i, c := range cases {
		addr := fmt.Sprintf("auth%d-%s@example.org", i, c.auth)
		save(t, s, msg(addr, when, authRec(addr, c.class, "userunknown", c.auth, when)))
		sup := suppression(t, s, addr, when.Add(time.Minute))
		if (sup != nil) != c.suppressed {
			t.Errorf("%s record of Auth %q: suppression %+v, want suppressed %v", c.class, c.auth, sup, c.suppressed)
		}
		if recs := records(t, s, store.Query{Recipient: addr}); len(recs) != 1 || recs[0].Auth != c.auth {
			t.Errorf("%s record of Auth %q: listed %+v", c.class, c.auth, recs)
		}
	}
	// A forged report after an authenticated one lifts nothing and counts
	// nothing: the state stays as the authenticated one left it.
	addr := "forged-after@example.org"
	save(t, s, msg("forged-after-1", when, authRec(addr, record.ClassHard, "userunknown", record.AuthVERP, when)))
	before := suppression(t, s, addr, when.Add(time.Minute))
	later := when.Add(time.Hour)
	save(t, s, msg("forged-after-2", later, authRec(addr, record.ClassDelivered, "", record.AuthNone, later)))
	save(t, s, msg("forged-after-3", later, authRec(addr, record.ClassComplaint, "abuse", record.AuthFailed, later)))
	after := suppression(t, s, addr, later.Add(time.Minute))
	if before == nil || after == nil || after.Cause != suppress.CauseHard || !reflect.DeepEqual(before.Evidence, after.Evidence) {
		t.Errorf("after unauthenticated records: suppression %+v, want %+v unchanged", after, before)
	}
	counts, err := s.SuppressionCounts(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	if counts[suppress.CauseComplaint] != 1 || counts[suppress.CauseHard] != 5 {
		t.Errorf("suppression counts %v, want 1 complaint and 5 hard", counts)
	}
}

func registerSent(t *testing.T, s store.Store, sent ...store.Sent) int {
	t.Helper()
	n, err := s.RegisterSent(context.Background(), sent)
	if err != nil {
		t.Fatalf("RegisterSent: %v", err)
	}
	return n
}

func sentTo(t *testing.T, s store.Store, id string) []store.Sent {
	t.Helper()
	got, err := s.SentTo(context.Background(), id)
	if err != nil {
		t.Fatalf("SentTo(%q): %v", id, err)
	}
	if got == nil {
		t.Fatalf("SentTo(%q): nil slice, want an empty one for none", id)
	}
	for i := range got {
		got[i].SentAt = got[i].SentAt.UTC()
	}
	return got
}

func sameSent(t *testing.T, what string, got, want []store.Sent) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testRegisterSent(t *testing.T, s store.Store, clock time.Time) {
	const id = "letter-1@sender.example"
	t1 := at(time.Hour)
	n := registerSent(t, s,
		store.Sent{MessageID: "<" + id + ">", Recipient: "Bob@Example.COM", Campaign: "spring", Tenant: "acme", SentAt: t1},
		store.Sent{MessageID: id, Recipient: "alice@example.org", SentAt: t1},
		// The same pair twice in one call is one registration.
		store.Sent{MessageID: id, Recipient: "ALICE@example.org", Tenant: "acme", SentAt: t1.Add(time.Minute)},
		store.Sent{MessageID: "letter-2@sender.example", Recipient: "carol@example.net"}, // the store's clock
	)
	if n != 3 {
		t.Errorf("first registration: %d new, want 3", n)
	}
	want := []store.Sent{
		{MessageID: id, Recipient: "alice@example.org", Tenant: "acme", SentAt: t1},
		{MessageID: id, Recipient: "bob@example.com", Campaign: "spring", Tenant: "acme", SentAt: t1},
	}
	sameSent(t, "after the first registration", sentTo(t, s, id), want)
	sameSent(t, "registered without a time", sentTo(t, s, "letter-2@sender.example"),
		[]store.Sent{{MessageID: "letter-2@sender.example", Recipient: "carol@example.net", SentAt: clock}})

	// Again, in another case and later: nothing new, the first rows kept,
	// campaign and tenant taken where given and kept where not.
	n = registerSent(t, s,
		store.Sent{MessageID: id, Recipient: "bob@example.com", SentAt: t1.Add(day)},
		store.Sent{MessageID: " <" + id + "> ", Recipient: "Alice@Example.org", Campaign: "summer", SentAt: t1.Add(day)},
	)
	if n != 0 {
		t.Errorf("registering the same pairs again: %d new, want 0", n)
	}
	want[0].Campaign = "summer"
	sameSent(t, "after registering again", sentTo(t, s, id), want)

	// A batch of old and new pairs counts the new ones only.
	n = registerSent(t, s,
		store.Sent{MessageID: id, Recipient: "alice@example.org", Tenant: "other", SentAt: t1},
		store.Sent{MessageID: id, Recipient: "dave@example.org", SentAt: t1},
	)
	if n != 1 {
		t.Errorf("one new pair among old ones: %d new, want 1", n)
	}
	want[0].Tenant = "other"
	want = append(want, store.Sent{MessageID: id, Recipient: "dave@example.org", SentAt: t1})
	sameSent(t, "after adding a recipient", sentTo(t, s, id), want)

	if n := registerSent(t, s); n != 0 {
		t.Errorf("registering nothing: %d new", n)
	}

	// A full batch at the bound, then all of it again.
	big := make([]store.Sent, store.MaxRegister)
	for i := range big {
		big[i] = store.Sent{MessageID: fmt.Sprintf("bulk-%d@sender.example", i/2), Recipient: fmt.Sprintf("r%d@example.org", i), SentAt: t1}
	}
	if n := registerSent(t, s, big...); n != store.MaxRegister {
		t.Errorf("a batch of %d: %d new", store.MaxRegister, n)
	}
	if n := registerSent(t, s, big...); n != 0 {
		t.Errorf("the batch of %d again: %d new, want 0", store.MaxRegister, n)
	}
	if got := sentTo(t, s, "bulk-4321@sender.example"); len(got) != 2 || got[0].Recipient != "r8642@example.org" {
		t.Errorf("one message of the batch: %+v", got)
	}
}

func testRegisterSentBadInput(t *testing.T, s store.Store, _ time.Time) {
	ctx := context.Background()
	good := store.Sent{MessageID: "good@sender.example", Recipient: "good@example.org", SentAt: at(time.Hour)}
	for _, tc := range []struct {
		name  string
		bad   store.Sent
		names string // the error names this
	}{
		{"no address", store.Sent{MessageID: "bad1@sender.example", Recipient: "not an address"}, "not an address"},
		{"empty recipient", store.Sent{MessageID: "bad2@sender.example", Recipient: ""}, "bad2@sender.example"},
		{"no domain", store.Sent{MessageID: "bad3@sender.example", Recipient: "someone@"}, "someone@"},
		{"empty Message-ID", store.Sent{MessageID: "", Recipient: "who@example.org"}, "who@example.org"},
		{"empty brackets", store.Sent{MessageID: " < > ", Recipient: "whom@example.org"}, "whom@example.org"},
	} {
		n, err := s.RegisterSent(ctx, []store.Sent{good, tc.bad})
		if err == nil {
			t.Errorf("%s: RegisterSent returned %d, nil; want an error", tc.name, n)
			continue
		}
		if !strings.Contains(err.Error(), tc.names) || !strings.Contains(err.Error(), "2") {
			t.Errorf("%s: error %q does not name %q, the second of the batch", tc.name, err, tc.names)
		}
	}
	tooMany := make([]store.Sent, store.MaxRegister+1)
	for i := range tooMany {
		tooMany[i] = store.Sent{MessageID: "many@sender.example", Recipient: fmt.Sprintf("m%d@example.org", i)}
	}
	if n, err := s.RegisterSent(ctx, tooMany); err == nil {
		t.Errorf("RegisterSent of %d: %d, nil; want an error", len(tooMany), n)
	}
	// Nothing of the failed batches was stored.
	sameSent(t, "the good registration of failed batches", sentTo(t, s, good.MessageID), nil)
	sameSent(t, "a batch too large", sentTo(t, s, "many@sender.example"), nil)
	if n, err := s.PruneSent(ctx, at(100*day)); err != nil || n != 0 {
		t.Errorf("PruneSent after failed batches: %d, %v; want nothing to prune", n, err)
	}
}

func testSentTo(t *testing.T, s store.Store, _ time.Time) {
	t1 := at(time.Hour)
	registerSent(t, s,
		store.Sent{MessageID: "<brackets@sender.example>", Recipient: "b@example.org", SentAt: t1},
		store.Sent{MessageID: "bare@sender.example", Recipient: "a@example.org", SentAt: t1},
		store.Sent{MessageID: "bare@sender.example", Recipient: "c@example.org", SentAt: t1},
		store.Sent{MessageID: "Bare@Sender.Example", Recipient: "d@example.org", SentAt: t1},
	)
	bare := []store.Sent{
		{MessageID: "bare@sender.example", Recipient: "a@example.org", SentAt: t1},
		{MessageID: "bare@sender.example", Recipient: "c@example.org", SentAt: t1},
	}
	brackets := []store.Sent{{MessageID: "brackets@sender.example", Recipient: "b@example.org", SentAt: t1}}
	for _, tc := range []struct {
		id   string
		want []store.Sent
	}{
		{"bare@sender.example", bare},
		{"<bare@sender.example>", bare},
		{"  <bare@sender.example>\t", bare},
		{"brackets@sender.example", brackets},
		{"<brackets@sender.example>", brackets},
		// A Message-ID is compared as it is: its case is kept (RFC 5322
		// section 3.6.4 makes it unique, not case-insensitive).
		{"Bare@Sender.Example", []store.Sent{{MessageID: "Bare@Sender.Example", Recipient: "d@example.org", SentAt: t1}}},
		{"BARE@sender.example", nil},
		{"unknown@sender.example", nil},
		{"<>", nil},
		{"", nil},
	} {
		sameSent(t, fmt.Sprintf("SentTo(%q)", tc.id), sentTo(t, s, tc.id), tc.want)
	}
}

func testPruneSent(t *testing.T, s store.Store, _ time.Time) {
	ctx := context.Background()
	var sent []store.Sent
	for i := range 30 {
		sent = append(sent, store.Sent{MessageID: fmt.Sprintf("day%d@sender.example", i), Recipient: "r@example.org",
			SentAt: at(time.Duration(i) * day)})
	}
	registerSent(t, s, sent...)
	n, err := s.PruneSent(ctx, at(10*day))
	if err != nil || n != 10 {
		t.Fatalf("PruneSent before day 10: %d, %v; want 10", n, err)
	}
	if got := sentTo(t, s, "day9@sender.example"); len(got) != 0 {
		t.Errorf("day 9 kept after pruning: %+v", got)
	}
	if got := sentTo(t, s, "day10@sender.example"); len(got) != 1 {
		t.Errorf("day 10 pruned: %+v", got)
	}
	if n, err := s.PruneSent(ctx, at(10*day)); err != nil || n != 0 {
		t.Errorf("PruneSent again: %d, %v; want 0", n, err)
	}
	// A pruned pair registers anew.
	if n := registerSent(t, s, sent[0]); n != 1 {
		t.Errorf("registering a pruned pair: %d new, want 1", n)
	}
	if n, err := s.PruneSent(ctx, at(100*day)); err != nil || n != 21 {
		t.Errorf("PruneSent of all: %d, %v; want 21", n, err)
	}
}

// testConcurrentRegisterSent registers the same pairs from several callers
// at once, each in its own order and some with a campaign: every pair is
// new to exactly one of them, and none fails (no deadlock between them).
func testConcurrentRegisterSent(t *testing.T, s store.Store, _ time.Time) {
	const callers, pairs = 8, 600
	var wg sync.WaitGroup
	added := make([]int, callers)
	errs := make([]error, callers)
	for c := range callers {
		batch := make([]store.Sent, pairs)
		for i := range batch {
			// Each caller walks the pairs from a different start.
			k := (i + c*pairs/callers) % pairs
			batch[i] = store.Sent{MessageID: fmt.Sprintf("race-%d@sender.example", k/3),
				Recipient: fmt.Sprintf("r%d@example.org", k), SentAt: at(time.Hour)}
			if c%2 == 1 {
				batch[i].Campaign = fmt.Sprintf("c%d", c)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			added[c], errs[c] = s.RegisterSent(context.Background(), batch)
		}()
	}
	wg.Wait()
	total := 0
	for c := range callers {
		if errs[c] != nil {
			t.Errorf("caller %d: %v", c, errs[c])
		}
		total += added[c]
	}
	if total != pairs {
		t.Errorf("concurrent registrations: %d new in all, want %d", total, pairs)
	}
	for k := 0; k < pairs; k += 3 {
		if got := sentTo(t, s, fmt.Sprintf("race-%d@sender.example", k/3)); len(got) != 3 {
			t.Fatalf("race-%d: %d registrations, want 3", k/3, len(got))
		}
	}
}

func testVERPTokens(t *testing.T, s store.Store, _ time.Time) {
	ctx := context.Background()
	long := strings.Repeat("very.long.local.part.", 5) + "someone@subdomain.example.org"
	if err := s.PutVERPToken(ctx, "t0k3n", long); err != nil {
		t.Fatalf("PutVERPToken: %v", err)
	}
	// Idempotent: the same token again keeps its first address.
	if err := s.PutVERPToken(ctx, "t0k3n", long); err != nil {
		t.Fatalf("PutVERPToken again: %v", err)
	}
	if err := s.PutVERPToken(ctx, "t0k3n", "other@example.org"); err != nil {
		t.Fatalf("PutVERPToken with another address: %v", err)
	}
	if err := s.PutVERPToken(ctx, "T0K3N", "Upper@Example.org"); err != nil {
		t.Fatalf("PutVERPToken: %v", err)
	}
	for _, tc := range []struct{ token, want string }{
		{"t0k3n", long},
		{"T0K3N", "Upper@Example.org"}, // tokens and addresses as given
		{"unknown", ""},
		{"", ""},
		{strings.Repeat("x", store.MaxVERPToken+1), ""},
	} {
		got, err := s.VERPToken(ctx, tc.token)
		if err != nil || got != tc.want {
			t.Errorf("VERPToken(%q): %q, %v; want %q", tc.token, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ token, address string }{
		{"", "a@example.org"},
		{"tok", ""},
		{"with space", "a@example.org"},
		{"tok\x00", "a@example.org"},
		{strings.Repeat("x", store.MaxVERPToken+1), "a@example.org"},
		{"tok2", "bad\x00@example.org"},
		{"tok3", "bad\xff@example.org"},
	} {
		if err := s.PutVERPToken(ctx, tc.token, tc.address); err == nil {
			t.Errorf("PutVERPToken(%q, %q): nil, want an error", tc.token, tc.address)
		}
		if got, err := s.VERPToken(ctx, tc.token); err != nil || got != "" {
			t.Errorf("VERPToken(%q) after a refused put: %q, %v", tc.token, got, err)
		}
	}
}

func testSentAfterClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	sent := []store.Sent{{MessageID: "late@sender.example", Recipient: "late@example.org"}}
	if _, err := s.RegisterSent(ctx, sent); !errors.Is(err, store.ErrClosed) {
		t.Errorf("RegisterSent after Close: %v, want store.ErrClosed", err)
	}
	if err := s.PutVERPToken(ctx, "late", "late@example.org"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("PutVERPToken after Close: %v, want store.ErrClosed", err)
	}
	if _, err := s.PruneSent(ctx, at(day)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("PruneSent after Close: %v, want store.ErrClosed", err)
	}
}
