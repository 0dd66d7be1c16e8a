// Package store persists received messages, their bounce records and the
// suppression list, behind one interface with an embedded SQLite
// implementation (the default) and a PostgreSQL one.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/rebound-mail/rebound/record"
)

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("store: closed")

// Message is one received message with its envelope and the records decoded
// from it.
type Message struct {
	ID         int64 // assigned by Save
	ReceivedAt time.Time
	Source     string   // input path, or "smtp" / "lmtp" / "milter"
	RemoteAddr string   // SMTP client address, when received by SMTP
	Helo       string   // SMTP HELO/EHLO name
	MailFrom   string   // envelope sender ("" for the null sender)
	RcptTo     []string // envelope recipients
	Raw        []byte   // the message as received
	// ParseError is set when the message could not be decoded; it is then
	// stored as unrecognized, with no records.
	ParseError string
	Format     string // decoder that read it, "" when not a bounce
	Records    []record.Record
}

// SaveResult tells what Save did with one message.
type SaveResult struct {
	MessageID int64
	// Duplicate is true when the same content was stored before; its
	// records were not stored a second time.
	Duplicate bool
}

// Query selects stored records. Zero fields do not restrict.
type Query struct {
	Recipient string
	Domain    string
	Reason    string
	Class     string
	Since     time.Time
	Until     time.Time
	Limit     int // 0: no limit
}

// Store is implemented by every storage backend. Implementations are safe
// for concurrent use.
type Store interface {
	// Save stores the raw message, its envelope and its records durably, in
	// one transaction: when it returns nil, the data survives a crash.
	// Concurrent calls may be committed together (group commit).
	Save(ctx context.Context, m *Message) (SaveResult, error)
	// Records lists stored records, oldest first.
	Records(ctx context.Context, q Query) ([]record.Record, error)

	// Suppression returns the suppression of address in force at now, or
	// nil when the address is not suppressed.
	Suppression(ctx context.Context, address string, now time.Time) (*Suppression, error)
	// Suppressions lists the suppressions in force at now, by address.
	Suppressions(ctx context.Context, now time.Time) ([]Suppression, error)
	// AddSuppression suppresses an address by hand (Cause manual unless set).
	AddSuppression(ctx context.Context, s Suppression) error
	// RemoveSuppression lifts the suppression of address and resets its
	// soft-bounce count; it reports whether there was one.
	RemoveSuppression(ctx context.Context, address string) (bool, error)
	// Incidents lists sending-side incidents, newest first; open ones only
	// when openOnly. Open is computed at now.
	Incidents(ctx context.Context, openOnly bool, now time.Time) ([]Incident, error)

	// Close waits for in-flight saves and releases the store.
	Close() error
}

// Suppression is one suppressed address with its cause and evidence.
type Suppression struct {
	Address  string    `json:"address"`
	Cause    string    `json:"cause"`  // suppress.Cause* value
	Reason   string    `json:"reason"` // bounce reason, or the text given by hand
	Since    time.Time `json:"since"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	Evidence []string  `json:"evidence,omitempty"`
}

// Incident is a sending-side problem: blocks from one destination for one
// code. It stays open while blocks keep coming.
type Incident struct {
	ID        int64     `json:"id"`
	Domain    string    `json:"domain"` // recipient domain or provider
	Status    string    `json:"status"`
	Reason    string    `json:"reason"`
	Sample    string    `json:"sample"` // one diagnostic text
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Count     int       `json:"count"` // block records
	Open      bool      `json:"open"`
}
