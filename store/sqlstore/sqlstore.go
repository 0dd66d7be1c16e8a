// Package sqlstore holds what the SQL backends of package store share: the
// schema's column lists and row decoding, the query building for reads,
// the encodings of times and raw messages, the preparation of a Save
// (hashing, compression, record keys) and the migration bookkeeping.
//
// It speaks to a database only through the small interfaces below, which
// database/sql and pgx rows both satisfy, so that each backend keeps its
// own driver, its own write path (upserts, locking) and its own settings.
package sqlstore

import (
	"strconv"
	"strings"
)

// Scanner is one row: *sql.Row, *sql.Rows, pgx.Row and pgx.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a result set being read: *sql.Rows and pgx.Rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Placeholders is the parameter style of a database's SQL.
type Placeholders int

const (
	// Question is SQLite's positional "?".
	Question Placeholders = iota
	// Dollar is PostgreSQL's numbered "$1", "$2", ...
	Dollar
)

// Param is the n-th parameter (from 1).
func (p Placeholders) Param(n int) string {
	if p == Dollar {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// bind replaces the "?" of cond by the parameters numbered from first.
func (p Placeholders) bind(cond string, first int) string {
	if p == Question || !strings.Contains(cond, "?") {
		return cond
	}
	var b strings.Builder
	n := first
	for {
		i := strings.IndexByte(cond, '?')
		if i < 0 {
			b.WriteString(cond)
			return b.String()
		}
		b.WriteString(cond[:i])
		b.WriteString(p.Param(n))
		n++
		cond = cond[i+1:]
	}
}
