package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/store"
)

// TestServeDrain sends SIGTERM to a serve process while a slow client is
// in the middle of its DATA: that message is finished, stored and
// answered 250; a client that connected before but starts a transaction
// during the drain gets 421, and so does a new connection; the process
// exits 0 well within the grace time.
func TestServeDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server process")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "rebound.db")
	addr := freeLoopbackAddr(t)
	p := startServerProcess(t, db, addr)

	msg, err := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	msg = bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))

	// The slow client speaks SMTP by hand, to stop in the middle of DATA.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	slow := textproto.NewConn(conn)
	expect := func(code int) {
		t.Helper()
		if _, _, err := slow.ReadResponse(code); err != nil {
			t.Fatalf("slow client: want %d: %v", code, err)
		}
	}
	expect(220)
	for _, step := range []struct {
		cmd  string
		code int
	}{
		{"EHLO slow.sender.example", 250},
		{"MAIL FROM:<>", 250},
		{"RCPT TO:<slow@bounces.example.org>", 250},
		{"DATA", 354},
	} {
		if err := slow.PrintfLine("%s", step.cmd); err != nil {
			t.Fatal(err)
		}
		expect(step.code)
	}
	half := len(msg) / 2
	if _, err := conn.Write(msg[:half]); err != nil {
		t.Fatal(err)
	}

	// A client connected before the signal, between transactions.
	idle, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := idle.Hello("idle.sender.example"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), "shutting down: finishing messages in flight") {
		if time.Now().After(deadline) {
			t.Fatalf("no drain logged after SIGTERM:\n%s", p.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	var se *smtp.SMTPError
	if err := idle.Mail("", nil); !errors.As(err, &se) || se.Code != 421 {
		t.Errorf("MAIL during the drain: %v, want 421", err)
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("a new connection during the drain: %v, want a 421 greeting", err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "421 4.3.2 ") {
		t.Errorf("a new connection during the drain was greeted %q, want 421 4.3.2", line)
	}
	c.Close()

	// The slow client finishes after the signal.
	time.Sleep(200 * time.Millisecond)
	if _, err := conn.Write(msg[half:]); err != nil {
		t.Fatal(err)
	}
	if err := slow.PrintfLine("."); err != nil {
		t.Fatal(err)
	}
	if _, text, err := slow.ReadResponse(250); err != nil {
		t.Fatalf("end of DATA during the drain: %v, want 250", err)
	} else if !strings.Contains(text, "queued as") {
		t.Errorf("end of DATA: %q", text)
	}

	waited := make(chan error, 1)
	go func() { waited <- p.cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, p.logs)
		}
	case <-time.After(shutdownGrace):
		t.Fatalf("serve still running %v after SIGTERM:\n%s", time.Since(start), p.logs)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("drain took %v", d)
	}

	st, err := openStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msgs, err := st.Messages(context.Background(), store.MessageQuery{})
	if err != nil || len(msgs) != 1 || len(msgs[0].RcptTo) != 1 || msgs[0].RcptTo[0] != "slow@bounces.example.org" {
		t.Errorf("stored after the drain: %+v, %v; want the slow client's message", msgs, err)
	}
}
