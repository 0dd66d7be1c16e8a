// Package store persists received messages, their bounce records and the
// suppression list, behind one interface with an embedded SQLite
// implementation (the default) and a PostgreSQL one.
//
// The backends live in their own packages (store/sqlite, store/postgres) and
// import this one for its types, so this package cannot import them. Open
// therefore takes the backends from its caller: Options.Backends maps a URL
// scheme to the backend's OpenFunc, and the command wires them, e.g.
//
//	store.Open(ctx, url, store.Options{Backends: map[string]store.OpenFunc{
//		"sqlite":   sqlite.Open,
//		"postgres": postgres.Open,
//	}})
//
// This keeps backends out of binaries that do not want them and leaves no
// package-level registry to mutate.
//
// Every backend keeps the same promises, checked by the conformance suite in
// store/storetest:
//
//   - Save returns only after the raw message, its envelope and its records
//     are committed durably; concurrent Saves are committed together (group
//     commit), and one failing message does not fail the others.
//   - The same content saved twice is stored once: the second Save reports
//     Duplicate and adds no records and no suppression strikes.
//   - Every newly stored record is scored by suppress.Policy.Apply in the
//     transaction that stores it, and every block record opens or extends an
//     incident for its destination.
//   - A record's Confidence and Evidence are stored as given and read back
//     as stored; records stored before the schema had them read back with
//     both empty, and an empty Confidence is treated as high (see Query).
//   - A record's Auth and its message's AuthResults are stored as given; a
//     record whose Auth does not count (record.Record CountsForSuppression)
//     is stored and listed, and changes no suppression.
//   - Registrations of sent messages and VERP tokens are idempotent: what
//     was stored first is kept.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/rebound-mail/rebound/record"
)

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("store: closed")

// ErrNotFound is returned when the requested message does not exist.
var ErrNotFound = errors.New("store: not found")

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
	// TruncatedRecipients counts the recipients the report named beyond
	// the decoder's limit (dsn.Limits.MaxRecipients): the message is stored
	// whole, with records for the first recipients only.
	TruncatedRecipients int
	// AuthResults says how the report was authenticated, in the style of
	// an Authentication-Results header field (RFC 8601 section 2.2), e.g.
	// "rebound; verp=pass key=k1; dkim=pass header.d=example.com"; ""
	// when it was not checked. Each record's Auth is the conclusion.
	AuthResults string
	// Relay queues a newly stored message for the relay upstream (see
	// RelayQueue), in the transaction that stores it; a Duplicate is not
	// queued again.
	Relay bool
}

// SaveResult tells what Save did with one message.
type SaveResult struct {
	MessageID int64
	// Duplicate is true when the same content was stored before; its
	// records were not stored a second time.
	Duplicate bool
}

// Query selects stored records. Zero fields do not restrict. Recipient and
// Domain match without regard to case; Since and Until bound the record's
// ReceivedAt as Since <= t < Until.
//
// Confidence record.ConfidenceHigh selects the records judged high and
// those without a confidence (stored before verdicts had one, or by a
// caller that did not judge it: the suppression policy treats them as
// high, see suppress.LowConfidence); record.ConfidenceLow selects all
// others. Any other value matches exactly.
//
// Records are listed by their ID, the order they were stored in: oldest
// first, or newest first with Newest. AfterID and BeforeID bound the ID
// (AfterID < id < BeforeID; zero does not restrict): the cursor of a paged
// listing.
type Query struct {
	Recipient  string
	Domain     string
	Reason     string
	Class      string
	Status     string // exact "5.1.1"; a class prefix "5" or "5.1" matches its children
	Confidence string
	// MessageID selects the records whose original message had this
	// Message-ID; angle brackets and space around it do not matter (see
	// MessageID).
	MessageID string
	Since     time.Time
	Until     time.Time
	Newest    bool
	AfterID   int64
	BeforeID  int64
	Limit     int // 0: no limit
}

// MessageQuery selects stored messages. Zero fields do not restrict.
type MessageQuery struct {
	// Unrecognized selects only messages stored with a ParseError.
	Unrecognized bool
	// Truncated selects only messages whose report named more recipients
	// than were recorded (TruncatedRecipients > 0).
	Truncated bool
	Since     time.Time
	Until     time.Time
	// Newest lists the newest first (and, with Limit, the newest N).
	Newest bool
	Limit  int // 0: no limit
}

// Store is implemented by every storage backend. Implementations are safe
// for concurrent use.
type Store interface {
	// Save stores the raw message, its envelope and its records durably, in
	// one transaction: when it returns nil, the data survives a crash.
	// Concurrent calls may be committed together (group commit). Save sets
	// m.ID. A zero m.ReceivedAt is taken from the store's clock, and a
	// record's zero ReceivedAt from the message. Records of a message with
	// ParseError set are ignored. On error nothing of m is stored, except
	// when ctx ended first: the message may then still be committed, and
	// the caller's retry finds it a Duplicate. After Close, Save and the
	// other writes fail with ErrClosed. m.Raw may be memory released once
	// Save returns (a mapped spool file): a store copies what it keeps of
	// it before returning, even when ctx ended first.
	Save(ctx context.Context, m *Message) (SaveResult, error)
	// Records lists stored records, oldest first (newest first with
	// q.Newest), each with its ID and MessageID set.
	Records(ctx context.Context, q Query) ([]record.Record, error)
	// Record returns one stored record by ID, or ErrNotFound.
	Record(ctx context.Context, id int64) (*record.Record, error)

	// Suppression returns the suppression of address in force at now, or
	// nil when the address is not suppressed.
	Suppression(ctx context.Context, address string, now time.Time) (*Suppression, error)
	// Suppressions lists the suppressions in force at now, by address.
	Suppressions(ctx context.Context, now time.Time) ([]Suppression, error)
	// ListSuppressions lists the suppressions in force at q.Now that q
	// selects, by address: one page of a paged listing.
	ListSuppressions(ctx context.Context, q SuppressionQuery) ([]Suppression, error)
	// CheckSuppressions returns the suppressions in force at now among
	// addresses (normalized as Suppression does; an address that does not
	// normalize is an error naming it), in the order of addresses, one per
	// suppressed address.
	CheckSuppressions(ctx context.Context, addresses []string, now time.Time) ([]Suppression, error)
	// SuppressionCounts counts the suppressions in force at now by cause.
	SuppressionCounts(ctx context.Context, now time.Time) (map[string]int64, error)
	// AddSuppression suppresses an address by hand (Cause manual unless
	// set); s.Actor and s.Note say who asked and why, and are kept in the
	// address's history (SuppressionChanges).
	AddSuppression(ctx context.Context, s Suppression) error
	// RemoveSuppression lifts the suppression of address and resets its
	// soft-bounce count; it reports whether there was one. by says who
	// lifted it and why, kept in the address's history.
	RemoveSuppression(ctx context.Context, address string, by Actor) (bool, error)
	// SuppressionChanges lists the history of one address's suppression,
	// newest first: every time it was suppressed, its cause changed, or it
	// was lifted, by the policy or by hand. limit 0: all.
	SuppressionChanges(ctx context.Context, address string, limit int) ([]SuppressionChange, error)
	// Incidents lists sending-side incidents, newest first; open ones only
	// when openOnly. Open is computed at now.
	Incidents(ctx context.Context, openOnly bool, now time.Time) ([]Incident, error)
	// Stats counts the records q selects in time buckets, by one
	// dimension (class, reason or destination domain).
	Stats(ctx context.Context, q StatsQuery) ([]StatsCount, error)
	// Overview counts the records received in q's range by class, in
	// buckets, and lists the top reasons, recipient domains and providers.
	// It reads rollups kept in the transaction of each Save, never the
	// records: its cost does not grow with their number, and it keeps
	// counting records that retention pruned (PruneRecords). An invalid
	// query is an error saying what is wrong.
	Overview(ctx context.Context, q OverviewQuery) (*Overview, error)
	// Ready reports whether the store is reachable and its schema is the
	// one this build expects; nil when both hold.
	Ready(ctx context.Context) error

	// Outbox is the webhook outbox and delivery state (see Outbox).
	Outbox
	// RelayQueue is the queue of messages to forward (see RelayQueue).
	// Retention never prunes a message still queued in it.
	RelayQueue

	// Messages lists stored messages, oldest first, with their envelope but
	// without Raw and Records (use Message for those).
	Messages(ctx context.Context, q MessageQuery) ([]Message, error)
	// Message returns one stored message with its raw bytes and records, or
	// ErrNotFound.
	Message(ctx context.Context, id int64) (*Message, error)

	// RegisterSent stores messages the sender's application sent, one
	// Sent per recipient, in one transaction, and returns how many pairs
	// of Message-ID and recipient were new. It is idempotent: a pair
	// registered before keeps its first row (SentAt included), and takes
	// the Campaign and Tenant given when they are not empty. Message-IDs
	// are kept as MessageID has them, recipients as Address does; an
	// empty Message-ID or a recipient that is no address is an error
	// naming it, and nothing is stored. A zero SentAt is the store's
	// clock. At most MaxRegister at once.
	RegisterSent(ctx context.Context, sent []Sent) (int, error)
	// SentTo returns the registrations of messageID (as MessageID has it:
	// angle brackets and spaces around it do not matter), by recipient;
	// none is an empty slice and a nil error.
	SentTo(ctx context.Context, messageID string) ([]Sent, error)
	// PruneSent deletes the registrations sent before before and returns
	// how many.
	PruneSent(ctx context.Context, before time.Time) (int64, error)
	// PruneRaw deletes the raw bytes of the messages received before
	// before and returns how many messages lost them. Their envelope and
	// records are kept, and so is their content hash: the same message
	// sent again is still a Duplicate. Message then returns such a message
	// with an empty (zero-length, non-nil) Raw; a stored message is never
	// empty otherwise. The messages whose records are evidence of a
	// suppression in force, or of soft bounces counted toward one (the
	// record keys of suppression states, see RecordKey), keep their bytes.
	// Deletes run in chunks, so that saves go on meanwhile.
	PruneRaw(ctx context.Context, before time.Time) (int64, error)
	// PruneRecords deletes the messages received before before, with their
	// records, and returns how many messages. It keeps what PruneRaw keeps:
	// a message any of whose records is evidence of a suppression in force
	// or of counted soft bounces is kept whole. Suppression states,
	// their history, incidents and the rollups Overview reads are not
	// touched. Deletes run in chunks.
	// Neither method touches a message still queued for relaying
	// (RelayQueued); a message whose item was sent or failed goes with
	// its item.
	PruneRecords(ctx context.Context, before time.Time) (int64, error)
	// PutVERPToken keeps the address behind a VERP token (package verp),
	// with the store's clock as its creation time. It is idempotent: a
	// token stored before keeps its first address.
	PutVERPToken(ctx context.Context, token, address string) error
	// VERPToken returns the address behind token, or "" and a nil error
	// when the token is unknown.
	VERPToken(ctx context.Context, token string) (string, error)

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
	// LowConfidence lists the keys of Evidence that were hard bounces with
	// low confidence (see suppress.State).
	LowConfidence []string `json:"low_confidence,omitempty"`
	// Actor and Note are who suppressed the address by hand and why; only
	// read by AddSuppression, which keeps them in the history.
	Actor string `json:"-"`
	Note  string `json:"-"`
}

// Actor is who made a change and why.
type Actor struct {
	Who string // "policy" for the suppression policy; a token name, "cli:USER", ...
	Why string // the note given with the change
}

// Actors of changes made by Rebound itself.
const (
	ActorPolicy = "policy" // the suppression policy scoring a record
)

// Actions of a SuppressionChange.
const (
	ChangeSuppressed = "suppressed" // the address became suppressed, or its cause changed
	ChangeLifted     = "lifted"     // the suppression was lifted
)

// SuppressionChange is one entry of an address's suppression history.
type SuppressionChange struct {
	ID      int64     `json:"id"`
	Address string    `json:"address"`
	Time    time.Time `json:"time"`
	Action  string    `json:"action"` // Change* value
	Cause   string    `json:"cause,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Actor   string    `json:"actor"`          // Actor.Who
	Note    string    `json:"note,omitempty"` // Actor.Why
	// RecordKey is the record whose scoring made the change, for changes
	// by the policy.
	RecordKey string `json:"record_key,omitempty"`
}

// SuppressionQuery selects suppressions in force. Zero fields do not
// restrict.
type SuppressionQuery struct {
	Now    time.Time // when the suppression must be in force; zero: the store's clock
	Domain string    // the address's domain, without regard to case
	Cause  string    // suppress.Cause* value
	After  string    // only addresses sorting after this one: the cursor of a paged listing
	Limit  int       // 0: no limit
}

// StatsQuery selects the records Stats counts.
type StatsQuery struct {
	Since, Until time.Time     // required: Since <= ReceivedAt < Until
	Bucket       time.Duration // width of a bucket, from Since; > 0
	By           string        // Stats* dimension
	Class        string        // zero fields do not restrict
	Domain       string
	Reason       string
}

// Dimensions of StatsQuery.By.
const (
	StatsByClass  = "class"
	StatsByReason = "reason"
	StatsByDomain = "domain" // the recipient's domain
)

// StatsCount is the number of records with one value of the dimension in
// one bucket. Buckets without records are left out.
type StatsCount struct {
	Start time.Time `json:"start"` // the bucket's start
	Key   string    `json:"key"`   // the class, reason or domain
	Count int64     `json:"count"`
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
	// Recipients counts the distinct recipient addresses among the
	// incident's block records.
	Recipients int  `json:"recipients"`
	Open       bool `json:"open"`
}

// OverviewQuery selects what Overview counts.
type OverviewQuery struct {
	// Since and Until bound the records' ReceivedAt as Since <= t < Until;
	// both are required, on whole hours (UTC), and Since < Until.
	Since, Until time.Time
	// Bucket is time.Hour, or 24*time.Hour: days from 00:00 UTC, and then
	// Since and Until are on whole days.
	Bucket time.Duration
	Top    int // entries of each top list; 0: DefaultOverviewTop
}

// DefaultOverviewTop is the length of the top lists of an OverviewQuery
// without Top; MaxOverviewTop bounds it, and MaxOverviewBuckets the
// buckets of one range (a year of hours).
const (
	DefaultOverviewTop = 10
	MaxOverviewTop     = 10000
	MaxOverviewBuckets = 366 * 24
)

// OverviewBucket is the number of records by class in one bucket.
type OverviewBucket struct {
	Start  time.Time        `json:"start"`
	Counts map[string]int64 `json:"counts"` // records by class; classes without records left out
}

// TopEntry is one entry of a top list of an Overview.
type TopEntry struct {
	Key    string           `json:"key"` // the reason, domain or provider
	Total  int64            `json:"total"`
	Counts map[string]int64 `json:"counts"` // by class
}

// Overview is what Overview counts: every record received in the range,
// whatever its class (delivered and unknown too).
type Overview struct {
	Since     time.Time        `json:"since"`
	Until     time.Time        `json:"until"`
	Buckets   []OverviewBucket `json:"buckets"`   // every bucket of the range, in order, empty ones included
	Totals    map[string]int64 `json:"totals"`    // by class over the range
	Reasons   []TopEntry       `json:"reasons"`   // Total descending, then Key
	Domains   []TopEntry       `json:"domains"`   // recipient domains ("" for a record without one)
	Providers []TopEntry       `json:"providers"` // see OverviewProvider
}
