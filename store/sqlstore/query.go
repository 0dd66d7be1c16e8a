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

// Records selects the records of rq, oldest first. A Recipient or Domain
// that is none is an error (package mailaddr says what is wrong with it).
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
	w.TimeRange("received_at", rq.Since, rq.Until)
	return `SELECT ` + RecordColumns + ` FROM records` + w.SQL() +
		` ORDER BY received_at, id` + Limit(rq.Limit), w.Args, nil
}

// MessageRecords selects the records of one message (its id the only
// argument), in report order.
func (q Queries) MessageRecords() string {
	return `SELECT ` + RecordColumns + ` FROM records
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
	return `SELECT ` + MessageColumns + ` FROM messages` + w.SQL() +
		` ORDER BY received_at, id` + Limit(mq.Limit), w.Args
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

// Incidents selects incidents, newest first, those whose last block is
// after cutoff (UnixNano) only when openOnly.
func (q Queries) Incidents(openOnly bool, cutoff int64) (string, []any) {
	w := Where{Placeholders: q.Placeholders}
	if openOnly {
		w.Add("last_seen > ?", cutoff)
	}
	return `SELECT ` + incidentColumns + ` FROM incidents` + w.SQL() + ` ORDER BY last_seen DESC, id DESC`, w.Args
}
