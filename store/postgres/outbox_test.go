package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
)

// TestEventsInCommitOrder has two stores on one schema (two instances)
// save concurrently while a reader follows the events by ID, as a webhook
// endpoint does: it must see every event, none skipped because a lower ID
// committed after a higher one was read.
func TestEventsInCommitOrder(t *testing.T) {
	u := pgtest.SchemaURL(t, "ev_")
	a := openTest(t, u, store.Options{Outbox: true})
	b := openTest(t, u, store.Options{Outbox: true})
	ctx := context.Background()

	const perWriter, writers = 60, 6
	var wg sync.WaitGroup
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range perWriter {
				n := w*perWriter + i
				class := []string{record.ClassHard, record.ClassSoft, record.ClassBlock}[n%3]
				if _, err := s.Save(ctx, bounce(n, "r@example.org", class, "5.1.1", t0)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[int64]bool{}
	var cursor int64
	follow := func() {
		evs, err := a.Events(ctx, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			seen[e.ID] = true
			cursor = e.ID
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		follow()
	}
	follow()
	all, err := b.Events(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < writers*perWriter {
		t.Fatalf("%d events for %d records", len(all), writers*perWriter)
	}
	for _, e := range all {
		if !seen[e.ID] {
			t.Errorf("the reader following IDs skipped event %d (%s)", e.ID, e.Type)
		}
	}
}
