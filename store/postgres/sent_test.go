package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
)

// The lookup of every report's Message-ID is a scan of the primary key of
// sent_messages, in its order (no sort), once the table holds more than a
// few pages.
func TestSentToPlan(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.SchemaURL(t, "t_"), store.Options{})
	for i := 0; i < 3; i++ {
		batch := make([]store.Sent, store.MaxRegister)
		for j := range batch {
			n := i*store.MaxRegister + j
			batch[j] = store.Sent{MessageID: fmt.Sprintf("m%d@sender.example", n), Recipient: fmt.Sprintf("u%d@example.org", n)}
		}
		if _, err := s.RegisterSent(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE sent_messages`); err != nil {
		t.Fatal(err)
	}
	var plan string
	if err := s.pool.QueryRow(ctx, `EXPLAIN `+queries.SentTo(), "m4711@sender.example").Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plan, "Index Scan using sent_messages_pkey on sent_messages") {
		t.Errorf("plan of SentTo: %s, want an index scan of the primary key", plan)
	}
}
