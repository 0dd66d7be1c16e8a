package postgres

import (
	"context"
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
// storetest.BenchOverview. Before the timer, the rollups are vacuumed and
// analyzed, as autovacuum does soon after a load: until then the planner
// has no statistics and the indexes cannot answer alone.
func BenchmarkOverview(b *testing.B) {
	s := openTest(b, pgtest.SchemaURL(b, "t_"), store.Options{})
	storetest.BenchOverview(b, s, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `VACUUM ANALYZE rollup_hours, rollup_days`)
		return err
	})
}
