// Package suppress decides, from an address's bounce history, whether the
// sender should stop mailing it, and turns blocks into sending-side
// incidents. It is pure logic: stores call Apply inside the transaction that
// saves the records, so a record is scored exactly once.
//
// A hard bounce suppresses at once only when its verdict is sure: one with
// low confidence (record.ConfidenceLow) counts like a soft bounce unless
// Policy.LowConfidenceHard says otherwise, and the state marks the evidence
// it left (State.LowConfidence).
//
// Only records that count (record.Record.CountsForSuppression) change a
// state: a report not proven to concern mail the sender sent is stored and
// never suppresses, nor lifts a suppression.
package suppress

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/record"
)

// Causes of a suppression.
const (
	CauseHard      = "hard"
	CauseComplaint = "complaint"
	CauseSoft      = "soft"
	CauseManual    = "manual"
)

// Treatments of a hard bounce whose verdict has low confidence
// (record.ConfidenceLow), the values of Policy.LowConfidenceHard. A hard
// verdict read from weak or contradictory evidence (a reply phrase against
// its status code, a guessed MTA profile) is the one that throws away a
// good subscriber when it is wrong, so by default it is not trusted to
// suppress on its own.
const (
	// LowConfidenceSoft counts it like a soft bounce: repeated ones
	// inside the soft window suppress, one alone does not. The default.
	LowConfidenceSoft = "soft"
	// LowConfidenceSuppress suppresses at once, like any hard bounce.
	LowConfidenceSuppress = "suppress"
	// LowConfidenceIgnore leaves the address's state as it was: the
	// record is stored and listed, and counts for nothing.
	LowConfidenceIgnore = "ignore"
)

// CheckLowConfidenceHard reports an error unless v is one of the
// LowConfidence* values.
func CheckLowConfidenceHard(v string) error {
	switch v {
	case LowConfidenceSoft, LowConfidenceSuppress, LowConfidenceIgnore:
		return nil
	}
	return fmt.Errorf("%q: want %s, %s or %s", v, LowConfidenceSoft, LowConfidenceSuppress, LowConfidenceIgnore)
}

// LowConfidence reports whether the verdict of rec has low confidence.
// An empty Confidence is high: records stored before verdicts had a
// confidence, and callers that do not judge it, were always scored as
// sure, and keep that behaviour. Any other value but ConfidenceHigh is low,
// so that an unexpected one never suppresses at once.
func LowConfidence(rec *record.Record) bool {
	return rec.Confidence != "" && rec.Confidence != record.ConfidenceHigh
}

// MaxEvidence bounds the record keys kept per address. The first keys are
// kept: they are the records that caused the suppression.
const MaxEvidence = 20

// Policy configures the engine.
type Policy struct {
	SoftThreshold   int           // soft bounces within SoftWindow that suppress (default 5)
	SoftWindow      time.Duration // default 14 days
	HardExpiry      time.Duration // 0: never expires (default)
	SoftExpiry      time.Duration // default 30 days
	ComplaintExpiry time.Duration // 0: never expires (default)
	// IncidentQuiet closes an incident after this long without a block (default 1h).
	IncidentQuiet time.Duration
	// LowConfidenceHard is what a hard bounce with low confidence does:
	// one of the LowConfidence* values (default LowConfidenceSoft; an
	// unknown value is taken as the default).
	LowConfidenceHard string
}

// DefaultPolicy is the policy of a store opened without one.
var DefaultPolicy = Policy{
	SoftThreshold: 5,
	SoftWindow:    14 * 24 * time.Hour,
	SoftExpiry:    30 * 24 * time.Hour,
	IncidentQuiet: time.Hour,

	LowConfidenceHard: LowConfidenceSoft,
}

// WithDefaults returns p with its unset soft, incident and low-confidence
// settings taken from DefaultPolicy. HardExpiry and ComplaintExpiry stay as given: zero
// means never, which is their default.
func (p Policy) WithDefaults() Policy {
	if p.SoftThreshold <= 0 {
		p.SoftThreshold = DefaultPolicy.SoftThreshold
	}
	if p.SoftWindow <= 0 {
		p.SoftWindow = DefaultPolicy.SoftWindow
	}
	if p.SoftExpiry <= 0 {
		p.SoftExpiry = DefaultPolicy.SoftExpiry
	}
	if p.IncidentQuiet <= 0 {
		p.IncidentQuiet = DefaultPolicy.IncidentQuiet
	}
	if CheckLowConfidenceHard(p.LowConfidenceHard) != nil {
		p.LowConfidenceHard = DefaultPolicy.LowConfidenceHard
	}
	return p
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
	// Evidence holds the keys of the records that caused the suppression;
	// while the address is not suppressed, those of the soft bounces
	// counted in the current window.
	Evidence []string
	// LowConfidence holds those keys of Evidence that were hard bounces
	// with low confidence, so that a suppression (or a soft count) says
	// when it rests on verdicts that were not sure.
	LowConfidence []string
}

// InForce reports whether the state is a suppression in force at now.
func (s State) InForce(now time.Time) bool {
	return s.Suppressed && (s.Expires.IsZero() || now.Before(s.Expires))
}

// HasEvidence reports whether key was already scored into the state.
func (s State) HasEvidence(key string) bool {
	return key != "" && slices.Contains(s.Evidence, key)
}

// NormalizeAddress is the form addresses are kept in by the suppression
// list: the normal form of package mailaddr, with the local part
// lower-cased too. Local parts are case-sensitive in theory (RFC 5321
// section 2.4) but no mailbox provider treats them so, and one address
// must not escape its suppression by a change of case. Text that is not an
// address is an error: it can never be suppressed.
func NormalizeAddress(addr string) (string, error) {
	a, err := mailaddr.Normalize(addr)
	if err != nil {
		return "", err
	}
	// Lower-casing may lengthen a non-ASCII local part past its limit;
	// such an address is then kept in its case.
	if lower, err := mailaddr.Normalize(strings.ToLower(a)); err == nil {
		return lower, nil
	}
	return a, nil
}

// rank orders causes: a suppression is only replaced by one of a higher
// rank. A decision taken by hand wins over everything; a complaint (the
// recipient asked) over a bounce; a hard bounce over repeated soft ones.
func rank(cause string) int {
	switch cause {
	case CauseManual:
		return 4
	case CauseComplaint:
		return 3
	case CauseHard:
		return 2
	case CauseSoft:
		return 1
	}
	return 0
}

// Apply scores one newly stored record against the previous state of its
// address and returns the next state. key identifies the record (it is kept
// as evidence). now is the record's received time. A record whose
// recipient is not an address (see NormalizeAddress) scored against a
// state without one changes nothing: it can never make a suppression.
//
// Apply never changes prev: the returned state has its own evidence slice.
func (p Policy) Apply(prev State, rec *record.Record, key string, now time.Time) State {
	p = p.WithDefaults()
	s := prev
	s.Evidence = slices.Clone(prev.Evidence)
	s.LowConfidence = slices.Clone(prev.LowConfidence)
	if s.Address == "" {
		addr, err := NormalizeAddress(rec.Recipient)
		if err != nil {
			return s // no address: nothing to suppress
		}
		s.Address = addr
	}
	if s.HasEvidence(key) {
		return s // scored before
	}
	s = p.expire(s, now)
	if !rec.CountsForSuppression() {
		// Not proven to concern mail we sent (record.Record.Auth):
		// anybody can send a report naming any address, so it changes
		// nothing, a delivery report included.
		return s
	}

	switch rec.Class {
	case record.ClassHard:
		if LowConfidence(rec) {
			s = p.lowConfidenceHard(s, rec, key, now)
			break
		}
		s.LastBounce = later(s.LastBounce, now)
		s = p.suppress(s, CauseHard, rec.Reason, key, now, p.HardExpiry)
	case record.ClassComplaint:
		s = p.suppress(s, CauseComplaint, rec.Reason, key, now, p.ComplaintExpiry)
	case record.ClassSoft:
		s = p.soft(s, rec, key, now)
	case record.ClassDelivered:
		// A delivery proves the temporary condition is over: the soft
		// count restarts, and a soft suppression is lifted. Suppressions
		// for other causes stand: a relay may accept mail for a mailbox
		// that no longer exists, and a complaint or a decision by hand is
		// not undone by a delivery.
		s.SoftCount = 0
		s.WindowStart = time.Time{}
		if s.Suppressed && s.Cause == CauseSoft {
			s = lift(s)
		} else if !s.Suppressed {
			s.Evidence = nil
		}
	default:
		// Blocks say nothing about the address (they feed incidents);
		// auto-replies and unknown records do not count.
	}
	s.LowConfidence = keepEvidence(s.LowConfidence, s.Evidence)
	return s
}

// lowConfidenceHard scores a hard bounce with low confidence as the policy
// says, and marks its key when it became evidence.
func (p Policy) lowConfidenceHard(s State, rec *record.Record, key string, now time.Time) State {
	switch p.LowConfidenceHard {
	case LowConfidenceIgnore:
		return s
	case LowConfidenceSuppress:
		s.LastBounce = later(s.LastBounce, now)
		s = p.suppress(s, CauseHard, rec.Reason, key, now, p.HardExpiry)
	default:
		s = p.soft(s, rec, key, now)
	}
	if slices.Contains(s.Evidence, key) {
		s.LowConfidence = addEvidence(s.LowConfidence, key)
	}
	return s
}

// keepEvidence drops the keys of marked that are no longer evidence: every
// path that clears or restarts the evidence clears its marks with it.
func keepEvidence(marked, evidence []string) []string {
	if len(marked) == 0 {
		return nil
	}
	kept := marked[:0]
	for _, k := range marked {
		if slices.Contains(evidence, k) {
			kept = append(kept, k)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return kept
}

// expire clears a suppression whose time has passed. An expired soft
// suppression also restarts the count, so that one more soft bounce does not
// suppress again at once.
func (p Policy) expire(s State, now time.Time) State {
	if !s.Suppressed || s.InForce(now) {
		return s
	}
	if s.Cause == CauseSoft {
		s.SoftCount = 0
		s.WindowStart = time.Time{}
	}
	return lift(s)
}

// suppress records a suppression for cause unless one of a higher rank is in
// force; one of the same cause keeps its start and gains evidence.
func (p Policy) suppress(s State, cause, reason, key string, now time.Time, expiry time.Duration) State {
	if s.Suppressed {
		switch r, nr := rank(s.Cause), rank(cause); {
		case r > nr:
			return s
		case r == nr:
			s.Evidence = addEvidence(s.Evidence, key)
			return s
		}
		// A higher cause replaces a lower one, keeping its evidence.
	} else {
		s.Evidence = nil // soft keys of the window are not the cause
	}
	s.Suppressed = true
	s.Cause = cause
	s.Reason = reason
	s.Since = now
	s.Expires = expiresAt(now, expiry)
	s.Evidence = addEvidence(s.Evidence, key)
	return s
}

// soft counts a soft bounce in the current window, and suppresses when the
// count reaches the threshold. A window is SoftWindow long from its first
// bounce; once it has passed, counting starts over.
func (p Policy) soft(s State, rec *record.Record, key string, now time.Time) State {
	s.LastBounce = later(s.LastBounce, now)
	if s.SoftCount == 0 || s.WindowStart.IsZero() || now.Sub(s.WindowStart) >= p.SoftWindow || s.WindowStart.Sub(now) >= p.SoftWindow {
		s.SoftCount = 0
		s.WindowStart = now
		if !s.Suppressed {
			s.Evidence = nil
		}
	} else if now.Before(s.WindowStart) {
		s.WindowStart = now // an older bounce imported late
	}
	s.SoftCount++

	if s.Suppressed {
		if s.Cause == CauseSoft {
			// Still bouncing: the suppression lasts SoftExpiry from the
			// latest bounce.
			s.Evidence = addEvidence(s.Evidence, key)
			if e := expiresAt(now, p.SoftExpiry); e.After(s.Expires) {
				s.Expires = e
			}
		}
		return s
	}
	s.Evidence = addEvidence(s.Evidence, key)
	if s.SoftCount >= p.SoftThreshold {
		s.Suppressed = true
		s.Cause = CauseSoft
		s.Reason = rec.Reason
		s.Since = now
		s.Expires = expiresAt(now, p.SoftExpiry)
	}
	return s
}

// Manual suppresses the address by hand. It replaces any suppression in
// force; expires zero means never. The soft history is kept.
func Manual(prev State, reason string, now, expires time.Time) State {
	s := prev
	s.Suppressed = true
	s.Cause = CauseManual
	s.Reason = reason
	s.Since = now
	s.Expires = expires
	s.Evidence = nil
	s.LowConfidence = nil
	return s
}

// Remove lifts any suppression by hand and resets the soft count, so that
// the address starts over.
func Remove(prev State) State {
	s := lift(prev)
	s.SoftCount = 0
	s.WindowStart = time.Time{}
	return s
}

func lift(s State) State {
	s.Suppressed = false
	s.Cause = ""
	s.Reason = ""
	s.Since = time.Time{}
	s.Expires = time.Time{}
	s.Evidence = nil
	s.LowConfidence = nil
	return s
}

func addEvidence(ev []string, key string) []string {
	if key == "" || len(ev) >= MaxEvidence || slices.Contains(ev, key) {
		return ev
	}
	return append(ev, key)
}

func expiresAt(now time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return now.Add(d)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
