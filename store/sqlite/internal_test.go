package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

func testMessage(tag string) *store.Message {
	addr := tag + "@example.org"
	return &store.Message{
		ReceivedAt: t0,
		Source:     "smtp",
		RcptTo:     []string{"bounces@sender.test"},
		Raw:        []byte("Subject: " + tag + "\r\n\r\nreport for " + addr + "\r\n"),
		Format:     "rfc3464",
		Records: []record.Record{{
			Index: 1, Recipient: addr, Action: "failed", Status: "5.1.1", SMTPCode: "550",
			Reason: "userunknown", Class: record.ClassHard, Advice: record.AdviceSuppress,
			Format: "rfc3464", ReceivedAt: t0,
		}},
	}
}

func openTest(t *testing.T, path string, opts store.Options) *Store {
	t.Helper()
	s, err := OpenStore(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func countRecords(t *testing.T, s *Store) int {
	t.Helper()
	recs, err := s.Records(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// Saves that returned nil are on disk for the next process.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s := openTest(t, path, store.Options{})
	const n = 50
	var wg sync.WaitGroup
	var saved atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Save(ctx, testMessage(fmt.Sprintf("r%d", i))); err != nil {
				t.Error(err)
				return
			}
			saved.Add(1)
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s = openTest(t, path, store.Options{})
	defer s.Close()
	if got := countRecords(t, s); int64(got) != saved.Load() {
		t.Errorf("after reopen: %d records, %d saves succeeded", got, saved.Load())
	}
	var version int
	if err := s.db.Load().QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if version != len(ms) {
		t.Errorf("schema version %d, want %d", version, len(ms))
	}
	var mode string
	s.db.Load().QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	var sync int
	s.db.Load().QueryRow(`PRAGMA synchronous`).Scan(&sync)
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %q synchronous %d, want wal and 2 (FULL)", mode, sync)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	s := openTest(t, path, store.Options{})
	if _, err := s.db.Load().Exec(`UPDATE schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := OpenStore(context.Background(), path, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("opening a database of a newer schema: %v, want a refusal", err)
	}
}

func TestBadPaths(t *testing.T) {
	for _, p := range []string{"", "a?b.db", "file:x.db", filepath.Join(t.TempDir(), "missing", "dir", "x.db")} {
		if s, err := OpenStore(context.Background(), p, store.Options{}); err == nil {
			s.Close()
			t.Errorf("OpenStore(%q): no error", p)
		}
	}
}

// A message that fails inside a batch is rolled back alone; the others of
// its batch commit. A panic while scoring is such a failure, not a crash.
func TestFailingMessageAlone(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	defer s.Close()
	gate, entered := make(chan struct{}), make(chan struct{})
	s.fault = func(m *store.Message) error {
		switch m.Source {
		case "gate":
			close(entered)
			<-gate // hold the writer so that the others queue into one batch
		case "bad":
			return errors.New("injected failure")
		case "panic":
			panic("injected panic")
		}
		return nil
	}
	gateDone := make(chan error)
	go func() {
		g := testMessage("gate")
		g.Source = "gate"
		_, err := s.Save(ctx, g)
		gateDone <- err
	}()
	<-entered

	const n = 30
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := testMessage(fmt.Sprintf("m%d", i))
			switch i % 5 {
			case 1:
				m.Source = "bad"
			case 2:
				m.Source = "panic"
			}
			_, errs[i] = s.Save(ctx, m)
		}()
	}
	for len(s.jobs) < n {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if err := <-gateDone; err != nil {
		t.Fatalf("gate message: %v", err)
	}
	good := 1
	for i, err := range errs {
		switch i % 5 {
		case 1, 2:
			if err == nil {
				t.Errorf("message %d: failure not reported", i)
			}
		default:
			good++
			if err != nil {
				t.Errorf("message %d failed with its batch: %v", i, err)
			}
		}
	}
	if got := countRecords(t, s); got != good {
		t.Errorf("%d records stored, want %d (the failed messages rolled back)", got, good)
	}
	sups, err := s.Suppressions(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(sups) != good {
		t.Errorf("%d suppressions, want %d", len(sups), good)
	}
	// The failed ones were not stored: a retry is a first save.
	s.fault = nil
	res, err := s.Save(ctx, testMessage("m1"))
	if err != nil || res.Duplicate {
		t.Errorf("retry of a failed message: %+v, %v", res, err)
	}
}

// When another process holds the write lock past the busy timeout, Save
// fails (the SMTP layer answers 451), and works again once the lock is gone.
func TestLockedDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s := openTest(t, path, store.Options{BusyTimeout: 100 * time.Millisecond})
	defer s.Close()
	if _, err := s.Save(ctx, testMessage("before")); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "DELETE FROM incidents"); err != nil {
		t.Fatal(err)
	}

	timeout, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = s.Save(timeout, testMessage("during"))
	if err == nil {
		t.Fatal("Save while another process holds the lock: no error")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Save hung until the caller gave up: %v", err)
	}
	if err := s.AddSuppression(timeout, store.Suppression{Address: "x@example.org"}); err == nil {
		t.Error("AddSuppression while locked: no error")
	}

	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	saveAgain(t, s, testMessage("during"), "Save after the lock was released")
}

// saveAgain saves m once the failure that met its first Save is gone, and
// checks that the failed Save left nothing behind: m is new, and the store
// holds the records of one earlier message and of m.
func saveAgain(t *testing.T, s *Store, m *store.Message, what string) {
	t.Helper()
	res, err := s.Save(context.Background(), m)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.Duplicate {
		t.Error("the failed Save left its message behind")
	}
	if got := countRecords(t, s); got != 2 {
		t.Errorf("%d records, want 2", got)
	}
}

// A database file replaced under a running store must not swallow saves:
// the store reports the failure, then works on the new file.
func TestFileReplaced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "rebound.db")
	s := openTest(t, path, store.Options{})
	defer s.Close()
	if _, err := s.Save(ctx, testMessage("old")); err != nil {
		t.Fatal(err)
	}

	// A fresh database moved into place, as a restore from backup would.
	fresh := filepath.Join(dir, "fresh.db")
	f := openTest(t, fresh, store.Options{})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	if err := os.Rename(fresh, path); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Save(ctx, testMessage("lost")); err == nil {
		t.Fatal("Save after the file was replaced: no error")
	}
	if _, err := s.Save(ctx, testMessage("new")); err != nil {
		t.Fatalf("Save on the new file: %v", err)
	}
	recs, err := s.Records(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Recipient != "new@example.org" {
		t.Errorf("records on the new file: %+v, want only new@example.org", recs)
	}
}

// A full disk fails the Save that meets it, and the store goes on once
// there is room again. The database's page limit stands in for the disk.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	defer s.Close()
	setLimit := func(pages int) {
		t.Helper()
		err := s.submit(ctx, func(w *writer) error {
			_, err := w.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Save(ctx, testMessage("first")); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.db.Load().QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setLimit(pages)
	big := testMessage("big")
	big.Raw = make([]byte, 256<<10) // zeros compress, so make them vary
	for i := range big.Raw {
		big.Raw[i] = byte(i * 7919 >> 3)
	}
	if _, err := s.Save(ctx, big); err == nil {
		t.Fatal("Save into a full database: no error")
	}
	setLimit(1 << 30)
	saveAgain(t, s, big, "Save once there is room")
}

// Times the caller leaves out come from Options.Now.
func TestClock(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := openTest(t, filepath.Join(t.TempDir(), "rebound.db"), store.Options{Now: func() time.Time { return clock }})
	defer s.Close()
	m := testMessage("clock")
	m.ReceivedAt = time.Time{}
	m.Records[0].ReceivedAt = time.Time{}
	if _, err := s.Save(ctx, m); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Records(ctx, store.Query{})
	if err != nil || len(recs) != 1 || !recs[0].ReceivedAt.Equal(clock) {
		t.Errorf("record time = %+v, %v; want %v", recs, err, clock)
	}
	if err := s.AddSuppression(ctx, store.Suppression{Address: "hand@example.org"}); err != nil {
		t.Fatal(err)
	}
	sup, err := s.Suppression(ctx, "hand@example.org", clock)
	if err != nil || sup == nil || !sup.Since.Equal(clock) {
		t.Errorf("manual suppression = %+v, %v; want since %v", sup, err, clock)
	}
}

// The store scores with the policy it was given.
func TestPolicy(t *testing.T) {
	ctx := context.Background()
	p := suppress.Policy{SoftThreshold: 2, IncidentQuiet: 10 * time.Minute}
	s := openTest(t, filepath.Join(t.TempDir(), "rebound.db"), store.Options{Policy: p})
	defer s.Close()
	for i := range 2 {
		m := testMessage(fmt.Sprintf("soft%d", i))
		m.Records[0].Recipient = "two@example.org"
		m.Records[0].Class = record.ClassSoft
		m.Records[0].Status = "4.2.2"
		if _, err := s.Save(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	sup, err := s.Suppression(ctx, "two@example.org", t0)
	if err != nil || sup == nil || sup.Cause != suppress.CauseSoft {
		t.Fatalf("after 2 soft bounces with threshold 2: %+v, %v", sup, err)
	}
	// Unset settings take the defaults.
	if want := t0.Add(suppress.DefaultPolicy.SoftExpiry); !sup.Expires.Equal(want) {
		t.Errorf("expires %v, want the default soft expiry %v", sup.Expires, want)
	}

	m := testMessage("block")
	m.Records[0].Class = record.ClassBlock
	if _, err := s.Save(ctx, m); err != nil {
		t.Fatal(err)
	}
	if open, err := s.Incidents(ctx, true, t0.Add(11*time.Minute)); err != nil || len(open) != 0 {
		t.Errorf("incident open after the policy's quiet time: %+v, %v", open, err)
	}
	if open, err := s.Incidents(ctx, true, t0.Add(9*time.Minute)); err != nil || len(open) != 1 {
		t.Errorf("incident closed before the policy's quiet time: %+v, %v", open, err)
	}
}

// Under a steady stream of saves the WAL is restarted, not left to grow:
// passive checkpoints alone never move the writer back to its start.
func TestWALBounded(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	defer s.Close()
	s.walLimit = 50
	const enough = 1500 // saves: many times what one sampling interval sees
	var saved atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Save(ctx, testMessage(fmt.Sprintf("wal-%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
				saved.Add(1)
			}
		}()
	}
	// Checkpoint often while the saves run, and sample the WAL each time.
	var most int64
	deadline := time.Now().Add(30 * time.Second)
	for saved.Load() < enough && time.Now().Before(deadline) {
		s.checkpointNow <- struct{}{}
		time.Sleep(5 * time.Millisecond)
		most = max(most, s.walBacklog.Load())
	}
	close(stop)
	wg.Wait()
	n := countRecords(t, s)
	// Restarted, the WAL holds the frames of the few batches committed
	// between two samples; left alone, it holds every frame written,
	// several per save.
	if most > int64(n)/2 {
		t.Errorf("WAL reached %d frames during %d saves: it was not restarted", most, n)
	}
	t.Logf("WAL at most %d frames during %d saves", most, n)
}
