package postgres

import (
	"os"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/store/storetest"
)

// BenchmarkSaveParallel measures durable saves (synchronous_commit on) from
// 32 concurrent callers; see storetest.BenchSaveParallel.
func BenchmarkSaveParallel(b *testing.B) {
	tmpl, err := os.ReadFile("testdata/bounce.eml")
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchSaveParallel(b, openTest(b, pgtest.SchemaURL(b, "t_"), store.Options{}), tmpl)
}

// BenchmarkOverview measures Overview among a million records; see
// storetest.BenchOverview.
func BenchmarkOverview(b *testing.B) {
	storetest.BenchOverview(b, openTest(b, pgtest.SchemaURL(b, "t_"), store.Options{}))
}
