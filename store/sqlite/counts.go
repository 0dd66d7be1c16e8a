package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store/sqlstore"
)

// SuppressionCounts counts the suppressions in force at now by cause.
func (s *Store) SuppressionCounts(ctx context.Context, now time.Time) (map[string]int64, error) {
	rows, err := s.db.Load().QueryContext(ctx, sqlstore.SuppressionCountsQuery(sqlstore.Question), sqlstore.UnixNano(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: counting suppressions: %w", err)
	}
	defer rows.Close()
	counts, err := sqlstore.CollectCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: counting suppressions: %w", err)
	}
	return counts, nil
}
