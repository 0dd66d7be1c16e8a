package postgres

import (
	"os"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/store/storetest"
)

// BenchmarkSaveParallelOutbox is BenchmarkSaveParallel with the outbox on:
// each save also writes a record.created and a suppression.added event,
// under the lock that orders events by commit.
func BenchmarkSaveParallelOutbox(b *testing.B) {
	tmpl, err := os.ReadFile("testdata/bounce.eml")
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchSaveParallel(b, openTest(b, pgtest.SchemaURL(b, "t_"), store.Options{Outbox: true}), tmpl)
}
