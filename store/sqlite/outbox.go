package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// maxErrorText bounds the error texts kept in the delivery state.
const maxErrorText = 1000

// emit writes one event in the writer's transaction. SQLite has one
// writer, so the event IDs grow in commit order.
func (w *writer) emit(ev sqlstore.PendingEvent) error {
	if _, err := w.stmts.insertEvent.ExecContext(context.Background(), ev.Type, ev.Time, ev.Payload); err != nil {
		return fmt.Errorf("sqlite: writing %s event: %w", ev.Type, err)
	}
	return nil
}

func (w *writer) emitIncident(in store.Incident, opened bool) error {
	ev, err := sqlstore.IncidentEvent(in, opened)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return w.emit(ev)
}

// logChange keeps the change from prev to next in the address's history,
// and tells of it in the outbox.
func (w *writer) logChange(prev, next suppress.State, at time.Time, by store.Actor, recordKey string) error {
	c, ok := sqlstore.Change(prev, next, at, by, recordKey)
	if !ok {
		return nil
	}
	res, err := w.stmts.insertChange.ExecContext(context.Background(), c.Address, sqlstore.UnixNano(c.Time), c.Action,
		c.Cause, c.Reason, sqlstore.UnixNano(c.Expires), c.Actor, c.Note, c.RecordKey)
	if err != nil {
		return fmt.Errorf("sqlite: storing the history of %s: %w", c.Address, err)
	}
	if !w.s.opts.Outbox {
		return nil
	}
	// The event names the history entry it tells of.
	if c.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("sqlite: numbering the history of %s: %w", c.Address, err)
	}
	ev, err := sqlstore.SuppressionEvent(c, next)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return w.emit(ev)
}

// exec runs a write statement in the writer's transaction.
func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	return w.conn.ExecContext(context.Background(), query, args...)
}

// ClaimEndpoint takes or renews owner's lease on endpoint.
func (s *Store) ClaimEndpoint(ctx context.Context, endpoint, owner string, now, until time.Time) (store.EndpointState, bool, error) {
	if endpoint == "" || owner == "" {
		return store.EndpointState{}, false, errors.New("sqlite: ClaimEndpoint: endpoint and owner are required")
	}
	var st store.EndpointState
	var ok bool
	err := s.submit(ctx, func(w *writer) error {
		// A new endpoint starts after the newest event.
		if _, err := w.exec(`INSERT INTO webhook_endpoints (`+sqlstore.EndpointColumns+`)
			VALUES (?, (SELECT coalesce(max(id), 0) FROM events), 0, 0, '', '', 0)
			ON CONFLICT (name) DO NOTHING`, endpoint); err != nil {
			return err
		}
		res, err := w.exec(`UPDATE webhook_endpoints SET owner = ?, lease_until = ?
			WHERE name = ? AND (owner = ? OR owner = '' OR lease_until <= ?)`,
			owner, sqlstore.UnixNano(until), endpoint, owner, sqlstore.UnixNano(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		ok = n == 1
		st, err = sqlstore.ScanEndpoint(w.conn.QueryRowContext(context.Background(),
			`SELECT `+sqlstore.EndpointColumns+` FROM webhook_endpoints WHERE name = ?`, endpoint))
		return err
	})
	if err != nil {
		return store.EndpointState{}, false, fmt.Errorf("sqlite: claiming endpoint %s: %w", endpoint, err)
	}
	return st, ok, nil
}

// ReleaseEndpoint ends owner's lease on endpoint, if it holds it.
func (s *Store) ReleaseEndpoint(ctx context.Context, endpoint, owner string) error {
	err := s.submit(ctx, func(w *writer) error {
		_, err := w.exec(`UPDATE webhook_endpoints SET owner = '', lease_until = 0 WHERE name = ? AND owner = ?`, endpoint, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: releasing endpoint %s: %w", endpoint, err)
	}
	return nil
}

// Advance records a delivery attempt while owner holds the lease.
func (s *Store) Advance(ctx context.Context, owner string, a store.DeliveryAttempt, next store.EndpointState) (bool, error) {
	if err := sqlstore.CheckAdvance(owner, a); err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	var ok bool
	err := s.submit(ctx, func(w *writer) error {
		ok = false
		var holder string
		var lease int64
		err := w.conn.QueryRowContext(context.Background(),
			`SELECT owner, lease_until FROM webhook_endpoints WHERE name = ?`, a.Endpoint).Scan(&holder, &lease)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if holder != owner || lease <= sqlstore.UnixNano(s.now()) {
			return nil
		}
		ok = true
		return advance(w, a, next)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: recording delivery to %s: %w", a.Endpoint, err)
	}
	return ok, nil
}

// advance writes what Advance records, once the lease is checked.
func advance(w *writer, a store.DeliveryAttempt, next store.EndpointState) error {
	t := a.Time
	if t.IsZero() {
		t = w.s.now()
	}
	errText := sqlstore.Truncate(a.Error, maxErrorText)
	if _, err := w.exec(`INSERT INTO webhook_deliveries (endpoint, event_id, time, attempt, status, error,
		duration, outcome, replay) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Endpoint, a.EventID, sqlstore.UnixNano(t),
		a.Attempt, a.Status, errText, int64(a.Duration), a.Outcome, a.Replay); err != nil {
		return err
	}
	if a.Replay {
		var err error
		switch a.Outcome {
		case store.OutcomeDelivered:
			_, err = w.exec(`DELETE FROM webhook_dead WHERE endpoint = ? AND event_id = ?`, a.Endpoint, a.EventID)
		case store.OutcomeFailed:
			_, err = w.exec(`UPDATE webhook_dead SET attempts = attempts + 1, last_error = ?
				WHERE endpoint = ? AND event_id = ?`, errText, a.Endpoint, a.EventID)
		case store.OutcomeDead:
			_, err = w.exec(`UPDATE webhook_dead SET attempts = attempts + 1, last_error = ?, replay = 0, time = ?
				WHERE endpoint = ? AND event_id = ?`, errText, sqlstore.UnixNano(t), a.Endpoint, a.EventID)
		}
		return err
	}
	if a.Outcome == store.OutcomeDead {
		if _, err := w.exec(`INSERT INTO webhook_dead (endpoint, event_id, time, attempts, last_error, replay)
			VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (endpoint, event_id) DO UPDATE SET time = excluded.time,
			attempts = excluded.attempts, last_error = excluded.last_error, replay = 0`,
			a.Endpoint, a.EventID, sqlstore.UnixNano(t), a.Attempt, errText); err != nil {
			return err
		}
	}
	_, err := w.exec(`UPDATE webhook_endpoints SET last_event = ?, attempts = ?, next_attempt = ?, last_error = ?
		WHERE name = ?`, next.Cursor, next.Attempts, sqlstore.UnixNano(next.NextAttempt),
		sqlstore.Truncate(next.LastError, maxErrorText), a.Endpoint)
	return err
}

// Replay asks for a dead letter to be delivered again.
func (s *Store) Replay(ctx context.Context, endpoint string, eventID int64) (bool, error) {
	var ok bool
	err := s.submit(ctx, func(w *writer) error {
		res, err := w.exec(`UPDATE webhook_dead SET replay = 1 WHERE endpoint = ? AND event_id = ?`, endpoint, eventID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: replaying event %d to %s: %w", eventID, endpoint, err)
	}
	return ok, nil
}

// PruneOutbox deletes the events older than before that every endpoint
// has passed, keeping those dead-lettered (a replay needs them), and the
// delivery log entries older than before. It keeps the newest event: a
// rowid table numbers a new row after the greatest one left, so with the
// newest gone the next event would take an ID that cursors have passed.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	cut := sqlstore.UnixNano(before)
	err := s.submit(ctx, func(w *writer) error {
		res, err := w.exec(`DELETE FROM events WHERE time < ?
			AND id <= (SELECT coalesce(min(last_event), (SELECT coalesce(max(id), 0) FROM events)) FROM webhook_endpoints)
			AND id < (SELECT max(id) FROM events)
			AND id NOT IN (SELECT event_id FROM webhook_dead)`, cut)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = w.exec(`DELETE FROM webhook_deliveries WHERE time < ?`, cut)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: pruning the outbox: %w", err)
	}
	return n, nil
}

// SuppressionChanges lists the history of one address, newest first.
func (s *Store) SuppressionChanges(ctx context.Context, address string, limit int) ([]store.SuppressionChange, error) {
	addr, err := store.Address(address)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s.reads.SuppressionChanges(ctx, addr, limit)
}

// Events lists the events after after, oldest first.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	return s.reads.Events(ctx, after, limit)
}

// Event returns one event, or store.ErrNotFound.
func (s *Store) Event(ctx context.Context, id int64) (*store.Event, error) {
	return s.reads.Event(ctx, id)
}

// NewestEvent is the ID of the newest event, 0 when there is none.
func (s *Store) NewestEvent(ctx context.Context) (int64, error) { return s.reads.NewestEvent(ctx) }

// Endpoints lists the state of every endpoint known to the store.
func (s *Store) Endpoints(ctx context.Context) ([]store.EndpointState, error) {
	return s.reads.Endpoints(ctx)
}

// Deliveries lists an endpoint's delivery log, newest first.
func (s *Store) Deliveries(ctx context.Context, endpoint string, limit int) ([]store.DeliveryAttempt, error) {
	return s.reads.Deliveries(ctx, endpoint, limit)
}

// DeadLetters lists an endpoint's dead letters, oldest first.
func (s *Store) DeadLetters(ctx context.Context, endpoint string, replayOnly bool, limit int) ([]store.DeadLetter, error) {
	return s.reads.DeadLetters(ctx, endpoint, replayOnly, limit)
}
