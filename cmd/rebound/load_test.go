package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/smtpd"
	"github.com/rebound-mail/rebound/store"
)

// countingStore counts the messages its store saved.
type countingStore struct {
	store.Store
	saved atomic.Int64
}

func (s *countingStore) Save(ctx context.Context, m *store.Message) (store.SaveResult, error) {
	res, err := s.Store.Save(ctx, m)
	if err == nil {
		s.saved.Add(1)
	}
	return res, err
}

// TestLoadAcceptedLogSurvivesKill kills "rebound load" with SIGKILL in the
// middle of a run: every message it saw answered 250 must already be in its
// accepted log, so that a loss check built on the log misses nothing. The
// only stored messages the log may lack are those whose 250 was on its way
// when the process died: one per connection at most.
func TestLoadAcceptedLogSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a load process")
	}
	const conns = 4
	dir := t.TempDir()
	st, err := openStore(context.Background(), filepath.Join(dir, "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counted := &countingStore{Store: st}
	an, err := newAnalyzer("en", 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smtpd.New(smtpd.Config{Domains: []string{"bounces.example.org"}}, counted, an, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
	}

	logPath := filepath.Join(dir, "accepted.log")
	var out syncBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$", "--",
		"load", "--addr", l.Addr().String(), "--conns", "4", "--count", "1000000", "--duration", "2m",
		"--rcpt", "bounces@bounces.example.org", "--run-id", "kill", "--accepted-log", logPath, "testdata/ingest")
	cmd.Env = append(os.Environ(), "REBOUND_HELPER_SERVE=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Well short of the 4 KiB a buffered log would hold back.
	deadline := time.After(60 * time.Second)
	for counted.saved.Load() < 200 {
		select {
		case err := <-exited:
			shutdown()
			t.Fatalf("load exited early (%v): %s", err, &out)
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			shutdown()
			t.Fatalf("only %d messages stored after 60 s: %s", counted.saved.Load(), &out)
		case <-time.After(2 * time.Millisecond):
		}
	}
	cmd.Process.Kill()
	if err := <-exited; err == nil {
		t.Fatalf("load finished before it was killed: %s", &out)
	}
	shutdown()

	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	stored := storedLoadIDs(t, st)
	logged := map[string]bool{}
	idLine := regexp.MustCompile(`^kill-[0-9]+$`)
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		t.Errorf("the accepted log ends in a torn line: %q", raw[max(0, len(raw)-20):])
	}
	for _, id := range strings.Fields(string(raw)) {
		if !idLine.MatchString(id) || logged[id] {
			t.Errorf("accepted log line %q: torn or repeated", id)
		}
		logged[id] = true
		if stored[id] != 1 {
			t.Errorf("%s logged as accepted, stored %d times", id, stored[id])
		}
	}
	var unlogged []string
	for id := range stored {
		if !logged[id] {
			unlogged = append(unlogged, id)
		}
	}
	if len(unlogged) > conns {
		t.Errorf("%d stored messages missing from the accepted log (at most %d may be in flight): %v",
			len(unlogged), conns, unlogged)
	}
	t.Logf("killed after %d stored: %d in the accepted log, %d stored whose 250 was in flight",
		len(stored), len(logged), len(unlogged))
}

type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, errors.New("disk full")
}

// TestLoadAcceptedLogWritesEachLine checks that each id reaches the file
// when it is added, not at the end of the run.
func TestLoadAcceptedLogWritesEachLine(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "accepted.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := &idLog{w: f}
	for i, id := range []string{"r-0", "r-1", "r-2"} {
		l.add(id)
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Fields(string(got)); len(lines) != i+1 || lines[i] != id {
			t.Fatalf("after adding %s the log holds %q", id, got)
		}
	}

	// The first write error is kept, and nothing is written after it.
	w := &failingWriter{}
	l = &idLog{w: w}
	l.add("r-0")
	l.add("r-1")
	if l.err == nil || w.writes != 1 {
		t.Errorf("error %v after %d writes, want the first error after 1", l.err, w.writes)
	}
}
