package postgres

import (
	"context"

	"github.com/rebound-mail/rebound/store"
)

// Overview counts the records of q's range from the rollups; see
// store.Store. Keys are ranked by bytes, whatever the database's collation.
func (s *Store) Overview(ctx context.Context, q store.OverviewQuery) (*store.Overview, error) {
	return s.reads.Overview(ctx, q, ` COLLATE "C"`, rollupShards)
}
