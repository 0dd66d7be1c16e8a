package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// Rollups are counts of records kept beside them for store.Overview, so
// that it never reads the records: rollup_hours counts by hour, and
// rollup_days by day (00:00 UTC), each row the records of one class with
// one key of one dimension. The hourly rows give the buckets of an hourly
// overview and the edges of a range; the daily ones the rest, so that a
// month's top domains read a row per day and domain, not per hour.
//
// A row is also keyed by a shard: PostgreSQL's writers take a shard per
// transaction, so that two writers counting the same hour and class do not
// wait for each other's commit on one row. Reads sum the shards.
const (
	DimClass    = 0 // key "": the series of counts by class
	DimReason   = 1
	DimDomain   = 2 // the recipient's domain
	DimProvider = 3 // store.OverviewProvider
)

// Unit numbers of the rollup tables: hours and days since the Unix epoch.
const (
	hourNanos = int64(time.Hour)
	dayNanos  = 24 * hourNanos
)

// floorDiv is a / b rounded down, for times before 1970 too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// RollupKey is one row of a rollup table.
type RollupKey struct {
	Daily bool  // rollup_days, else rollup_hours
	Unit  int64 // the hour or day number
	Dim   int
	Key   string
	Class string
}

// Rollups collects the increments of one transaction, so that each row is
// written once however many records of the batch it counts.
type Rollups map[RollupKey]int64

// Add counts one record received at t (UnixNano) with the given class,
// reason, recipient domain and provider, as the backend keeps them.
func (r Rollups) Add(t int64, class, reason, domain, provider string) {
	hour, day := floorDiv(t, hourNanos), floorDiv(t, dayNanos)
	for _, d := range []struct {
		dim int
		key string
	}{{DimClass, ""}, {DimReason, reason}, {DimDomain, domain}, {DimProvider, provider}} {
		r[RollupKey{false, hour, d.dim, d.key, class}]++
		r[RollupKey{true, day, d.dim, d.key, class}]++
	}
}

// AddRecord counts pr; clean makes its reason and class what the backend
// stores (nil keeps them).
func (r Rollups) AddRecord(pr *PreparedRecord, clean func(string) string) {
	rec := &pr.Rec
	reason, class := rec.Reason, rec.Class
	if clean != nil {
		reason, class = clean(reason), clean(class)
	}
	r.Add(UnixNano(rec.ReceivedAt), class, reason, pr.Domain, store.OverviewProvider(rec))
}

// Sorted lists the rows of r in the order writers lock them: table, unit,
// dimension, key, class.
func (r Rollups) Sorted() []RollupKey {
	keys := make([]RollupKey, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b RollupKey) int {
		if a.Daily != b.Daily {
			if a.Daily {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Unit, b.Unit), cmp.Compare(a.Dim, b.Dim),
			strings.Compare(a.Key, b.Key), strings.Compare(a.Class, b.Class))
	})
	return keys
}

// RollupTable is the table of daily or hourly rows, and the name of its
// unit column.
func RollupTable(daily bool) (table, unit string) {
	if daily {
		return "rollup_days", "day"
	}
	return "rollup_hours", "hour"
}

// RollupRecordColumns are the columns of records the rollups are filled
// from when a schema gains them (FillRollups), after the id.
const RollupRecordColumns = `received_at, class, reason, recipient_domain, remote_mta, recipient, status, smtp_code, address`

// overviewSpans splits [since, until) (on whole hours) into its leading
// hours, its whole days and its trailing hours, as unit numbers: the top
// lists read the daily rows where a whole day is in the range.
func overviewSpans(since, until int64) (h1, h2, d1, d2, h3, h4 int64) {
	sh, uh := since/hourNanos, until/hourNanos
	sd := floorDiv(since+dayNanos-1, dayNanos) // first whole day
	ud := floorDiv(until, dayNanos)            // end of the last whole day
	if sd >= ud {
		// No whole day: hours only.
		return sh, uh, 0, 0, 0, 0
	}
	return sh, sd * 24, sd, ud, ud * 24, uh
}

// Overview answers q from the rollups. collate is what the backend puts
// after a text to sort it by bytes ("" for SQLite's binary default, ` COLLATE "C"` for PostgreSQL).
func (r *Reads) Overview(ctx context.Context, q store.OverviewQuery, collate string) (*store.Overview, error) {
	q, err := q.Check()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Backend, err)
	}
	since, until := UnixNano(q.Since), UnixNano(q.Until)
	daily := q.Bucket != time.Hour
	unitNanos := hourNanos
	if daily {
		unitNanos = dayNanos
	}
	first, end := floorDiv(since, unitNanos), floorDiv(until, unitNanos)
	ov := &store.Overview{
		Since:   FromUnixNano(since),
		Until:   FromUnixNano(until),
		Buckets: make([]store.OverviewBucket, end-first),
		Totals:  map[string]int64{},
	}
	for i := range ov.Buckets {
		ov.Buckets[i] = store.OverviewBucket{Start: FromUnixNano((first + int64(i)) * unitNanos), Counts: map[string]int64{}}
	}
	table, unit := RollupTable(daily)
	p := r.Queries.Placeholders
	series := `SELECT ` + unit + `, class, CAST(sum(count) AS BIGINT) FROM ` + table + ` WHERE dim = ` + p.Param(1) +
		` AND ` + unit + ` >= ` + p.Param(2) + ` AND ` + unit + ` < ` + p.Param(3) + ` GROUP BY ` + unit + `, class`
	rows, release, err := r.Query(ctx, series, DimClass, first, end)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
	}
	for rows.Next() {
		var u, n int64
		var class string
		if err := rows.Scan(&u, &class, &n); err != nil {
			release()
			return nil, fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
		}
		if i := u - first; i >= 0 && i < int64(len(ov.Buckets)) && n != 0 {
			ov.Buckets[i].Counts[class] += n
			ov.Totals[class] += n
		}
	}
	err = rows.Err()
	release()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
	}
	h1, h2, d1, d2, h3, h4 := overviewSpans(since, until)
	for _, top := range []struct {
		dim int
		dst *[]store.TopEntry
	}{{DimReason, &ov.Reasons}, {DimDomain, &ov.Domains}, {DimProvider, &ov.Providers}} {
		entries, err := r.overviewTop(ctx, top.dim, q.Top, collate, h1, h2, d1, d2, h3, h4)
		if err != nil {
			return nil, err
		}
		*top.dst = entries
	}
	return ov, nil
}

// overviewTop lists the top keys of dim over the hours [h1, h2) and
// [h3, h4) and the days [d1, d2): the keys are ranked in the database,
// and only the top ones' counts by class come back.
func (r *Reads) overviewTop(ctx context.Context, dim, top int, collate string, h1, h2, d1, d2, h3, h4 int64) ([]store.TopEntry, error) {
	p := r.Queries.Placeholders
	n := 0
	param := func() string { n++; return p.Param(n) }
	var args []any
	var parts []string
	span := func(daily bool, from, to int64) {
		if from >= to {
			return
		}
		table, unit := RollupTable(daily)
		parts = append(parts, `SELECT key, class, count FROM `+table+` WHERE dim = `+param()+
			` AND `+unit+` >= `+param()+` AND `+unit+` < `+param())
		args = append(args, dim, from, to)
	}
	span(false, h1, h2)
	span(true, d1, d2)
	span(false, h3, h4)
	if len(parts) == 0 {
		return []store.TopEntry{}, nil
	}
	query := `WITH c AS (SELECT key, class, CAST(sum(count) AS BIGINT) AS n FROM (` + strings.Join(parts, ` UNION ALL `) + `) AS s
			GROUP BY key, class),
		t AS (SELECT key, CAST(sum(n) AS BIGINT) AS total FROM c GROUP BY key HAVING sum(n) <> 0
			ORDER BY total DESC, key` + collate + ` LIMIT ` + param() + `)
		SELECT c.key, c.class, c.n, t.total FROM c JOIN t ON t.key = c.key`
	args = append(args, top)
	rows, release, err := r.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
	}
	defer release()
	byKey := map[string]*store.TopEntry{}
	for rows.Next() {
		var key, class string
		var count, total int64
		if err := rows.Scan(&key, &class, &count, &total); err != nil {
			return nil, fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
		}
		e := byKey[key]
		if e == nil {
			e = &store.TopEntry{Key: key, Total: total, Counts: map[string]int64{}}
			byKey[key] = e
		}
		if count != 0 {
			e.Counts[class] = count
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
	}
	out := make([]store.TopEntry, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, *e)
	}
	// Keys in byte order on every backend, whatever the database's
	// collation.
	slices.SortFunc(out, func(a, b store.TopEntry) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), strings.Compare(a.Key, b.Key))
	})
	return out, nil
}
