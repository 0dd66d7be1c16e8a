package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// eventsLock is the transaction advisory lock taken before writing
// events: held from there to the commit, it makes the events of concurrent
// transactions (of this instance or another) take their IDs in commit
// order, so that a reader following IDs never skips one committed late.
const eventsLock int64 = 0x5265626f756e64 // "Rebound"

// maxErrorText bounds the error texts kept in the delivery state.
const maxErrorText = 1000

// stateChange is one entry of an address's history with the state it left.
type stateChange struct {
	change store.SuppressionChange
	next   suppress.State
}

// queueChanges queues the history rows of changes, and returns their
// events. With the outbox, the rows are numbered first, in one round trip
// on conn, so that each event names its history entry.
func (s *Store) queueChanges(ctx context.Context, conn querier, b *pgx.Batch, changes []stateChange) ([]sqlstore.PendingEvent, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	n := len(changes)
	var (
		addr, action, cause, reason, actor, note, key = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n),
			make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		at, exp = make([]int64, 0, n), make([]int64, 0, n)
		ids     []int64
		events  []sqlstore.PendingEvent
	)
	if s.opts.Outbox {
		rows, _ := conn.Query(ctx, `SELECT nextval(pg_get_serial_sequence('suppression_changes', 'id')) FROM generate_series(1, $1)`, n)
		var err error
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return nil, fmt.Errorf("postgres: numbering history entries: %w", err)
		}
		if len(ids) != n {
			return nil, fmt.Errorf("postgres: numbering history entries: %d numbers for %d", len(ids), n)
		}
		// An address's history lists by id: its entries keep their order.
		slices.Sort(ids)
	}
	for i, sc := range changes {
		c := sc.change
		addr, action, cause, reason = append(addr, c.Address), append(action, c.Action), append(cause, text(c.Cause)), append(reason, text(c.Reason))
		actor, note, key = append(actor, text(c.Actor)), append(note, text(c.Note)), append(key, c.RecordKey)
		at, exp = append(at, sqlstore.UnixNano(c.Time)), append(exp, sqlstore.UnixNano(c.Expires))
		if s.opts.Outbox {
			c.ID = ids[i]
			ev, err := sqlstore.SuppressionEvent(c, sc.next)
			if err != nil {
				return nil, fmt.Errorf("postgres: %w", err)
			}
			events = append(events, ev)
		}
	}
	if ids != nil {
		b.Queue(`INSERT INTO suppression_changes (id, address, time, action, cause, reason, expires, actor, note, record_key)
			SELECT id, a, t, ac, c, r, e, w, n, k FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[],
				$6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[]) AS u(id, a, t, ac, c, r, e, w, n, k)`,
			ids, addr, at, action, cause, reason, exp, actor, note, key)
		return events, nil
	}
	b.Queue(`INSERT INTO suppression_changes (address, time, action, cause, reason, expires, actor, note, record_key)
		SELECT a, t, ac, c, r, e, w, n, k FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
			$6::bigint[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY AS u(a, t, ac, c, r, e, w, n, k, o)
		ORDER BY o`, addr, at, action, cause, reason, exp, actor, note, key)
	return events, nil
}

// queueEvents queues the events of a transaction, last before its commit:
// the advisory lock orders them with every other transaction's.
func queueEvents(b *pgx.Batch, events []sqlstore.PendingEvent) {
	if len(events) == 0 {
		return
	}
	n := len(events)
	types, payloads, times := make([]string, 0, n), make([]string, 0, n), make([]int64, 0, n)
	for _, ev := range events {
		types, times, payloads = append(types, ev.Type), append(times, ev.Time), append(payloads, text(ev.Payload))
	}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, eventsLock)
	b.Queue(`INSERT INTO events (type, time, payload)
		SELECT ty, ti, p FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS u(ty, ti, p, o)
		ORDER BY o`, types, times, payloads)
}

// ClaimEndpoint takes or renews owner's lease on endpoint. The endpoint's
// row is locked for the check, so two instances cannot both take it.
func (s *Store) ClaimEndpoint(ctx context.Context, endpoint, owner string, now, until time.Time) (store.EndpointState, bool, error) {
	if endpoint == "" || owner == "" {
		return store.EndpointState{}, false, errors.New("postgres: ClaimEndpoint: endpoint and owner are required")
	}
	if err := s.checkOpen(); err != nil {
		return store.EndpointState{}, false, err
	}
	var st store.EndpointState
	var ok bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_endpoints (`+sqlstore.EndpointColumns+`)
			VALUES ($1, (SELECT coalesce(max(id), 0) FROM events), 0, 0, '', '', 0)
			ON CONFLICT (name) DO NOTHING`, endpoint); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET owner = $2, lease_until = $3
			WHERE name = $1 AND (owner = $2 OR owner = '' OR lease_until <= $4)`,
			endpoint, owner, sqlstore.UnixNano(until), sqlstore.UnixNano(now))
		if err != nil {
			return err
		}
		ok = tag.RowsAffected() == 1
		st, err = sqlstore.ScanEndpoint(tx.QueryRow(ctx, `SELECT `+sqlstore.EndpointColumns+` FROM webhook_endpoints WHERE name = $1`, endpoint))
		return err
	})
	if err != nil {
		return store.EndpointState{}, false, fmt.Errorf("postgres: claiming endpoint %s: %w", endpoint, err)
	}
	return st, ok, nil
}

// ReleaseEndpoint ends owner's lease on endpoint, if it holds it.
func (s *Store) ReleaseEndpoint(ctx context.Context, endpoint, owner string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE webhook_endpoints SET owner = '', lease_until = 0 WHERE name = $1 AND owner = $2`,
		endpoint, owner); err != nil {
		return fmt.Errorf("postgres: releasing endpoint %s: %w", endpoint, err)
	}
	return nil
}

// Advance records a delivery attempt while owner holds the lease.
func (s *Store) Advance(ctx context.Context, owner string, a store.DeliveryAttempt, next store.EndpointState) (bool, error) {
	if err := sqlstore.CheckAdvance(owner, a); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	t := a.Time
	if t.IsZero() {
		t = s.now()
	}
	errText := text(sqlstore.Truncate(a.Error, maxErrorText))
	var ok bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ok = false
		var holder string
		var lease int64
		err := tx.QueryRow(ctx, `SELECT owner, lease_until FROM webhook_endpoints WHERE name = $1 FOR UPDATE`, a.Endpoint).Scan(&holder, &lease)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if holder != owner || lease <= sqlstore.UnixNano(s.now()) {
			return nil
		}
		ok = true
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO webhook_deliveries (endpoint, event_id, time, attempt, status, error, duration, outcome, replay)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, a.Endpoint, a.EventID, sqlstore.UnixNano(t), a.Attempt, a.Status,
			errText, int64(a.Duration), a.Outcome, a.Replay)
		switch {
		case a.Replay && a.Outcome == store.OutcomeDelivered:
			b.Queue(`DELETE FROM webhook_dead WHERE endpoint = $1 AND event_id = $2`, a.Endpoint, a.EventID)
		case a.Replay && a.Outcome == store.OutcomeFailed:
			b.Queue(`UPDATE webhook_dead SET attempts = attempts + 1, last_error = $3 WHERE endpoint = $1 AND event_id = $2`,
				a.Endpoint, a.EventID, errText)
		case a.Replay:
			b.Queue(`UPDATE webhook_dead SET attempts = attempts + 1, last_error = $3, replay = false, time = $4
				WHERE endpoint = $1 AND event_id = $2`, a.Endpoint, a.EventID, errText, sqlstore.UnixNano(t))
		default:
			if a.Outcome == store.OutcomeDead {
				b.Queue(`INSERT INTO webhook_dead (endpoint, event_id, time, attempts, last_error, replay)
					VALUES ($1, $2, $3, $4, $5, false) ON CONFLICT (endpoint, event_id) DO UPDATE SET time = excluded.time,
					attempts = excluded.attempts, last_error = excluded.last_error, replay = false`,
					a.Endpoint, a.EventID, sqlstore.UnixNano(t), a.Attempt, errText)
			}
			b.Queue(`UPDATE webhook_endpoints SET last_event = $2, attempts = $3, next_attempt = $4, last_error = $5 WHERE name = $1`,
				a.Endpoint, next.Cursor, next.Attempts, sqlstore.UnixNano(next.NextAttempt), text(sqlstore.Truncate(next.LastError, maxErrorText)))
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return false, fmt.Errorf("postgres: recording delivery to %s: %w", a.Endpoint, err)
	}
	return ok, nil
}

// Replay asks for a dead letter to be delivered again.
func (s *Store) Replay(ctx context.Context, endpoint string, eventID int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE webhook_dead SET replay = true WHERE endpoint = $1 AND event_id = $2`, endpoint, eventID)
	if err != nil {
		return false, fmt.Errorf("postgres: replaying event %d to %s: %w", eventID, endpoint, err)
	}
	return tag.RowsAffected() == 1, nil
}

// PruneOutbox deletes the events older than before that every endpoint
// has passed, keeping those dead-lettered (a replay needs them), and the
// delivery log entries older than before.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	cut := sqlstore.UnixNano(before)
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE time < $1
			AND id <= (SELECT coalesce(min(last_event), (SELECT coalesce(max(id), 0) FROM events)) FROM webhook_endpoints)
			AND id NOT IN (SELECT event_id FROM webhook_dead)`, cut)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE time < $1`, cut)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: pruning the outbox: %w", err)
	}
	return n, nil
}

// SuppressionChanges lists the history of one address, newest first.
func (s *Store) SuppressionChanges(ctx context.Context, address string, limit int) ([]store.SuppressionChange, error) {
	addr, err := store.Address(address)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
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
