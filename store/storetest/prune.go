package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// runPrune runs the tests of retention: PruneRaw and PruneRecords, and
// what they keep.
func runPrune(t *testing.T, b Backend) {
	clock := at(100 * day)
	// Hard bounces expire, so that one suppression is no longer in force
	// at clock; complaints never do.
	policy := suppress.DefaultPolicy
	policy.HardExpiry = 5 * day
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store, clock time.Time)
	}{
		{"PruneRaw", testPruneRaw},
		{"PruneRecords", testPruneRecords},
		{"PruneRawThenRecords", testPruneRawThenRecords},
		{"PruneChunks", testPruneChunks},
		{"PruneKeepsRelayQueue", testPruneKeepsRelayQueue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := b.Open(t, store.Options{Policy: policy, Now: func() time.Time { return clock }})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s, clock)
		})
	}
}

// pruneFixture is a store's messages of every kind retention tells apart.
type pruneFixture struct {
	complaint, soft, expired, block, unrecognized, recent int64
	msgs                                                  map[int64]*store.Message
}

// savePruneFixture stores, 99 days before clock: the evidence of a
// complaint in force, of a soft bounce counted, of a hard bounce whose
// suppression expired, a block (evidence of nothing) and an unrecognized
// message; and a hard bounce a day before clock.
func savePruneFixture(t *testing.T, s store.Store, clock time.Time) pruneFixture {
	old, recent := at(day), clock.Add(-day)
	f := pruneFixture{msgs: map[int64]*store.Message{}}
	add := func(m *store.Message) int64 {
		id := save(t, s, m).MessageID
		f.msgs[id] = m
		return id
	}
	f.complaint = add(msg("complaint", old, rec("complained@example.org", record.ClassComplaint, "abuse", old)))
	f.soft = add(msg("soft", old, rec("full@example.org", record.ClassSoft, "mailboxfull", old)))
	f.expired = add(msg("expired", old, rec("expired@example.org", record.ClassHard, "userunknown", old)))
	f.block = add(msg("block", old, rec("blocked@example.org", record.ClassBlock, "blocklisted", old)))
	u := msg("unrecognized", old)
	u.ParseError = "not a report"
	u.Format = ""
	f.unrecognized = add(u)
	f.recent = add(msg("recent", recent, rec("recent@example.org", record.ClassHard, "userunknown", recent)))

	ctx := context.Background()
	if sup, err := s.Suppression(ctx, "complained@example.org", clock); err != nil || sup == nil {
		t.Fatalf("fixture: the complaint is no suppression in force: %v, %v", sup, err)
	}
	if sup, err := s.Suppression(ctx, "expired@example.org", clock); err != nil || sup != nil {
		t.Fatalf("fixture: the expired hard bounce is a suppression in force: %v, %v", sup, err)
	}
	return f
}

// message reads a stored message, failing the test on error.
func message(t *testing.T, s store.Store, id int64) *store.Message {
	t.Helper()
	m, err := s.Message(context.Background(), id)
	if err != nil {
		t.Fatalf("Message(%d): %v", id, err)
	}
	return m
}

func testPruneRaw(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	f := savePruneFixture(t, s, clock)
	n, err := s.PruneRaw(ctx, clock.Add(-50*day))
	if err != nil {
		t.Fatalf("PruneRaw: %v", err)
	}
	if n != 3 {
		t.Errorf("PruneRaw: %d messages, want 3 (expired, block, unrecognized)", n)
	}
	for _, tc := range []struct {
		id     int64
		pruned bool
	}{
		{f.complaint, false}, {f.soft, false}, {f.expired, true},
		{f.block, true}, {f.unrecognized, true}, {f.recent, false},
	} {
		want := f.msgs[tc.id]
		got := message(t, s, tc.id)
		switch {
		case tc.pruned && (got.Raw == nil || len(got.Raw) != 0):
			t.Errorf("message %d: Raw %q after pruning, want empty and not nil", tc.id, got.Raw)
		case !tc.pruned && !bytes.Equal(got.Raw, want.Raw):
			t.Errorf("message %d: Raw %q, want it kept: %q", tc.id, got.Raw, want.Raw)
		}
		if len(got.Records) != len(want.Records) {
			t.Errorf("message %d: %d records, want %d kept", tc.id, len(got.Records), len(want.Records))
		}
		if got.ParseError != want.ParseError || got.Helo != want.Helo || len(got.RcptTo) != len(want.RcptTo) {
			t.Errorf("message %d: envelope %+v, want it kept", tc.id, got)
		}
	}
	if n, err := s.PruneRaw(ctx, clock.Add(-50*day)); err != nil || n != 0 {
		t.Errorf("PruneRaw again: %d, %v; want 0, nil", n, err)
	}
	// The content hash stays: the same bytes sent again are known.
	again := msg("expired", at(day), rec("expired@example.org", record.ClassHard, "userunknown", at(day)))
	if res := save(t, s, again); !res.Duplicate || res.MessageID != f.expired {
		t.Errorf("Save of a pruned message's bytes: %+v, want Duplicate of %d", res, f.expired)
	}
}

func testPruneRecords(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	f := savePruneFixture(t, s, clock)
	n, err := s.PruneRecords(ctx, clock.Add(-50*day))
	if err != nil {
		t.Fatalf("PruneRecords: %v", err)
	}
	if n != 3 {
		t.Errorf("PruneRecords: %d messages, want 3 (expired, block, unrecognized)", n)
	}
	for _, id := range []int64{f.expired, f.block, f.unrecognized} {
		if _, err := s.Message(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Message(%d) after pruning: %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []int64{f.complaint, f.soft, f.recent} {
		got := message(t, s, id)
		if !bytes.Equal(got.Raw, f.msgs[id].Raw) || len(got.Records) != 1 {
			t.Errorf("message %d: %d records, Raw %q; want it kept whole", id, len(got.Records), got.Raw)
		}
	}
	for _, tc := range []struct {
		addr string
		want int
	}{
		{"expired@example.org", 0}, {"blocked@example.org", 0},
		{"complained@example.org", 1}, {"full@example.org", 1}, {"recent@example.org", 1},
	} {
		if got := records(t, s, store.Query{Recipient: tc.addr}); len(got) != tc.want {
			t.Errorf("records of %s: %d, want %d", tc.addr, len(got), tc.want)
		}
	}
	sup, err := s.Suppression(ctx, "complained@example.org", clock)
	if err != nil || sup == nil || len(sup.Evidence) != 1 {
		t.Errorf("suppression after pruning: %+v, %v; want it in force with its evidence", sup, err)
	}
	if n, err := s.PruneRecords(ctx, clock.Add(-50*day)); err != nil || n != 0 {
		t.Errorf("PruneRecords again: %d, %v; want 0, nil", n, err)
	}
}

func testPruneRawThenRecords(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	savePruneFixture(t, s, clock)
	hour := clock.Add(-2 * time.Hour)
	block := save(t, s, msg("recent block", hour, rec("blocked@example.org", record.ClassBlock, "blocklisted", hour))).MessageID
	if n, err := s.PruneRaw(ctx, clock.Add(-time.Hour)); err != nil || n != 4 {
		t.Fatalf("PruneRaw: %d, %v; want 4 (expired, block, unrecognized, recent block)", n, err)
	}
	// The recent block, within the records' retention, keeps its record
	// without its bytes.
	n, err := s.PruneRecords(ctx, clock.Add(-50*day))
	if err != nil || n != 3 {
		t.Fatalf("PruneRecords after PruneRaw: %d, %v; want 3", n, err)
	}
	got := message(t, s, block)
	if len(got.Raw) != 0 || len(got.Records) != 1 {
		t.Errorf("recent block: Raw %q, %d records; want no bytes and its record", got.Raw, len(got.Records))
	}
	list, err := s.Messages(ctx, store.MessageQuery{})
	if err != nil || len(list) != 4 {
		t.Errorf("Messages: %d, %v; want 4 (complaint, soft, recent, recent block)", len(list), err)
	}
}

// testPruneChunks prunes more messages than one chunk holds, while saves
// go on.
func testPruneChunks(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	const total = 1000 + 37
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, 16)
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m := msg(fmt.Sprintf("bulk-%d", i), at(day).Add(time.Duration(i)*time.Second),
				rec(fmt.Sprintf("u%d@example.org", i), record.ClassBlock, "blocklisted", at(day)))
			if _, err := s.Save(ctx, m); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Save: %v", err)
	}
	if n, err := s.PruneRaw(ctx, clock); err != nil || n != total {
		t.Fatalf("PruneRaw: %d, %v; want %d", n, err, total)
	}
	// A save between the chunks is not held up, nor pruned.
	done := make(chan error, 1)
	go func() {
		_, err := s.Save(ctx, msg("during", clock, rec("during@example.org", record.ClassHard, "userunknown", clock)))
		done <- err
	}()
	if n, err := s.PruneRecords(ctx, clock); err != nil || n != total {
		t.Fatalf("PruneRecords: %d, %v; want %d", n, err, total)
	}
	if err := <-done; err != nil {
		t.Fatalf("Save during pruning: %v", err)
	}
	list, err := s.Messages(ctx, store.MessageQuery{})
	if err != nil || len(list) != 1 {
		t.Errorf("Messages after pruning: %d, %v; want only the one saved during it", len(list), err)
	}
}

// testPruneKeepsRelayQueue: a message queued for relaying keeps its bytes
// and stays until its item is sent; then it goes, with its item.
func testPruneKeepsRelayQueue(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	queued := save(t, s, reply("queued", at(day))).MessageID
	sent := save(t, s, reply("sent", at(day))).MessageID
	if err := s.RelayDone(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneRaw(ctx, clock); err != nil || n != 1 {
		t.Errorf("PruneRaw: %d, %v; want 1 (the sent one)", n, err)
	}
	if m := message(t, s, queued); len(m.Raw) == 0 {
		t.Error("PruneRaw took the bytes of a message still queued for relaying")
	}
	if n, err := s.PruneRecords(ctx, clock); err != nil || n != 1 {
		t.Errorf("PruneRecords: %d, %v; want 1 (the sent one)", n, err)
	}
	if _, err := s.Message(ctx, sent); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the sent message: %v, want it pruned", err)
	}
	if items := relayItems(t, s, store.RelayQuery{}); len(items) != 1 || items[0].MessageID != queued {
		t.Errorf("relay items after pruning: %+v, want only the queued one", items)
	}
	if err := s.RelayDone(ctx, queued); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneRecords(ctx, clock); err != nil || n != 1 {
		t.Errorf("PruneRecords once sent: %d, %v; want 1", n, err)
	}
	if items := relayItems(t, s, store.RelayQuery{}); len(items) != 0 {
		t.Errorf("relay items of pruned messages: %+v", items)
	}
}
