package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// ClaimRelay leases the due queued items to owner and returns them with
// their raw bytes; see store.RelayQueue. Rows another instance is
// claiming at the same moment are skipped (SKIP LOCKED), and a lease
// keeps them from being claimed again until it ends.
func (s *Store) ClaimRelay(ctx context.Context, owner string, lease time.Duration, now time.Time, limit int) ([]store.RelayItem, error) {
	if owner == "" || lease <= 0 || limit <= 0 {
		return nil, errors.New("postgres: ClaimRelay: owner, a positive lease and a positive limit are required")
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT message_id FROM relay_queue
			WHERE state = 'queued' AND next_attempt <= $3 AND lease_until <= $3
			ORDER BY next_attempt, message_id LIMIT $4 FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE relay_queue r SET lease_owner = $1, lease_until = $2 FROM due
			WHERE r.message_id = due.message_id
			RETURNING r.*)
		SELECT `+sqlstore.RelayColumns+`, m.raw_size, m.raw
		FROM claimed q JOIN messages m ON m.id = q.message_id
		ORDER BY q.next_attempt, q.message_id`,
		text(owner), sqlstore.UnixNano(now.Add(lease)), sqlstore.UnixNano(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claiming relay items: %w", err)
	}
	defer rows.Close()
	items, err := sqlstore.CollectClaimed(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return items, nil
}

// RelayDone marks an item sent.
func (s *Store) RelayDone(ctx context.Context, messageID int64) error {
	return s.relayUpdate(ctx, messageID, "done", `state = 'sent', next_attempt = 0, last_error = ''`)
}

// RelayRetry makes an item due again at nextAttempt, keeping lastError.
func (s *Store) RelayRetry(ctx context.Context, messageID int64, nextAttempt time.Time, lastError string) error {
	return s.relayUpdate(ctx, messageID, "retry", `next_attempt = $3, last_error = $4`,
		sqlstore.UnixNano(nextAttempt), text(sqlstore.RelayError(lastError)))
}

// RelayFailed gives an item up, keeping lastError.
func (s *Store) RelayFailed(ctx context.Context, messageID int64, lastError string) error {
	return s.relayUpdate(ctx, messageID, "fail", `state = 'failed', next_attempt = 0, last_error = $3`,
		text(sqlstore.RelayError(lastError)))
}

// relayUpdate counts an attempt of a queued item, ends its lease and sets
// what set says (its parameters from $3); what names the change in errors.
func (s *Store) relayUpdate(ctx context.Context, messageID int64, what, set string, args ...any) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	args = append([]any{messageID, sqlstore.UnixNano(s.opts.Now())}, args...)
	tag, err := s.pool.Exec(ctx, `UPDATE relay_queue SET `+set+`, attempts = attempts + 1, updated_at = $2,
		lease_owner = '', lease_until = 0 WHERE message_id = $1 AND state = 'queued'`, args...)
	if err != nil {
		return fmt.Errorf("postgres: relay %s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: relay %s: message %d is not queued: %w", what, messageID, store.ErrNotFound)
	}
	return nil
}

// RelayItems lists the relay items q selects, without Raw.
func (s *Store) RelayItems(ctx context.Context, q store.RelayQuery) ([]store.RelayItem, error) {
	return s.reads.RelayItems(ctx, q)
}
