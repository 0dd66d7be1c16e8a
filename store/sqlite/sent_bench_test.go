package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
	"github.com/rebound-mail/rebound/store/storetest"
)

// BenchmarkSentTo measures the lookup of a report's Message-ID among a
// million registrations; see storetest.BenchSentTo.
func BenchmarkSentTo(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchSentTo(b, s)
}
