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
	// Close waits for in-flight saves and releases the store.
	Close() error
}
