package suppress

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// step is one record scored against the state.
type step struct {
	class  string
	reason string
	key    string
	at     time.Duration // after t0
}

func TestApply(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		prev   State
		steps  []step
		// want, checked at t0+check
		check     time.Duration
		inForce   bool
		cause     string
		reason    string
		softCount int
		since     time.Duration // after t0, checked when inForce
		expires   time.Duration // after t0; -1: never
		evidence  []string
	}{
		{
			name:    "hard suppresses at once, for ever",
			steps:   []step{{record.ClassHard, "userunknown", "k1", 0}},
			check:   3650 * day,
			inForce: true, cause: CauseHard, reason: "userunknown",
			expires: -1, evidence: []string{"k1"},
		},
		{
			name:    "hard expiry when configured",
			policy:  Policy{HardExpiry: 90 * day},
			steps:   []step{{record.ClassHard, "hostunknown", "k1", day}},
			check:   91 * day,
			inForce: false,
		},
		{
			name:    "complaint suppresses at once, apart from bounces",
			steps:   []step{{record.ClassSoft, "mailboxfull", "s1", 0}, {record.ClassComplaint, "feedback", "c1", time.Hour}},
			check:   time.Hour,
			inForce: true, cause: CauseComplaint, reason: "feedback", softCount: 1,
			since: time.Hour, expires: -1, evidence: []string{"c1"},
		},
		{
			name: "a hard bounce does not replace a complaint",
			steps: []step{
				{record.ClassComplaint, "feedback", "c1", 0},
				{record.ClassHard, "userunknown", "h1", day},
			},
			check:   2 * day,
			inForce: true, cause: CauseComplaint, reason: "feedback",
			expires: -1, evidence: []string{"c1"},
		},
		{
			name: "soft below the threshold does not suppress",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", day},
				{record.ClassSoft, "mailboxfull", "s3", 2 * day},
				{record.ClassSoft, "mailboxfull", "s4", 3 * day},
			},
			check:     3 * day,
			inForce:   false,
			softCount: 4,
			evidence:  []string{"s1", "s2", "s3", "s4"},
		},
		{
			name: "soft threshold inside the window suppresses, for SoftExpiry",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", day},
				{record.ClassSoft, "systemfull", "s3", 2 * day},
				{record.ClassSoft, "mailboxfull", "s4", 3 * day},
				{record.ClassSoft, "expired", "s5", 13 * day},
			},
			check:   14 * day,
			inForce: true, cause: CauseSoft, reason: "expired", softCount: 5,
			since: 13 * day, expires: 43 * day,
			evidence: []string{"s1", "s2", "s3", "s4", "s5"},
		},
		{
			name:   "configured threshold and window",
			policy: Policy{SoftThreshold: 2, SoftWindow: time.Hour, SoftExpiry: day},
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", 59 * time.Minute},
			},
			check:   time.Hour,
			inForce: true, cause: CauseSoft, reason: "mailboxfull", softCount: 2,
			since: 59 * time.Minute, expires: day + 59*time.Minute,
			evidence: []string{"s1", "s2"},
		},
		{
			name: "bounces spread over more than the window do not add up",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", day},
				{record.ClassSoft, "mailboxfull", "s3", 2 * day},
				{record.ClassSoft, "mailboxfull", "s4", 3 * day},
				{record.ClassSoft, "mailboxfull", "s5", 14 * day},
			},
			check:     14 * day,
			inForce:   false,
			softCount: 1,
			evidence:  []string{"s5"},
		},
		{
			name: "a delivery resets the soft count",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", day},
				{record.ClassSoft, "mailboxfull", "s3", 2 * day},
				{record.ClassSoft, "mailboxfull", "s4", 3 * day},
				{record.ClassDelivered, "delivered", "d1", 4 * day},
				{record.ClassSoft, "mailboxfull", "s5", 5 * day},
			},
			check:     5 * day,
			inForce:   false,
			softCount: 1,
			evidence:  []string{"s5"},
		},
		{
			name: "a delivery lifts a soft suppression",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", 1},
				{record.ClassSoft, "mailboxfull", "s3", 2},
				{record.ClassSoft, "mailboxfull", "s4", 3},
				{record.ClassSoft, "mailboxfull", "s5", 4},
				{record.ClassDelivered, "delivered", "d1", day},
			},
			check:   day,
			inForce: false,
		},
		{
			name: "a delivery does not lift a hard suppression",
			steps: []step{
				{record.ClassHard, "userunknown", "h1", 0},
				{record.ClassDelivered, "delivered", "d1", day},
			},
			check:   day,
			inForce: true, cause: CauseHard, reason: "userunknown", expires: -1, evidence: []string{"h1"},
		},
		{
			name:    "a delivery does not lift a manual suppression",
			prev:    Manual(State{Address: "a@example.org"}, "asked by phone", t0, time.Time{}),
			steps:   []step{{record.ClassDelivered, "delivered", "d1", day}},
			check:   day,
			inForce: true, cause: CauseManual, reason: "asked by phone", expires: -1,
		},
		{
			name:    "bounces do not replace a manual suppression",
			prev:    Manual(State{Address: "a@example.org"}, "asked by phone", t0, t0.Add(10*day)),
			steps:   []step{{record.ClassHard, "userunknown", "h1", day}},
			check:   day,
			inForce: true, cause: CauseManual, reason: "asked by phone", expires: 10 * day,
		},
		{
			name:    "bounces after an expired manual suppression count again",
			prev:    Manual(State{Address: "a@example.org"}, "for a week", t0, t0.Add(7*day)),
			steps:   []step{{record.ClassHard, "userunknown", "h1", 8 * day}},
			check:   8 * day,
			inForce: true, cause: CauseHard, reason: "userunknown", since: 8 * day, expires: -1, evidence: []string{"h1"},
		},
		{
			name:    "a removed address starts over",
			prev:    Remove(State{Address: "a@example.org", Suppressed: true, Cause: CauseSoft, Since: t0, SoftCount: 5, WindowStart: t0, Evidence: []string{"s1"}}),
			steps:   []step{{record.ClassSoft, "mailboxfull", "s2", day}},
			check:   day,
			inForce: false, softCount: 1, evidence: []string{"s2"},
		},
		{
			name: "a block never suppresses the address",
			steps: []step{
				{record.ClassBlock, "blocked", "b1", 0},
				{record.ClassBlock, "blocked", "b2", 1},
				{record.ClassBlock, "badreputation", "b3", 2},
				{record.ClassBlock, "spamdetected", "b4", 3},
				{record.ClassBlock, "blocked", "b5", 4},
				{record.ClassBlock, "blocked", "b6", 5},
			},
			check:   day,
			inForce: false,
		},
		{
			name: "auto-replies and unknown records never suppress",
			steps: []step{
				{record.ClassAutoReply, "vacation", "a1", 0},
				{record.ClassUnknown, "undefined", "u1", 1},
			},
			check:   0,
			inForce: false,
		},
		{
			name: "a soft suppression expires and the count starts over",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", 1},
				{record.ClassSoft, "mailboxfull", "s3", 2},
				{record.ClassSoft, "mailboxfull", "s4", 3},
				{record.ClassSoft, "mailboxfull", "s5", 4},
				{record.ClassSoft, "mailboxfull", "s6", 31 * day},
			},
			check:     31 * day,
			inForce:   false,
			softCount: 1,
			evidence:  []string{"s6"},
		},
		{
			name: "more soft bounces extend a soft suppression",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", 1},
				{record.ClassSoft, "mailboxfull", "s3", 2},
				{record.ClassSoft, "mailboxfull", "s4", 3},
				{record.ClassSoft, "mailboxfull", "s5", 4},
				{record.ClassSoft, "mailboxfull", "s6", 20 * day},
			},
			check:   40 * day,
			inForce: true, cause: CauseSoft, reason: "mailboxfull", softCount: 1,
			since: 4, expires: 50 * day,
			evidence: []string{"s1", "s2", "s3", "s4", "s5", "s6"},
		},
		{
			name: "a hard bounce replaces a soft suppression",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s2", 1},
				{record.ClassSoft, "mailboxfull", "s3", 2},
				{record.ClassSoft, "mailboxfull", "s4", 3},
				{record.ClassSoft, "mailboxfull", "s5", 4},
				{record.ClassHard, "userunknown", "h1", day},
			},
			check:   100 * day,
			inForce: true, cause: CauseHard, reason: "userunknown", softCount: 5,
			since: day, expires: -1,
			evidence: []string{"s1", "s2", "s3", "s4", "s5", "h1"},
		},
		{
			name: "a record is scored once",
			steps: []step{
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s1", 0},
				{record.ClassSoft, "mailboxfull", "s1", 0},
			},
			check:     0,
			inForce:   false,
			softCount: 1,
			evidence:  []string{"s1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.prev
			for _, st := range tt.steps {
				rec := &record.Record{Recipient: "A@Example.org", Class: st.class, Reason: st.reason}
				before := slices.Clone(s.Evidence)
				next := tt.policy.Apply(s, rec, st.key, t0.Add(st.at))
				if !slices.Equal(s.Evidence, before) {
					t.Fatalf("Apply changed the evidence of its argument")
				}
				s = next
			}
			if s.Address != "a@example.org" {
				t.Errorf("address %q, want a@example.org", s.Address)
			}
			now := t0.Add(tt.check)
			if got := s.InForce(now); got != tt.inForce {
				t.Fatalf("in force %v, want %v (state %+v)", got, tt.inForce, s)
			}
			if s.SoftCount != tt.softCount {
				t.Errorf("soft count %d, want %d", s.SoftCount, tt.softCount)
			}
			if !tt.inForce {
				if !slices.Equal(s.Evidence, tt.evidence) && s.Suppressed == false {
					t.Errorf("evidence %q, want %q", s.Evidence, tt.evidence)
				}
				return
			}
			if s.Cause != tt.cause || s.Reason != tt.reason {
				t.Errorf("cause %q reason %q, want %q %q", s.Cause, s.Reason, tt.cause, tt.reason)
			}
			if !s.Since.Equal(t0.Add(tt.since)) {
				t.Errorf("since %v, want %v", s.Since, t0.Add(tt.since))
			}
			wantExp := time.Time{}
			if tt.expires >= 0 {
				wantExp = t0.Add(tt.expires)
			}
			if !s.Expires.Equal(wantExp) {
				t.Errorf("expires %v, want %v", s.Expires, wantExp)
			}
			if !slices.Equal(s.Evidence, tt.evidence) {
				t.Errorf("evidence %q, want %q", s.Evidence, tt.evidence)
			}
		})
	}
}

func TestEvidenceBounded(t *testing.T) {
	var s State
	p := Policy{}
	s = p.Apply(s, &record.Record{Recipient: "a@example.org", Class: record.ClassHard, Reason: "userunknown"}, "h0", t0)
	for i := 1; i < 3*MaxEvidence; i++ {
		key := "h" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		s = p.Apply(s, &record.Record{Recipient: "a@example.org", Class: record.ClassHard, Reason: "userunknown"}, key, t0.Add(time.Duration(i)*time.Minute))
	}
	if len(s.Evidence) != MaxEvidence {
		t.Fatalf("%d evidence keys, want %d", len(s.Evidence), MaxEvidence)
	}
	if s.Evidence[0] != "h0" {
		t.Errorf("first evidence %q, want the record that caused the suppression", s.Evidence[0])
	}
	if !s.Since.Equal(t0) {
		t.Errorf("since %v moved with later bounces", s.Since)
	}
}

func TestManualAndRemove(t *testing.T) {
	s := Manual(State{Address: "a@example.org", SoftCount: 3, WindowStart: t0}, "bad address", t0, t0.Add(day))
	if !s.InForce(t0) || s.Cause != CauseManual || s.Reason != "bad address" {
		t.Fatalf("manual: %+v", s)
	}
	if s.InForce(t0.Add(day)) {
		t.Errorf("manual suppression in force at its expiry")
	}
	r := Remove(s)
	if r.InForce(t0) || r.SoftCount != 0 || !r.WindowStart.IsZero() || r.Cause != "" || r.Evidence != nil {
		t.Errorf("removed: %+v", r)
	}
	if r.Address != "a@example.org" {
		t.Errorf("remove lost the address: %q", r.Address)
	}
}

func TestWithDefaults(t *testing.T) {
	p := Policy{SoftThreshold: 3, HardExpiry: day}.WithDefaults()
	want := Policy{SoftThreshold: 3, SoftWindow: 14 * day, HardExpiry: day, SoftExpiry: 30 * day, IncidentQuiet: time.Hour,
		LowConfidenceHard: LowConfidenceSoft}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
}

func TestNormalizeAddress(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"User@Example.ORG", "user@example.org"},
		{" <user@example.org> ", "user@example.org"},
		{`"John Doe"@Example.org`, `"john doe"@example.org`},
		{"Ünïcødé@Bücher.example", "ünïcødé@xn--bcher-kva.example"},
		// U+023A lengthens when lower-cased: 32 of them fit in 64 octets
		// in upper case only, and are kept so.
		{strings.Repeat("Ⱥ", 32) + "@example.org", strings.Repeat("Ⱥ", 32) + "@example.org"},
	} {
		got, err := NormalizeAddress(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if again, err := NormalizeAddress(got); err != nil || again != got {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want it unchanged", got, again, err)
		}
	}
	for _, in := range []string{"", "@", "a\r\nb@example.org", strings.Repeat("x", 5000) + "@example.org"} {
		if got, err := NormalizeAddress(in); err == nil {
			t.Errorf("NormalizeAddress(%q) = %q, want an error", in, got)
		}
	}
}

// TestApplyNoAddress checks that a record whose recipient is not an
// address never makes a suppression.
func TestApplyNoAddress(t *testing.T) {
	for _, rcpt := range []string{"", "@", "a\r\nb@example.org"} {
		rec := &record.Record{Recipient: rcpt, Class: record.ClassHard, Reason: "userunknown"}
		if s := DefaultPolicy.Apply(State{}, rec, "k1", t0); s.Suppressed || s.Address != "" || len(s.Evidence) != 0 {
			t.Errorf("hard bounce for %q: state %+v, want none", rcpt, s)
		}
	}
}

// BenchmarkApply scores a soft bounce against a state that already holds
// a window of evidence: the work a store does per record.
func BenchmarkApply(b *testing.B) {
	p := DefaultPolicy
	rec := &record.Record{Recipient: "a@example.org", Class: record.ClassSoft, Reason: "mailboxfull"}
	prev := State{Address: "a@example.org", SoftCount: 3, WindowStart: t0, LastBounce: t0,
		Evidence: []string{"k1", "k2", "k3"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Apply(prev, rec, "k4", t0.Add(time.Hour))
	}
}

// TestApplyLowConfidenceHard scores hard bounces whose verdict has low
// confidence under each treatment of Policy.LowConfidenceHard.
func TestApplyLowConfidenceHard(t *testing.T) {
	type step struct {
		class      string
		confidence string
		key        string
		at         time.Duration // after t0
	}
	const (
		hard, soft = record.ClassHard, record.ClassSoft
		high, low  = record.ConfidenceHigh, record.ConfidenceLow
	)
	tests := []struct {
		name   string
		policy Policy
		steps  []step
		// want, at t0+check
		check         time.Duration
		inForce       bool
		cause         string
		softCount     int
		expires       time.Duration // after t0, when inForce; -1: never
		evidence      []string
		lowConfidence []string
	}{
		{
			name:      "by default one does not suppress: it counts as a soft bounce",
			steps:     []step{{hard, low, "h1", 0}},
			check:     day,
			softCount: 1, evidence: []string{"h1"}, lowConfidence: []string{"h1"},
		},
		{
			name: "repeated ones inside the soft window suppress, for the soft expiry",
			steps: []step{
				{hard, low, "h1", 0}, {hard, low, "h2", day}, {hard, low, "h3", 2 * day},
				{hard, low, "h4", 3 * day}, {hard, low, "h5", 4 * day},
			},
			check:   5 * day,
			inForce: true, cause: CauseSoft, softCount: 5, expires: 34 * day,
			evidence:      []string{"h1", "h2", "h3", "h4", "h5"},
			lowConfidence: []string{"h1", "h2", "h3", "h4", "h5"},
		},
		{
			name: "they add up with soft bounces",
			steps: []step{
				{soft, high, "s1", 0}, {hard, low, "h1", 1}, {soft, high, "s2", 2},
				{hard, low, "h2", 3}, {soft, high, "s3", 4},
			},
			check:   day,
			inForce: true, cause: CauseSoft, softCount: 5, expires: 30*day + 4,
			evidence:      []string{"s1", "h1", "s2", "h2", "s3"},
			lowConfidence: []string{"h1", "h2"},
		},
		{
			name: "spread over more than the soft window they do not",
			steps: []step{
				{hard, low, "h1", 0}, {hard, low, "h2", 5 * day}, {hard, low, "h3", 10 * day},
				{hard, low, "h4", 15 * day}, {hard, low, "h5", 20 * day},
			},
			check:     20 * day,
			softCount: 2, evidence: []string{"h4", "h5"}, lowConfidence: []string{"h4", "h5"},
		},
		{
			name:    "the explicit soft treatment is the default",
			policy:  Policy{LowConfidenceHard: LowConfidenceSoft},
			steps:   []step{{hard, low, "h1", 0}},
			check:   day,
			inForce: false, softCount: 1, evidence: []string{"h1"}, lowConfidence: []string{"h1"},
		},
		{
			name:    "an unknown treatment is taken as the default",
			policy:  Policy{LowConfidenceHard: "sometimes"},
			steps:   []step{{hard, low, "h1", 0}},
			check:   day,
			inForce: false, softCount: 1, evidence: []string{"h1"}, lowConfidence: []string{"h1"},
		},
		{
			name:    "the suppress treatment suppresses at once, as hard",
			policy:  Policy{LowConfidenceHard: LowConfidenceSuppress},
			steps:   []step{{hard, low, "h1", time.Hour}},
			check:   365 * day,
			inForce: true, cause: CauseHard, expires: -1,
			evidence: []string{"h1"}, lowConfidence: []string{"h1"},
		},
		{
			name:    "the suppress treatment keeps the hard expiry",
			policy:  Policy{LowConfidenceHard: LowConfidenceSuppress, HardExpiry: 90 * day},
			steps:   []step{{hard, low, "h1", 0}},
			check:   day,
			inForce: true, cause: CauseHard, expires: 90 * day,
			evidence: []string{"h1"}, lowConfidence: []string{"h1"},
		},
		{
			name:   "the ignore treatment leaves the state alone",
			policy: Policy{LowConfidenceHard: LowConfidenceIgnore},
			steps: []step{
				{soft, high, "s1", 0}, {hard, low, "h1", 1}, {hard, low, "h2", 2},
				{hard, low, "h3", 3}, {hard, low, "h4", 4}, {hard, low, "h5", 5},
			},
			check:     day,
			softCount: 1, evidence: []string{"s1"},
		},
		{
			name:    "a sure hard bounce still suppresses at once",
			steps:   []step{{hard, high, "h1", 0}},
			check:   day,
			inForce: true, cause: CauseHard, expires: -1, evidence: []string{"h1"},
		},
		{
			name:    "an empty confidence is high: records from before confidence was judged",
			steps:   []step{{hard, "", "h1", 0}},
			check:   day,
			inForce: true, cause: CauseHard, expires: -1, evidence: []string{"h1"},
		},
		{
			name:    "an unexpected confidence is low",
			steps:   []step{{hard, "medium", "h1", 0}},
			check:   day,
			inForce: false, softCount: 1, evidence: []string{"h1"}, lowConfidence: []string{"h1"},
		},
		{
			name:    "a sure hard bounce replaces the soft suppression they caused",
			steps:   []step{{hard, low, "h1", 0}, {hard, low, "h2", 1}, {hard, low, "h3", 2}, {hard, low, "h4", 3}, {hard, low, "h5", 4}, {hard, high, "h6", day}},
			check:   100 * day,
			inForce: true, cause: CauseHard, softCount: 5, expires: -1,
			evidence:      []string{"h1", "h2", "h3", "h4", "h5", "h6"},
			lowConfidence: []string{"h1", "h2", "h3", "h4", "h5"},
		},
		{
			name:    "under a sure hard suppression one is counted but is not its evidence",
			steps:   []step{{hard, high, "h1", 0}, {hard, low, "h2", day}},
			check:   2 * day,
			inForce: true, cause: CauseHard, softCount: 1, expires: -1,
			evidence: []string{"h1"},
		},
		{
			name:      "a delivery clears the marks with the soft count",
			steps:     []step{{hard, low, "h1", 0}, {hard, low, "h2", 1}, {record.ClassDelivered, high, "d1", day}, {soft, high, "s1", 2 * day}},
			check:     2 * day,
			softCount: 1, evidence: []string{"s1"},
		},
		{
			name:      "a new window clears the marks of the old one",
			steps:     []step{{hard, low, "h1", 0}, {soft, high, "s1", 15 * day}},
			check:     15 * day,
			softCount: 1, evidence: []string{"s1"},
		},
		{
			name:      "low confidence does not change a soft bounce",
			steps:     []step{{soft, low, "s1", 0}},
			check:     day,
			softCount: 1, evidence: []string{"s1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			for _, st := range tt.steps {
				rec := &record.Record{Recipient: "a@example.org", Class: st.class, Reason: "userunknown", Confidence: st.confidence}
				before := slices.Clone(s.LowConfidence)
				next := tt.policy.Apply(s, rec, st.key, t0.Add(st.at))
				if !slices.Equal(s.LowConfidence, before) {
					t.Fatalf("Apply changed the low-confidence marks of its argument")
				}
				s = next
			}
			if got := s.InForce(t0.Add(tt.check)); got != tt.inForce {
				t.Fatalf("in force %v, want %v (state %+v)", got, tt.inForce, s)
			}
			if s.SoftCount != tt.softCount {
				t.Errorf("soft count %d, want %d", s.SoftCount, tt.softCount)
			}
			if !slices.Equal(s.Evidence, tt.evidence) {
				t.Errorf("evidence %q, want %q", s.Evidence, tt.evidence)
			}
			if !slices.Equal(s.LowConfidence, tt.lowConfidence) {
				t.Errorf("low-confidence marks %q, want %q", s.LowConfidence, tt.lowConfidence)
			}
			for _, k := range s.LowConfidence {
				if !slices.Contains(s.Evidence, k) {
					t.Errorf("marked key %q is not evidence", k)
				}
			}
			if !tt.inForce {
				return
			}
			if s.Cause != tt.cause {
				t.Errorf("cause %q, want %q", s.Cause, tt.cause)
			}
			wantExp := time.Time{}
			if tt.expires >= 0 {
				wantExp = t0.Add(tt.expires)
			}
			if !s.Expires.Equal(wantExp) {
				t.Errorf("expires %v, want %v", s.Expires, wantExp)
			}
		})
	}
}

func TestCheckLowConfidenceHard(t *testing.T) {
	for _, v := range []string{LowConfidenceSoft, LowConfidenceSuppress, LowConfidenceIgnore} {
		if err := CheckLowConfidenceHard(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"", "Soft", "hard", "suppress "} {
		if err := CheckLowConfidenceHard(v); err == nil {
			t.Errorf("%q: no error", v)
		}
	}
}

func TestManualClearsLowConfidenceMarks(t *testing.T) {
	s := State{Address: "a@example.org", SoftCount: 1, WindowStart: t0, Evidence: []string{"h1"}, LowConfidence: []string{"h1"}}
	if m := Manual(s, "asked", t0, time.Time{}); m.LowConfidence != nil {
		t.Errorf("manual suppression kept low-confidence marks %q", m.LowConfidence)
	}
	if r := Remove(s); r.LowConfidence != nil {
		t.Errorf("removal kept low-confidence marks %q", r.LowConfidence)
	}
}

// FuzzNormalizeAddress checks that the form the suppression list keeps is
// its own: the command line normalizes an address and the store does it
// again, and both must find the same state.
func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{"User@Example.ORG", `"John Doe"@x.org`, "Ünï@Bücher.example", "\u023a@x.org", "İ@x.org", "ß@x.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := NormalizeAddress(s)
		if err != nil {
			return
		}
		if b, err := NormalizeAddress(a); err != nil || b != a {
			t.Fatalf("NormalizeAddress(%q) = %q, but NormalizeAddress(%q) = %q, %v", s, a, a, b, err)
		}
	})
}

// A record not proven to concern mail we sent changes no state: neither a
// hard bounce nor a delivery that would lift a soft suppression.
func TestApplyUnprovenRecordsCountForNothing(t *testing.T) {
	p := DefaultPolicy
	for _, auth := range []string{record.AuthNone, record.AuthFailed} {
		hard := &record.Record{Recipient: "a@example.com", Class: record.ClassHard, Reason: "nosuchuser", Auth: auth}
		s := p.Apply(State{}, hard, "m1/1", t0)
		if s.Suppressed || len(s.Evidence) != 0 {
			t.Errorf("auth %q: hard bounce made %+v", auth, s)
		}
		soft := State{Address: "a@example.com", Suppressed: true, Cause: CauseSoft, Since: t0, Expires: t0.Add(30 * day), Evidence: []string{"m0/1"}}
		delivered := &record.Record{Recipient: "a@example.com", Class: record.ClassDelivered, Auth: auth}
		if got := p.Apply(soft, delivered, "m2/1", t0.Add(day)); !got.Suppressed {
			t.Errorf("auth %q: delivery report lifted a soft suppression", auth)
		}
	}
	for _, auth := range []string{"", record.AuthVERP, record.AuthSent, record.AuthDKIM, record.AuthTrusted} {
		hard := &record.Record{Recipient: "a@example.com", Class: record.ClassHard, Reason: "nosuchuser", Auth: auth}
		if s := p.Apply(State{}, hard, "m1/1", t0); !s.Suppressed {
			t.Errorf("auth %q: hard bounce did not suppress", auth)
		}
	}
}
