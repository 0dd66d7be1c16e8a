package postgres

import (
	"context"
	"errors"
	"time"
)

// SuppressionCounts counts the suppressions in force at now by cause.
func (s *Store) SuppressionCounts(ctx context.Context, now time.Time) (map[string]int64, error) {
	return nil, errors.ErrUnsupported
}
