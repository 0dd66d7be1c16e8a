package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

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
				evs, err := s.queueChanges(ctx, tx, b, []stateChange{{c, next}})
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
