package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// Change returns the entry of an address's history that going from prev to
// next makes, if any: the address became suppressed or changed cause
// (suppressed), or stopped being suppressed (lifted). A change by hand that
// gives a suppression a new reason or expiry is history too; the policy's
// own refreshes (a later expiry, a soft count) are not.
func Change(prev, next suppress.State, at time.Time, by store.Actor, recordKey string) (store.SuppressionChange, bool) {
	c := store.SuppressionChange{Address: next.Address, Time: at.UTC(), Actor: by.Who, Note: by.Why, RecordKey: recordKey}
	if c.Actor == "" {
		c.Actor = "unknown"
	}
	switch {
	case next.Suppressed && (!prev.Suppressed || prev.Cause != next.Cause ||
		by.Who != store.ActorPolicy && (prev.Reason != next.Reason || !prev.Expires.Equal(next.Expires))):
		c.Action = store.ChangeSuppressed
		c.Cause, c.Reason, c.Expires = next.Cause, next.Reason, next.Expires
	case prev.Suppressed && !next.Suppressed:
		c.Action = store.ChangeLifted
		c.Cause, c.Reason = prev.Cause, prev.Reason
	default:
		return c, false
	}
	return c, true
}

// PendingEvent is an event before the store numbers it.
type PendingEvent struct {
	Type    string
	Time    int64 // UnixNano
	Payload string
}

// RecordEvent is the record.created event of a stored record, whose ID
// and MessageID are set.
func RecordEvent(r *record.Record) (PendingEvent, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return PendingEvent{}, fmt.Errorf("encoding event of record %d: %w", r.ID, err)
	}
	return PendingEvent{Type: store.EventRecordCreated, Time: UnixNano(r.ReceivedAt), Payload: string(b)}, nil
}

// SuppressionEvent is the event of one history entry; next is the state
// the change left.
func SuppressionEvent(c store.SuppressionChange, next suppress.State) (PendingEvent, error) {
	payload := struct {
		Change      store.SuppressionChange `json:"change"`
		Suppression *store.Suppression      `json:"suppression"`
	}{Change: c}
	typ := store.EventSuppressionLifted
	if c.Action == store.ChangeSuppressed {
		typ = store.EventSuppressionAdded
		sup := SuppressionOf(next)
		payload.Suppression = &sup
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return PendingEvent{}, fmt.Errorf("encoding event of %s: %w", c.Address, err)
	}
	return PendingEvent{Type: typ, Time: UnixNano(c.Time), Payload: string(b)}, nil
}

// IncidentEvent is the event of an incident opened (opened) or extended by
// a block.
func IncidentEvent(in store.Incident, opened bool) (PendingEvent, error) {
	in.Open = true
	// The distinct recipients are counted when incidents are listed, not
	// as each block is saved: the event leaves the member out rather than
	// carry a count it does not know.
	b, err := json.Marshal(struct {
		store.Incident
		Recipients int `json:"recipients,omitempty"`
	}{Incident: in})
	if err != nil {
		return PendingEvent{}, fmt.Errorf("encoding event of incident %d: %w", in.ID, err)
	}
	typ := store.EventIncidentUpdated
	if opened {
		typ = store.EventIncidentOpened
	}
	return PendingEvent{Type: typ, Time: UnixNano(in.LastSeen), Payload: string(b)}, nil
}

// Columns of the outbox tables, in the order the scanners below read them.
const (
	EventColumns      = `id, type, time, payload`
	ChangeColumns     = `id, address, time, action, cause, reason, expires, actor, note, record_key`
	EndpointColumns   = `name, last_event, attempts, next_attempt, last_error, owner, lease_until`
	DeliveryColumns   = `id, endpoint, event_id, time, attempt, status, error, duration, outcome, replay`
	DeadLetterColumns = `d.endpoint, d.event_id, coalesce(e.type, ''), d.time, d.attempts, d.last_error, d.replay`
	// DeadLetterFrom joins a dead letter to its event, which pruning may
	// have removed.
	DeadLetterFrom = ` FROM webhook_dead AS d LEFT JOIN events AS e ON e.id = d.event_id`
)

// CollectEvents reads rows of EventColumns.
func CollectEvents(rows Rows) ([]store.Event, error) {
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var t int64
		var payload string
		if err := rows.Scan(&e.ID, &e.Type, &t, &payload); err != nil {
			return nil, fmt.Errorf("reading event: %w", err)
		}
		e.Time, e.Payload = FromUnixNano(t), json.RawMessage(payload)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CollectChanges reads rows of ChangeColumns.
func CollectChanges(rows Rows) ([]store.SuppressionChange, error) {
	var out []store.SuppressionChange
	for rows.Next() {
		var c store.SuppressionChange
		var t, exp int64
		if err := rows.Scan(&c.ID, &c.Address, &t, &c.Action, &c.Cause, &c.Reason, &exp, &c.Actor, &c.Note, &c.RecordKey); err != nil {
			return nil, fmt.Errorf("reading suppression change: %w", err)
		}
		c.Time, c.Expires = FromUnixNano(t), FromUnixNano(exp)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ScanEndpoint reads a row of EndpointColumns.
func ScanEndpoint(row Scanner) (store.EndpointState, error) {
	var st store.EndpointState
	var next, lease int64
	var attempts int64
	err := row.Scan(&st.Endpoint, &st.Cursor, &attempts, &next, &st.LastError, &st.Owner, &lease)
	st.Attempts, st.NextAttempt, st.LeaseUntil = int(attempts), FromUnixNano(next), FromUnixNano(lease)
	return st, err
}

// CollectEndpoints reads rows of EndpointColumns.
func CollectEndpoints(rows Rows) ([]store.EndpointState, error) {
	var out []store.EndpointState
	for rows.Next() {
		st, err := ScanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("reading endpoint state: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// CollectDeliveries reads rows of DeliveryColumns.
func CollectDeliveries(rows Rows) ([]store.DeliveryAttempt, error) {
	var out []store.DeliveryAttempt
	for rows.Next() {
		var a store.DeliveryAttempt
		var t, d, attempt, status int64
		if err := rows.Scan(&a.ID, &a.Endpoint, &a.EventID, &t, &attempt, &status, &a.Error, &d, &a.Outcome, &a.Replay); err != nil {
			return nil, fmt.Errorf("reading delivery: %w", err)
		}
		a.Time, a.Duration, a.Attempt, a.Status = FromUnixNano(t), time.Duration(d), int(attempt), int(status)
		out = append(out, a)
	}
	return out, rows.Err()
}

// CollectDeadLetters reads rows of DeadLetterColumns.
func CollectDeadLetters(rows Rows) ([]store.DeadLetter, error) {
	var out []store.DeadLetter
	for rows.Next() {
		var d store.DeadLetter
		var t, attempts int64
		if err := rows.Scan(&d.Endpoint, &d.EventID, &d.Type, &t, &attempts, &d.LastError, &d.Replay); err != nil {
			return nil, fmt.Errorf("reading dead letter: %w", err)
		}
		d.Time, d.Attempts = FromUnixNano(t), int(attempts)
		out = append(out, d)
	}
	return out, rows.Err()
}

// CheckAdvance checks what Advance is given.
func CheckAdvance(owner string, a store.DeliveryAttempt) error {
	switch {
	case owner == "":
		return fmt.Errorf("advance: no owner")
	case a.Endpoint == "":
		return fmt.Errorf("advance: no endpoint")
	case a.Outcome != store.OutcomeDelivered && a.Outcome != store.OutcomeFailed && a.Outcome != store.OutcomeDead:
		return fmt.Errorf("advance: outcome %q: want delivered, failed or dead", a.Outcome)
	}
	return nil
}

// Truncate cuts an error text kept in the delivery state to n bytes, at a
// UTF-8 boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// SuppressionChanges lists the history of one (normalized) address,
// newest first.
func (r *Reads) SuppressionChanges(ctx context.Context, address string, limit int) ([]store.SuppressionChange, error) {
	return list(ctx, r, "history", CollectChanges, `SELECT `+ChangeColumns+` FROM suppression_changes
		WHERE address = `+r.Queries.Placeholders.Param(1)+` ORDER BY id DESC`+Limit(limit), address)
}

// Events lists the events after after, oldest first.
func (r *Reads) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%s: Events: limit must be positive", r.Backend)
	}
	return list(ctx, r, "events", CollectEvents, `SELECT `+EventColumns+` FROM events
		WHERE id > `+r.Queries.Placeholders.Param(1)+` ORDER BY id`+Limit(limit), after)
}

// Event returns one event, or store.ErrNotFound.
func (r *Reads) Event(ctx context.Context, id int64) (*store.Event, error) {
	evs, err := list(ctx, r, "event", CollectEvents, `SELECT `+EventColumns+` FROM events
		WHERE id = `+r.Queries.Placeholders.Param(1), id)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, store.ErrNotFound
	}
	return &evs[0], nil
}

// NewestEvent is the ID of the newest event, 0 when there is none.
func (r *Reads) NewestEvent(ctx context.Context) (int64, error) {
	ids, err := list(ctx, r, "the newest event", collectInt, `SELECT coalesce(max(id), 0) FROM events`)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return ids[0], nil
}

func collectInt(rows Rows) ([]int64, error) {
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Endpoints lists the state of every endpoint known to the store.
func (r *Reads) Endpoints(ctx context.Context) ([]store.EndpointState, error) {
	return list(ctx, r, "endpoints", CollectEndpoints, `SELECT `+EndpointColumns+` FROM webhook_endpoints ORDER BY name`)
}

// Deliveries lists an endpoint's delivery log, newest first.
func (r *Reads) Deliveries(ctx context.Context, endpoint string, limit int) ([]store.DeliveryAttempt, error) {
	return list(ctx, r, "deliveries", CollectDeliveries, `SELECT `+DeliveryColumns+` FROM webhook_deliveries
		WHERE endpoint = `+r.Queries.Placeholders.Param(1)+` ORDER BY id DESC`+Limit(limit), endpoint)
}

// DeadLetters lists an endpoint's dead letters, oldest first; only those
// whose replay was asked when replayOnly.
func (r *Reads) DeadLetters(ctx context.Context, endpoint string, replayOnly bool, limit int) ([]store.DeadLetter, error) {
	cond := ""
	if replayOnly {
		cond = " AND d.replay"
	}
	return list(ctx, r, "dead letters", CollectDeadLetters, `SELECT `+DeadLetterColumns+DeadLetterFrom+
		` WHERE d.endpoint = `+r.Queries.Placeholders.Param(1)+cond+` ORDER BY d.event_id`+Limit(limit), endpoint)
}
