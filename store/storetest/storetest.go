// Package storetest is the conformance suite of store.Store: every backend's
// tests call Run, so all backends keep the same promises (durable,
// idempotent saves; suppressions and incidents scored once per record;
// query filters; Close semantics).
package storetest

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

//go:embed testdata
var testdata embed.FS

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Backend is what the suite needs of a backend.
type Backend struct {
	// Open returns a new, empty store opened with opts and the backend's
	// own settings; the suite closes it. Most tests give the zero
	// store.Options, so the policy is suppress.DefaultPolicy.
	Open func(t *testing.T, opts store.Options) store.Store
	// Legacy, for the SQL backends, makes a new database at schema
	// version 1, as the last program before records had a confidence left
	// it. exec runs one statement of that schema in it, with "?" for its
	// arguments; an argument of type []string is a list of record keys
	// (addresses.evidence) for exec to encode as the backend stores them.
	// open opens the database with this program, which migrates it; the
	// suite closes the store. Nil skips the upgrade test.
	Legacy func(t *testing.T) (exec func(query string, args ...any) error, open func(opts store.Options) store.Store)
}

// Run runs the suite against b.
func Run(t *testing.T, b Backend) {
	open := func(t *testing.T) store.Store { return b.Open(t, store.Options{}) }
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SaveReadBack", testSaveReadBack},
		{"RawRoundTrip", testRawRoundTrip},
		{"Duplicate", testDuplicate},
		{"Unrecognized", testUnrecognized},
		{"MessageNotFound", testMessageNotFound},
		{"QueryFilters", testQueryFilters},
		{"ConcurrentSaves", testConcurrentSaves},
		{"SuppressHard", testSuppressHard},
		{"SuppressComplaint", testSuppressComplaint},
		{"SuppressSoftThreshold", testSuppressSoftThreshold},
		{"SoftWindow", testSoftWindow},
		{"DeliveredDecay", testDeliveredDecay},
		{"DuplicateNoStrike", testDuplicateNoStrike},
		{"BlockIncident", testBlockIncident},
		{"ManualSuppression", testManualSuppression},
		{"Expiry", testExpiry},
		{"CanceledSave", testCanceledSave},
		{"ConfidenceRoundTrip", testConfidenceRoundTrip},
		{"QueryConfidence", testQueryConfidence},
		{"LowConfidenceHardCountsAsSoft", testLowConfidenceHardCountsAsSoft},
		{"LowConfidenceHardInOneMessage", testLowConfidenceHardInOneMessage},
		{"EmptyConfidenceIsHigh", testEmptyConfidenceIsHigh},
		{"TruncatedRecipients", testTruncatedRecipients},
		{"FairCommit", testFairCommit},
		{"AddressBytes", testAddressBytes},
		{"InvalidAddress", testInvalidAddress},
		{"NoAddressNoSuppression", testNoAddressNoSuppression},
		{"SuppressionCounts", testSuppressionCounts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
	// Tests of a policy other than the default open their own stores.
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open func(store.Options) store.Store)
	}{
		{"LowConfidenceHardSuppress", testLowConfidenceHardSuppress},
		{"LowConfidenceHardIgnore", testLowConfidenceHardIgnore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, func(opts store.Options) store.Store {
				s := b.Open(t, opts)
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
				return s
			})
		})
	}
	runListings(t, b)
	runOutbox(t, b)
	runSent(t, b)
	runPrune(t, b)
	runRelay(t, b)
	runOverview(t, b)
	t.Run("UpgradeFromVersion1", func(t *testing.T) {
		if b.Legacy == nil {
			t.Skip("the backend has no older schema")
		}
		testUpgradeFromVersion1(t, b.Legacy)
	})
	// Close is tested on a store of its own, closed by the test.
	t.Run("Close", func(t *testing.T) { testClose(t, open(t)) })
}

// base is the suite's clock origin; times are whole microseconds, the
// precision every backend keeps.
var base = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

const day = 24 * time.Hour

// rec returns a fully populated record; the options of the caller change
// what the test is about.
func rec(recipient, class, reason string, when time.Time) record.Record {
	status, code := "5.1.1", "550"
	action := "failed"
	switch class {
	case record.ClassSoft:
		status, code = "4.2.2", "452"
		action = "delayed"
	case record.ClassBlock:
		status, code = "5.7.1", "554"
	case record.ClassDelivered:
		status, code, action = "2.0.0", "250", "delivered"
	case record.ClassComplaint:
		status, code, action = "", "", ""
	}
	return record.Record{
		Source:            "smtp",
		Index:             1,
		Recipient:         recipient,
		Action:            action,
		Status:            status,
		SMTPCode:          code,
		Diagnostic:        code + " " + status + " " + reason,
		RemoteMTA:         "mx1.destination.test",
		ReportingMTA:      "relay.sender.test",
		Reason:            reason,
		Class:             class,
		FixOwner:          record.OwnerRecipient,
		Advice:            record.AdviceRetry,
		OriginalMessageID: "orig-" + recipient + "@sender.test",
		OriginalFrom:      "news@sender.test",
		OriginalSubject:   "Letter",
		Format:            "rfc3464",
		Confidence:        record.ConfidenceHigh,
		Evidence:          "status " + status,
		ReceivedAt:        when,
	}
}

// msg wraps records in a message whose raw bytes are unique to tag.
func msg(tag string, when time.Time, recs ...record.Record) *store.Message {
	for i := range recs {
		recs[i].Index = i + 1
	}
	return &store.Message{
		ReceivedAt: when,
		Source:     "smtp",
		RemoteAddr: "192.0.2.7:41234",
		Helo:       "relay.sender.test",
		MailFrom:   "",
		RcptTo:     []string{"bounces@sender.test"},
		Raw:        []byte("Subject: report " + tag + "\r\n\r\nbody of " + tag + "\r\n"),
		Format:     "rfc3464",
		Records:    recs,
	}
}

func save(t *testing.T, s store.Store, m *store.Message) store.SaveResult {
	t.Helper()
	res, err := s.Save(context.Background(), m)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	if res.MessageID == 0 {
		t.Fatalf("Save: no message id")
	}
	return res
}

func records(t *testing.T, s store.Store, q store.Query) []record.Record {
	t.Helper()
	recs, err := s.Records(context.Background(), q)
	if err != nil {
		t.Fatalf("Records(%+v): %v", q, err)
	}
	return recs
}

// normalize makes records comparable with reflect.DeepEqual: times in UTC,
// empty maps as nil.
func normalize(r record.Record) record.Record {
	r.ReceivedAt = r.ReceivedAt.UTC()
	if len(r.OriginalHeaders) == 0 {
		r.OriginalHeaders = nil
	}
	return r
}

func sameRecords(t *testing.T, what string, got, want []record.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		// The store numbers the records it returns; a caller's record
		// has no numbers yet.
		if got[i].ID == 0 || got[i].MessageID == 0 {
			t.Errorf("%s: record %d: ID %d, MessageID %d: want both set", what, i, got[i].ID, got[i].MessageID)
		}
		got[i].ID, got[i].MessageID = want[i].ID, want[i].MessageID
		g, w := normalize(got[i]), normalize(want[i])
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: record %d:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

func testSaveReadBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	full := record.Record{
		Source:            "inbox/1.eml",
		Index:             1,
		Recipient:         "nobody@example.org",
		OriginalRecipient: "rfc822; nobody@example.org",
		Action:            "failed",
		Status:            "5.1.1",
		SMTPCode:          "550",
		Diagnostic:        "550 5.1.1 <nobody@example.org>: mailbox unknown",
		RemoteMTA:         "mx.example.org",
		ReportingMTA:      "mx.example.net",
		Reason:            "userunknown",
		Class:             record.ClassHard,
		FixOwner:          record.OwnerSender,
		Advice:            record.AdviceSuppress,
		Explanation:       "The mailbox does not exist.",
		CatalogEntry:      "rfc3463/5.1.1",
		FeedbackType:      "",
		OriginalMessageID: "campaign-42@sender.example",
		OriginalFrom:      "news@sender.example",
		OriginalTo:        "nobody@example.org",
		OriginalSubject:   "Our spring letter — ünïcode",
		OriginalHeaders:   map[string]string{"X-Campaign": "spring", "X-List": "news"},
		Format:            "rfc3464",
		Confidence:        record.ConfidenceHigh,
		Evidence:          "status 5.1.1; reply phrase \"mailbox unknown\" agrees",
		ReceivedAt:        at(time.Minute),
		Authenticated:     true,
	}
	second := full
	second.Index = 2
	second.Recipient = "Full@Example.org"
	second.Action = "delayed"
	second.Status, second.SMTPCode = "4.2.2", "452"
	second.Reason, second.Class = "mailboxfull", record.ClassSoft
	second.Advice = record.AdviceRetry
	second.OriginalHeaders = nil
	second.Authenticated = false
	second.FeedbackType = "abuse"
	second.Confidence = record.ConfidenceLow
	second.Evidence = "status 4.2.2, but the reply says “user unknown”"

	m := &store.Message{
		ReceivedAt: at(time.Minute),
		Source:     "smtp",
		RemoteAddr: "192.0.2.1:25",
		Helo:       "mx.example.net",
		MailFrom:   "",
		RcptTo:     []string{"bounces+4711@sender.example", "postmaster@sender.example"},
		Raw:        fixture(t, "hard.eml"),
		Format:     "rfc3464",
		Records:    []record.Record{full, second},
	}
	res := save(t, s, m)
	if res.Duplicate {
		t.Fatalf("first Save reported a duplicate")
	}
	if m.ID != res.MessageID {
		t.Errorf("Save set m.ID %d, result says %d", m.ID, res.MessageID)
	}
	sameRecords(t, "Records", records(t, s, store.Query{}), []record.Record{full, second})

	got, err := s.Message(ctx, res.MessageID)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	if got.ID != res.MessageID || !got.ReceivedAt.Equal(m.ReceivedAt) || got.Source != m.Source ||
		got.RemoteAddr != m.RemoteAddr || got.Helo != m.Helo || got.MailFrom != m.MailFrom ||
		!reflect.DeepEqual(got.RcptTo, m.RcptTo) || got.Format != m.Format || got.ParseError != "" {
		t.Errorf("Message envelope:\n got %+v\nwant %+v", envelope(got), envelope(m))
	}
	if string(got.Raw) != string(m.Raw) {
		t.Errorf("Message raw differs: got %d bytes, want %d", len(got.Raw), len(m.Raw))
	}
	sameRecords(t, "Message records", got.Records, []record.Record{full, second})

	// A record without its own time takes the message's.
	undated := rec("undated@example.org", record.ClassHard, "userunknown", time.Time{})
	m2 := msg("undated", at(2*time.Minute), undated)
	save(t, s, m2)
	recs := records(t, s, store.Query{Recipient: "undated@example.org"})
	if len(recs) != 1 || !recs[0].ReceivedAt.Equal(at(2*time.Minute)) {
		t.Errorf("undated record: got %+v, want received_at %v", recs, at(2*time.Minute))
	}

	// A message without a time takes the store's clock.
	before := time.Now().Add(-time.Minute)
	m3 := msg("now", time.Time{}, rec("now@example.org", record.ClassHard, "userunknown", time.Time{}))
	res3 := save(t, s, m3)
	after := time.Now().Add(time.Minute)
	got3, err := s.Message(ctx, res3.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if got3.ReceivedAt.Before(before) || got3.ReceivedAt.After(after) {
		t.Errorf("message saved without a time: received_at %v, want about now", got3.ReceivedAt)
	}
	if len(got3.Records) != 1 || !got3.Records[0].ReceivedAt.Equal(got3.ReceivedAt) {
		t.Errorf("record of a message saved without a time: %+v, want the message's time", got3.Records)
	}
}

// envelope drops the bulky fields for error messages.
func envelope(m *store.Message) store.Message {
	e := *m
	e.Raw, e.Records = nil, nil
	return e
}

func testRawRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	big := make([]byte, 1<<20)
	x := uint32(2463534242)
	for i := range big { // incompressible: xorshift
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		big[i] = byte(x)
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"fixture", fixture(t, "hard.eml")},
		{"8bit and NUL", fixture(t, "binary.eml")},
		{"empty", []byte{}},
		{"repetitive 2MiB", []byte(strings.Repeat("Diagnostic-Code: smtp; 550 5.1.1 unknown\r\n", 50000))},
		{"random 1MiB", big},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &store.Message{ReceivedAt: base, Source: "test", Raw: tc.raw, ParseError: "not a report"}
			res := save(t, s, m)
			got, err := s.Message(ctx, res.MessageID)
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			if string(got.Raw) != string(tc.raw) {
				t.Errorf("raw differs: got %d bytes, want %d", len(got.Raw), len(tc.raw))
			}
		})
	}
}

func testDuplicate(t *testing.T, s store.Store) {
	m := msg("dup", base, rec("a@example.org", record.ClassHard, "userunknown", base),
		rec("b@example.org", record.ClassSoft, "mailboxfull", base))
	first := save(t, s, m)
	// The MTA retries: same bytes, another envelope and time.
	again := msg("dup", at(time.Hour), rec("a@example.org", record.ClassHard, "userunknown", at(time.Hour)),
		rec("b@example.org", record.ClassSoft, "mailboxfull", at(time.Hour)))
	again.RemoteAddr = "192.0.2.99:2525"
	second := save(t, s, again)
	if !second.Duplicate {
		t.Errorf("second Save of the same content: Duplicate false")
	}
	if second.MessageID != first.MessageID {
		t.Errorf("duplicate: message id %d, want the first one %d", second.MessageID, first.MessageID)
	}
	if recs := records(t, s, store.Query{}); len(recs) != 2 {
		t.Errorf("after a duplicate: %d records, want 2", len(recs))
	}
	msgs, err := s.Messages(context.Background(), store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Errorf("after a duplicate: %d messages, want 1", len(msgs))
	}
	// Different bytes are a different message, even with the same records.
	other := msg("dup-other", base, rec("a@example.org", record.ClassHard, "userunknown", base))
	if res := save(t, s, other); res.Duplicate || res.MessageID == first.MessageID {
		t.Errorf("different content: got %+v, want a new message", res)
	}
}

func testUnrecognized(t *testing.T, s store.Store) {
	ctx := context.Background()
	good := save(t, s, msg("good", base, rec("a@example.org", record.ClassHard, "userunknown", base)))
	m := &store.Message{
		ReceivedAt: at(time.Minute),
		Source:     "smtp",
		RemoteAddr: "198.51.100.4:5555",
		Helo:       "chat.example.com",
		MailFrom:   "someone@example.com",
		RcptTo:     []string{"bounces@sender.example"},
		Raw:        fixture(t, "unrecognized.eml"),
		ParseError: "not a delivery report: no multipart/report and no known text format",
	}
	res := save(t, s, m)
	if res.Duplicate {
		t.Fatal("unrecognized message reported as duplicate")
	}
	list, err := s.Messages(ctx, store.MessageQuery{Unrecognized: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != res.MessageID || list[0].ParseError != m.ParseError ||
		list[0].MailFrom != m.MailFrom || list[0].Helo != m.Helo {
		t.Fatalf("Messages(unrecognized) = %+v, want the one message %d with its error", list, res.MessageID)
	}
	if list[0].Raw != nil || list[0].Records != nil {
		t.Errorf("Messages returned raw bytes or records; it lists envelopes")
	}
	all, err := s.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != good.MessageID || all[1].ID != res.MessageID {
		t.Errorf("Messages() = %d messages, want both, oldest first", len(all))
	}
	newest, err := s.Messages(ctx, store.MessageQuery{Newest: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(newest) != 1 || newest[0].ID != res.MessageID {
		t.Errorf("Messages(Newest, Limit 1) = %+v, want the newest, %d", newest, res.MessageID)
	}
	got, err := s.Message(ctx, res.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Raw) != string(m.Raw) || got.ParseError != m.ParseError || len(got.Records) != 0 {
		t.Errorf("Message(unrecognized): error %q, %d records, raw equal %v",
			got.ParseError, len(got.Records), string(got.Raw) == string(m.Raw))
	}
	if again := save(t, s, m); !again.Duplicate {
		t.Errorf("unrecognized message saved twice: Duplicate false")
	}
}

func testMessageNotFound(t *testing.T, s store.Store) {
	_, err := s.Message(context.Background(), 424242)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(missing) error = %v, want store.ErrNotFound", err)
	}
}

func testQueryFilters(t *testing.T, s store.Store) {
	seed := []record.Record{
		rec("alice@one.test", record.ClassHard, "userunknown", at(1*time.Hour)),
		rec("Bob@One.test", record.ClassSoft, "mailboxfull", at(2*time.Hour)),
		rec("carol@two.test", record.ClassBlock, "blocked", at(3*time.Hour)),
		rec("alice@one.test", record.ClassSoft, "mailboxfull", at(4*time.Hour)),
		rec("dave@two.test", record.ClassComplaint, "feedback", at(5*time.Hour)),
	}
	// Lists are ordered by record ID, the order of storing (see
	// runListings for paging by it).
	for i := range seed {
		save(t, s, msg(fmt.Sprintf("filter-%d", i), seed[i].ReceivedAt, seed[i]))
	}
	// want lists the positions in seed, in the order returned.
	tests := []struct {
		name string
		q    store.Query
		want []int
	}{
		{"all", store.Query{}, []int{0, 1, 2, 3, 4}},
		{"recipient", store.Query{Recipient: "alice@one.test"}, []int{0, 3}},
		{"recipient any case", store.Query{Recipient: "BOB@one.TEST"}, []int{1}},
		{"domain", store.Query{Domain: "two.test"}, []int{2, 4}},
		{"domain any case", store.Query{Domain: "ONE.test"}, []int{0, 1, 3}},
		{"reason", store.Query{Reason: "mailboxfull"}, []int{1, 3}},
		{"class", store.Query{Class: record.ClassBlock}, []int{2}},
		{"since inclusive", store.Query{Since: at(3 * time.Hour)}, []int{2, 3, 4}},
		{"until exclusive", store.Query{Until: at(3 * time.Hour)}, []int{0, 1}},
		{"since and until", store.Query{Since: at(2 * time.Hour), Until: at(4 * time.Hour)}, []int{1, 2}},
		{"limit keeps oldest", store.Query{Limit: 2}, []int{0, 1}},
		{"combined", store.Query{Domain: "one.test", Class: record.ClassSoft, Limit: 1}, []int{1}},
		{"no match", store.Query{Recipient: "zed@one.test"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]record.Record, len(tc.want))
			for i, k := range tc.want {
				want[i] = seed[k]
			}
			sameRecords(t, tc.name, records(t, s, tc.q), want)
		})
	}

	msgs, err := s.Messages(context.Background(), store.MessageQuery{Since: at(2 * time.Hour), Until: at(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !msgs[0].ReceivedAt.Equal(at(2*time.Hour)) || !msgs[1].ReceivedAt.Equal(at(3*time.Hour)) {
		t.Errorf("Messages(since, until): got %d messages, want those of 2h and 3h", len(msgs))
	}
	if msgs, _ := s.Messages(context.Background(), store.MessageQuery{Limit: 3}); len(msgs) != 3 {
		t.Errorf("Messages(limit 3): got %d", len(msgs))
	}
}

func testConcurrentSaves(t *testing.T, s store.Store) {
	const workers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	ids := make(chan int64, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				addr := fmt.Sprintf("w%d-%d@load.test", w, i)
				m := msg(addr, at(time.Duration(i)*time.Second), rec(addr, record.ClassHard, "userunknown", time.Time{}))
				res, err := s.Save(context.Background(), m)
				if err != nil {
					errs <- err
					continue
				}
				if res.Duplicate {
					errs <- fmt.Errorf("%s: reported duplicate", addr)
				}
				ids <- res.MessageID
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("message id %d given twice", id)
		}
		seen[id] = true
	}
	if recs := records(t, s, store.Query{Domain: "load.test"}); len(recs) != workers*each {
		t.Errorf("stored %d records, want %d", len(recs), workers*each)
	}
	sups, err := s.Suppressions(context.Background(), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(sups) != workers*each {
		t.Errorf("%d suppressions, want %d (one per hard bounce)", len(sups), workers*each)
	}
}

func suppression(t *testing.T, s store.Store, addr string, now time.Time) *store.Suppression {
	t.Helper()
	sup, err := s.Suppression(context.Background(), addr, now)
	if err != nil {
		t.Fatalf("Suppression(%s): %v", addr, err)
	}
	return sup
}

func testSuppressHard(t *testing.T, s store.Store) {
	r := rec("Gone@Example.org", record.ClassHard, "userunknown", base)
	save(t, s, msg("hard", base, r))
	sup := suppression(t, s, "gone@example.org", at(time.Minute))
	if sup == nil {
		t.Fatal("hard bounce: address not suppressed")
	}
	if sup.Address != "gone@example.org" || sup.Cause != suppress.CauseHard || sup.Reason != "userunknown" ||
		!sup.Since.Equal(base) || !sup.Expires.IsZero() || len(sup.Evidence) != 1 {
		t.Errorf("hard suppression = %+v", sup)
	}
	if sup := suppression(t, s, "GONE@example.org", at(time.Minute)); sup == nil {
		t.Error("lookup is not case-insensitive")
	}
	sups, err := s.Suppressions(context.Background(), at(time.Minute))
	if err != nil || len(sups) != 1 || sups[0].Address != "gone@example.org" {
		t.Errorf("Suppressions = %+v, %v; want the one address", sups, err)
	}
	if sup := suppression(t, s, "other@example.org", at(time.Minute)); sup != nil {
		t.Errorf("unrelated address suppressed: %+v", sup)
	}
}

func testSuppressComplaint(t *testing.T, s store.Store) {
	r := rec("angry@example.org", record.ClassComplaint, "feedback", base)
	r.FeedbackType = "abuse"
	save(t, s, msg("complaint", base, r))
	sup := suppression(t, s, "angry@example.org", at(time.Minute))
	if sup == nil || sup.Cause != suppress.CauseComplaint {
		t.Fatalf("complaint: suppression = %+v, want cause complaint", sup)
	}
}

// softBounces saves n soft bounces for addr, one hour apart from start.
func softBounces(t *testing.T, s store.Store, addr string, start time.Time, n int, tag string) {
	t.Helper()
	for i := range n {
		when := start.Add(time.Duration(i) * time.Hour)
		save(t, s, msg(fmt.Sprintf("%s-%d", tag, i), when, rec(addr, record.ClassSoft, "mailboxfull", when)))
	}
}

func testSuppressSoftThreshold(t *testing.T, s store.Store) {
	p := suppress.DefaultPolicy
	const addr = "full@example.org"
	softBounces(t, s, addr, base, p.SoftThreshold-1, "soft")
	last := base.Add(time.Duration(p.SoftThreshold-1) * time.Hour)
	if sup := suppression(t, s, addr, last); sup != nil {
		t.Fatalf("suppressed after %d soft bounces, threshold is %d: %+v", p.SoftThreshold-1, p.SoftThreshold, sup)
	}
	save(t, s, msg("soft-last", last, rec(addr, record.ClassSoft, "mailboxfull", last)))
	sup := suppression(t, s, addr, last)
	if sup == nil {
		t.Fatalf("not suppressed after %d soft bounces", p.SoftThreshold)
	}
	if sup.Cause != suppress.CauseSoft || !sup.Since.Equal(last) || len(sup.Evidence) != p.SoftThreshold {
		t.Errorf("soft suppression = %+v, want cause soft since %v with %d evidence keys", sup, last, p.SoftThreshold)
	}
	if want := last.Add(p.SoftExpiry); !sup.Expires.Equal(want) {
		t.Errorf("soft suppression expires %v, want %v", sup.Expires, want)
	}
}

func testSoftWindow(t *testing.T, s store.Store) {
	p := suppress.DefaultPolicy
	const addr = "slow@example.org"
	// Soft bounces spread wider than the window never add up.
	for i := range p.SoftThreshold * 2 {
		when := base.Add(time.Duration(i) * (p.SoftWindow/time.Duration(p.SoftThreshold-1) + time.Hour))
		save(t, s, msg(fmt.Sprintf("slow-%d", i), when, rec(addr, record.ClassSoft, "mailboxfull", when)))
		if sup := suppression(t, s, addr, when); sup != nil {
			t.Fatalf("suppressed by soft bounces spread over more than the window: %+v", sup)
		}
	}
}

func testDeliveredDecay(t *testing.T, s store.Store) {
	p := suppress.DefaultPolicy
	const addr = "recovers@example.org"
	softBounces(t, s, addr, base, p.SoftThreshold-1, "before")
	ok := at(time.Duration(p.SoftThreshold) * time.Hour)
	save(t, s, msg("delivered", ok, rec(addr, record.ClassDelivered, "delivered", ok)))
	softBounces(t, s, addr, ok.Add(time.Hour), 1, "after")
	if sup := suppression(t, s, addr, ok.Add(2*time.Hour)); sup != nil {
		t.Errorf("a delivery did not restart the soft count: %+v", sup)
	}
	// A delivery also lifts a soft suppression.
	const addr2 = "lifted@example.org"
	softBounces(t, s, addr2, base, p.SoftThreshold, "lift")
	if suppression(t, s, addr2, ok) == nil {
		t.Fatal("not suppressed after the threshold")
	}
	save(t, s, msg("lift-delivered", ok, rec(addr2, record.ClassDelivered, "delivered", ok)))
	if sup := suppression(t, s, addr2, ok); sup != nil {
		t.Errorf("a delivery did not lift the soft suppression: %+v", sup)
	}
}

func testDuplicateNoStrike(t *testing.T, s store.Store) {
	p := suppress.DefaultPolicy
	const addr = "retry@example.org"
	for range p.SoftThreshold + 2 {
		save(t, s, msg("same", base, rec(addr, record.ClassSoft, "mailboxfull", base)))
	}
	if sup := suppression(t, s, addr, base); sup != nil {
		t.Errorf("one soft bounce delivered %d times suppressed the address: %+v", p.SoftThreshold+2, sup)
	}
	if recs := records(t, s, store.Query{Recipient: addr}); len(recs) != 1 {
		t.Errorf("%d records, want 1", len(recs))
	}
	// And one more distinct bounce than the threshold needs is still short.
	softBounces(t, s, addr, at(time.Minute), p.SoftThreshold-2, "distinct")
	if sup := suppression(t, s, addr, at(time.Hour*time.Duration(p.SoftThreshold))); sup != nil {
		t.Errorf("suppressed after %d distinct soft bounces: %+v", p.SoftThreshold-1, sup)
	}
}

func testBlockIncident(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := suppress.DefaultPolicy
	const n = 4
	// Blocks for two addresses of one destination, a few minutes apart.
	for i := range n {
		when := at(time.Duration(i) * 5 * time.Minute)
		addr := fmt.Sprintf("user%d@blocked.test", i%2)
		save(t, s, msg(fmt.Sprintf("block-%d", i), when, rec(addr, record.ClassBlock, "blocked", when)))
	}
	for i := range 2 {
		if sup := suppression(t, s, fmt.Sprintf("user%d@blocked.test", i), at(time.Hour)); sup != nil {
			t.Errorf("a block suppressed the address: %+v", sup)
		}
	}
	last := at((n - 1) * 5 * time.Minute)
	incs, err := s.Incidents(ctx, true, last.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 {
		t.Fatalf("open incidents = %+v, want 1", incs)
	}
	in := incs[0]
	if in.Domain != "blocked.test" || in.Status != "5.7.1" || in.Reason != "blocked" || in.Count != n ||
		!in.FirstSeen.Equal(base) || !in.LastSeen.Equal(last) || !in.Open || in.Sample == "" || in.ID == 0 {
		t.Errorf("incident = %+v", in)
	}
	// Quiet for longer than IncidentQuiet: closed; a new block opens another.
	later := last.Add(p.IncidentQuiet + time.Minute)
	if open, _ := s.Incidents(ctx, true, later); len(open) != 0 {
		t.Errorf("incident still open after the quiet period: %+v", open)
	}
	save(t, s, msg("block-later", later, rec("user0@blocked.test", record.ClassBlock, "blocked", later)))
	all, err := s.Incidents(ctx, false, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Count != 1 || !all[0].Open || all[1].Count != n || all[1].Open {
		t.Errorf("incidents after a quiet period = %+v, want a new open one first, the old one closed", all)
	}
	// Another code at the same destination is another incident.
	other := rec("user1@blocked.test", record.ClassBlock, "spamdetected", later)
	other.Status = "5.7.9"
	save(t, s, msg("block-other", later, other))
	if open, _ := s.Incidents(ctx, true, later); len(open) != 2 {
		t.Errorf("open incidents after a block of another code = %d, want 2", len(open))
	}
	// A duplicate block is not counted.
	save(t, s, msg("block-later", later, rec("user0@blocked.test", record.ClassBlock, "blocked", later)))
	all, _ = s.Incidents(ctx, false, later)
	for _, in := range all {
		if in.Status == "5.7.1" && in.Open && in.Count != 1 {
			t.Errorf("duplicate block counted: %+v", in)
		}
	}
}

func testManualSuppression(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.AddSuppression(ctx, store.Suppression{Address: "Asked@Example.org", Reason: "asked by phone", Since: base})
	if err != nil {
		t.Fatal(err)
	}
	sup := suppression(t, s, "asked@example.org", at(time.Hour))
	if sup == nil || sup.Cause != suppress.CauseManual || sup.Reason != "asked by phone" || !sup.Since.Equal(base) {
		t.Fatalf("manual suppression = %+v", sup)
	}
	if err := s.AddSuppression(ctx, store.Suppression{Address: ""}); err == nil {
		t.Error("AddSuppression without an address: no error")
	}
	had, err := s.RemoveSuppression(ctx, "ASKED@example.org", store.Actor{Who: "test"})
	if err != nil || !had {
		t.Fatalf("RemoveSuppression = %v, %v; want true", had, err)
	}
	if sup := suppression(t, s, "asked@example.org", at(time.Hour)); sup != nil {
		t.Errorf("still suppressed after removal: %+v", sup)
	}
	if had, err := s.RemoveSuppression(ctx, "asked@example.org", store.Actor{Who: "test"}); err != nil || had {
		t.Errorf("second RemoveSuppression = %v, %v; want false", had, err)
	}
	if had, err := s.RemoveSuppression(ctx, "never@example.org", store.Actor{Who: "test"}); err != nil || had {
		t.Errorf("RemoveSuppression(unknown) = %v, %v; want false", had, err)
	}

	// Removal resets the soft count: threshold-1 bounces, removal, one more
	// bounce does not suppress.
	p := suppress.DefaultPolicy
	const addr = "reset@example.org"
	softBounces(t, s, addr, base, p.SoftThreshold, "reset")
	if suppression(t, s, addr, at(10*time.Hour)) == nil {
		t.Fatal("not suppressed after the threshold")
	}
	if had, err := s.RemoveSuppression(ctx, addr, store.Actor{Who: "test"}); err != nil || !had {
		t.Fatalf("RemoveSuppression = %v, %v", had, err)
	}
	softBounces(t, s, addr, at(20*time.Hour), 1, "reset-after")
	if sup := suppression(t, s, addr, at(21*time.Hour)); sup != nil {
		t.Errorf("one soft bounce after removal suppressed again: %+v", sup)
	}

	// A manual suppression with an expiry lapses; a hard bounce does not
	// replace it (a decision by hand ranks first).
	exp := at(48 * time.Hour)
	if err := s.AddSuppression(ctx, store.Suppression{Address: "temp@example.org", Reason: "pause", Since: base, Expires: exp}); err != nil {
		t.Fatal(err)
	}
	save(t, s, msg("temp-hard", at(time.Hour), rec("temp@example.org", record.ClassHard, "userunknown", at(time.Hour))))
	if sup := suppression(t, s, "temp@example.org", at(2*time.Hour)); sup == nil || sup.Cause != suppress.CauseManual || !sup.Expires.Equal(exp) {
		t.Errorf("manual suppression after a hard bounce = %+v, want manual until %v", sup, exp)
	}
	if sup := suppression(t, s, "temp@example.org", exp.Add(time.Second)); sup != nil {
		t.Errorf("manual suppression in force after it expired: %+v", sup)
	}
	sups, err := s.Suppressions(ctx, at(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sups {
		names = append(names, s.Address)
	}
	if !sort.StringsAreSorted(names) || len(names) != 1 || names[0] != "temp@example.org" {
		t.Errorf("Suppressions = %v, want [temp@example.org]", names)
	}
}

func testExpiry(t *testing.T, s store.Store) {
	p := suppress.DefaultPolicy
	const addr = "expires@example.org"
	softBounces(t, s, addr, base, p.SoftThreshold, "exp")
	last := base.Add(time.Duration(p.SoftThreshold-1) * time.Hour)
	sup := suppression(t, s, addr, last)
	if sup == nil {
		t.Fatal("not suppressed after the threshold")
	}
	if got := suppression(t, s, addr, sup.Expires.Add(-time.Second)); got == nil {
		t.Error("soft suppression lapsed before it expires")
	}
	if got := suppression(t, s, addr, sup.Expires); got != nil {
		t.Errorf("soft suppression in force at its expiry: %+v", got)
	}
	sups, err := s.Suppressions(context.Background(), sup.Expires.Add(day))
	if err != nil {
		t.Fatal(err)
	}
	if len(sups) != 0 {
		t.Errorf("Suppressions after expiry = %+v", sups)
	}
	// After expiry one more soft bounce starts a new count.
	after := sup.Expires.Add(day)
	save(t, s, msg("exp-after", after, rec(addr, record.ClassSoft, "mailboxfull", after)))
	if got := suppression(t, s, addr, after); got != nil {
		t.Errorf("one soft bounce after expiry suppressed again: %+v", got)
	}
}

func testCanceledSave(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := msg("canceled", base, rec("c@example.org", record.ClassHard, "userunknown", base))
	if _, err := s.Save(ctx, m); err == nil {
		t.Fatal("Save with a canceled context: no error")
	}
	// Whatever happened, a retry stores the message exactly once.
	save(t, s, msg("canceled", base, rec("c@example.org", record.ClassHard, "userunknown", base)))
	if recs := records(t, s, store.Query{Recipient: "c@example.org"}); len(recs) != 1 {
		t.Errorf("after a canceled Save and a retry: %d records, want 1", len(recs))
	}
}

func testClose(t *testing.T, s store.Store) {
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			addr := fmt.Sprintf("close%d@example.org", i)
			_, err := s.Save(context.Background(), msg(addr, base, rec(addr, record.ClassHard, "userunknown", base)))
			errs <- err
		}()
	}
	close(start)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close returned: every Save that was in flight has its answer, nil
	// (committed) or ErrClosed (refused), never another failure.
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Save racing Close: %v", err)
		}
	}
	_, err := s.Save(context.Background(), msg("late", base, rec("late@example.org", record.ClassHard, "userunknown", base)))
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("Save after Close: %v, want store.ErrClosed", err)
	}
	if err := s.AddSuppression(context.Background(), store.Suppression{Address: "late@example.org"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("AddSuppression after Close: %v, want store.ErrClosed", err)
	}
}
