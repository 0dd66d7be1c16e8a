package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// Placeholders until the listings are implemented.

func (s *Store) Record(ctx context.Context, id int64) (*record.Record, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) ListSuppressions(ctx context.Context, q store.SuppressionQuery) ([]store.Suppression, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) CheckSuppressions(ctx context.Context, addresses []string, now time.Time) ([]store.Suppression, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) Stats(ctx context.Context, q store.StatsQuery) ([]store.StatsCount, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) Ready(ctx context.Context) error { return errors.ErrUnsupported }
