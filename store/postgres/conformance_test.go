package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/storetest"
)

// TestConformance runs the suite every backend passes, each test on a
// fresh schema.
func TestConformance(t *testing.T) {
	if os.Getenv("REBOUND_TEST_POSTGRES") == "" {
		t.Skip("REBOUND_TEST_POSTGRES is not set; start a private cluster with: eval \"$(.ci/postgres.sh start)\"")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), testURL(t), store.Options{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	})
}
