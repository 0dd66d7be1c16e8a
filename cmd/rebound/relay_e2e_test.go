package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// replyUpstream is the upstream a relay forwards to: an SMTP server on
// loopback keeping the data of every message it accepts.
type replyUpstream struct {
	mu  sync.Mutex
	got [][]byte
}

func (u *replyUpstream) NewSession(*smtp.Conn) (smtp.Session, error) { return u, nil }
func (u *replyUpstream) Mail(string, *smtp.MailOptions) error        { return nil }
func (u *replyUpstream) Rcpt(string, *smtp.RcptOptions) error        { return nil }
func (u *replyUpstream) Reset()                                      {}
func (u *replyUpstream) Logout() error                               { return nil }
func (u *replyUpstream) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	u.mu.Lock()
	u.got = append(u.got, b)
	u.mu.Unlock()
	return err
}

func (u *replyUpstream) received() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]byte(nil), u.got...)
}

// TestRelayHumanReplySurvivesRestart: a person's reply to a bounce domain
// that forwards is accepted while the upstream is down, survives SIGKILL
// of rebound serve, and reaches the upstream once it is up and serve is
// restarted, byte for byte after one added Received field.
func TestRelayHumanReplySurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "rebound.db")
	upAddr := freeLoopbackAddr(t) // nothing listens there yet
	conf := filepath.Join(dir, "rebound.toml")
	cfg := fmt.Sprintf("domains = [\"bounces.example.net\"]\n[relay]\nupstream = %q\ndefault = \"forward\"\nstarttls = \"off\"\nmin_backoff = \"1s\"\nmax_backoff = \"2s\"\ntimeout = \"5s\"\n", upAddr)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	args := []string{"--config", conf, "--db", db, "--listen", addr, "--api-listen="}
	p := startServeProcess(t, addr, args...)

	reply := "From: Jane Reader <jane@reader.example>\nTo: <b+k1+x@bounces.example.net>\n" +
		"Subject: Re: December news\nMessage-ID: <reply-1@reader.example>\n" +
		"Date: Thu, 03 Dec 2026 10:00:00 +0000\n\nPlease take me off this list.\n.. a line that starts with a dot\n\n-- \nJane\n"
	if r := smtpSend(t, addr, "newsletter@bounces.example.net", []byte(reply)); !queuedAs.MatchString(r) {
		t.Fatalf("reply answered %q", r)
	}
	time.Sleep(2 * time.Second) // a few attempts against the closed port
	p.cmd.Process.Kill()
	p.cmd.Wait()

	l, err := net.Listen("tcp", upAddr)
	if err != nil {
		t.Fatal(err)
	}
	up := &replyUpstream{}
	srv := smtp.NewServer(up)
	srv.Domain = "upstream.test"
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	p = startServeProcess(t, addr, args...)
	deadline := time.Now().Add(30 * time.Second)
	for len(up.received()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the reply never reached the upstream; serve said:\n%s", tail(p.logs.String(), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := up.received()
	// As sent over SMTP: CRLF lines, the leading dot unstuffed.
	sent := []byte(strings.ReplaceAll(strings.ReplaceAll(reply, "\n..", "\n."), "\n", "\r\n"))
	if len(got) != 1 || !bytes.HasPrefix(got[0], []byte("Received: ")) || !bytes.HasSuffix(got[0], sent) {
		t.Fatalf("upstream received %d messages; first:\n%q\nwant a Received field, then\n%q", len(got), got[0], sent)
	}
	if extra := got[0][:len(got[0])-len(sent)]; bytes.Count(extra, []byte("Received:")) != 1 {
		t.Errorf("more than one field added: %q", extra)
	}
}
