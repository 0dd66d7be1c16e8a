package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// runRelay runs the tests of the relay queue (store.RelayQueue).
func runRelay(t *testing.T, b Backend) {
	clock := at(20 * day)
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store, clock time.Time)
	}{
		{"RelayQueuedBySave", testRelayQueuedBySave},
		{"RelayLease", testRelayLease},
		{"RelayOutcomes", testRelayOutcomes},
		{"RelayListing", testRelayListing},
		{"RelayConcurrentClaims", testRelayConcurrentClaims},
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
}

// reply is a person's answer to a return path: no report, stored with
// Relay set.
func reply(tag string, when time.Time) *store.Message {
	return &store.Message{
		ReceivedAt: when,
		Source:     "smtp",
		RemoteAddr: "198.51.100.4:5870",
		Helo:       "mail.customer.test",
		MailFrom:   "alice@customer.test",
		RcptTo:     []string{"bounces+x@sender.test", "bounces+y@sender.test"},
		Raw:        []byte("From: alice@customer.test\r\nSubject: Re: " + tag + "\r\n\r\nThanks, " + tag + "\r\n"),
		Relay:      true,
	}
}

func relayItems(t *testing.T, s store.Store, q store.RelayQuery) []store.RelayItem {
	t.Helper()
	items, err := s.RelayItems(context.Background(), q)
	if err != nil {
		t.Fatalf("RelayItems(%+v): %v", q, err)
	}
	return items
}

func claim(t *testing.T, s store.Store, owner string, now time.Time, limit int) []store.RelayItem {
	t.Helper()
	items, err := s.ClaimRelay(context.Background(), owner, time.Minute, now, limit)
	if err != nil {
		t.Fatalf("ClaimRelay(%s): %v", owner, err)
	}
	return items
}

func relayIDs(items []store.RelayItem) []int64 {
	out := []int64{}
	for _, it := range items {
		out = append(out, it.MessageID)
	}
	return out
}

func testRelayQueuedBySave(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	m := reply("one", clock.Add(-time.Hour))
	res := save(t, s, m)
	// A report, and a reply stored without Relay, are not queued.
	save(t, s, msg("report", clock, rec("a@x.test", "hard", "mailbox_unknown", clock)))
	other := reply("kept", clock)
	other.Relay = false
	save(t, s, other)
	// The same reply again is a duplicate, and queues nothing more.
	dup, err := s.Save(ctx, reply("one", clock.Add(-time.Hour)))
	if err != nil || !dup.Duplicate || dup.MessageID != res.MessageID {
		t.Fatalf("second Save: %+v, %v; want a duplicate of %d", dup, err, res.MessageID)
	}

	items := relayItems(t, s, store.RelayQuery{})
	want := []store.RelayItem{{
		MessageID:   res.MessageID,
		ReceivedAt:  m.ReceivedAt,
		MailFrom:    m.MailFrom,
		RcptTo:      m.RcptTo,
		State:       store.RelayQueued,
		NextAttempt: m.ReceivedAt,
		UpdatedAt:   m.ReceivedAt,
	}}
	if !reflect.DeepEqual(items, want) {
		t.Fatalf("RelayItems:\n got %+v\nwant %+v", items, want)
	}
	got := claim(t, s, "a", clock, 10)
	if len(got) != 1 || !bytes.Equal(got[0].Raw, m.Raw) {
		t.Fatalf("ClaimRelay: %+v; want the reply with its raw bytes", got)
	}
	got[0].Raw = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ClaimRelay:\n got %+v\nwant %+v", got, want)
	}
}

func testRelayLease(t *testing.T, s store.Store, clock time.Time) {
	id := save(t, s, reply("lease", clock)).MessageID
	// Not due before it was received.
	if got := claim(t, s, "a", clock.Add(-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed before due: %v", relayIDs(got))
	}
	if got := claim(t, s, "a", clock, 10); !reflect.DeepEqual(relayIDs(got), []int64{id}) {
		t.Fatalf("first claim: %v, want [%d]", relayIDs(got), id)
	}
	// Leased for a minute: neither another owner nor the same one takes
	// it again meanwhile.
	for _, owner := range []string{"b", "a"} {
		if got := claim(t, s, owner, clock.Add(59*time.Second), 10); len(got) != 0 {
			t.Fatalf("%s claimed a leased item: %v", owner, relayIDs(got))
		}
	}
	// An owner that died leaves its lease to run out.
	if got := claim(t, s, "b", clock.Add(time.Minute), 10); !reflect.DeepEqual(relayIDs(got), []int64{id}) {
		t.Fatalf("claim after the lease: %v, want [%d]", relayIDs(got), id)
	}
	if _, err := s.ClaimRelay(context.Background(), "", time.Minute, clock, 1); err == nil {
		t.Error("ClaimRelay without an owner: no error")
	}
}

func testRelayOutcomes(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	a := save(t, s, reply("a", clock)).MessageID
	b := save(t, s, reply("b", clock)).MessageID
	got, err := s.ClaimRelay(ctx, "x", time.Hour, clock, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("claimed %v, %v; want both", relayIDs(got), err)
	}
	next := clock.Add(10 * time.Minute)
	if err := s.RelayRetry(ctx, a, next, "dial tcp: connection refused"); err != nil {
		t.Fatal(err)
	}
	// The retry ended the lease: due again at next, not before.
	if got := claim(t, s, "x", next.Add(-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed before the next attempt: %v", relayIDs(got))
	}
	got = claim(t, s, "y", next, 10)
	if !reflect.DeepEqual(relayIDs(got), []int64{a}) || got[0].Attempts != 1 ||
		got[0].LastError != "dial tcp: connection refused" || !got[0].NextAttempt.Equal(next) {
		t.Fatalf("claim after retry: %+v", got)
	}
	if err := s.RelayDone(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.RelayFailed(ctx, b, "550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	// Done with: neither is claimed, nor changed again.
	if got := claim(t, s, "z", next.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("claimed finished items: %v", relayIDs(got))
	}
	for _, err := range []error{s.RelayDone(ctx, a), s.RelayRetry(ctx, b, next, "x"), s.RelayFailed(ctx, 999999, "x")} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("change of an item not queued: %v, want ErrNotFound", err)
		}
	}
	items := relayItems(t, s, store.RelayQuery{})
	if len(items) != 2 {
		t.Fatalf("RelayItems: %+v", items)
	}
	sent, failed := items[0], items[1]
	if sent.State != store.RelaySent || sent.Attempts != 2 || sent.LastError != "" || !sent.NextAttempt.IsZero() || !sent.UpdatedAt.Equal(clock) {
		t.Errorf("sent item: %+v", sent)
	}
	if failed.State != store.RelayFailed || failed.Attempts != 1 || failed.LastError != "550 5.1.1 no such user" || !failed.NextAttempt.IsZero() {
		t.Errorf("failed item: %+v", failed)
	}
	// A long error is kept cut, not refused.
	c := save(t, s, reply("c", clock)).MessageID
	long := string(bytes.Repeat([]byte("é"), 1000))
	if err := s.RelayFailed(ctx, c, long); err != nil {
		t.Fatal(err)
	}
	it := relayItems(t, s, store.RelayQuery{AfterID: b})
	if len(it) != 1 || len(it[0].LastError) == 0 || len(it[0].LastError) > 1000 || it[0].LastError != long[:len(it[0].LastError)] {
		t.Errorf("long error kept as %d bytes", len(it[0].LastError))
	}
}

func testRelayListing(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	var all []int64
	for i := range 5 {
		all = append(all, save(t, s, reply(fmt.Sprint("l", i), clock)).MessageID)
	}
	claim(t, s, "x", clock, 10)
	if err := s.RelayDone(ctx, all[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.RelayFailed(ctx, all[3], "refused"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    store.RelayQuery
		want []int64
	}{
		{store.RelayQuery{}, all},
		{store.RelayQuery{State: store.RelayQueued}, []int64{all[0], all[2], all[4]}},
		{store.RelayQuery{State: store.RelaySent}, []int64{all[1]}},
		{store.RelayQuery{State: store.RelayFailed}, []int64{all[3]}},
		{store.RelayQuery{Limit: 2}, all[:2]},
		{store.RelayQuery{AfterID: all[1], Limit: 2}, all[2:4]},
		{store.RelayQuery{State: store.RelayQueued, AfterID: all[2]}, []int64{all[4]}},
	} {
		if got := relayIDs(relayItems(t, s, tc.q)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("RelayItems(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	for _, it := range relayItems(t, s, store.RelayQuery{}) {
		if it.Raw != nil {
			t.Errorf("RelayItems gave the raw bytes of %d", it.MessageID)
		}
	}
	if _, err := s.RelayItems(ctx, store.RelayQuery{State: "lost"}); err == nil {
		t.Error("RelayItems of an unknown state: no error")
	}
}

// testRelayConcurrentClaims claims from several goroutines at once, as
// instances sharing a store do: every item is handed out exactly once.
func testRelayConcurrentClaims(t *testing.T, s store.Store, clock time.Time) {
	const n = 60
	for i := range n {
		save(t, s, reply(fmt.Sprint("c", i), clock))
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		owner := fmt.Sprint("owner", w)
		wg.Go(func() {
			for {
				items, err := s.ClaimRelay(context.Background(), owner, time.Hour, clock, 7)
				if err != nil {
					t.Errorf("ClaimRelay: %v", err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range items {
					if prev, ok := seen[it.MessageID]; ok {
						t.Errorf("item %d claimed by %s and %s", it.MessageID, prev, owner)
					}
					seen[it.MessageID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d items claimed, want %d", len(seen), n)
	}
}
