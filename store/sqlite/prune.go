package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store/sqlstore"
)

// evidenceKeys selects the record keys that retention keeps; its one
// argument is the store's clock (UnixNano).
var evidenceKeys = `SELECT j.value FROM addresses a, json_each(a.evidence) j WHERE ` + sqlstore.KeptStates("?")

// PruneRaw replaces the raw bytes of the messages received before before by
// nothing, in transactions of at most sqlstore.PruneChunk messages, so that
// saves go on between them; see store.Store.
func (s *Store) PruneRaw(ctx context.Context, before time.Time) (int64, error) {
	cut := sqlstore.UnixNano(before)
	return s.inChunks(ctx, sqlstore.PruneChunk, "raw messages", func(w *writer, now int64) (int64, error) {
		return w.affected(w.exec(`UPDATE messages SET raw = ?, raw_size = 0 WHERE id IN
			(SELECT m.id FROM messages m WHERE m.received_at < ? AND m.raw_size > 0 AND `+
			sqlstore.PruneCandidates(evidenceKeys)+` ORDER BY m.received_at LIMIT ?)`,
			sqlstore.PrunedRaw, cut, now, sqlstore.PruneChunk))
	})
}

// PruneRecords deletes the messages received before before with their
// records, in transactions of at most sqlstore.PruneChunk messages; see
// store.Store.
func (s *Store) PruneRecords(ctx context.Context, before time.Time) (int64, error) {
	cut := sqlstore.UnixNano(before)
	return s.inChunks(ctx, sqlstore.PruneChunk, "records", func(w *writer, now int64) (int64, error) {
		rows, err := w.conn.QueryContext(context.Background(), `SELECT m.id FROM messages m
			WHERE m.received_at < ? AND `+sqlstore.PruneCandidates(evidenceKeys)+`
			ORDER BY m.received_at LIMIT ?`, cut, now, sqlstore.PruneChunk)
		if err != nil {
			return 0, err
		}
		ids, err := collectIDs(rows)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		list := jsonIDs(ids)
		if _, err := w.exec(`DELETE FROM records WHERE message_id IN (SELECT value FROM json_each(?))`, list); err != nil {
			return 0, err
		}
		return w.affected(w.exec(`DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))`, list))
	})
}

// inChunks runs job, each time in a transaction of its own through the
// writer, until it changes fewer than chunk rows, so that saves go on
// between the chunks; it returns the rows changed in all. Each chunk that
// committed stays when a later one fails. job gets the store's time, read
// for each chunk; it may run twice (see commit), so it counts from zero.
func (s *Store) inChunks(ctx context.Context, chunk int64, what string, job func(w *writer, now int64) (int64, error)) (int64, error) {
	var total int64
	for {
		now := sqlstore.UnixNano(s.now())
		var n int64
		err := s.submitWeighted(ctx, sqlstore.LargeWeight, func(w *writer) error {
			var err error
			n, err = job(w, now)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlite: pruning %s: %w", what, err)
		}
		total += n
		if n < chunk {
			return total, nil
		}
	}
}

// affected is the count of rows an exec changed.
func (w *writer) affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
