package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// RegisterSent stores sent messages in one transaction and returns how
// many pairs were new; see store.Store. The new pairs are inserted first,
// then the campaign and tenant given are written to the pairs registered
// before; both statements take their row locks in key order (the rows
// come sorted), so concurrent registrations of the same pairs wait for
// each other rather than deadlock.
func (s *Store) RegisterSent(ctx context.Context, sent []store.Sent) (int, error) {
	rows, err := sqlstore.PrepareSent(sent, s.now(), sqlstore.Cleaning{Text: text, Indexed: indexed})
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	n := len(rows)
	var (
		ids, rcpts, campaigns, tenants = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		sentAt                         = make([]int64, 0, n)
		tagged                         int // rows with a campaign or a tenant
	)
	for _, r := range rows {
		ids, rcpts = append(ids, r.MessageID), append(rcpts, r.Recipient)
		campaigns, tenants = append(campaigns, r.Campaign), append(tenants, r.Tenant)
		sentAt = append(sentAt, r.SentAt)
		if r.Campaign != "" || r.Tenant != "" {
			tagged++
		}
	}
	var added int64
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO sent_messages (`+sqlstore.SentColumns+`)
				SELECT m, r, c, t, s FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
					WITH ORDINALITY AS u(m, r, c, t, s, n)
					ORDER BY n
				ON CONFLICT (message_id, recipient) DO NOTHING`, ids, rcpts, campaigns, tenants, sentAt)
			if err != nil {
				return err
			}
			added = tag.RowsAffected()
			if tagged == 0 || added == int64(n) {
				return nil
			}
			// Every pair now has its row: the upsert only updates, and
			// leaves alone the rows that already say what was given.
			_, err = tx.Exec(ctx, `INSERT INTO sent_messages (`+sqlstore.SentColumns+`)
				SELECT m, r, c, t, s FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
					WITH ORDINALITY AS u(m, r, c, t, s, n)
					WHERE c <> '' OR t <> ''
					ORDER BY n
				ON CONFLICT (message_id, recipient) DO UPDATE
					SET campaign = coalesce(nullif(excluded.campaign, ''), sent_messages.campaign),
						tenant = coalesce(nullif(excluded.tenant, ''), sent_messages.tenant)
					WHERE (sent_messages.campaign, sent_messages.tenant) IS DISTINCT FROM
						(coalesce(nullif(excluded.campaign, ''), sent_messages.campaign),
						 coalesce(nullif(excluded.tenant, ''), sent_messages.tenant))`,
				ids, rcpts, campaigns, tenants, sentAt)
			return err
		})
		if err == nil || !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: registering %d sent messages: %w", n, err)
	}
	return int(added), nil
}

// SentTo returns the registrations of messageID, by recipient.
func (s *Store) SentTo(ctx context.Context, messageID string) ([]store.Sent, error) {
	return s.reads.SentTo(ctx, messageID)
}

// PruneSent deletes the registrations sent before before.
func (s *Store) PruneSent(ctx context.Context, before time.Time) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sent_messages WHERE sent_at < $1`, sqlstore.UnixNano(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: pruning sent messages: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PutVERPToken keeps the address behind token; a token stored before
// keeps its address.
func (s *Store) PutVERPToken(ctx context.Context, token, address string) error {
	if err := store.CheckVERPToken(token, address); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO verp_tokens (token, address, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO NOTHING`, token, address, sqlstore.UnixNano(s.now()))
	if err != nil {
		return fmt.Errorf("postgres: storing VERP token: %w", err)
	}
	return nil
}

// VERPToken returns the address behind token, "" when it is unknown.
func (s *Store) VERPToken(ctx context.Context, token string) (string, error) {
	return s.reads.VERPToken(ctx, token)
}
