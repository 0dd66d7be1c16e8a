package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/store/storetest"
)

// TestConformance runs the suite every backend passes, each test on a
// fresh schema.
func TestConformance(t *testing.T) {
	pgtest.Skip(t)
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, opts store.Options) store.Store {
			s, err := Open(context.Background(), pgtest.SchemaURL(t, "t_"), opts)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return s
		},
		Legacy: legacy,
	})
}

// legacy makes a schema of version 1 for the upgrade test of the suite;
// its lists of record keys are text arrays, which pgx encodes from
// []string as they are.
func legacy(t *testing.T) (func(string, ...any) error, func(store.Options) store.Store) {
	ctx := context.Background()
	u := pgtest.SchemaURL(t, "t_")
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateSteps(ctx, pool, ms[:1]); err != nil {
		t.Fatal(err)
	}
	exec := func(query string, args ...any) error {
		_, err := pool.Exec(ctx, dollars(query), args...)
		return err
	}
	open := func(opts store.Options) store.Store {
		s, err := Open(ctx, u, opts)
		if err != nil {
			t.Fatalf("opening the old schema: %v", err)
		}
		return s
	}
	return exec, open
}

// dollars numbers the "?" of query as PostgreSQL's $1, $2, ...
func dollars(query string) string {
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(query, "?") {
		if p, ok := strings.CutSuffix(part, "?"); ok {
			n++
			b.WriteString(p + "$" + strconv.Itoa(n))
		} else {
			b.WriteString(part)
		}
	}
	return b.String()
}
