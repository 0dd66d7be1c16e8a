package store

import (
	"context"
	"time"
)

// States of a RelayItem.
const (
	RelayQueued = "queued" // waiting for its next attempt
	RelaySent   = "sent"   // the upstream accepted it
	RelayFailed = "failed" // given up: refused for good or out of attempts
)

// RelayStates lists every state, for validating filters.
var RelayStates = []string{RelayQueued, RelaySent, RelayFailed}

// RelayItem is one message of the relay queue: mail to a bounce domain that
// was no report (a person answering the Return-Path), stored and queued
// for the upstream by Save (Message.Relay).
type RelayItem struct {
	MessageID  int64     `json:"message_id"`
	ReceivedAt time.Time `json:"received_at"`
	MailFrom   string    `json:"mail_from"` // "" for the null sender
	RcptTo     []string  `json:"rcpt_to"`
	// Raw is the message as received; set by ClaimRelay only.
	Raw         []byte    `json:"-"`
	State       string    `json:"state"` // Relay* value
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // of a queued item
	LastError   string    `json:"last_error,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// RelayQuery selects relay items by message ID, oldest first. Zero fields
// do not restrict.
type RelayQuery struct {
	State   string // Relay* value
	AfterID int64  // only message IDs above it: the cursor of a paged listing
	Limit   int    // 0: no limit
}

// RelayQueue is the durable queue of messages to forward to the relay
// upstream. An item is inserted by Save in the transaction that stores its
// message, so a message answered 250 is never lost from the queue. Several
// instances may forward from one store: ClaimRelay leases the items it
// returns, so two never send the same item at once.
//
// Retention (PruneRaw, PruneRecords) must leave a message whose item is
// queued whole; an item that is sent or failed goes with its message.
type RelayQueue interface {
	// ClaimRelay returns at most limit queued items due at now
	// (NextAttempt <= now) that no lease holds, with their raw bytes,
	// and leases them to owner until now+lease; the earliest due first.
	ClaimRelay(ctx context.Context, owner string, lease time.Duration, now time.Time, limit int) ([]RelayItem, error)
	// RelayDone marks an item sent and counts its attempt.
	RelayDone(ctx context.Context, messageID int64) error
	// RelayRetry counts a failed attempt of an item, keeps its error and
	// makes it due again at nextAttempt; its lease ends.
	RelayRetry(ctx context.Context, messageID int64, nextAttempt time.Time, lastError string) error
	// RelayFailed counts a last failed attempt of an item and gives it up,
	// keeping its error.
	RelayFailed(ctx context.Context, messageID int64, lastError string) error
	// RelayItems lists the items q selects, without Raw. An unknown
	// q.State is an error.
	RelayItems(ctx context.Context, q RelayQuery) ([]RelayItem, error)
}
