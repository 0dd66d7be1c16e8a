// Package postgres is the store for several Rebound instances sharing one
// PostgreSQL database (github.com/jackc/pgx/v5). It keeps the schema and the
// semantics of the SQLite store.
//
// Saves go through a few writer goroutines per instance, each committing
// whatever queued up since its last commit in one transaction (group
// commit) of three pipelined round trips, with set-based statements
// (unnest) rather than statements per message. Saves are idempotent across
// instances: a message is keyed by the hash of its content (INSERT ... ON
// CONFLICT DO NOTHING), so the same bounce delivered to two instances is
// stored once. The suppression state of an address is locked (an upsert
// that locks the row) before a record is scored against it, and incidents
// are serialised by transaction-level advisory locks; every transaction
// takes its locks in one fixed order (content hashes, then addresses, then
// incident keys, each sorted), so writers of one or several instances do
// not deadlock each other in the common case and never lose a soft-bounce
// count. A batch that still meets a deadlock or a serialisation failure is
// run again; one that fails otherwise is retried message by message, so
// that one bad message fails alone.
//
// Text columns hold valid UTF-8 without NUL bytes (PostgreSQL refuses
// others; such bytes are stored as U+FFFD), and indexed ones at most
// maxIndexed bytes; the raw message is kept byte for byte.
//
// The tests need a server: REBOUND_TEST_POSTGRES names a database in which
// each test makes a schema of its own (eval "$(.ci/postgres.sh start)"
// starts a private cluster and sets it).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// Store is a store.Store on a PostgreSQL database. It is safe for
// concurrent use, and several Stores (in one process or many) may share one
// database.
type Store struct {
	opts  store.Options
	reads sqlstore.Reads
	pool  *pgxpool.Pool

	// mu guards closed and sending on reqs, so that Close cannot close the
	// channel under a sender.
	mu         sync.RWMutex
	closed     bool
	reqs       chan *saveRequest
	writerDone chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...), and brings its
// schema up to date; with opts.ReadOnly, it refuses a schema other than
// this build's instead. It has the signature of store.OpenFunc.
func Open(ctx context.Context, url string, opts store.Options) (store.Store, error) {
	return OpenStore(ctx, url, opts)
}

// OpenStore is Open returning the concrete type.
func OpenStore(ctx context.Context, url string, opts store.Options) (*Store, error) {
	opts = opts.WithDefaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.MaxConns < writers+4 {
		cfg.MaxConns = writers + 4 // the writers, and reads beside them
	}
	// A lock held by another instance is waited for no longer than the
	// busy timeout; the batch then fails and the MTA retries.
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["lock_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without connect_timeout in the URL, an unreachable server would
		// hold a Save for the system's TCP timeout.
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.ReadOnly {
		err = checkSchema(ctx, pool, cfg.ConnConfig.Host+"/"+cfg.ConnConfig.Database)
	} else if err = migrate(ctx, pool); err != nil {
		err = fmt.Errorf("postgres: %w", err)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{
		opts:       opts,
		pool:       pool,
		reqs:       make(chan *saveRequest, opts.BatchSize),
		writerDone: make(chan struct{}),
	}
	s.reads = s.newReads()
	go s.writeLoops()
	return s, nil
}

// Close waits for the saves already queued, then closes the connections.
// Saves after Close fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.writerDone
	s.pool.Close()
	return nil
}

func (s *Store) now() time.Time {
	return s.opts.Now()
}

// Migrations are numbered SQL files, NNNN_name.sql (see sqlstore.Migration).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serialises migrations of
// instances starting together ("rebound" in ASCII).
const migrationLock = 0x7265626f756e64

// migrate brings the schema to the newest version. A session advisory lock
// makes instances that start at once migrate one after the other; the
// later ones find the work done. A database written by a newer program is
// refused rather than guessed at.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	return migrateSteps(ctx, pool, ms)
}

// checkSchema refuses a database whose schema is not this build's, for a
// store opened read-only, which may not migrate it. location names the
// database in the error, without the URL's password.
func checkSchema(ctx context.Context, pool *pgxpool.Pool, location string) error {
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var version int
	var exists bool
	err = pool.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists)
	if err == nil && exists {
		err = pool.QueryRow(ctx, sqlstore.VersionQuery).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: reading the schema version: %w", err)
	}
	if version != len(ms) {
		return &store.SchemaError{Location: location, Have: version, Want: len(ms)}
	}
	return nil
}

// migrateSteps brings the schema to the last of ms (tests give fewer steps
// to make the schema of an older program).
func migrateSteps(ctx context.Context, pool *pgxpool.Pool, ms []sqlstore.Migration) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migrating: taking the migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, sqlstore.CreateVersionTable); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	for {
		done, err := migrateStep(ctx, conn.Conn(), ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration, if any, in a transaction of its
// own; done reports the schema was already current.
func migrateStep(ctx context.Context, conn *pgx.Conn, ms []sqlstore.Migration) (done bool, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrating: %w", err)
	}
	defer tx.Rollback(context.Background())
	m, err := sqlstore.ApplyNext(ctx, migrationTx{tx}, sqlstore.Dollar, ms)
	if err != nil || m == nil {
		return m == nil && err == nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return false, nil
}

// migrationTx runs a migration step in a transaction.
type migrationTx struct{ tx pgx.Tx }

func (t migrationTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.Exec(ctx, query, args...)
	return err
}

func (t migrationTx) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, func(), error) {
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, rows.Close, nil
}

// Indexed is what the writers keep in an indexed column (indexed).
func (t migrationTx) Indexed(s string) string { return indexed(s) }

func (t migrationTx) Version(ctx context.Context) (int, bool, error) {
	var v int
	err := t.tx.QueryRow(ctx, sqlstore.VersionQuery).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return v, err == nil, err
}

// retryable reports whether err is a failure that running the transaction
// again can cure: a deadlock or a serialisation failure (SQLSTATE class 40).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001"
	}
	return false
}

// text makes s storable in a TEXT column: PostgreSQL refuses NUL bytes and
// invalid UTF-8, which a broken bounce may well contain. The stored text
// shows U+FFFD in their place.
func text(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// maxIndexed bounds the bytes of a value kept in an indexed column. A
// B-tree entry must fit in a third of a page (about 2700 bytes), and one
// absurd recipient in a forged bounce must not fail the saves of a whole
// batch; no real address comes close (RFC 5321 section 4.5.3.1.3 bounds a
// path to 256 octets).
const maxIndexed = 1000

// indexed is text(s) cut to maxIndexed bytes on a character boundary.
func indexed(s string) string {
	s = text(s)
	if len(s) <= maxIndexed {
		return s
	}
	i := maxIndexed
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
