package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// ClaimRelay leases the due queued items to owner and returns them with
// their raw bytes; see store.RelayQueue. The lease is taken by the single
// writer, so two claims never take the same item.
func (s *Store) ClaimRelay(ctx context.Context, owner string, lease time.Duration, now time.Time, limit int) ([]store.RelayItem, error) {
	if owner == "" || lease <= 0 || limit <= 0 {
		return nil, errors.New("sqlite: ClaimRelay: owner, a positive lease and a positive limit are required")
	}
	at, until := sqlstore.UnixNano(now), sqlstore.UnixNano(now.Add(lease))
	var items []store.RelayItem
	err := s.submit(ctx, func(w *writer) error {
		// The job may run twice (see commit): start afresh each time.
		items = nil
		rows, err := w.conn.QueryContext(context.Background(), `UPDATE relay_queue SET lease_owner = ?, lease_until = ?
			WHERE message_id IN (SELECT message_id FROM relay_queue
				WHERE state = 'queued' AND next_attempt <= ? AND lease_until <= ?
				ORDER BY next_attempt, message_id LIMIT ?)
			RETURNING message_id`, owner, until, at, at, limit)
		if err != nil {
			return err
		}
		ids, err := collectIDs(rows)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err = w.conn.QueryContext(context.Background(), `SELECT `+sqlstore.RelayColumns+`, m.raw_size, m.raw
			FROM relay_queue q JOIN messages m ON m.id = q.message_id
			WHERE q.message_id IN (SELECT value FROM json_each(?))
			ORDER BY q.next_attempt, q.message_id`, jsonIDs(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		items, err = sqlstore.CollectClaimed(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claiming relay items: %w", err)
	}
	return items, nil
}

// RelayDone marks an item sent.
func (s *Store) RelayDone(ctx context.Context, messageID int64) error {
	return s.relayUpdate(ctx, messageID, "done", `state = 'sent', next_attempt = 0, last_error = ''`)
}

// RelayRetry makes an item due again at nextAttempt, keeping lastError.
func (s *Store) RelayRetry(ctx context.Context, messageID int64, nextAttempt time.Time, lastError string) error {
	return s.relayUpdate(ctx, messageID, "retry", `next_attempt = ?, last_error = ?`,
		sqlstore.UnixNano(nextAttempt), sqlstore.RelayError(lastError))
}

// RelayFailed gives an item up, keeping lastError.
func (s *Store) RelayFailed(ctx context.Context, messageID int64, lastError string) error {
	return s.relayUpdate(ctx, messageID, "fail", `state = 'failed', next_attempt = 0, last_error = ?`,
		sqlstore.RelayError(lastError))
}

// relayUpdate counts an attempt of a queued item, ends its lease and sets
// what set says; what names the change in errors.
func (s *Store) relayUpdate(ctx context.Context, messageID int64, what, set string, args ...any) error {
	now := sqlstore.UnixNano(s.now())
	args = append(args, now, messageID)
	err := s.submit(ctx, func(w *writer) error {
		res, err := w.exec(`UPDATE relay_queue SET `+set+`, attempts = attempts + 1, updated_at = ?,
			lease_owner = '', lease_until = 0 WHERE message_id = ? AND state = 'queued'`, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = fmt.Errorf("message %d is not queued: %w", messageID, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: relay %s: %w", what, err)
	}
	return nil
}

// RelayItems lists the relay items q selects, without Raw.
func (s *Store) RelayItems(ctx context.Context, q store.RelayQuery) ([]store.RelayItem, error) {
	return s.reads.RelayItems(ctx, q)
}
