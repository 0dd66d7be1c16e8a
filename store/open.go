package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/suppress"
)

// OpenFunc opens one backend. location is what Open resolved from the URL:
// the file path for SQLite, the URL itself for network databases.
type OpenFunc func(ctx context.Context, location string, opts Options) (Store, error)

// Options configure a store. The zero value is usable once Backends is set
// (and Open is not needed to open a backend directly).
type Options struct {
	// Policy scores records for suppressions and incidents; the zero
	// Policy means suppress.DefaultPolicy, and unset soft and incident
	// settings take their defaults (suppress.Policy.WithDefaults).
	Policy suppress.Policy
	// BatchSize bounds how many Saves one transaction commits (0: 256).
	BatchSize int
	// BusyTimeout bounds how long a write waits for a lock held by another
	// process before it fails (0: 5s).
	BusyTimeout time.Duration
	// Now is the clock for times the caller did not give (a message's
	// ReceivedAt, a manual suppression's Since); nil means time.Now.
	Now func() time.Time
	// Outbox writes an event (see Event) for every new record, suppression
	// change and incident change, in the transaction of the change: set it
	// while webhooks are configured.
	Outbox bool
	// ReadOnly opens an existing store for reading: nothing is created, no
	// migration runs, and a schema other than this build's is refused
	// (SchemaError). Writes fail.
	ReadOnly bool
	// Backends maps URL schemes ("sqlite", "postgres") to the functions
	// that open them; see the package comment.
	Backends map[string]OpenFunc
}

// Defaults of Options.
const (
	DefaultBatchSize   = 256
	DefaultBusyTimeout = 5 * time.Second
)

// WithDefaults returns o with its zero fields replaced by their defaults.
func (o Options) WithDefaults() Options {
	if o.Policy == (suppress.Policy{}) {
		o.Policy = suppress.DefaultPolicy
	}
	o.Policy = o.Policy.WithDefaults()
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Open opens the store named by url with the backend registered for its
// scheme in opts.Backends. Accepted forms:
//
//	sqlite:///var/lib/rebound/rebound.db   absolute path
//	sqlite:rebound.db                      path as given (relative or absolute)
//	/var/lib/rebound/rebound.db            a bare path is SQLite
//	postgres://user@host/db, postgresql://...  PostgreSQL, URL passed whole
func Open(ctx context.Context, url string, opts Options) (Store, error) {
	scheme, location, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	open := opts.Backends[scheme]
	if open == nil {
		return nil, fmt.Errorf("store: no %s backend in this program", scheme)
	}
	return open(ctx, location, opts)
}

// ParseURL splits a store URL into the backend scheme ("sqlite" or
// "postgres") and the location handed to that backend.
func ParseURL(url string) (scheme, location string, err error) {
	if url == "" {
		return "", "", fmt.Errorf("store: empty store url")
	}
	i := strings.Index(url, ":")
	// A bare path has no scheme; "C:\..." style drive letters are paths too.
	if i <= 1 || strings.ContainsAny(url[:i], "/\\.") {
		return "sqlite", url, nil
	}
	switch s := strings.ToLower(url[:i]); s {
	case "sqlite", "sqlite3":
		rest := url[i+1:]
		if strings.HasPrefix(rest, "//") {
			// sqlite:///abs/path: empty authority, then the path.
			rest = rest[2:]
			if !strings.HasPrefix(rest, "/") {
				return "", "", fmt.Errorf("store: %q: want sqlite:///absolute/path or sqlite:path", url)
			}
		}
		if rest == "" || rest == "/" {
			return "", "", fmt.Errorf("store: %q: missing database path", url)
		}
		return "sqlite", rest, nil
	case "postgres", "postgresql":
		return "postgres", url, nil
	default:
		// The URL is not repeated: it may hold a password.
		return "", "", fmt.Errorf("store: unknown store scheme %q (want sqlite or postgres)", s)
	}
}

// SchemaError is returned when a store opened with Options.ReadOnly has
// a schema other than this build's: reading it would misread its tables,
// and a read-only open may not migrate it.
type SchemaError struct {
	Location string // the SQLite path, or the database's host and name
	Have     int    // the store's schema version
	Want     int    // this build's
}

func (e *SchemaError) Error() string {
	if e.Have > e.Want {
		return fmt.Sprintf("store %s has schema version %d, newer than this rebound's %d: use a newer rebound", e.Location, e.Have, e.Want)
	}
	return fmt.Sprintf("store %s has schema version %d, this rebound needs %d: run rebound serve or import once to upgrade", e.Location, e.Have, e.Want)
}
