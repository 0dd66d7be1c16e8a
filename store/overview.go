package store

import (
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/suppress"
)

// ProviderOther is the provider of a record whose remote MTA and recipient
// domain belong to none of the known providers (suppress.Provider).
const ProviderOther = "other"

// OverviewProvider is the provider an Overview counts r under: the one
// behind its remote MTA, else the one of its recipient's domain, else
// ProviderOther. Unlike an incident's destination it never falls back to
// the domain itself, so that the list stays a list of providers.
func OverviewProvider(r *record.Record) string {
	if p := suppress.Provider(r.RemoteMTA); p != "" {
		return p
	}
	if p := suppress.Provider(suppress.RecipientDomain(r.Recipient)); p != "" {
		return p
	}
	return ProviderOther
}

// Check reports what is wrong with q, nil when Overview can answer it. It
// returns q with Top defaulted.
func (q OverviewQuery) Check() (OverviewQuery, error) {
	utc := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	switch {
	case q.Since.IsZero():
		return q, fmt.Errorf("overview: the start of the range (since) is required")
	case q.Until.IsZero():
		return q, fmt.Errorf("overview: the end of the range (until) is required")
	case !q.Since.Before(q.Until):
		return q, fmt.Errorf("overview: since %s is not before until %s", utc(q.Since), utc(q.Until))
	case q.Bucket != time.Hour && q.Bucket != 24*time.Hour:
		return q, fmt.Errorf("overview: bucket %s: want 1h (hours) or 24h (days)", q.Bucket)
	case q.Top < 0 || q.Top > MaxOverviewTop:
		return q, fmt.Errorf("overview: top %d: want 0 (for %d) to %d", q.Top, DefaultOverviewTop, MaxOverviewTop)
	}
	unit := "hour"
	if q.Bucket != time.Hour {
		unit = "day (00:00 UTC)"
	}
	// Buckets are counted from the Unix epoch, so a whole hour or day is
	// one in UTC whatever the location of the times given.
	if q.Since.UnixNano()%int64(q.Bucket) != 0 {
		return q, fmt.Errorf("overview: since %s is not on a whole %s", utc(q.Since), unit)
	}
	if q.Until.UnixNano()%int64(q.Bucket) != 0 {
		return q, fmt.Errorf("overview: until %s is not on a whole %s", utc(q.Until), unit)
	}
	if n := q.Until.Sub(q.Since) / q.Bucket; n > MaxOverviewBuckets {
		return q, fmt.Errorf("overview: %d buckets from %s to %s: at most %d", n, utc(q.Since), utc(q.Until), MaxOverviewBuckets)
	}
	if q.Top == 0 {
		q.Top = DefaultOverviewTop
	}
	return q, nil
}
