package postgres

import (
	"testing"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/store/storetest"
)

// BenchmarkSentTo measures the lookup of a report's Message-ID among a
// million registrations; see storetest.BenchSentTo.
func BenchmarkSentTo(b *testing.B) {
	storetest.BenchSentTo(b, openTest(b, pgtest.SchemaURL(b, "t_"), store.Options{}))
}
