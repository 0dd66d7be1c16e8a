package sqlite

import (
	"context"
	"fmt"
	"strings"
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
	var total int64
	for {
		now := sqlstore.UnixNano(s.now())
		var n int64
		err := s.submitWeighted(ctx, sqlstore.LargeWeight, func(w *writer) error {
			res, err := w.exec(`UPDATE messages SET raw = ?, raw_size = 0 WHERE id IN
				(SELECT m.id FROM messages m WHERE m.received_at < ? AND m.raw_size > 0 AND `+
				sqlstore.PruneCandidates(evidenceKeys)+` ORDER BY m.received_at LIMIT ?)`,
				sqlstore.PrunedRaw, cut, now, sqlstore.PruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlite: pruning raw messages: %w", err)
		}
		total += n
		if n < sqlstore.PruneChunk {
			return total, nil
		}
	}
}

// PruneRecords deletes the messages received before before with their
// records, in transactions of at most sqlstore.PruneChunk messages; see
// store.Store.
func (s *Store) PruneRecords(ctx context.Context, before time.Time) (int64, error) {
	cut := sqlstore.UnixNano(before)
	var total int64
	for {
		now := sqlstore.UnixNano(s.now())
		var n int64
		err := s.submitWeighted(ctx, sqlstore.LargeWeight, func(w *writer) error {
			// The job may run twice (see commit): count from zero each time.
			n = 0
			rows, err := w.conn.QueryContext(context.Background(), `SELECT m.id FROM messages m
				WHERE m.received_at < ? AND `+sqlstore.PruneCandidates(evidenceKeys)+`
				ORDER BY m.received_at LIMIT ?`, cut, now, sqlstore.PruneChunk)
			if err != nil {
				return err
			}
			var ids []any
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
			if _, err := w.exec(`DELETE FROM records WHERE message_id IN `+in, ids...); err != nil {
				return err
			}
			res, err := w.exec(`DELETE FROM messages WHERE id IN `+in, ids...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlite: pruning records: %w", err)
		}
		total += n
		if n < sqlstore.PruneChunk {
			return total, nil
		}
	}
}
