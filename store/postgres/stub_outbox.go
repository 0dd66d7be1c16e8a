package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// Placeholders until the outbox is implemented.

func (s *Store) SuppressionChanges(ctx context.Context, address string, limit int) ([]store.SuppressionChange, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) ClaimEndpoint(ctx context.Context, endpoint, owner string, now, until time.Time) (store.EndpointState, bool, error) {
	return store.EndpointState{}, false, errors.ErrUnsupported
}

func (s *Store) ReleaseEndpoint(ctx context.Context, endpoint, owner string) error {
	return errors.ErrUnsupported
}

func (s *Store) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) Event(ctx context.Context, id int64) (*store.Event, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) Advance(ctx context.Context, owner string, a store.DeliveryAttempt, next store.EndpointState) (bool, error) {
	return false, errors.ErrUnsupported
}

func (s *Store) Endpoints(ctx context.Context) ([]store.EndpointState, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) Deliveries(ctx context.Context, endpoint string, limit int) ([]store.DeliveryAttempt, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) DeadLetters(ctx context.Context, endpoint string, replayOnly bool, limit int) ([]store.DeadLetter, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) Replay(ctx context.Context, endpoint string, eventID int64) (bool, error) {
	return false, errors.ErrUnsupported
}

func (s *Store) NewestEvent(ctx context.Context) (int64, error) { return 0, errors.ErrUnsupported }

func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	return 0, errors.ErrUnsupported
}
