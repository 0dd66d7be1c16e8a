package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// RegisterSent stores sent messages in one transaction of the writer and
// returns how many pairs were new; see store.Store.
func (s *Store) RegisterSent(ctx context.Context, sent []store.Sent) (int, error) {
	rows, err := sqlstore.PrepareSent(sent, s.now(), sqlstore.Cleaning{})
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	var added int
	err = s.submitWeighted(ctx, sqlstore.SentWeight(len(rows)), func(w *writer) error {
		// The job may run twice (see commit): count from zero each time.
		added = 0
		bg := context.Background()
		for _, r := range rows {
			res, err := w.stmts.insertSent.ExecContext(bg, r.MessageID, r.Recipient, r.Campaign, r.Tenant, r.SentAt)
			if err != nil {
				return fmt.Errorf("sqlite: registering %s to %s: %w", r.MessageID, r.Recipient, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlite: registering %s to %s: %w", r.MessageID, r.Recipient, err)
			}
			if n > 0 {
				added++
				continue
			}
			if r.Campaign == "" && r.Tenant == "" {
				continue
			}
			if _, err := w.stmts.updateSent.ExecContext(bg, r.Campaign, r.Tenant, r.MessageID, r.Recipient); err != nil {
				return fmt.Errorf("sqlite: updating %s to %s: %w", r.MessageID, r.Recipient, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// SentTo returns the registrations of messageID, by recipient.
func (s *Store) SentTo(ctx context.Context, messageID string) ([]store.Sent, error) {
	return s.reads.SentTo(ctx, messageID)
}

// PruneSent deletes the registrations sent before before, in transactions
// of at most sqlstore.PruneSentChunk rows, so that saves go on between
// them. Each transaction that committed stays deleted when a later one
// fails.
func (s *Store) PruneSent(ctx context.Context, before time.Time) (int64, error) {
	cut := sqlstore.UnixNano(before)
	return s.inChunks(ctx, sqlstore.PruneSentChunk, "sent messages", func(w *writer, _ int64) (int64, error) {
		return w.affected(w.exec(`DELETE FROM sent_messages WHERE (message_id, recipient) IN
			(SELECT message_id, recipient FROM sent_messages WHERE sent_at < ? LIMIT ?)`, cut, sqlstore.PruneSentChunk))
	})
}

// PutVERPToken keeps the address behind token; a token stored before
// keeps its address.
func (s *Store) PutVERPToken(ctx context.Context, token, address string) error {
	if err := store.CheckVERPToken(token, address); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	created := sqlstore.UnixNano(s.now())
	return s.submit(ctx, func(w *writer) error {
		if _, err := w.stmts.insertToken.ExecContext(context.Background(), token, address, created); err != nil {
			return fmt.Errorf("sqlite: storing VERP token: %w", err)
		}
		return nil
	})
}

// VERPToken returns the address behind token, "" when it is unknown.
func (s *Store) VERPToken(ctx context.Context, token string) (string, error) {
	return s.reads.VERPToken(ctx, token)
}
