package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// The confidence of a verdict and its evidence are stored with the
// record; a hard bounce with low confidence is scored as the policy's
// LowConfidenceHard says (by default, as a soft bounce).

// lowHard is a hard bounce whose verdict has low confidence.
func lowHard(recipient string, when time.Time) record.Record {
	r := rec(recipient, record.ClassHard, "userunknown", when)
	r.Confidence = record.ConfidenceLow
	r.Evidence = "reply phrase \"user unknown\", but status 4.4.1 and the reporting MTA's profile speak against it"
	return r
}

// lowHardBounces saves n low-confidence hard bounces for addr, one hour
// apart from start, one message each.
func lowHardBounces(t *testing.T, s store.Store, addr string, start time.Time, n int, tag string) {
	t.Helper()
	for i := range n {
		when := start.Add(time.Duration(i) * time.Hour)
		save(t, s, msg(fmt.Sprintf("%s-%d", tag, i), when, lowHard(addr, when)))
	}
}

// marksAreEvidence checks the low-confidence marks of a suppression: want
// of them, each one of its evidence keys.
func marksAreEvidence(t *testing.T, sup *store.Suppression, want int) {
	t.Helper()
	if len(sup.LowConfidence) != want {
		t.Errorf("%s: %d low-confidence marks %q, want %d", sup.Address, len(sup.LowConfidence), sup.LowConfidence, want)
	}
	for _, k := range sup.LowConfidence {
		if !slices.Contains(sup.Evidence, k) {
			t.Errorf("%s: low-confidence mark %q is not among the evidence %q", sup.Address, k, sup.Evidence)
		}
	}
}

func testConfidenceRoundTrip(t *testing.T, s store.Store) {
	high := rec("sure@example.org", record.ClassHard, "userunknown", base)
	high.Evidence = "status 5.1.1 and reply phrase \"no such user\" agree"
	low := lowHard("unsure@example.org", base)
	low.Evidence = "provider rule outlook/5.5.0 — “requested action not taken”\nstatus 5.5.0 is generic"
	// A caller that does not judge confidence stores none, and reads none.
	unjudged := rec("unjudged@example.org", record.ClassHard, "userunknown", base)
	unjudged.Confidence, unjudged.Evidence = "", ""
	// An unexpected value is kept as given (the policy takes it as low).
	odd := rec("odd@example.org", record.ClassSoft, "mailboxfull", base)
	odd.Confidence = "medium"
	want := []record.Record{high, low, unjudged, odd}
	m := msg("confidence", base, want...)
	res := save(t, s, m)
	sameRecords(t, "Records", records(t, s, store.Query{}), want)
	got, err := s.Message(context.Background(), res.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "Message records", got.Records, want)
}

func testQueryConfidence(t *testing.T, s store.Store) {
	unjudged := rec("c@conf.test", record.ClassHard, "userunknown", at(3*time.Hour))
	unjudged.Confidence, unjudged.Evidence = "", ""
	lowSoft := rec("d@conf.test", record.ClassSoft, "mailboxfull", at(4*time.Hour))
	lowSoft.Confidence = record.ConfidenceLow
	odd := rec("e@conf.test", record.ClassSoft, "mailboxfull", at(5*time.Hour))
	odd.Confidence = "medium"
	seed := []record.Record{
		rec("a@conf.test", record.ClassHard, "userunknown", at(1*time.Hour)),
		lowHard("b@conf.test", at(2*time.Hour)),
		unjudged,
		lowSoft,
		odd,
	}
	for i := range seed {
		save(t, s, msg(fmt.Sprintf("conf-%d", i), seed[i].ReceivedAt, seed[i]))
	}
	tests := []struct {
		name string
		q    store.Query
		want []int
	}{
		{"high takes those without a confidence", store.Query{Confidence: record.ConfidenceHigh}, []int{0, 2}},
		{"low takes every other", store.Query{Confidence: record.ConfidenceLow}, []int{1, 3, 4}},
		{"low hard", store.Query{Confidence: record.ConfidenceLow, Class: record.ClassHard}, []int{1}},
		{"low of one recipient", store.Query{Confidence: record.ConfidenceLow, Recipient: "B@conf.test"}, []int{1}},
		{"another value matches exactly", store.Query{Confidence: "medium"}, []int{4}},
		{"no filter", store.Query{Domain: "conf.test"}, []int{0, 1, 2, 3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []record.Record
			for _, k := range tc.want {
				want = append(want, seed[k])
			}
			sameRecords(t, tc.name, records(t, s, tc.q), want)
		})
	}
}

func testLowConfidenceHardCountsAsSoft(t *testing.T, s store.Store) {
	p := suppress.DefaultPolicy
	const addr = "unsure@example.org"
	lowHardBounces(t, s, addr, base, 1, "low")
	if sup := suppression(t, s, addr, base); sup != nil {
		t.Fatalf("one low-confidence hard bounce suppressed the address: %+v", sup)
	}
	if recs := records(t, s, store.Query{Recipient: addr}); len(recs) != 1 || recs[0].Confidence != record.ConfidenceLow {
		t.Fatalf("records %+v, want the one low-confidence record", recs)
	}
	// Repeated inside the soft window, they suppress as soft bounces do.
	lowHardBounces(t, s, addr, at(time.Hour), p.SoftThreshold-2, "low-more")
	last := base.Add(time.Duration(p.SoftThreshold-2) * time.Hour)
	if sup := suppression(t, s, addr, last); sup != nil {
		t.Fatalf("suppressed after %d low-confidence hard bounces, the soft threshold is %d: %+v", p.SoftThreshold-1, p.SoftThreshold, sup)
	}
	last = last.Add(time.Hour)
	save(t, s, msg("low-last", last, lowHard(addr, last)))
	sup := suppression(t, s, addr, last)
	if sup == nil {
		t.Fatalf("not suppressed after %d low-confidence hard bounces in the soft window", p.SoftThreshold)
	}
	if sup.Cause != suppress.CauseSoft || sup.Reason != "userunknown" || !sup.Since.Equal(last) ||
		!sup.Expires.Equal(last.Add(p.SoftExpiry)) || len(sup.Evidence) != p.SoftThreshold {
		t.Errorf("suppression = %+v, want cause soft (userunknown) since %v for the soft expiry, %d evidence keys",
			sup, last, p.SoftThreshold)
	}
	marksAreEvidence(t, sup, p.SoftThreshold)

	// They add up with soft bounces; the marks tell which were which.
	const mixed = "mixed@example.org"
	softBounces(t, s, mixed, base, p.SoftThreshold-2, "mixed-soft")
	lowHardBounces(t, s, mixed, at(time.Duration(p.SoftThreshold)*time.Hour), 2, "mixed-low")
	sup = suppression(t, s, mixed, at(day))
	if sup == nil || sup.Cause != suppress.CauseSoft || len(sup.Evidence) != p.SoftThreshold {
		t.Fatalf("soft and low-confidence hard bounces: suppression %+v, want cause soft with %d evidence keys", sup, p.SoftThreshold)
	}
	marksAreEvidence(t, sup, 2)

	// A sure hard bounce suppresses at once, and replaces the soft cause.
	const sure = "sure-after@example.org"
	lowHardBounces(t, s, sure, base, 1, "sure-low")
	save(t, s, msg("sure-hard", at(time.Hour), rec(sure, record.ClassHard, "userunknown", at(time.Hour))))
	sup = suppression(t, s, sure, at(2*time.Hour))
	if sup == nil || sup.Cause != suppress.CauseHard || !sup.Expires.IsZero() || len(sup.Evidence) != 1 || len(sup.LowConfidence) != 0 {
		t.Errorf("a sure hard bounce after a low-confidence one: suppression %+v, want cause hard on its own evidence", sup)
	}

	sups, err := s.Suppressions(context.Background(), at(day))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range sups {
		want := map[string]int{addr: p.SoftThreshold, mixed: 2, sure: 0}[x.Address]
		if len(x.LowConfidence) != want {
			t.Errorf("Suppressions: %s has %d low-confidence marks, want %d", x.Address, len(x.LowConfidence), want)
		}
	}
}

// testLowConfidenceHardInOneMessage scores several low-confidence hard
// bounces for one address in one Save: each counts, in one transaction.
func testLowConfidenceHardInOneMessage(t *testing.T, s store.Store) {
	p := suppress.DefaultPolicy
	const addr = "many@example.org"
	var recs []record.Record
	for range p.SoftThreshold {
		recs = append(recs, lowHard(addr, base))
	}
	save(t, s, msg("many", base, recs...))
	sup := suppression(t, s, addr, base)
	if sup == nil || sup.Cause != suppress.CauseSoft || len(sup.Evidence) != p.SoftThreshold {
		t.Fatalf("%d low-confidence hard bounces in one message: suppression %+v, want cause soft", p.SoftThreshold, sup)
	}
	marksAreEvidence(t, sup, p.SoftThreshold)
}

// testEmptyConfidenceIsHigh saves records of a caller that does not judge
// confidence: a hard bounce without one suppresses at once, as before
// confidence existed.
func testEmptyConfidenceIsHigh(t *testing.T, s store.Store) {
	r := rec("old-caller@example.org", record.ClassHard, "userunknown", base)
	r.Confidence, r.Evidence = "", ""
	save(t, s, msg("old-caller", base, r))
	sup := suppression(t, s, "old-caller@example.org", base)
	if sup == nil || sup.Cause != suppress.CauseHard || len(sup.LowConfidence) != 0 {
		t.Fatalf("hard bounce without a confidence: suppression %+v, want cause hard", sup)
	}
	if got := records(t, s, store.Query{Recipient: "old-caller@example.org"}); len(got) != 1 || got[0].Confidence != "" {
		t.Errorf("records %+v, want one without a confidence", got)
	}
}

func testLowConfidenceHardSuppress(t *testing.T, open func(store.Options) store.Store) {
	s := open(store.Options{Policy: suppress.Policy{LowConfidenceHard: suppress.LowConfidenceSuppress, HardExpiry: 90 * day}})
	const addr = "unsure@example.org"
	lowHardBounces(t, s, addr, base, 1, "low")
	sup := suppression(t, s, addr, base)
	if sup == nil {
		t.Fatal(`low_confidence_hard "suppress": one low-confidence hard bounce did not suppress`)
	}
	if sup.Cause != suppress.CauseHard || sup.Reason != "userunknown" || !sup.Since.Equal(base) ||
		!sup.Expires.Equal(base.Add(90*day)) || len(sup.Evidence) != 1 {
		t.Errorf("suppression = %+v, want cause hard (userunknown) since %v for the hard expiry", sup, base)
	}
	marksAreEvidence(t, sup, 1)
}

func testLowConfidenceHardIgnore(t *testing.T, open func(store.Options) store.Store) {
	s := open(store.Options{Policy: suppress.Policy{LowConfidenceHard: suppress.LowConfidenceIgnore}})
	p := suppress.DefaultPolicy
	const addr = "unsure@example.org"
	lowHardBounces(t, s, addr, base, p.SoftThreshold+1, "low")
	if sup := suppression(t, s, addr, at(day)); sup != nil {
		t.Fatalf(`low_confidence_hard "ignore": suppressed by low-confidence hard bounces: %+v`, sup)
	}
	if recs := records(t, s, store.Query{Recipient: addr}); len(recs) != p.SoftThreshold+1 {
		t.Errorf("%d records stored, want %d: ignored bounces are still kept", len(recs), p.SoftThreshold+1)
	}
	// Nor do they add to the soft count.
	const mixed = "mixed@example.org"
	softBounces(t, s, mixed, base, p.SoftThreshold-1, "mixed-soft")
	lowHardBounces(t, s, mixed, at(10*time.Hour), 1, "mixed-low")
	if sup := suppression(t, s, mixed, at(day)); sup != nil {
		t.Fatalf(`low_confidence_hard "ignore": a low-confidence hard bounce added to the soft count: %+v`, sup)
	}
	softBounces(t, s, mixed, at(11*time.Hour), 1, "mixed-soft-last")
	sup := suppression(t, s, mixed, at(day))
	if sup == nil || sup.Cause != suppress.CauseSoft || len(sup.Evidence) != p.SoftThreshold || len(sup.LowConfidence) != 0 {
		t.Errorf("after the soft threshold: suppression %+v, want cause soft on soft bounces only", sup)
	}
}

// testUpgradeFromVersion1 writes the rows of a program from before records
// had a confidence into a database of its schema, opens it with this
// program and reads them back: they read as stored, with no confidence,
// and the soft count they hold goes on counting.
func testUpgradeFromVersion1(t *testing.T, legacy func(t *testing.T) (func(string, ...any) error, func(store.Options) store.Store)) {
	ctx := context.Background()
	p := suppress.DefaultPolicy
	exec, open := legacy(t)
	v1 := version1DB{t: t, exec: exec}
	raw := []byte("From: MAILER-DAEMON@mx.example.net\r\nSubject: stored before confidence\r\n\r\nold report\r\n")
	hash := v1.message(raw, base)
	old := []record.Record{
		rec("gone@old.test", record.ClassHard, "userunknown", base),
		rec("soft@old.test", record.ClassSoft, "mailboxfull", base),
	}
	for i := range old {
		r := &old[i]
		r.Index = i + 1
		r.Confidence, r.Evidence = "", "" // not in the old schema
		r.OriginalHeaders = map[string]string{"X-Campaign": "winter"}
		v1.record(hash, r, `{"X-Campaign":"winter"}`)
		r.Authenticated = true
	}
	// gone@old.test was suppressed by its hard bounce; soft@old.test is one
	// soft bounce short of the threshold.
	const addressRow = `INSERT INTO addresses (address, soft_count, window_start, last_bounce, suppressed,
		cause, reason, since, expires, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	v1.must(v1.exec(addressRow, "gone@old.test", int64(0), int64(0), sqlstore.UnixNano(base), true,
		suppress.CauseHard, "userunknown", sqlstore.UnixNano(base), int64(0), []string{"old-gone"}))
	softKeys := make([]string, p.SoftThreshold-1)
	for i := range softKeys {
		softKeys[i] = fmt.Sprintf("old-soft-%d", i)
	}
	v1.must(v1.exec(addressRow, "soft@old.test", int64(len(softKeys)), sqlstore.UnixNano(base), sqlstore.UnixNano(base),
		false, "", "", int64(0), int64(0), softKeys))

	s := open(store.Options{})
	t.Cleanup(func() { s.Close() })

	sameRecords(t, "old records", records(t, s, store.Query{}), old)
	sameRecords(t, "old records as high", records(t, s, store.Query{Confidence: record.ConfidenceHigh}), old)
	sameRecords(t, "old records as low", records(t, s, store.Query{Confidence: record.ConfidenceLow}), nil)
	msgs, err := s.Messages(ctx, store.MessageQuery{})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("old messages: %+v, %v", msgs, err)
	}
	m, err := s.Message(ctx, msgs[0].ID)
	if err != nil {
		t.Fatalf("old message: %v", err)
	}
	if string(m.Raw) != string(raw) {
		t.Errorf("old message raw: %q, want %q", m.Raw, raw)
	}
	sameRecords(t, "old message records", m.Records, old)

	sup := suppression(t, s, "gone@old.test", at(time.Hour))
	if sup == nil || sup.Cause != suppress.CauseHard || !slices.Equal(sup.Evidence, []string{"old-gone"}) || sup.LowConfidence != nil {
		t.Errorf("old hard suppression: %+v", sup)
	}
	if sup := suppression(t, s, "soft@old.test", at(time.Hour)); sup != nil {
		t.Errorf("old soft count suppressed on upgrade: %+v", sup)
	}
	// The old content again is a duplicate: its hash was kept.
	again := &store.Message{ReceivedAt: at(time.Hour), Source: "smtp", Raw: raw,
		Records: []record.Record{rec("gone@old.test", record.ClassHard, "userunknown", at(time.Hour))}}
	if res := save(t, s, again); !res.Duplicate {
		t.Errorf("old content saved again: not a duplicate")
	}
	// A low-confidence hard bounce counts on top of the old soft count.
	when := at(4 * time.Hour)
	save(t, s, msg("after-upgrade", when, lowHard("soft@old.test", when)))
	sup = suppression(t, s, "soft@old.test", when)
	if sup == nil || sup.Cause != suppress.CauseSoft || len(sup.Evidence) != p.SoftThreshold ||
		!slices.Equal(sup.Evidence[:len(softKeys)], softKeys) {
		t.Fatalf("after the upgrade, the old soft count and a low-confidence hard bounce: %+v, want cause soft with the old keys first", sup)
	}
	marksAreEvidence(t, sup, 1)
	if slices.Contains(sup.LowConfidence, softKeys[0]) {
		t.Errorf("an old soft bounce is marked low-confidence: %q", sup.LowConfidence)
	}
	if got := records(t, s, store.Query{Confidence: record.ConfidenceLow}); len(got) != 1 || got[0].Recipient != "soft@old.test" {
		t.Errorf("low-confidence records after the upgrade: %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opened again, the schema is current and nothing changed.
	s = open(store.Options{})
	t.Cleanup(func() { s.Close() })
	if got := records(t, s, store.Query{}); len(got) != 3 {
		t.Errorf("reopened: %d records, want 3", len(got))
	}
	if sup := suppression(t, s, "soft@old.test", when); sup == nil || len(sup.LowConfidence) != 1 {
		t.Errorf("reopened: suppression %+v", sup)
	}
}

// mustAddress is the address a store keeps for addr, which must be one.
func mustAddress(t *testing.T, addr string) string {
	t.Helper()
	a, err := store.Address(addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
