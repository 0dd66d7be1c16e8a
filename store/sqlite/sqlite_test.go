package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
	"github.com/rebound-mail/rebound/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, opts store.Options) store.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rebound.db"), opts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Legacy: legacy,
	})
}

// legacy makes a database of schema version 1 for the upgrade test of the
// suite; its lists of record keys are JSON arrays.
func legacy(t *testing.T) (func(string, ...any) error, func(store.Options) store.Store) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	if err := sqlite.CreateAtVersion(ctx, path, 1); err != nil {
		t.Fatal(err)
	}
	exec := func(query string, args ...any) error {
		for i, a := range args {
			if keys, ok := a.([]string); ok {
				b, err := json.Marshal(keys)
				if err != nil {
					return err
				}
				args[i] = string(b)
			}
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, query, args...)
		return err
	}
	open := func(opts store.Options) store.Store {
		s, err := sqlite.Open(ctx, path, opts)
		if err != nil {
			t.Fatalf("opening the old database: %v", err)
		}
		return s
	}
	return exec, open
}

// BenchmarkSaveParallel measures durable saves from 32 concurrent callers;
// see storetest.BenchSaveParallel.
func BenchmarkSaveParallel(b *testing.B) {
	tmpl, err := os.ReadFile("testdata/bounce.eml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchSaveParallel(b, s, tmpl)
}

// BenchmarkOverview measures Overview among a million records; see
// storetest.BenchOverview.
func BenchmarkOverview(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchOverview(b, s, nil)
}
