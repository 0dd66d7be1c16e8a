package smtpd

import (
	"context"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestDrainGreets421: while a message is still being received at
// shutdown, new connections are greeted "421 4.3.2" and closed rather than
// refused by the kernel, a connected client gets 421 on MAIL, the message
// is finished and answered 250, and only then do the listeners close.
func TestDrainGreets421(t *testing.T) {
	ts := startServer(t, Config{})
	msg := fixture(t)

	// The mid-DATA client speaks SMTP by hand, to stop inside the body.
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	slow := textproto.NewConn(conn)
	steps := []struct {
		cmd  string
		code int
	}{
		{"", 220},
		{"EHLO slow.sender.example", 250},
		{"MAIL FROM:<>", 250},
		{"RCPT TO:<slow@bounces.example.org>", 250},
		{"DATA", 354},
	}
	for _, step := range steps {
		if step.cmd != "" {
			if err := slow.PrintfLine("%s", step.cmd); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := slow.ReadResponse(step.code); err != nil {
			t.Fatalf("%q: want %d: %v", step.cmd, step.code, err)
		}
	}
	half := len(msg) / 2
	if _, err := conn.Write(msg[:half]); err != nil {
		t.Fatal(err)
	}
	// The 354 is written before the transaction is registered: wait for
	// it, or shutdown could refuse it.
	waitFor(t, "transaction in flight", func() bool { return ts.srv.gate.InFlight() == 1 })

	idle := ts.dial(t)

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- ts.srv.Shutdown(ctx)
	}()
	waitFor(t, "shutdown started", ts.srv.shuttingDown)

	// A connection accepted just before the listener started draining is
	// still greeted 220 (and refused at EHLO); retry until draining.
	var got string
	waitFor(t, "a greeting other than 220", func() bool {
		got = greeting(t, ts.addr)
		return !strings.HasPrefix(got, "220 ")
	})
	if !strings.HasPrefix(got, "421 4.3.2 ") || !strings.HasSuffix(got, "\r\n") {
		t.Fatalf("new connection during the drain got %q, want a 421 4.3.2 line", got)
	}
	// Each new connection is refused the same way, not just the first.
	if got := greeting(t, ts.addr); !strings.HasPrefix(got, "421 4.3.2 ") {
		t.Fatalf("second connection during the drain got %q", got)
	}

	wantCode(t, send(idle, "", []string{"b@bounces.example.org"}, msg), 421, smtp.EnhancedCode{4, 3, 2})

	select {
	case err := <-shut:
		t.Fatalf("shutdown returned %v with a message in flight", err)
	default:
	}

	if _, err := conn.Write(msg[half:]); err != nil {
		t.Fatal(err)
	}
	if err := slow.PrintfLine("."); err != nil {
		t.Fatal(err)
	}
	if code, text, err := slow.ReadResponse(250); err != nil {
		t.Fatalf("end of DATA during the drain: %d %q %v, want 250", code, text, err)
	}

	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	err = <-ts.done
	ts.done <- err // for the cleanup of startServer
	if err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepting after shutdown")
	}
	msgs := ts.store.messages()
	if len(msgs) != 1 || len(msgs[0].RcptTo) != 1 || msgs[0].RcptTo[0] != "slow@bounces.example.org" {
		t.Fatalf("stored %d messages, want the mid-DATA client's", len(msgs))
	}
}
