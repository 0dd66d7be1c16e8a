package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store/sqlstore"
)

// SuppressionCounts counts the suppressions in force at now by cause.
func (s *Store) SuppressionCounts(ctx context.Context, now time.Time) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, sqlstore.SuppressionCountsQuery(sqlstore.Dollar), sqlstore.UnixNano(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: counting suppressions: %w", err)
	}
	defer rows.Close()
	counts, err := sqlstore.CollectCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: counting suppressions: %w", err)
	}
	return counts, nil
}
