package postgres

import (
	"context"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/store/storetest"
)

// TestConformance runs the suite every backend passes, each test on a
// fresh schema.
func TestConformance(t *testing.T) {
	pgtest.Skip(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), pgtest.SchemaURL(t, "t_"), store.Options{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	})
}
