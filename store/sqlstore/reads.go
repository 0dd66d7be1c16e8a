package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// Reads runs the listings of store.Store whose SQL is the same on every
// backend; a backend gives it its way of running a query.
type Reads struct {
	Queries Queries
	// Backend names the store at the head of errors ("sqlite").
	Backend string
	// Query runs a query; release frees its rows once read.
	Query func(ctx context.Context, query string, args ...any) (rows Rows, release func(), err error)
	// ScanAddress reads a row of AddressColumns, evidence included.
	ScanAddress func(Scanner) (suppress.State, error)
}

// list runs query and reads its rows with collect; what names the rows in
// errors.
func list[T any](ctx context.Context, r *Reads, what string, collect func(Rows) ([]T, error), query string, args ...any) ([]T, error) {
	rows, release, err := r.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: listing %s: %w", r.Backend, what, err)
	}
	defer release()
	out, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Backend, err)
	}
	return out, nil
}

// Records lists stored records by ID, oldest first or newest first with
// q.Newest.
func (r *Reads) Records(ctx context.Context, q store.Query) ([]record.Record, error) {
	query, args, err := r.Queries.Records(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Backend, err)
	}
	return list(ctx, r, "records", CollectRecords, query, args...)
}

// Record returns one stored record by id, or store.ErrNotFound.
func (r *Reads) Record(ctx context.Context, id int64) (*record.Record, error) {
	recs, err := list(ctx, r, "records", CollectRecords, r.Queries.Record(), id)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, store.ErrNotFound
	}
	return &recs[0], nil
}

// RecordsOf lists the records of one message, in report order.
func (r *Reads) RecordsOf(ctx context.Context, messageID int64) ([]record.Record, error) {
	return list(ctx, r, "records", CollectRecords, r.Queries.MessageRecords(), messageID)
}

// Messages lists stored messages, oldest first, without Raw and Records.
func (r *Reads) Messages(ctx context.Context, q store.MessageQuery) ([]store.Message, error) {
	query, args := r.Queries.Messages(q)
	return list(ctx, r, "messages", CollectMessages, query, args...)
}

// Suppressions lists the suppressions in force at now, by address.
func (r *Reads) Suppressions(ctx context.Context, now time.Time) ([]store.Suppression, error) {
	collect := func(rows Rows) ([]store.Suppression, error) {
		return CollectSuppressions(rows, r.ScanAddress)
	}
	return list(ctx, r, "suppressions", collect, r.Queries.Suppressions(), UnixNano(now))
}

// ListSuppressions lists the suppressions in force at q.Now (zero: now)
// that q selects, by address.
func (r *Reads) ListSuppressions(ctx context.Context, q store.SuppressionQuery, now time.Time) ([]store.Suppression, error) {
	if !q.Now.IsZero() {
		now = q.Now
	}
	query, args, err := r.Queries.ListSuppressions(q, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Backend, err)
	}
	collect := func(rows Rows) ([]store.Suppression, error) {
		return CollectSuppressions(rows, r.ScanAddress)
	}
	return list(ctx, r, "suppressions", collect, query, args...)
}

// CheckSuppressions returns the suppressions in force at now among
// addresses, in their order, one per suppressed address. Each address is
// normalized as the store keeps it; one that is none is an error naming
// it. At most MaxCheck addresses are taken, looked up CheckChunk at a time.
func (r *Reads) CheckSuppressions(ctx context.Context, addresses []string, now time.Time) ([]store.Suppression, error) {
	if len(addresses) > MaxCheck {
		return nil, fmt.Errorf("%s: checking %d addresses: at most %d at once", r.Backend, len(addresses), MaxCheck)
	}
	// The normalized addresses, each once, in the order first given.
	order := make([]string, 0, len(addresses))
	seen := make(map[string]bool, len(addresses))
	for i, a := range addresses {
		addr, err := store.Address(a)
		if err != nil {
			return nil, fmt.Errorf("%s: address %d of the batch, %s: %w", r.Backend, i+1, mailaddr.Quote(a, 64), err)
		}
		if !seen[addr] {
			seen[addr] = true
			order = append(order, addr)
		}
	}
	found := make(map[string]store.Suppression)
	collect := func(rows Rows) ([]store.Suppression, error) {
		return CollectSuppressions(rows, r.ScanAddress)
	}
	for chunk := range slices.Chunk(order, CheckChunk) {
		query, args := r.Queries.CheckAddresses(chunk, now)
		sups, err := list(ctx, r, "suppressions", collect, query, args...)
		if err != nil {
			return nil, err
		}
		for _, sup := range sups {
			found[sup.Address] = sup
		}
	}
	var out []store.Suppression
	for _, addr := range order {
		// A backend that cuts long text finds the address under its cut
		// form (Queries.Clean).
		if sup, ok := found[r.Queries.clean(addr)]; ok {
			out = append(out, sup)
		}
	}
	return out, nil
}

// Stats counts the records of q in buckets, by q.By, ordered by bucket
// start, then key.
func (r *Reads) Stats(ctx context.Context, q store.StatsQuery) ([]store.StatsCount, error) {
	query, args, err := r.Queries.Stats(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Backend, err)
	}
	collect := func(rows Rows) ([]store.StatsCount, error) {
		var counts []store.StatsCount
		for rows.Next() {
			var bucket, n int64
			var key string
			if err := rows.Scan(&bucket, &key, &n); err != nil {
				return nil, fmt.Errorf("reading stats: %w", err)
			}
			counts = append(counts, store.StatsCount{Start: q.Since.Add(time.Duration(bucket) * q.Bucket), Key: key, Count: n})
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("counting records: %w", err)
		}
		// Keys in byte order on every backend, whatever the collation of
		// the database.
		slices.SortStableFunc(counts, func(a, b store.StatsCount) int {
			if c := a.Start.Compare(b.Start); c != 0 {
				return c
			}
			return strings.Compare(a.Key, b.Key)
		})
		return counts, nil
	}
	return list(ctx, r, "stats", collect, query, args...)
}

// SchemaCurrent checks that the schema's version is want, the number of
// migrations of this build.
func (r *Reads) SchemaCurrent(ctx context.Context, want int) error {
	versions, err := list(ctx, r, "schema version", func(rows Rows) ([]int, error) {
		var vs []int
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return nil, fmt.Errorf("reading schema version: %w", err)
			}
			vs = append(vs, v)
		}
		return vs, rows.Err()
	}, VersionQuery)
	if err != nil {
		return err
	}
	switch {
	case len(versions) != 1:
		return fmt.Errorf("%s: schema_version has %d rows, want 1", r.Backend, len(versions))
	case versions[0] != want:
		return fmt.Errorf("%s: schema version is %d, this program expects %d", r.Backend, versions[0], want)
	}
	return nil
}

// Incidents lists incidents, newest first; open ones only when openOnly.
// An incident is open at now while its last block is less than quiet ago.
func (r *Reads) Incidents(ctx context.Context, openOnly bool, now time.Time, quiet time.Duration) ([]store.Incident, error) {
	cutoff := UnixNano(now.Add(-quiet))
	query, args := r.Queries.Incidents(openOnly, cutoff)
	collect := func(rows Rows) ([]store.Incident, error) {
		return CollectIncidents(rows, cutoff)
	}
	return list(ctx, r, "incidents", collect, query, args...)
}
