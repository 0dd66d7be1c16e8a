// Package suppress decides, from an address's bounce history, whether the
// sender should stop mailing it, and turns blocks into sending-side
// incidents. It is pure logic: stores call Apply inside the transaction that
// saves the records, so a record is scored exactly once.
package suppress

import (
	"time"

	"github.com/rebound-mail/rebound/record"
)

// Causes of a suppression.
const (
	CauseHard      = "hard"
	CauseComplaint = "complaint"
	CauseSoft      = "soft"
	CauseManual    = "manual"
)

// Policy configures the engine.
type Policy struct {
	SoftThreshold   int           // soft bounces within SoftWindow that suppress (default 5)
	SoftWindow      time.Duration // default 14 days
	HardExpiry      time.Duration // 0: never expires (default)
	SoftExpiry      time.Duration // default 30 days
	ComplaintExpiry time.Duration // 0: never expires (default)
	// IncidentQuiet closes an incident after this long without a block (default 1h).
	IncidentQuiet time.Duration
}

// DefaultPolicy is the policy of a store opened without one.
var DefaultPolicy = Policy{
	SoftThreshold: 5,
	SoftWindow:    14 * 24 * time.Hour,
	SoftExpiry:    30 * 24 * time.Hour,
	IncidentQuiet: time.Hour,
}

// State is what the engine keeps per address (lower-cased).
type State struct {
	Address     string
	SoftCount   int       // soft bounces inside the current window
	WindowStart time.Time // first soft bounce of the current window
	LastBounce  time.Time

	Suppressed bool
	Cause      string    // Cause* value when suppressed
	Reason     string    // bounce reason, or the text given by hand
	Since      time.Time // when suppressed
	Expires    time.Time // zero: never
	Evidence   []string  // keys of the records that caused it
}

// Apply scores one newly stored record against the previous state of its
// address and returns the next state. key identifies the record (it is kept
// as evidence). now is the record's received time.
func (p Policy) Apply(prev State, rec *record.Record, key string, now time.Time) State {
	panic("suppress: not built yet")
}
