package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// Where builds a conjunction of conditions with their arguments. A
// condition names its arguments with "?", which Add numbers for Dollar.
type Where struct {
	Placeholders Placeholders
	conds        []string
	Args         []any
}

// Add adds a condition and its arguments, one per "?" in cond.
func (w *Where) Add(cond string, args ...any) {
	w.conds = append(w.conds, w.Placeholders.bind(cond, len(w.Args)+1))
	w.Args = append(w.Args, args...)
}

// SQL is the WHERE clause, "" without conditions.
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// TimeRange bounds the time column col as since <= col < until; a zero
// bound does not restrict.
func (w *Where) TimeRange(col string, since, until time.Time) {
	if !since.IsZero() {
		w.Add(col+" >= ?", UnixNano(since))
	}
	if !until.IsZero() {
		w.Add(col+" < ?", UnixNano(until))
	}
}

// Limit is the LIMIT clause for at most n rows, "" for no limit (n <= 0).
func Limit(n int) string {
	if n > 0 {
		return fmt.Sprintf(" LIMIT %d", n)
	}
	return ""
}

// Queries builds the reads of one database. Clean, when set, makes a
// value comparable with what the backend stored (PostgreSQL cuts indexed
// text); nil keeps values as given.
type Queries struct {
	Placeholders Placeholders
	Clean        func(string) string
}

func (q Queries) clean(s string) string {
	if q.Clean == nil {
		return s
	}
	return q.Clean(s)
}

// Records selects the records of rq by ID, oldest first or newest first
// with rq.Newest. A Recipient or Domain that is none is an error (package
// mailaddr says what is wrong with it), and so is a Status that is no
// status code or class of one.
func (q Queries) Records(rq store.Query) (string, []any, error) {
	w := Where{Placeholders: q.Placeholders}
	if rq.Recipient != "" {
		addr, err := store.Address(rq.Recipient)
		if err != nil {
			return "", nil, err
		}
		w.Add("address = ?", q.clean(addr))
	}
	if rq.Domain != "" {
		domain, err := mailaddr.NormalizeDomain(rq.Domain)
		if err != nil {
			return "", nil, err
		}
		w.Add("recipient_domain = ?", q.clean(domain))
	}
	if rq.Reason != "" {
		w.Add("reason = ?", q.clean(rq.Reason))
	}
	if rq.Class != "" {
		w.Add("class = ?", q.clean(rq.Class))
	}
	if rq.MessageID != "" {
		// Kept as the report quoted it, which is mostly without angle
		// brackets (package bounce trims them) but not always: both
		// forms match. The index is on the first 200 characters (see
		// migration 0008), which the condition repeats so that it serves.
		id := Storable(store.MessageID(rq.MessageID))
		if id == "" {
			return "", nil, fmt.Errorf("message id %s: empty inside its angle brackets", mailaddr.Quote(rq.MessageID, 64))
		}
		w.Add("substr(original_message_id, 1, 200) IN (substr(?, 1, 200), substr(?, 1, 200))", id, "<"+id+">")
		w.Add("original_message_id IN (?, ?)", id, "<"+id+">")
	}
	switch rq.Confidence {
	case "":
	case record.ConfidenceHigh:
		// Records without a confidence were stored before it was judged
		// and were scored as sure (suppress.LowConfidence).
		w.Add("confidence IN (?, '')", record.ConfidenceHigh)
	case record.ConfidenceLow:
		w.Add("confidence NOT IN (?, '')", record.ConfidenceHigh)
	default:
		w.Add("confidence = ?", q.clean(rq.Confidence))
	}
	if rq.Status != "" {
		pattern, exact, err := statusMatch(rq.Status)
		if err != nil {
			return "", nil, err
		}
		if exact {
			w.Add("status = ?", pattern)
		} else {
			w.Add("status LIKE ?", pattern)
		}
	}
	w.TimeRange("received_at", rq.Since, rq.Until)
	if rq.AfterID > 0 {
		w.Add("id > ?", rq.AfterID)
	}
	if rq.BeforeID > 0 {
		w.Add("id < ?", rq.BeforeID)
	}
	order := ` ORDER BY id`
	if rq.Newest {
		order = ` ORDER BY id DESC`
	}
	return `SELECT ` + RecordReadColumns + ` FROM records` + w.SQL() + order + Limit(rq.Limit), w.Args, nil
}

// statusMatch is how Query.Status selects a status code (RFC 3463 section
// 2: class.subject.detail, each a number): a whole code matches exactly,
// a class ("5") or a class and subject ("5.1") matches the codes under it
// as a LIKE pattern.
func statusMatch(status string) (pattern string, exact bool, err error) {
	parts := strings.Split(status, ".")
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			parts = nil
			break
		}
	}
	switch len(parts) {
	case 1, 2:
		return status + ".%", false, nil
	case 3:
		return status, true, nil
	}
	return "", false, fmt.Errorf("status %s: want a code such as 5.1.1, or its class 5 or 5.1 (RFC 3463 section 2)",
		mailaddr.Quote(status, 64))
}

// Record selects one record by id (the only argument).
func (q Queries) Record() string {
	return `SELECT ` + RecordReadColumns + ` FROM records WHERE id = ` + q.Placeholders.Param(1)
}

// MessageRecords selects the records of one message (its id the only
// argument), in report order.
func (q Queries) MessageRecords() string {
	return `SELECT ` + RecordReadColumns + ` FROM records
		WHERE message_id = ` + q.Placeholders.Param(1) + ` ORDER BY idx, id`
}

// Messages selects the envelopes of mq, oldest first.
func (q Queries) Messages(mq store.MessageQuery) (string, []any) {
	w := Where{Placeholders: q.Placeholders}
	if mq.Unrecognized {
		w.Add("parse_error <> ''")
	}
	if mq.Truncated {
		w.Add("truncated_recipients > 0")
	}
	w.TimeRange("received_at", mq.Since, mq.Until)
	order := ` ORDER BY received_at, id`
	if mq.Newest {
		order = ` ORDER BY received_at DESC, id DESC`
	}
	return `SELECT ` + MessageColumns + ` FROM messages` + w.SQL() + order + Limit(mq.Limit), w.Args
}

// Message selects one message by id (the only argument) with, after the
// MessageColumns, its raw size and compressed raw bytes.
func (q Queries) Message() string {
	return `SELECT ` + MessageColumns + `, raw_size, raw FROM messages WHERE id = ` + q.Placeholders.Param(1)
}

// Address selects the suppression state of one normalized address (the
// only argument).
func (q Queries) Address() string {
	return `SELECT ` + AddressColumns + ` FROM addresses WHERE address = ` + q.Placeholders.Param(1)
}

// Suppressions selects the states suppressed at a time (the only argument,
// UnixNano), by address.
func (q Queries) Suppressions() string {
	return `SELECT ` + AddressColumns + ` FROM addresses
		WHERE suppressed AND (expires = 0 OR expires > ` + q.Placeholders.Param(1) + `) ORDER BY address`
}

// inForce is the condition of a suppression in force at the time of its
// one argument (UnixNano); "suppressed" first, so that the partial index
// on suppressed addresses serves it.
const inForce = `suppressed AND (expires = 0 OR expires > ?)`

// ListSuppressions selects the states suppressed at now that sq selects,
// by address from sq.After: a range of the index of suppressed addresses,
// read in its order. A Domain that is none is an error (package mailaddr
// says what is wrong with it).
func (q Queries) ListSuppressions(sq store.SuppressionQuery, now time.Time) (string, []any, error) {
	w := Where{Placeholders: q.Placeholders}
	w.Add(inForce, UnixNano(now))
	if sq.After != "" {
		w.Add("address > ?", q.clean(sq.After))
	}
	if sq.Domain != "" {
		domain, err := mailaddr.NormalizeDomain(sq.Domain)
		if err != nil {
			return "", nil, err
		}
		// Addresses are kept in normal form, their domain lower-cased
		// after the last "@" (a quoted local part may hold one too).
		w.Add(`address LIKE ? ESCAPE '\'`, "%@"+likeEscaper.Replace(domain))
	}
	if sq.Cause != "" {
		w.Add("cause = ?", q.clean(sq.Cause))
	}
	return `SELECT ` + AddressColumns + ` FROM addresses` + w.SQL() + ` ORDER BY address` + Limit(sq.Limit), w.Args, nil
}

// likeEscaper escapes the wildcards of a LIKE pattern with "\\".
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// CheckChunk bounds the addresses of one query of a batch check: well
// under SQLite's limit of parameters, and a list PostgreSQL plans as a
// few index probes.
const CheckChunk = 500

// MaxCheck is the most addresses CheckSuppressions takes at once.
const MaxCheck = 10000

// CheckAddresses selects the states of addrs (normalized, at most
// CheckChunk) suppressed at now, each by its primary key: an IN list of
// parameters, or for Dollar one array parameter (= ANY ($2)).
func (q Queries) CheckAddresses(addrs []string, now time.Time) (string, []any) {
	w := Where{Placeholders: q.Placeholders}
	if q.Placeholders == Dollar {
		clean := make([]string, len(addrs))
		for i, a := range addrs {
			clean[i] = q.clean(a)
		}
		w.Add("address = ANY (?)", clean)
	} else {
		args := make([]any, len(addrs))
		for i, a := range addrs {
			args[i] = q.clean(a)
		}
		w.Add("address IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(addrs)), ", ")+")", args...)
	}
	w.Add(inForce, UnixNano(now))
	return `SELECT ` + AddressColumns + ` FROM addresses` + w.SQL(), w.Args
}

// statsColumns are the columns of the dimensions of StatsQuery.By.
var statsColumns = map[string]string{
	store.StatsByClass:  "class",
	store.StatsByReason: "reason",
	store.StatsByDomain: "recipient_domain",
}

// Stats selects the counts of records of sq by bucket (its number from
// sq.Since) and key. An invalid query is an error saying what is wrong.
func (q Queries) Stats(sq store.StatsQuery) (string, []any, error) {
	switch {
	case sq.Since.IsZero():
		return "", nil, fmt.Errorf("stats: the start of the range (since) is required")
	case sq.Until.IsZero():
		return "", nil, fmt.Errorf("stats: the end of the range (until) is required")
	case !sq.Since.Before(sq.Until):
		return "", nil, fmt.Errorf("stats: since %s is not before until %s",
			sq.Since.UTC().Format(time.RFC3339Nano), sq.Until.UTC().Format(time.RFC3339Nano))
	case sq.Bucket <= 0:
		return "", nil, fmt.Errorf("stats: bucket %s: must be longer than zero", sq.Bucket)
	}
	col, ok := statsColumns[sq.By]
	if !ok {
		return "", nil, fmt.Errorf("stats: by %s: want %q, %q or %q",
			mailaddr.Quote(sq.By, 64), store.StatsByClass, store.StatsByReason, store.StatsByDomain)
	}
	since := UnixNano(sq.Since)
	// The bucket is numbered first so that the range conditions below
	// keep their parameters after it.
	w := Where{Placeholders: q.Placeholders}
	bucket := w.Placeholders.bind("(received_at - ?) / ?", 1)
	w.Args = append(w.Args, since, int64(sq.Bucket))
	w.TimeRange("received_at", sq.Since, sq.Until)
	if sq.Class != "" {
		w.Add("class = ?", q.clean(sq.Class))
	}
	if sq.Domain != "" {
		domain, err := mailaddr.NormalizeDomain(sq.Domain)
		if err != nil {
			return "", nil, fmt.Errorf("stats: %w", err)
		}
		w.Add("recipient_domain = ?", q.clean(domain))
	}
	if sq.Reason != "" {
		w.Add("reason = ?", q.clean(sq.Reason))
	}
	return `SELECT ` + bucket + `, ` + col + `, count(*) FROM records` + w.SQL() +
		` GROUP BY 1, 2 ORDER BY 1, 2`, w.Args, nil
}

// Incidents selects incidents, newest first, those whose last block is
// after cutoff (UnixNano) only when openOnly.
func (q Queries) Incidents(openOnly bool, cutoff int64) (string, []any) {
	w := Where{Placeholders: q.Placeholders}
	if openOnly {
		w.Add("last_seen > ?", cutoff)
	}
	return `SELECT ` + incidentColumns + ` FROM incidents` + w.SQL() + ` ORDER BY last_seen DESC, id DESC`, w.Args
}
