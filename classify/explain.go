package classify

import (
	"errors"
	"fmt"
	"strings"
)

// Entry describes one catalog entry, for people: what a code means.
type Entry struct {
	Name        string `json:"name"`               // e.g. "o365:5.7.606-649"
	Code        string `json:"code"`               // as in the catalog, e.g. "X.1.1", "5.7.606-649"
	Provider    string `json:"provider,omitempty"` // empty for the standard registry
	Title       string `json:"title"`
	Reason      string `json:"reason"`
	Class       string `json:"class"`
	FixOwner    string `json:"fix_owner"`
	Advice      string `json:"advice"`
	Explanation string `json:"explanation"`
	// When lists phrases of which one must be in the server's text for the
	// entry to apply; empty when the code alone suffices.
	When []string `json:"when,omitempty"`
}

// Explanation answers a query such as "5.7.509", "550 5.7.1 Unable to
// relay" or a server's free text.
type Explanation struct {
	Query    string `json:"query"`
	Status   string `json:"status,omitempty"`    // the enhanced status code read from the query
	SMTPCode string `json:"smtp_code,omitempty"` // the SMTP reply code read from the query
	Result   Result `json:"result"`              // the judgement, as Classify gives it
	// Entries are all catalog entries for the status code: the standard one
	// and every provider's, some of which apply only with certain text.
	Entries []Entry `json:"entries,omitempty"`
}

// ErrUnknown is returned (wrapped) by Explain for a query the catalog has
// nothing specific about.
var ErrUnknown = errors.New("not in the catalog")

// maxQuery bounds an explain query; a server reply is far shorter.
const maxQuery = 4096

// Explain says what a code or a server reply means. A query is an optional
// SMTP reply code, an optional enhanced status code and free text, in that
// order ("550 5.7.1 Unable to relay"); an "X" class ("X.7.1") stands for
// any class. It returns an error wrapping ErrUnknown when neither the code
// nor any phrase is known, and another error for a malformed query.
func (c *Classifier) Explain(query string) (Explanation, error) {
	q := strings.TrimSpace(query)
	ex := Explanation{Query: q}
	if q == "" {
		return ex, errors.New("empty query: give a status code such as 5.1.1, a reply such as \"550 5.7.1 Unable to relay\", or a server's text")
	}
	if len(q) > maxQuery {
		return ex, fmt.Errorf("query is %d bytes long, at most %d are read", len(q), maxQuery)
	}
	rest := q
	word, after := cutWord(rest)
	if len(word) == 3 && isDigit(word[0]) && isDigit(word[1]) && isDigit(word[2]) {
		if word[0] < '2' || word[0] > '5' {
			return ex, fmt.Errorf("reply code %s: SMTP reply codes start with 2 to 5 (RFC 5321 section 4.2)", word)
		}
		ex.SMTPCode, rest = word, after
		word, after = cutWord(rest)
	}
	word = strings.TrimPrefix(word, "#")
	if looksLikeStatus(word) {
		status := word
		if status[0] == 'X' || status[0] == 'x' {
			status = "5" + status[1:]
		}
		if _, err := parseCode(status, false); err != nil {
			return ex, err
		}
		ex.Status, rest = status, after
	}
	in := Input{Status: ex.Status, SMTPCode: ex.SMTPCode, Diagnostic: q}
	ex.Result = c.Classify(in)

	// Known: the code (given, or found in the text) has entries of its
	// own, or a phrase, a provider entry or a reply code decided; a
	// fallback to the general X.s.0 or X.0.0 entry is not knowledge.
	st, hasStatus := code{}, false
	if ex.Status != "" {
		st, hasStatus = parseStatus(ex.Status)
	} else {
		st, hasStatus = statusInText(q)
	}
	if hasStatus {
		for _, e := range c.cat.entriesFor(st) {
			ex.Entries = append(ex.Entries, c.describe(e))
		}
	}
	decidedBy := ex.Result.Entry
	known := len(ex.Entries) > 0 || strings.HasPrefix(decidedBy, "text:") || strings.HasPrefix(decidedBy, "reply:") ||
		!strings.HasPrefix(decidedBy, "std:") && !strings.HasPrefix(decidedBy, "reason:")
	if !known {
		what := q
		if ex.Status != "" {
			what = ex.Status
		}
		return ex, fmt.Errorf("%q: %w; %s", what, ErrUnknown, hint(ex))
	}
	return ex, nil
}

func hint(ex Explanation) string {
	if ex.Status != "" {
		return "the closest general entry says: " + ex.Result.Reason + " (" + ex.Result.Entry + ")"
	}
	return "no known code or phrase found"
}

func cutWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t\r\n")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t\r\n")
}

// looksLikeStatus reports whether w is meant as an enhanced status code
// (digit or X, dot, ...), so that a malformed one gets a clear error rather
// than being read as text.
func looksLikeStatus(w string) bool {
	if len(w) < 3 || w[1] != '.' {
		return false
	}
	switch w[0] {
	case 'X', 'x', '2', '4', '5':
	default:
		return isDigit(w[0])
	}
	return true
}

// entriesFor lists every catalog entry covering a status code: the
// standard one first, then the providers' in catalog order.
func (cat *catalog) entriesFor(s code) []*entry {
	var out []*entry
	add := func(provider string) {
		for _, class := range [2]byte{s.class, 'X'} {
			for _, slot := range cat.codes[codeKey{provider, class, s.subject}] {
				if s.detail >= slot.lo && s.detail <= slot.hi {
					out = append(out, slot.e)
				}
			}
		}
	}
	add("")
	for _, p := range cat.providers {
		add(p.Name)
	}
	return out
}

// describe renders an entry in the classifier's language.
func (c *Classifier) describe(e *entry) Entry {
	def := c.cat.reasons[e.reason]
	d := Entry{Name: e.name, Code: e.code, Provider: e.provider, Title: e.title, Reason: e.reason,
		Class: def.class, FixOwner: def.owner, Advice: def.advice, Explanation: c.text(e.explain)}
	if e.class != "" {
		d.Class = e.class
	}
	if e.owner != "" {
		d.FixOwner = e.owner
	}
	if e.advice != "" {
		d.Advice = e.advice
	}
	for _, id := range e.when {
		d.When = append(d.When, c.cat.phrases[id])
	}
	return d
}
