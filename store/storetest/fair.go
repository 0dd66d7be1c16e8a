package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// fairLarge is the number of records of a large message in testFairCommit:
// a report cut at a few hundred recipients.
const fairLarge = 500

// testFairCommit checks that large messages do not hold up the commits of
// small ones: while several senders save messages of hundreds of records
// without pause, an ordinary bounce is answered well before a large
// message is. A writer that committed everything queued in one transaction
// makes the two wait alike.
func testFairCommit(t *testing.T, s store.Store) {
	if testing.Short() {
		t.Skip("times saves under load")
	}
	const senders, smalls = 6, 20
	bigMsg := func(sender, n int) *store.Message {
		when := at(time.Duration(n) * time.Second)
		recs := make([]record.Record, fairLarge)
		for i := range recs {
			recs[i] = rec(fmt.Sprintf("r%d-%d-%d@big.example.org", sender, n, i), record.ClassHard, "userunknown", when)
		}
		return msg(fmt.Sprintf("big %d %d", sender, n), when, recs...)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bigTimes []time.Duration
	errs := make(chan error, senders)
	for sender := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				m := bigMsg(sender, n)
				start := time.Now()
				if _, err := s.Save(context.Background(), m); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				bigTimes = append(bigTimes, time.Since(start))
				mu.Unlock()
			}
		}()
	}
	// Let the large ones queue up before timing the small ones.
	time.Sleep(200 * time.Millisecond)
	var smallTimes []time.Duration
	for i := range smalls {
		addr := fmt.Sprintf("small%d@example.org", i)
		m := msg(addr, at(time.Hour), rec(addr, record.ClassHard, "userunknown", at(time.Hour)))
		start := time.Now()
		save(t, s, m)
		smallTimes = append(smallTimes, time.Since(start))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("saving a large message: %v", err)
	}
	slices.Sort(smallTimes)
	slices.Sort(bigTimes)
	if len(bigTimes) < senders {
		t.Fatalf("only %d large messages saved while %d small ones were", len(bigTimes), smalls)
	}
	smallP90 := smallTimes[len(smallTimes)*9/10]
	bigMedian := bigTimes[len(bigTimes)/2]
	t.Logf("%d senders of %d-record messages: small saves p50 %v p90 %v max %v; large saves p50 %v (%d saved)",
		senders, fairLarge, smallTimes[len(smallTimes)/2], smallP90, smallTimes[len(smallTimes)-1], bigMedian, len(bigTimes))
	if smallP90 > bigMedian/2 {
		t.Errorf("small saves p90 %v, large saves p50 %v: the small ones waited for the large ones", smallP90, bigMedian)
	}
}
