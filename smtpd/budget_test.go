package smtpd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// padded returns the fixture grown to size bytes by a text part of
// numbered lines, some starting with a dot (dot-stuffed in DATA), tagged
// so that each is new content to the store.
func padded(t *testing.T, tag string, size int) []byte {
	t.Helper()
	msg := fixture(t)
	msg = bytes.Replace(msg, []byte("Subject: "), []byte("X-Tag: "+tag+"\r\nSubject: "), 1)
	end := bytes.LastIndex(msg, []byte("--b0undary-1--"))
	var b bytes.Buffer
	b.Grow(size + 1024)
	b.Write(msg[:end])
	b.WriteString("--b0undary-1\r\nContent-Type: text/plain\r\n\r\n")
	for i := 0; b.Len() < size-len("\r\n--b0undary-1--\r\n")-80; i++ {
		fmt.Fprintf(&b, ".line %d of the padding of %s, a line of some length to fill it\r\n", i, tag)
	}
	b.WriteString("\r\n--b0undary-1--\r\n")
	return b.Bytes()
}

// sendSized runs one transaction declaring size in MAIL FROM (0: none).
func sendSized(c *smtp.Client, size int64, msg []byte) error {
	var opts *smtp.MailOptions
	if size > 0 {
		opts = &smtp.MailOptions{Size: size}
	}
	if err := c.Mail("", opts); err != nil {
		return err
	}
	if err := c.Rcpt("b@bounces.example.org", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}

// spoolFilesOpen lists the descriptors of this process open on files in
// dir: the spool files being received (Linux).
func spoolFilesOpen(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			open = append(open, target)
		}
	}
	return open
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// waitFor polls cond for a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDataBudget holds the listener to its budget of data in flight:
// while messages wait to be stored, a transaction that would go beyond it
// gets "452 4.3.1" (at MAIL when its declared SIZE does not fit, after the
// data when it ran out while receiving), one that fits is received, and
// every byte is given back once the messages are answered.
func TestDataBudget(t *testing.T) {
	spool := t.TempDir()
	ts := startServer(t, Config{DataBudget: 3 << 20, SpoolThreshold: 256 << 10, SpoolDir: spool})
	gate, entered := make(chan struct{}), make(chan struct{})
	ts.store.mu.Lock()
	ts.store.gate, ts.store.entered = gate, entered
	ts.store.mu.Unlock()

	a := padded(t, "a", 2<<20)
	aDone := make(chan error, 1)
	go func() { aDone <- send(ts.dial(t), "", []string{"b@bounces.example.org"}, a) }()
	<-entered // a is received whole and waits to be stored
	if got := ts.srv.budget.inUse(); got != int64(len(a)) {
		t.Errorf("budget in use %d while a waits, want its %d bytes", got, len(a))
	}
	if open := spoolFilesOpen(t, spool); len(open) != 1 {
		t.Errorf("spool files open while a waits: %q, want a's", open)
	}
	if names := dirEntries(t, spool); len(names) != 0 {
		t.Errorf("spool directory holds %q: a spool file is never listed", names)
	}

	// b does not fit beside a: refused after its data, and released.
	err := send(ts.dial(t), "", []string{"b@bounces.example.org"}, padded(t, "b", 3<<19))
	wantCode(t, err, 452, smtp.EnhancedCode{4, 3, 1})
	// c declares a size that does not fit: refused at MAIL.
	err = sendSized(ts.dial(t), 3<<19, padded(t, "c", 3<<19))
	wantCode(t, err, 452, smtp.EnhancedCode{4, 3, 1})
	if got := ts.srv.budget.inUse(); got != int64(len(a)) {
		t.Errorf("budget in use %d after the refusals, want a's %d bytes", got, len(a))
	}

	// d fits: received, waits to be stored beside a.
	d := padded(t, "d", 900<<10)
	dDone := make(chan error, 1)
	go func() { dDone <- sendSized(ts.dial(t), int64(len(d)), d) }()
	<-entered

	close(gate)
	if err := <-aDone; err != nil {
		t.Errorf("a: %v", err)
	}
	if err := <-dDone; err != nil {
		t.Errorf("d: %v", err)
	}
	waitFor(t, "the budget to be given back", func() bool { return ts.srv.budget.inUse() == 0 })
	waitFor(t, "the spool files to be closed", func() bool { return len(spoolFilesOpen(t, spool)) == 0 })
	msgs := ts.store.messages()
	if len(msgs) != 2 || !bytes.Equal(msgs[0].Raw, a) && !bytes.Equal(msgs[1].Raw, a) {
		t.Fatalf("stored %d messages, want a and d whole", len(msgs))
	}
	for _, m := range msgs {
		if !bytes.Equal(m.Raw, a) && !bytes.Equal(m.Raw, d) {
			t.Errorf("stored a message of %d bytes that is neither a nor d", len(m.Raw))
		}
	}
	if got := counterValue(t, ts.srv.metrics.budgetRefused.WithLabelValues("data")); got != 1 {
		t.Errorf("refused during data: %v, want 1", got)
	}
	if got := counterValue(t, ts.srv.metrics.budgetRefused.WithLabelValues("mail")); got != 1 {
		t.Errorf("refused at MAIL: %v, want 1", got)
	}
	if got := counterValue(t, ts.srv.metrics.spooled); got != 3 {
		t.Errorf("spooled %v messages, want a, b (until refused) and d", got)
	}
}

// TestDataBudgetExhaustedAtMail refuses a transaction at MAIL while nothing
// is left, and takes it once the budget is back.
func TestDataBudgetExhaustedAtMail(t *testing.T) {
	full := padded(t, "full", 1<<20)
	ts := startServer(t, Config{DataBudget: int64(len(full)), SpoolThreshold: 256 << 10, SpoolDir: t.TempDir()})
	gate, entered := make(chan struct{}), make(chan struct{})
	ts.store.mu.Lock()
	ts.store.gate, ts.store.entered = gate, entered
	ts.store.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- send(ts.dial(t), "", []string{"b@bounces.example.org"}, full) }()
	<-entered
	c := ts.dial(t)
	wantCode(t, c.Mail("", nil), 452, smtp.EnhancedCode{4, 3, 1})
	ts.store.mu.Lock()
	ts.store.gate, ts.store.entered = nil, nil
	ts.store.mu.Unlock()
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the budget to be given back", func() bool { return ts.srv.budget.inUse() == 0 })
	if err := send(c, "", []string{"b@bounces.example.org"}, fixture(t)); err != nil {
		t.Errorf("after the budget came back: %v", err)
	}
}

// TestDataBudgetBDAT refuses a BDAT chunk that would go beyond the budget
// with "452 4.3.1" at that chunk (RFC 3030 section 2) and keeps the
// connection usable.
func TestDataBudgetBDAT(t *testing.T) {
	ts := startServer(t, Config{DataBudget: 1 << 20, SpoolThreshold: 256 << 10, SpoolDir: t.TempDir()})
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	expect := func(prefix string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading reply, want %q: %v", prefix, err)
			}
			if len(line) > 3 && line[3] == '-' {
				continue
			}
			if !strings.HasPrefix(line, prefix) {
				t.Fatalf("reply %q, want %q", strings.TrimSpace(line), prefix)
			}
			return
		}
	}
	cmd := func(line, prefix string) {
		t.Helper()
		fmt.Fprintf(conn, "%s\r\n", line)
		expect(prefix)
	}
	expect("220 ")
	cmd("EHLO mx.sender.example", "250 ")
	cmd("MAIL FROM:<>", "250 ")
	cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	big := padded(t, "big", 1<<20)
	first, second := big[:600<<10], big[600<<10:]
	fmt.Fprintf(conn, "BDAT %d\r\n", len(first))
	conn.Write(first)
	expect("250 ")
	fmt.Fprintf(conn, "BDAT %d LAST\r\n", len(second)+(1<<20))
	conn.Write(second)
	conn.Write(make([]byte, 1<<20))
	expect("452 4.3.1 ")
	waitFor(t, "the budget to be given back", func() bool { return ts.srv.budget.inUse() == 0 })
	cmd("MAIL FROM:<>", "250 ")
	cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	msg := fixture(t)
	fmt.Fprintf(conn, "BDAT %d LAST\r\n", len(msg))
	conn.Write(msg)
	expect("250 ")
	if n := len(ts.store.messages()); n != 1 {
		t.Errorf("%d messages stored, want the small one", n)
	}
}

// TestSpoolKeepsMessageWhole stores a spooled message byte for byte,
// whether it went to the spool from its first byte (declared SIZE) or
// once it outgrew memory, and whether it came by DATA or BDAT.
func TestSpoolKeepsMessageWhole(t *testing.T) {
	spool := t.TempDir()
	ts := startServer(t, Config{SpoolThreshold: 64 << 10, SpoolDir: spool})
	c := ts.dial(t)
	small := padded(t, "small", 32<<10)
	declared := padded(t, "declared", 300<<10)
	outgrown := padded(t, "outgrown", 300<<10)
	for _, m := range []struct {
		name string
		size int64
		msg  []byte
	}{{"in memory", 0, small}, {"declared", int64(len(declared)), declared}, {"outgrown", 0, outgrown}} {
		if err := sendSized(c, m.size, m.msg); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	msgs := ts.store.messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	for i, want := range [][]byte{small, declared, outgrown} {
		if !bytes.Equal(msgs[i].Raw, want) {
			t.Errorf("message %d: stored %d bytes, not the %d sent", i, len(msgs[i].Raw), len(want))
		}
	}
	if got := counterValue(t, ts.srv.metrics.spooled); got != 2 {
		t.Errorf("spooled %v messages, want 2", got)
	}
	if open := spoolFilesOpen(t, spool); len(open) != 0 {
		t.Errorf("spool files still open: %q", open)
	}
}

// TestSpoolReleasedOnFailure gives back the spool file and the budget when
// a spooled message fails: the store refusing it (451), and the client
// going away in the middle of its data.
func TestSpoolReleasedOnFailure(t *testing.T) {
	spool := t.TempDir()
	ts := startServer(t, Config{SpoolThreshold: 64 << 10, SpoolDir: spool})
	ts.store.setFail(fmt.Errorf("disk I/O error"))
	err := send(ts.dial(t), "", []string{"b@bounces.example.org"}, padded(t, "refused", 300<<10))
	wantCode(t, err, 451, smtp.EnhancedCode{4, 3, 0})
	ts.store.setFail(nil)

	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	for _, line := range []string{"EHLO mx.sender.example", "MAIL FROM:<>", "RCPT TO:<b@bounces.example.org>", "DATA"} {
		if line != "EHLO mx.sender.example" {
			fmt.Fprintf(conn, "%s\r\n", line)
		} else {
			r.ReadString('\n') // greeting
			fmt.Fprintf(conn, "%s\r\n", line)
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if len(l) < 4 || l[3] != '-' {
				break
			}
		}
	}
	conn.Write(padded(t, "cut", 300<<10)[:200<<10])
	waitFor(t, "the message to reach the spool", func() bool { return len(spoolFilesOpen(t, spool)) == 1 })
	conn.Close()
	waitFor(t, "the spool file to be closed", func() bool { return len(spoolFilesOpen(t, spool)) == 0 })
	waitFor(t, "the budget to be given back", func() bool { return ts.srv.budget.inUse() == 0 })
	if n := len(ts.store.messages()); n != 0 {
		t.Errorf("%d messages stored", n)
	}
	if names := dirEntries(t, spool); len(names) != 0 {
		t.Errorf("spool directory holds %q", names)
	}
}

// TestSpoolDirCleanedAtStart removes the spool files a crash left behind,
// and nothing else.
func TestSpoolDirCleanedAtStart(t *testing.T) {
	spool := t.TempDir()
	for _, name := range []string{spoolPrefix + "12345", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(spool, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startServer(t, Config{SpoolDir: spool})
	if names := dirEntries(t, spool); len(names) != 1 || names[0] != "keep.txt" {
		t.Errorf("spool directory holds %q, want keep.txt only", names)
	}
	if _, err := New(Config{Domains: []string{"x.example"}, SpoolDir: filepath.Join(spool, "missing")}, &memStore{}, fakeAnalyzer{}, nil, nil); err == nil {
		t.Errorf("New with a missing spool directory: no error")
	}
}

// TestSpoolDiskFull answers "452 4.3.1" when the spool's file system is
// full, gives the budget back and takes the message once there is room.
// It needs root to mount a small tmpfs as the spool directory.
func TestSpoolDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	spool := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", spool).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", spool).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", spool, err, out)
		}
	})
	if !inMemoryFS(spool) {
		t.Errorf("a tmpfs spool directory is not seen as in memory")
	}
	ts := startServer(t, Config{SpoolThreshold: 64 << 10, SpoolDir: spool})
	c := ts.dial(t)
	err := send(c, "", []string{"b@bounces.example.org"}, padded(t, "too big", 1<<20))
	wantCode(t, err, 452, smtp.EnhancedCode{4, 3, 1})
	waitFor(t, "the budget to be given back", func() bool { return ts.srv.budget.inUse() == 0 })
	fits := padded(t, "fits", 300<<10)
	if err := send(c, "", []string{"b@bounces.example.org"}, fits); err != nil {
		t.Fatalf("a message the spool has room for: %v", err)
	}
	if msgs := ts.store.messages(); len(msgs) != 1 || !bytes.Equal(msgs[0].Raw, fits) {
		t.Errorf("stored %d messages, want the one that fits", len(msgs))
	}
}
