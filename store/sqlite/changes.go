package sqlite

import (
	"context"
	"fmt"
	"slices"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// AddSuppression suppresses an address by hand. It keeps the address's
// soft-bounce history.
func (s *Store) AddSuppression(ctx context.Context, sup store.Suppression) error {
	addr, err := store.Address(sup.Address)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if sup.Cause == "" {
		sup.Cause = suppress.CauseManual
	}
	if sup.Since.IsZero() {
		sup.Since = s.now()
	}
	sup.Evidence = slices.Clone(sup.Evidence) // the writer may run after the caller gave up
	return s.submit(ctx, func(w *writer) error {
		st, err := w.loadAddress(addr)
		if err != nil {
			return err
		}
		next := suppress.Manual(st, sup.Reason, sup.Since, sup.Expires)
		next.Cause = sup.Cause
		next.Evidence = sup.Evidence
		if err := w.storeAddress(next); err != nil {
			return err
		}
		return w.logChange(st, next, sup.Since, store.Actor{Who: sup.Actor, Why: sup.Note}, "")
	})
}

// RemoveSuppression lifts the suppression of address and resets its
// soft-bounce count; it reports whether there was one, in force or lapsed
// (the store's clock plays no part).
func (s *Store) RemoveSuppression(ctx context.Context, address string, by store.Actor) (bool, error) {
	addr, err := store.Address(address)
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	var had bool
	err = s.submit(ctx, func(w *writer) error {
		st, err := w.loadAddress(addr)
		if err != nil {
			return err
		}
		had = st.Suppressed
		next := suppress.Remove(st)
		if sqlstore.StateEqual(st, next) {
			return nil
		}
		if err := w.storeAddress(next); err != nil {
			return err
		}
		return w.logChange(st, next, s.now(), by, "")
	})
	return had, err
}
