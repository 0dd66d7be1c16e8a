package sqlstore

import (
	"context"
	"fmt"
	"time"

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

// Records lists stored records, oldest first.
func (r *Reads) Records(ctx context.Context, q store.Query) ([]record.Record, error) {
	query, args, err := r.Queries.Records(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Backend, err)
	}
	return list(ctx, r, "records", CollectRecords, query, args...)
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
