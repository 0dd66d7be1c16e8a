package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
	"github.com/rebound-mail/rebound/store/storetest"
)

// BenchmarkSaveParallelOutbox is BenchmarkSaveParallel with the outbox on:
// each save also writes a record.created and a suppression.added event.
func BenchmarkSaveParallelOutbox(b *testing.B) {
	tmpl, err := os.ReadFile("testdata/bounce.eml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rebound.db"), store.Options{Outbox: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchSaveParallel(b, s, tmpl)
}
