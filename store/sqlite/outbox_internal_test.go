package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// A message that fails inside a batch takes its events with it: the
// events left are those of the messages committed, each naming a stored
// record, with IDs in the order they were written.
func TestFailingMessageWritesNoEvents(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "rebound.db"), store.Options{Outbox: true})
	defer s.Close()
	gate, entered := make(chan struct{}), make(chan struct{})
	s.fault = func(m *store.Message) error {
		switch m.Source {
		case "gate":
			close(entered)
			<-gate // hold the writer so that the others queue into one batch
		case "bad":
			return errors.New("injected failure")
		}
		return nil
	}
	gateDone := make(chan error)
	go func() {
		g := testMessage("gate")
		g.Source = "gate"
		_, err := s.Save(ctx, g)
		gateDone <- err
	}()
	<-entered

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := testMessage(fmt.Sprintf("ev%d", i))
			if i%2 == 1 {
				m.Source = "bad"
			}
			_, errs[i] = s.Save(ctx, m)
		})
	}
	for len(s.jobs) < n {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if err := <-gateDone; err != nil {
		t.Fatalf("gate message: %v", err)
	}
	good := 1
	for i, err := range errs {
		if i%2 == 1 {
			if err == nil {
				t.Errorf("message %d: failure not reported", i)
			}
			continue
		}
		good++
		if err != nil {
			t.Errorf("message %d failed with its batch: %v", i, err)
		}
	}

	recs, err := s.Records(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]bool{}
	for _, r := range recs {
		stored[r.ID] = true
	}
	evs, err := s.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i, e := range evs {
		count[e.Type]++
		if i > 0 && e.ID <= evs[i-1].ID {
			t.Errorf("event %d after %d", e.ID, evs[i-1].ID)
		}
		if e.Type != store.EventRecordCreated {
			continue
		}
		var r record.Record
		if err := json.Unmarshal(e.Payload, &r); err != nil {
			t.Fatal(err)
		}
		if !stored[r.ID] {
			t.Errorf("event %d tells of record %d, which is not stored", e.ID, r.ID)
		}
	}
	if count[store.EventRecordCreated] != good || count[store.EventSuppressionAdded] != good || len(evs) != 2*good {
		t.Errorf("events %v for %d committed messages, want one record.created and one suppression.added each", count, good)
	}
}
