package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// queries are the reads of this store, in PostgreSQL's parameter style,
// comparing with indexed columns as they were stored.
var queries = sqlstore.Queries{Placeholders: sqlstore.Dollar, Clean: indexed}

// newReads serves the listings shared with the other backends from the
// pool.
func (s *Store) newReads() sqlstore.Reads {
	return sqlstore.Reads{
		Queries: queries,
		Backend: "postgres",
		Query: func(ctx context.Context, query string, args ...any) (sqlstore.Rows, func(), error) {
			rows, err := s.pool.Query(ctx, query, args...)
			if err != nil {
				return nil, nil, err
			}
			return rows, rows.Close, nil
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
	m, err := sqlstore.ScanMessage(s.pool.QueryRow(ctx, queries.Message(), id), &size, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading message %d: %w", id, err)
	}
	if m.Raw, err = sqlstore.Decompress(raw, size); err != nil {
		return nil, fmt.Errorf("postgres: message %d: %w", id, err)
	}
	m.Records, err = s.reads.RecordsOf(ctx, id)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// scanAddress reads a row of sqlstore.AddressColumns, whose lists of
// record keys are text arrays.
func scanAddress(row sqlstore.Scanner) (suppress.State, error) {
	var evidence, low []string
	st, err := sqlstore.ScanAddress(row, &evidence, &low)
	if err != nil {
		return st, err
	}
	if len(evidence) > 0 {
		st.Evidence = evidence
	}
	if len(low) > 0 {
		st.LowConfidence = low
	}
	return st, nil
}

// Suppression returns the suppression of address in force at now, or nil.
func (s *Store) Suppression(ctx context.Context, address string, now time.Time) (*store.Suppression, error) {
	addr, err := store.Address(address)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	st, err := scanAddress(s.pool.QueryRow(ctx, queries.Address(), addr))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading suppression of %s: %w", address, err)
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

// changeAddress runs change on the locked state of address in a
// transaction of its own, creating the row when needed; it is run again
// after a deadlock.
func (s *Store) changeAddress(ctx context.Context, address string, at time.Time, by store.Actor, change func(suppress.State) suppress.State) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO addresses (address) VALUES ($1) ON CONFLICT (address) DO NOTHING`, address); err != nil {
				return err
			}
			prev, err := scanAddress(tx.QueryRow(ctx, queries.Address()+` FOR UPDATE`, address))
			if err != nil {
				return err
			}
			next := change(prev)
			next.Address = address
			if sqlstore.StateEqual(prev, next) {
				return nil
			}
			b := &pgx.Batch{}
			if err := queueStoreStates(b, []suppress.State{next}); err != nil {
				return err
			}
			if c, ok := sqlstore.Change(prev, next, at, by, ""); ok {
				evs, err := s.queueChanges(b, []stateChange{{c, next}})
				if err != nil {
					return err
				}
				if s.opts.Outbox {
					queueEvents(b, evs)
				}
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err == nil || !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("postgres: changing suppression of %s: %w", address, err)
	}
	return nil
}

// AddSuppression suppresses an address by hand. It keeps the address's
// soft-bounce history.
func (s *Store) AddSuppression(ctx context.Context, sup store.Suppression) error {
	addr, err := store.Address(sup.Address)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if sup.Cause == "" {
		sup.Cause = suppress.CauseManual
	}
	if sup.Since.IsZero() {
		sup.Since = s.now()
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	return s.changeAddress(ctx, addr, sup.Since, store.Actor{Who: sup.Actor, Why: sup.Note}, func(st suppress.State) suppress.State {
		st = suppress.Manual(st, sup.Reason, sup.Since, sup.Expires)
		st.Cause = sup.Cause
		st.Evidence = sup.Evidence
		return st
	})
}

// RemoveSuppression lifts the suppression of address and resets its
// soft-bounce count; it reports whether there was one, in force or lapsed
// (the store's clock plays no part).
func (s *Store) RemoveSuppression(ctx context.Context, address string, by store.Actor) (bool, error) {
	addr, err := store.Address(address)
	if err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	// Without a state there is nothing to lift: do not create one.
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM addresses WHERE address = $1)`, addr).Scan(&exists); err != nil {
		return false, fmt.Errorf("postgres: reading suppression of %s: %w", address, err)
	}
	if !exists {
		return false, nil
	}
	var had bool
	err = s.changeAddress(ctx, addr, s.now(), by, func(st suppress.State) suppress.State {
		had = st.Suppressed
		return suppress.Remove(st)
	})
	return had, err
}

func (s *Store) checkOpen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
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
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: database unreachable: %w", err)
	}
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return s.reads.SchemaCurrent(ctx, len(ms))
}

// Incidents lists incidents, newest first; open ones only when openOnly.
func (s *Store) Incidents(ctx context.Context, openOnly bool, now time.Time) ([]store.Incident, error) {
	return s.reads.Incidents(ctx, openOnly, now, s.opts.Policy.WithDefaults().IncidentQuiet)
}
