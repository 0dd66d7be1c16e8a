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

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
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
