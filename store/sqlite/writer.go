package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
)

// A job is one write (a Save, a manual suppression change) run by the
// writer inside a batch transaction. It may run twice (see commit), so it
// must only act through the writer.
type job struct {
	ctx    context.Context
	run    func(w *writer) error
	weight int // the work of the job, see sqlstore.FairBatches
	err    error
	done   chan struct{}
}

// submit queues fn for the writer and waits until its batch committed or
// failed. A caller that gives up (ctx) gets ctx's error; its write may
// still commit, which an idempotent retry then finds.
func (s *Store) submit(ctx context.Context, fn func(w *writer) error) error {
	return s.submitWeighted(ctx, 1, fn)
}

// submitWeighted is submit for a job whose work is weight
// (sqlstore.JobWeight): a large one is committed in a transaction of its
// own.
func (s *Store) submitWeighted(ctx context.Context, weight int, fn func(w *writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{ctx: ctx, run: fn, weight: weight, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case s.jobs <- j:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer owns the connection that writes, and its prepared statements.
type writer struct {
	s     *Store
	ident os.FileInfo // the database file the pool was opened on
	conn  *sql.Conn
	stmts *statements
	// rollups are the counts of the batch's committed jobs, written once
	// per row before COMMIT; job are those of the job running.
	rollups, job sqlstore.Rollups
}

// writeLoop commits the queued jobs in batches until the store closes: the
// small ones together, the large ones alone in between, so that one
// sender's large message does not hold up everyone's (sqlstore.FairBatches).
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	w := s.w
	defer w.closeConn()
	f := sqlstore.FairBatches[*job]{
		Weight:    func(j *job) int { return j.weight },
		Large:     sqlstore.LargeWeight,
		MaxJobs:   s.opts.BatchSize,
		MaxWeight: sqlstore.MaxBatchWeight,
	}
	f.Run(s.jobs, func(batch []*job) {
		w.commit(batch)
		for _, j := range batch {
			close(j.done)
		}
		if s.walBacklog.Load() > s.walLimit {
			w.restartWAL()
		}
	})
}

// restartWAL copies what is left of the WAL into the database and makes
// the next commit start the WAL from its beginning
// (https://sqlite.org/c3ref/wal_checkpoint_v2.html, SQLITE_CHECKPOINT_RESTART).
// A failure is left to the next try: the WAL is still consistent.
func (w *writer) restartWAL() {
	if w.conn == nil {
		return
	}
	var busy, frames, copied int64
	err := w.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied)
	if err == nil && busy == 0 {
		w.s.walBacklog.Store(0)
	}
}

// commit runs the jobs of batch in one transaction and sets every job's
// err. Failures are rare, so the batch first runs without savepoints; when
// a job fails, the transaction is rolled back and the batch runs again with
// a savepoint around each job, so that the failing one is rolled back alone
// and the others still commit.
func (w *writer) commit(batch []*job) {
	if err := w.ready(); err != nil {
		failAll(batch, err)
		return
	}
	if w.run(batch, false) {
		return
	}
	for _, j := range batch {
		j.err = nil
	}
	if err := w.ready(); err != nil {
		failAll(batch, err)
		return
	}
	w.run(batch, true)
}

func failAll(batch []*job, err error) {
	for _, j := range batch {
		if j.err == nil {
			j.err = err
		}
	}
}

// run runs batch in one transaction. Without savepoints, it stops at the
// first failing job, rolls back and returns false. With them, it rolls back
// each failing job alone. It returns true when the batch is answered: every
// job's err is set (nil for the committed ones).
func (w *writer) run(batch []*job, savepoints bool) bool {
	ctx := context.Background() // waits are bounded by the busy timeout
	st := w.stmts
	w.rollups = sqlstore.Rollups{}
	if _, err := st.begin.ExecContext(ctx); err != nil {
		failAll(batch, fmt.Errorf("sqlite: begin: %w", err))
		w.closeConn()
		return true
	}
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.err = err // the caller is gone; it will retry
			continue
		}
		if !savepoints {
			if j.err = w.runJob(j); j.err != nil {
				w.rollback()
				return false
			}
			w.keepRollups()
			continue
		}
		if _, err := st.savepoint.ExecContext(ctx); err != nil {
			failAll(batch, fmt.Errorf("sqlite: savepoint: %w", err))
			w.rollback()
			return true
		}
		j.err = w.runJob(j)
		if j.err == nil {
			w.keepRollups()
		} else {
			if _, err := st.rollbackTo.ExecContext(ctx); err != nil {
				// The transaction is in an unknown state: give up on the
				// whole batch rather than commit half a message.
				failAll(batch, fmt.Errorf("sqlite: rolling back a failed message: %w", err))
				w.rollback()
				return true
			}
		}
		if _, err := st.release.ExecContext(ctx); err != nil {
			failAll(batch, fmt.Errorf("sqlite: release savepoint: %w", err))
			w.rollback()
			return true
		}
	}
	if err := w.writeRollups(); err != nil {
		failAll(batch, err)
		w.rollback()
		return true
	}
	if _, err := st.commit.ExecContext(ctx); err != nil {
		failAll(batch, fmt.Errorf("sqlite: commit: %w", err))
		w.rollback()
	}
	return true
}

// runJob runs one job, turning a panic into an error for that message: a
// bug in scoring one record must cost a retry, not the process.
func (w *writer) runJob(j *job) (err error) {
	w.job = sqlstore.Rollups{}
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("sqlite: internal error saving message: %v", x)
		}
	}()
	return j.run(w)
}

// keepRollups adds the counts of the job that just succeeded to the
// batch's.
func (w *writer) keepRollups() {
	for k, n := range w.job {
		w.rollups[k] += n
	}
	w.job = nil
}

// writeRollups writes the batch's counts, each row once, in the order
// of their keys.
func (w *writer) writeRollups() error {
	ctx := context.Background()
	for _, k := range w.rollups.Sorted() {
		st := w.stmts.rollupHour
		if k.Daily {
			st = w.stmts.rollupDay
		}
		if _, err := st.ExecContext(ctx, k.Dim, k.Unit, k.Key, k.Class, w.rollups[k]); err != nil {
			return fmt.Errorf("sqlite: counting records into the overview: %w", err)
		}
	}
	w.rollups = nil
	return nil
}

// rollback abandons the open transaction after a failure. When even that
// fails, the connection is dropped, so the next batch starts from a fresh
// one.
func (w *writer) rollback() {
	if w.stmts == nil {
		return
	}
	if _, err := w.stmts.rollback.ExecContext(context.Background()); err != nil {
		w.closeConn()
	}
}

// ready makes sure the writer has a connection to the file at the store's
// path. When the file was removed or replaced, writes to the old one would
// be lost: fail this batch, and reopen on the new file for the next.
func (w *writer) ready() error {
	s := w.s
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("sqlite: database file: %w", err)
	}
	if !os.SameFile(fi, w.ident) {
		w.closeConn()
		db, ident, err := s.openDB(context.Background())
		if err != nil {
			return fmt.Errorf("sqlite: database file %s was replaced; reopening: %w", s.path, err)
		}
		old := s.db.Swap(db)
		w.ident = ident
		// Close waits for the reads still running on the old pool.
		go old.Close()
		return fmt.Errorf("sqlite: database file %s was replaced; reopened it", s.path)
	}
	if w.conn != nil {
		return nil
	}
	conn, err := s.db.Load().Conn(context.Background())
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	st, err := prepare(conn)
	if err != nil {
		conn.Close()
		return err
	}
	w.conn, w.stmts = conn, st
	return nil
}

func (w *writer) closeConn() {
	if w.stmts != nil {
		w.stmts.close()
		w.stmts = nil
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}
