package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store/sqlstore"
)

// evidenceKeys selects the record keys that retention keeps; $2 is the
// store's clock (UnixNano).
var evidenceKeys = `SELECT unnest(a.evidence) FROM addresses a WHERE ` + sqlstore.KeptStates("$2")

// PruneRaw replaces the raw bytes of the messages received before before by
// nothing, at most sqlstore.PruneChunk messages a statement; see
// store.Store.
func (s *Store) PruneRaw(ctx context.Context, before time.Time) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var total int64
	for {
		// SKIP LOCKED: instances sharing the database prune side by side.
		tag, err := s.pool.Exec(ctx, `UPDATE messages SET raw = $4, raw_size = 0 WHERE id IN
			(SELECT m.id FROM messages m WHERE m.received_at < $1 AND m.raw_size > 0 AND `+
			sqlstore.PruneCandidates(evidenceKeys)+` ORDER BY m.received_at LIMIT $3 FOR UPDATE SKIP LOCKED)`,
			sqlstore.UnixNano(before), sqlstore.UnixNano(s.now()), sqlstore.PruneChunk, sqlstore.PrunedRaw)
		if err != nil {
			return total, fmt.Errorf("postgres: pruning raw messages: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < sqlstore.PruneChunk {
			return total, nil
		}
	}
}

// PruneRecords deletes the messages received before before with their
// records, at most sqlstore.PruneChunk messages a statement; see
// store.Store.
func (s *Store) PruneRecords(ctx context.Context, before time.Time) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var total int64
	for {
		// The records go in the same statement: the foreign key is checked
		// at its end.
		tag, err := s.pool.Exec(ctx, `WITH doomed AS (
				SELECT m.id FROM messages m WHERE m.received_at < $1 AND `+sqlstore.PruneCandidates(evidenceKeys)+`
				ORDER BY m.received_at LIMIT $3 FOR UPDATE SKIP LOCKED),
			gone AS (DELETE FROM records WHERE message_id IN (SELECT id FROM doomed))
			DELETE FROM messages WHERE id IN (SELECT id FROM doomed)`,
			sqlstore.UnixNano(before), sqlstore.UnixNano(s.now()), sqlstore.PruneChunk)
		if err != nil {
			return total, fmt.Errorf("postgres: pruning records: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < sqlstore.PruneChunk {
			return total, nil
		}
	}
}
