// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite,
// no cgo) in WAL mode with synchronous=FULL, so a committed Save survives a
// crash or power loss.
//
// All writes go through one writer goroutine that commits whatever has
// queued up since its last commit in one transaction (group commit): the
// cost of the fsync is shared by every message of the batch, which is what
// lets one disk accept thousands of bounces per second. A message that
// fails is rolled back alone and the others of its batch still commit: the
// batch is then run again with a savepoint around each message. Reads use
// a separate pool of connections and are not blocked by the writer (WAL).
//
// Hashing and compressing the raw message happen in the caller's goroutine,
// so that the single writer only writes.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// Store is a store.Store on one SQLite file. It is safe for concurrent use.
type Store struct {
	opts  store.Options
	reads sqlstore.Reads
	path  string
	dsn   string
	// db is the connection pool; the writer replaces it when it finds the
	// database file replaced under it.
	db atomic.Pointer[sql.DB]
	// stmts are the prepared statements of the reads.
	stmts stmtCache

	// mu guards closed and sending on jobs, so that Close cannot close the
	// channel under a sender.
	mu         sync.RWMutex
	closed     bool
	jobs       chan *job
	writerDone chan struct{}
	w          *writer // owned by the writer goroutine

	stopCheckpoints chan struct{}
	// walBacklog is the number of WAL frames the last passive checkpoint
	// found; the writer restarts the WAL when it grows past walLimit
	// (walRestartFrames; tests lower it).
	walBacklog      atomic.Int64
	walLimit        int64
	checkpointNow   chan struct{} // tests: checkpoint before the next tick
	checkpointsDone chan struct{}

	// fault, when set by tests, fails a message after its rows are
	// written, to check that the failure stays inside its savepoint.
	fault func(m *store.Message) error
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the SQLite database at path and brings its schema
// up to date; with opts.ReadOnly, it opens an existing one for reading
// only, and refuses a schema other than this build's. It has the signature of store.OpenFunc.
func Open(ctx context.Context, path string, opts store.Options) (store.Store, error) {
	return OpenStore(ctx, path, opts)
}

// OpenStore is Open returning the concrete type.
func OpenStore(ctx context.Context, path string, opts store.Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	// The driver takes what follows '?' as its parameters and a "file:"
	// prefix as a URI; refuse paths it would misread.
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: database path %q: must not contain '?' or '#' or start with \"file:\"", path)
	}
	opts = opts.WithDefaults()
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: the WAL is synced at every commit, so a committed Save is on
	// disk (https://sqlite.org/pragma.html#pragma_synchronous).
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Checkpoints copy the WAL back into the database file, with fsyncs of
	// their own; a goroutine does them beside the writer rather than the
	// commit that crosses the threshold, which would stall its batch.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Add("_pragma", "journal_size_limit(67108864)")
	// Index pages are updated at random places (addresses, hashes); a
	// larger page cache keeps them from being read back (16 MiB).
	q.Add("_pragma", "cache_size(-16384)")
	// Savepoints journal the pages they change; in memory rather than in a
	// temporary file, which saves a write per page per message.
	q.Add("_pragma", "temp_store(MEMORY)")
	dsn := path + "?" + q.Encode()
	if opts.ReadOnly {
		var err error
		if dsn, err = readOnlyDSN(path, opts, false); err != nil {
			return nil, err
		}
	}
	s := &Store{
		opts:            opts,
		path:            path,
		dsn:             dsn,
		jobs:            make(chan *job, opts.BatchSize),
		writerDone:      make(chan struct{}),
		stopCheckpoints: make(chan struct{}),
		checkpointsDone: make(chan struct{}),
		walLimit:        walRestartFrames,
		checkpointNow:   make(chan struct{}),
	}
	s.reads = s.newReads()
	db, ident, err := s.openDB(ctx)
	if err != nil {
		return nil, err
	}
	s.db.Store(db)
	s.w = &writer{s: s, ident: ident}
	go s.writeLoop()
	if opts.ReadOnly {
		// A reader cannot checkpoint; the writer's process does.
		close(s.checkpointsDone)
	} else {
		go s.checkpointLoop()
	}
	return s, nil
}

// readOnlyDSN is the URI (https://sqlite.org/uri.html) that opens the
// existing database at path for reading only: mode=ro never creates the
// file, and runs no pragma that writes. With immutable, SQLite reads the
// file without its -shm index, which it cannot make in a folder it may
// not write to; that is safe only while no writer has the database open,
// which a missing -wal file shows.
func readOnlyDSN(path string, opts store.Options, immutable bool) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			dir := filepath.Dir(path)
			if _, derr := os.Stat(dir); errors.Is(derr, fs.ErrNotExist) {
				return "", fmt.Errorf("sqlite: no folder %s for database %s: %w", dir, path, err)
			}
			return "", fmt.Errorf("sqlite: no database at %s: %w", path, err)
		}
		return "", fmt.Errorf("sqlite: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("sqlite: %s is a folder, not a database", path)
	}
	q := url.Values{}
	q.Add("mode", "ro")
	if immutable {
		q.Add("immutable", "1")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "cache_size(-16384)")
	// In a URI the path is percent-decoded.
	return "file:" + strings.ReplaceAll(path, "%", "%25") + "?" + q.Encode(), nil
}

// openReadOnlyDB opens a read-only pool on the file and checks its
// schema is this build's; openDB does this for a store opened ReadOnly.
func (s *Store) openReadOnlyDB(ctx context.Context) (*sql.DB, os.FileInfo, error) {
	db, err := s.checkReadOnly(ctx, s.dsn)
	if err != nil {
		var se *store.SchemaError
		_, werr := os.Stat(s.path + "-wal")
		if errors.As(err, &se) || !errors.Is(werr, fs.ErrNotExist) {
			return nil, nil, err
		}
		// No writer has the file open, and SQLite could not make the
		// -shm file beside it: read it as immutable.
		dsn, derr := readOnlyDSN(s.path, s.opts, true)
		if derr != nil {
			return nil, nil, derr
		}
		if db, err = s.checkReadOnly(ctx, dsn); err != nil {
			return nil, nil, err
		}
		s.dsn = dsn
	}
	ident, err := os.Stat(s.path)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sqlite: %w", err)
	}
	return db, ident, nil
}

// checkReadOnly opens a pool on dsn and reads the schema version.
func (s *Store) checkReadOnly(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", s.path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	ms, err := loadMigrations()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	var version int
	var tables int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`).Scan(&tables)
	if err == nil && tables == 1 {
		err = db.QueryRowContext(ctx, sqlstore.VersionQuery).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: reading %s: %w", s.path, err)
	}
	if version != len(ms) {
		db.Close()
		return nil, &store.SchemaError{Location: s.path, Have: version, Want: len(ms)}
	}
	return db, nil
}

// checkpointInterval is how often the WAL is copied into the database.
const checkpointInterval = 500 * time.Millisecond

// walRestartFrames bounds the WAL under a steady stream of writes. A
// passive checkpoint copies frames but never moves the writer back to the
// start of the WAL while commits keep coming, so the file would grow
// without end (and every lookup in its index with it); past this many
// frames (64 MiB of 4 KiB pages) the writer itself restarts it between two
// batches. Most frames are already copied by then, so the pause is short.
const walRestartFrames = 16384

// checkpointLoop checkpoints the WAL in PASSIVE mode, which never blocks
// the writer or readers (https://sqlite.org/c3ref/wal_checkpoint_v2.html).
// A failed checkpoint is retried at the next tick; until then the WAL only
// grows, and reads still see every commit.
func (s *Store) checkpointLoop() {
	defer close(s.checkpointsDone)
	tick := time.NewTicker(checkpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-s.checkpointNow:
		case <-tick.C:
		}
		var busy, frames, copied int64
		err := s.db.Load().QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		if err == nil {
			s.walBacklog.Store(frames)
		}
	}
}

// openDB opens a pool on the file, migrates it and returns it with the
// identity of the file it opened.
func (s *Store) openDB(ctx context.Context) (*sql.DB, os.FileInfo, error) {
	if s.opts.ReadOnly {
		return s.openReadOnlyDB(ctx)
	}
	db, err := sql.Open("sqlite", s.dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: opening %s: %w", s.path, err)
	}
	// One connection is pinned by the writer; the others serve reads.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sqlite: opening %s: %w", s.path, err)
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		conn.Close()
		db.Close()
		return nil, nil, fmt.Errorf("sqlite: %s: cannot use WAL journal (mode %q): %v", s.path, mode, err)
	}
	err = migrate(ctx, conn)
	conn.Close()
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sqlite: %s: %w", s.path, err)
	}
	ident, err := os.Stat(s.path)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sqlite: %w", err)
	}
	return db, ident, nil
}

// Close waits for the saves already queued, then closes the database.
// Saves after Close fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.jobs)
	s.mu.Unlock()
	<-s.writerDone
	close(s.stopCheckpoints)
	<-s.checkpointsDone
	// Closing the last connection checkpoints the WAL and removes it.
	return s.db.Load().Close()
}

func (s *Store) now() time.Time {
	return s.opts.Now()
}
