package store

import (
	"context"
	"encoding/json"
	"time"
)

// Event types written to the outbox. The payload of each is JSON:
//
//   - record.created: the record (record.Record, with its id and
//     message_id);
//   - suppression.added, suppression.lifted: {"change": SuppressionChange,
//     "suppression": Suppression} (suppression null once lifted);
//   - incident.opened, incident.updated: the Incident.
const (
	EventRecordCreated     = "record.created"
	EventSuppressionAdded  = "suppression.added"
	EventSuppressionLifted = "suppression.lifted"
	EventIncidentOpened    = "incident.opened"
	EventIncidentUpdated   = "incident.updated"
)

// EventTypes lists every event type, for validating filters.
var EventTypes = []string{EventRecordCreated, EventSuppressionAdded, EventSuppressionLifted,
	EventIncidentOpened, EventIncidentUpdated}

// Event is one entry of the outbox, written in the transaction of the
// change it tells of (Options.Outbox), so that a rolled-back change has no
// event and a committed one cannot lose its event. IDs grow in commit
// order: an event with a lower ID is never committed after one with a
// higher ID, so a cursor never skips one.
type Event struct {
	ID      int64           `json:"id"`
	Type    string          `json:"type"`
	Time    time.Time       `json:"timestamp"`
	Payload json.RawMessage `json:"data"`
}

// EndpointState is the delivery state of one webhook endpoint, shared by
// every instance delivering from the store.
type EndpointState struct {
	Endpoint string `json:"endpoint"` // the endpoint's name in the configuration
	// Cursor is the last event done with: delivered, skipped by the
	// endpoint's filter, or dead-lettered.
	Cursor      int64     `json:"cursor"`
	Attempts    int       `json:"attempts"`              // failed attempts of the event after Cursor
	NextAttempt time.Time `json:"next_attempt,omitzero"` // no attempt before this
	LastError   string    `json:"last_error,omitempty"`  // of the last failed attempt
	Owner       string    `json:"owner,omitempty"`       // the instance holding the lease
	LeaseUntil  time.Time `json:"lease_until,omitzero"`  // the lease ends then unless renewed
}

// Outcomes of a delivery attempt.
const (
	OutcomeDelivered = "delivered" // the receiver answered 2xx
	OutcomeFailed    = "failed"    // it will be tried again
	OutcomeDead      = "dead"      // out of attempts: moved to the dead letters
)

// DeliveryAttempt is one entry of an endpoint's delivery log.
type DeliveryAttempt struct {
	ID       int64         `json:"id"`
	Endpoint string        `json:"endpoint"`
	EventID  int64         `json:"event_id"`
	Time     time.Time     `json:"time"`
	Attempt  int           `json:"attempt"`          // 1 for the first
	Status   int           `json:"status,omitempty"` // HTTP status; 0 when there was no answer
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	Outcome  string        `json:"outcome"` // Outcome* value
	// Replay is set for the delivery of a dead letter asked again.
	Replay bool `json:"replay,omitempty"`
}

// DeadLetter is an event an endpoint failed to take within its attempts.
type DeadLetter struct {
	Endpoint  string    `json:"endpoint"`
	EventID   int64     `json:"event_id"`
	Type      string    `json:"type"`
	Time      time.Time `json:"time"` // when it was dead-lettered
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	// Replay is set when a replay was asked and has not succeeded yet.
	Replay bool `json:"replay"`
}

// Outbox is the webhook side of a store: the events and the delivery state
// of each endpoint. Instances delivering from one store share it; the lease
// of ClaimEndpoint makes one instance at a time deliver to an endpoint, so
// that each event is delivered once per endpoint between them and in order.
type Outbox interface {
	// ClaimEndpoint takes, or renews, owner's lease on endpoint until
	// until. It creates the endpoint's state at first use with its Cursor
	// at the newest event: events written before an endpoint existed are
	// not delivered to it. ok is false, with the state, when another owner
	// holds a lease that has not ended at now.
	ClaimEndpoint(ctx context.Context, endpoint, owner string, now, until time.Time) (st EndpointState, ok bool, err error)
	// ReleaseEndpoint ends owner's lease on endpoint, if it holds it.
	ReleaseEndpoint(ctx context.Context, endpoint, owner string) error
	// Events lists the events with ID > after, oldest first, at most limit
	// (> 0).
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
	// Event returns one event, or ErrNotFound.
	Event(ctx context.Context, id int64) (*Event, error)
	// Advance records a delivery attempt, only while owner holds the lease
	// (ok false otherwise, and nothing is written): it appends a to the
	// delivery log and sets the endpoint's Cursor, Attempts, NextAttempt
	// and LastError to those of next. An attempt with Outcome dead adds
	// its event to the dead letters. An attempt with Replay set is the
	// delivery of a dead letter: delivered removes it, failed and dead
	// keep it (dead clears its Replay); next is then ignored.
	Advance(ctx context.Context, owner string, a DeliveryAttempt, next EndpointState) (ok bool, err error)
	// Endpoints lists the state of every endpoint known to the store.
	Endpoints(ctx context.Context) ([]EndpointState, error)
	// Deliveries lists an endpoint's delivery log, newest first; limit 0:
	// all.
	Deliveries(ctx context.Context, endpoint string, limit int) ([]DeliveryAttempt, error)
	// DeadLetters lists an endpoint's dead letters, oldest first; only
	// those whose replay was asked when replayOnly; limit 0: all.
	DeadLetters(ctx context.Context, endpoint string, replayOnly bool, limit int) ([]DeadLetter, error)
	// Replay asks for a dead letter to be delivered again; false when the
	// endpoint has no such dead letter.
	Replay(ctx context.Context, endpoint string, eventID int64) (bool, error)
	// NewestEvent is the ID of the newest event, 0 when there is none.
	NewestEvent(ctx context.Context) (int64, error)
	// PruneOutbox deletes the events older than before that every
	// endpoint's cursor has passed, and delivery log entries older than
	// before; it returns how many events it deleted.
	PruneOutbox(ctx context.Context, before time.Time) (int64, error)
}
