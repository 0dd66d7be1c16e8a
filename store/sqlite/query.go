package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// queries are the reads of this store, in SQLite's parameter style.
var queries = sqlstore.Queries{Placeholders: sqlstore.Question}

// newReads serves the listings shared with the other backends from the
// current connection pool.
func (s *Store) newReads() sqlstore.Reads {
	return sqlstore.Reads{
		Queries: queries,
		Backend: "sqlite",
		Query: func(ctx context.Context, query string, args ...any) (sqlstore.Rows, func(), error) {
			rows, err := s.stmts.query(ctx, s.db.Load(), query, args...)
			if err != nil {
				return nil, nil, err
			}
			return rows, func() { rows.Close() }, nil
		},
		ScanAddress: scanAddress,
	}
}

// Records lists stored records, oldest first (newest first with
// q.Newest).
func (s *Store) Records(ctx context.Context, q store.Query) ([]record.Record, error) {
	return s.reads.Records(ctx, q)
}

// Record returns one stored record by ID, or store.ErrNotFound.
func (s *Store) Record(ctx context.Context, id int64) (*record.Record, error) {
	return s.reads.Record(ctx, id)
}

// Messages lists stored messages, oldest first, without Raw and Records.
func (s *Store) Messages(ctx context.Context, q store.MessageQuery) ([]store.Message, error) {
	return s.reads.Messages(ctx, q)
}

// Message returns one stored message with its raw bytes and records.
func (s *Store) Message(ctx context.Context, id int64) (*store.Message, error) {
	var size int64
	var raw []byte
	m, err := sqlstore.ScanMessage(s.db.Load().QueryRowContext(ctx, queries.Message(), id), &size, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading message %d: %w", id, err)
	}
	if m.Raw, err = sqlstore.Decompress(raw, size); err != nil {
		return nil, fmt.Errorf("sqlite: message %d: %w", id, err)
	}
	m.Records, err = s.reads.RecordsOf(ctx, id)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// Suppression returns the suppression of address in force at now, or nil.
func (s *Store) Suppression(ctx context.Context, address string, now time.Time) (*store.Suppression, error) {
	addr, err := store.Address(address)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	st, err := scanAddress(s.db.Load().QueryRowContext(ctx, queries.Address(), addr))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading suppression of %s: %w", address, err)
	}
	if !st.InForce(now) {
		return nil, nil
	}
	sup := sqlstore.SuppressionOf(st)
	return &sup, nil
}

// Suppressions lists the suppressions in force at now, by address.
func (s *Store) Suppressions(ctx context.Context, now time.Time) ([]store.Suppression, error) {
	return s.reads.Suppressions(ctx, now)
}

// ListSuppressions lists the suppressions in force at q.Now (zero: the
// store's clock) that q selects, by address.
func (s *Store) ListSuppressions(ctx context.Context, q store.SuppressionQuery) ([]store.Suppression, error) {
	return s.reads.ListSuppressions(ctx, q, s.now())
}

// CheckSuppressions returns the suppressions in force at now among
// addresses, in their order, one per suppressed address.
func (s *Store) CheckSuppressions(ctx context.Context, addresses []string, now time.Time) ([]store.Suppression, error) {
	return s.reads.CheckSuppressions(ctx, addresses, now)
}

// Stats counts the records q selects in time buckets, by one dimension.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) ([]store.StatsCount, error) {
	return s.reads.Stats(ctx, q)
}

// Ready reports whether the database answers and its schema is the one
// of this build's migrations.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.db.Load().PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: database unreachable: %w", err)
	}
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return s.reads.SchemaCurrent(ctx, len(ms))
}

// Incidents lists incidents, newest first; open ones only when openOnly.
func (s *Store) Incidents(ctx context.Context, openOnly bool, now time.Time) ([]store.Incident, error) {
	return s.reads.Incidents(ctx, openOnly, now, s.opts.Policy.IncidentQuiet)
}
