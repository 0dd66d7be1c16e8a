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

// Sorted lists the rows of r in the order writers lock them: table, then
// the primary key's order (dimension, key, unit, class).
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
		return cmp.Or(cmp.Compare(a.Dim, b.Dim), strings.Compare(a.Key, b.Key),
			cmp.Compare(a.Unit, b.Unit), strings.Compare(a.Class, b.Class))
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
// after a text to sort it by bytes ("" for SQLite's binary default,
// ` COLLATE "C"` for PostgreSQL); shards is how many shards its writers
// spread a row over.
func (r *Reads) Overview(ctx context.Context, q store.OverviewQuery, collate string, shards int) (*store.Overview, error) {
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
	w := Where{Placeholders: r.Queries.Placeholders}
	w.Add("dim = ? AND key = ''", DimClass)
	w.Add(unit+" >= ? AND "+unit+" < ?", first, end)
	series := `SELECT ` + unit + `, class, CAST(sum(count) AS BIGINT) FROM ` + table + w.SQL() + ` GROUP BY ` + unit + `, class`
	err = r.each(ctx, series, w.Args, func(rows Rows) error {
		var u, n int64
		var class string
		if err := rows.Scan(&u, &class, &n); err != nil {
			return err
		}
		if i := u - first; i >= 0 && i < int64(len(ov.Buckets)) && n != 0 {
			ov.Buckets[i].Counts[class] += n
			ov.Totals[class] += n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := topQuery{r: r, top: q.Top, collate: collate, rowsPerKey: max(1, len(ov.Totals)) * max(1, shards)}
	t.spans(since, until)
	for _, top := range []struct {
		dim int
		dst *[]store.TopEntry
	}{{DimReason, &ov.Reasons}, {DimDomain, &ov.Domains}, {DimProvider, &ov.Providers}} {
		t.dim = top.dim
		if *top.dst, err = t.run(ctx); err != nil {
			return nil, err
		}
	}
	return ov, nil
}

// each runs query and calls fn on each row.
func (r *Reads) each(ctx context.Context, query string, args []any, fn func(Rows) error) error {
	rows, release, err := r.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
	}
	defer release()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: reading the overview: %w", r.Backend, err)
	}
	return nil
}

// topQuery finds the top keys of one dimension over a range: its leading
// and trailing hours from rollup_hours, its whole days from rollup_days.
//
// Summing every row of a month of domains would read hundreds of
// thousands of rows, so it searches first. The counts of a few likely keys
// (the largest rows of each span) give a lower bound b of the top list's
// last total. A key with a total of at least b over m spans, each with at
// most rowsPerKey rows of it (classes times shards), has a row of at least
// b/(m·rowsPerKey) in one span: the index by count finds those keys, and
// only their rows are summed. When the bound is too weak to leave out a
// row, every row is summed instead.
type topQuery struct {
	r          *Reads
	dim        int
	top        int
	collate    string
	rowsPerKey int
	hours      []int64 // the units of the leading and trailing hours
	h1, h2     int64   // [h1, h2) and [h3, h4): the hours
	h3, h4     int64
	d1, d2     int64 // [d1, d2): the days
}

func (t *topQuery) spans(since, until int64) {
	t.h1, t.h2, t.d1, t.d2, t.h3, t.h4 = overviewSpans(since, until)
	t.hours = t.hours[:0]
	for h := t.h1; h < t.h2; h++ {
		t.hours = append(t.hours, h)
	}
	for h := t.h3; h < t.h4; h++ {
		t.hours = append(t.hours, h)
	}
}

// parts is the union of the rows of the spans that cond (with its args)
// selects, and its arguments.
func (t *topQuery) parts(cond string, args ...any) (string, []any) {
	w := Where{Placeholders: t.r.Queries.Placeholders}
	var parts []string
	add := func(daily bool, from, to int64) {
		if from >= to {
			return
		}
		table, unit := RollupTable(daily)
		before := len(w.conds)
		w.Add("dim = ?", t.dim)
		if cond != "" {
			w.Add(cond, args...)
		}
		w.Add(unit+" >= ? AND "+unit+" < ?", from, to)
		parts = append(parts, `SELECT key, class, count FROM `+table+` WHERE `+strings.Join(w.conds[before:], " AND "))
	}
	add(false, t.h1, t.h2)
	add(true, t.d1, t.d2)
	add(false, t.h3, t.h4)
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, ` UNION ALL `), w.Args
}

// counts sums the rows of keys by class.
func (t *topQuery) counts(ctx context.Context, keys []string, into map[string]map[string]int64) error {
	for chunk := range slices.Chunk(keys, CheckChunk) {
		var cond string
		var arg []any
		if t.r.Queries.Placeholders == Dollar {
			cond, arg = "key = ANY (?)", []any{chunk}
		} else {
			cond = "key IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ")"
			for _, k := range chunk {
				arg = append(arg, k)
			}
		}
		union, args := t.parts(cond, arg...)
		if union == "" {
			return nil
		}
		err := t.r.each(ctx, `SELECT key, class, CAST(sum(count) AS BIGINT) FROM (`+union+`) AS s GROUP BY key, class`, args,
			func(rows Rows) error {
				var key, class string
				var n int64
				if err := rows.Scan(&key, &class, &n); err != nil {
					return err
				}
				if into[key] == nil {
					into[key] = map[string]int64{}
				}
				if n != 0 {
					into[key][class] += n
				}
				return nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// keysOver lists the keys with a row of at least min in the spans, or
// with limit > 0, those of the limit largest rows of each span.
func (t *topQuery) keysOver(ctx context.Context, min int64, limit int, into map[string]bool) error {
	collect := func(rows Rows) error {
		var key string
		if err := rows.Scan(&key); err != nil {
			return err
		}
		into[key] = true
		return nil
	}
	for _, sp := range []struct {
		daily bool
		units []int64
	}{{false, t.hours}, {true, rangeOf(t.d1, t.d2)}} {
		if len(sp.units) == 0 {
			continue
		}
		table, unit := RollupTable(sp.daily)
		if limit > 0 && t.r.Queries.Placeholders == Dollar {
			// One round trip for every span.
			query := `SELECT r.key FROM unnest($2::bigint[]) AS u(unit) CROSS JOIN LATERAL
				(SELECT key FROM ` + table + ` WHERE dim = $1 AND ` + unit + ` = u.unit
				ORDER BY count DESC LIMIT $3) AS r`
			if err := t.r.each(ctx, query, []any{t.dim, sp.units, limit}, collect); err != nil {
				return err
			}
			continue
		}
		if limit > 0 {
			for _, u := range sp.units {
				w := Where{Placeholders: t.r.Queries.Placeholders}
				w.Add("dim = ? AND "+unit+" = ?", t.dim, u)
				query := `SELECT key FROM ` + table + w.SQL() + ` ORDER BY count DESC` + Limit(limit)
				if err := t.r.each(ctx, query, w.Args, collect); err != nil {
					return err
				}
			}
			continue
		}
		w := Where{Placeholders: t.r.Queries.Placeholders}
		w.Add("dim = ?", t.dim)
		if t.r.Queries.Placeholders == Dollar {
			w.Add(unit+" = ANY (?)", sp.units)
		} else {
			args := make([]any, len(sp.units))
			for i, u := range sp.units {
				args[i] = u
			}
			w.Add(unit+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(sp.units)), ", ")+")", args...)
		}
		w.Add("count >= ?", min)
		// Without DISTINCT: SQLite would rather read the primary key in
		// its order (by key) than the index by count.
		if err := t.r.each(ctx, `SELECT key FROM `+table+w.SQL(), w.Args, collect); err != nil {
			return err
		}
	}
	return nil
}

func rangeOf(from, to int64) []int64 {
	var out []int64
	for u := from; u < to; u++ {
		out = append(out, u)
	}
	return out
}

// ranked is the top list of counts.
func (t *topQuery) ranked(counts map[string]map[string]int64) []store.TopEntry {
	out := make([]store.TopEntry, 0, len(counts))
	for key, c := range counts {
		e := store.TopEntry{Key: key, Counts: c}
		for _, n := range c {
			e.Total += n
		}
		if e.Total != 0 {
			out = append(out, e)
		}
	}
	// Keys in byte order on every backend, whatever the database's
	// collation.
	slices.SortFunc(out, func(a, b store.TopEntry) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), strings.Compare(a.Key, b.Key))
	})
	return out[:min(len(out), t.top)]
}

func (t *topQuery) run(ctx context.Context) ([]store.TopEntry, error) {
	spans := int64(len(t.hours)) + max(0, t.d2-t.d1)
	if spans == 0 {
		return []store.TopEntry{}, nil
	}
	likely := map[string]bool{}
	counts := map[string]map[string]int64{}
	var list []store.TopEntry
	// The largest rows of each span; when they name too few keys (a key
	// has up to rowsPerKey rows in a span), enough to name the top keys
	// of each span several times over.
	for _, limit := range []int{2 * t.top, 2 * t.top * t.rowsPerKey} {
		if err := t.keysOver(ctx, 0, limit, likely); err != nil {
			return nil, err
		}
		var fresh []string
		for k := range likely {
			if counts[k] == nil {
				fresh = append(fresh, k)
			}
		}
		slices.Sort(fresh)
		if err := t.counts(ctx, fresh, counts); err != nil {
			return nil, err
		}
		if list = t.ranked(counts); len(list) == t.top || t.rowsPerKey == 1 {
			break
		}
	}
	if len(list) == t.top {
		bound := list[len(list)-1].Total
		per := spans * int64(t.rowsPerKey)
		if least := (bound + per - 1) / per; least > 1 {
			more := map[string]bool{}
			if err := t.keysOver(ctx, least, 0, more); err != nil {
				return nil, err
			}
			var rest []string
			for k := range more {
				if !likely[k] {
					rest = append(rest, k)
				}
			}
			slices.Sort(rest)
			if err := t.counts(ctx, rest, counts); err != nil {
				return nil, err
			}
			return t.ranked(counts), nil
		}
	}
	return t.all(ctx)
}

// all sums every row of the spans, ranks the keys in the database and
// returns the top ones' counts by class.
func (t *topQuery) all(ctx context.Context) ([]store.TopEntry, error) {
	union, args := t.parts("")
	if union == "" {
		return []store.TopEntry{}, nil
	}
	w := Where{Placeholders: t.r.Queries.Placeholders, Args: args}
	w.Add("?", t.top)
	limit := w.conds[0]
	query := `WITH c AS (SELECT key, class, CAST(sum(count) AS BIGINT) AS n FROM (` + union + `) AS s
			GROUP BY key, class),
		t AS (SELECT key, CAST(sum(n) AS BIGINT) AS total FROM c GROUP BY key HAVING sum(n) <> 0
			ORDER BY total DESC, key` + t.collate + ` LIMIT ` + limit + `)
		SELECT c.key, c.class, c.n FROM c JOIN t ON t.key = c.key`
	counts := map[string]map[string]int64{}
	err := t.r.each(ctx, query, w.Args, func(rows Rows) error {
		var key, class string
		var n int64
		if err := rows.Scan(&key, &class, &n); err != nil {
			return err
		}
		if counts[key] == nil {
			counts[key] = map[string]int64{}
		}
		if n != 0 {
			counts[key][class] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.ranked(counts), nil
}
