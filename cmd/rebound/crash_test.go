package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/mailbox"
	"github.com/rebound-mail/rebound/store"
)

// TestHelperServe is the "rebound serve" process of TestCrashSafety: the
// test binary runs itself through it, so that the server can be killed
// with SIGKILL. It does nothing in a normal test run.
func TestHelperServe(t *testing.T) {
	if os.Getenv("REBOUND_HELPER_SERVE") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// serverProcess is "rebound serve" running in a child process.
type serverProcess struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

func startServerProcess(t *testing.T, db, addr string) *serverProcess {
	t.Helper()
	return startServeProcess(t, addr, "--config", trustConfig(t), "--db", db, "--listen", addr, "--api-listen=", "--domain", "bounces.example.org")
}

// trustConfig writes a configuration that counts every report, signed or
// not (authentication.unsigned = "trust"), for the tests of durability and
// scoring whose reports come from no registered message.
func trustConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trust.toml")
	if err := os.WriteFile(path, []byte("[authentication]\nunsigned = \"trust\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServeProcess runs "rebound serve args..." in a child process, which
// can be killed with SIGKILL, and waits until addr accepts connections.
func startServeProcess(t *testing.T, addr string, args ...string) *serverProcess {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestHelperServe$", "--", "serve"}, args...)...)
	cmd.Env = append(os.Environ(), "REBOUND_HELPER_SERVE=1")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, logs: logs}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ingestMessages reads the messages of testdata/ingest.
func ingestMessages(t *testing.T) [][]byte {
	t.Helper()
	var msgs [][]byte
	(&mailbox.Reader{}).Each([]string{"testdata/ingest"}, func(m mailbox.Message, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m.Data)
		return nil
	})
	return msgs
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestCrashSafety kills the server with SIGKILL in the middle of a load
// run and restarts it; the clients carry on and finally send every message
// again. Every message answered 250 must be in the store, and none twice.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "rebound.db")
	addr := freeLoopbackAddr(t)

	msgs := ingestMessages(t)
	const count = 1500
	opts := func() *loadOptions {
		return &loadOptions{addr: addr, rcpt: "bounces@bounces.example.org", runID: "crash",
			conns: 16, count: count, duration: 3 * time.Minute, unique: true, msgs: msgs}
	}

	first := startServerProcess(t, db, addr)
	var accepted1 syncBuffer
	loaded := make(chan *loadResult, 1)
	go func() { loaded <- runLoadClients(context.Background(), opts(), &accepted1, &syncBuffer{}) }()

	// Crash once a few hundred messages were accepted (the accepted log
	// reaches the buffer in 4 KiB flushes).
	for strings.Count(accepted1.String(), "\n") < 200 {
		select {
		case <-loaded:
			t.Fatal("load finished before the crash; raise count")
		case <-time.After(5 * time.Millisecond):
		}
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.cmd.Wait()
	second := startServerProcess(t, db, addr)
	res1 := <-loaded
	t.Logf("during the crash: %s", res1)

	// The clients retry everything, as MTAs do with what got no 250.
	var accepted2 syncBuffer
	res2 := runLoadClients(context.Background(), opts(), &accepted2, &syncBuffer{})
	t.Logf("resending all: %s", res2)
	if res2.accepted != count {
		t.Fatalf("resend: %d of %d accepted: %s", res2.accepted, count, second.logs)
	}
	second.cmd.Process.Signal(syscall.SIGTERM)
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("server after SIGTERM: %v: %s", err, second.logs)
	}

	st, err := openStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := storedLoadIDs(t, st)
	for _, id := range strings.Fields(accepted1.String()) {
		if stored[id] != 1 {
			t.Errorf("%s answered 250 before the crash, stored %d times", id, stored[id])
		}
	}
	for seq := 0; seq < count; seq++ {
		if id := fmt.Sprintf("crash-%d", seq); stored[id] != 1 {
			t.Errorf("%s stored %d times", id, stored[id])
		}
	}
	if len(stored) != count {
		t.Errorf("%d distinct messages stored, want %d", len(stored), count)
	}
	t.Logf("%d accepted before/around the crash, all %d stored once", len(strings.Fields(accepted1.String())), count)
}

// storedLoadIDs counts the stored messages by their load id header.
func storedLoadIDs(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	ctx := context.Background()
	list, err := st.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[string]int, len(list))
	prefix := []byte(loadIDHeader + ": ")
	for _, m := range list {
		full, err := st.Message(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(full.Raw, prefix) {
			t.Fatalf("message %d has no load id", m.ID)
		}
		line := full.Raw[len(prefix):]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		ids[string(bytes.TrimSuffix(line, []byte("\r")))]++
	}
	return ids
}

// TestStoreFailureDiskFull fills the file system under a real SQLite store
// while a listener runs: clients must get 451 (never a 5xx) while the disk
// is full, and 250 again once there is room. It needs root to mount a small
// tmpfs, and is skipped elsewhere.
func TestStoreFailureDiskFull(t *testing.T) {
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	db := filepath.Join(mnt, "rebound.db")
	addr, stop, logs := startServe(t, "--db", db, "--domain", "bounces.example.org")

	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Random text does not compress, so every message needs new pages.
	bigMessage := func(i int) []byte {
		b := make([]byte, 150<<10)
		rand.Read(b)
		enc := base64.StdEncoding.EncodeToString(b)
		var m bytes.Buffer
		fmt.Fprintf(&m, "Subject: filler %d\r\nMessage-ID: <filler.%d@test>\r\n\r\n", i, i)
		for len(enc) > 76 {
			m.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		return m.Bytes()
	}
	if err := sendLoadMessage(c, "b@bounces.example.org", bigMessage(0)); err != nil {
		t.Fatalf("before the disk is full: %v", err)
	}

	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
	tempfailed := 0
	for i := 1; i <= 6; i++ {
		err := sendLoadMessage(c, "b@bounces.example.org", bigMessage(i))
		var se *smtp.SMTPError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Code == 451 && se.EnhancedCode == (smtp.EnhancedCode{4, 3, 0}):
			tempfailed++
			c.Reset()
		default:
			t.Fatalf("disk full: message %d got %v; want 451 4.3.0", i, err)
		}
	}
	if tempfailed == 0 {
		t.Fatal("no message was refused with 451 while the disk was full")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		if err := sendLoadMessage(c, "b@bounces.example.org", bigMessage(100+i)); err != nil {
			t.Fatalf("after freeing the disk: message %d: %v\n%s", i, err, logs)
		}
	}
	c.Quit()
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d", s)
	}
	t.Logf("%d of 6 messages answered 451 while the disk was full; all accepted after", tempfailed)
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}
