package smtpd

// Hostile clients: raw SMTP on loopback against the real listener, storing
// into a real SQLite store through the real decoder. Each test is one way
// of breaking the message framing; none may get a cut-short or desynchronised
// message acknowledged, or a byte of a message executed as a command.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

// hostileDeadline bounds every client read and write: only a server that
// hangs ever reaches it.
const hostileDeadline = 30 * time.Second

type hostileServer struct {
	srv   *Server
	store store.Store
	addr  string
	done  chan error
}

// startHostile starts a listener on loopback storing into a fresh SQLite
// database.
func startHostile(t *testing.T, cfg Config) *hostileServer {
	t.Helper()
	cfg.Domains = []string{"bounces.example.org"}
	cfg.Hostname = "rebound.test"
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := classify.New("en")
	if err != nil {
		t.Fatal(err)
	}
	an := &bounce.Analyzer{Parser: &dsn.Parser{Limits: dsn.DefaultLimits}, Classifier: cl}
	srv, err := New(cfg, st, an, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &hostileServer{srv: srv, store: st, addr: l.Addr().String(), done: make(chan error, 1)}
	go func() { hs.done <- srv.Serve(l) }()
	t.Cleanup(func() {
		hs.stop(t)
		st.Close()
	})
	return hs
}

// stop shuts the listener down, waiting for the messages in flight: what
// is stored afterwards is all that will ever be stored.
func (hs *hostileServer) stop(t *testing.T) {
	if hs.done == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostileDeadline)
	defer cancel()
	if err := hs.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	<-hs.done
	hs.done = nil
}

// waitClosed waits until the server has closed every connection, so that
// it has done all it will with what the clients sent.
func (hs *hostileServer) waitClosed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(hostileDeadline)
	for {
		var m dto.Metric
		if err := hs.srv.metrics.connections.Write(&m); err != nil {
			t.Fatal(err)
		}
		if m.GetGauge().GetValue() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections still open after %v", hostileDeadline)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stored waits for the connections to end, stops the listener and returns
// the stored messages, with their raw bytes and records.
func (hs *hostileServer) stored(t *testing.T) []*store.Message {
	t.Helper()
	hs.waitClosed(t)
	hs.stop(t)
	ctx := context.Background()
	list, err := hs.store.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*store.Message
	for _, m := range list {
		full, err := hs.store.Message(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, full)
	}
	return msgs
}

func (hs *hostileServer) wantNothingStored(t *testing.T) {
	t.Helper()
	if msgs := hs.stored(t); len(msgs) != 0 {
		t.Errorf("%d messages stored, want none; the first:\n%q", len(msgs), msgs[0].Raw)
	}
	recs, err := hs.store.Records(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 0 {
		t.Errorf("%d records stored, want none", len(recs))
	}
}

// rawClient speaks SMTP byte by byte, as a hostile client would.
type rawClient struct {
	t    *testing.T
	conn *net.TCPConn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, hs *hostileServer) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", hs.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(hostileDeadline))
	c := &rawClient{t: t, conn: conn.(*net.TCPConn), r: bufio.NewReader(conn)}
	c.expect("220 ")
	c.cmd("EHLO mx.sender.example", "250 ")
	return c
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("writing %.40q: %v", s, err)
	}
}

// reply reads one reply and returns its last line; ok is false once the
// server has closed the connection.
func (c *rawClient) reply() (line string, ok bool) {
	c.t.Helper()
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			if l != "" {
				c.t.Fatalf("reply cut short: %q (%v)", l, err)
			}
			if ne, isNet := err.(net.Error); isNet && ne.Timeout() {
				c.t.Fatalf("no reply within %v: the server hangs", hostileDeadline)
			}
			return "", false
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 4 || l[3] != '-' {
			return l, true
		}
	}
}

// expect reads one reply and fails unless it begins with prefix.
func (c *rawClient) expect(prefix string) string {
	c.t.Helper()
	line, ok := c.reply()
	if !ok {
		c.t.Fatalf("connection closed, want a %q reply", prefix)
	}
	if !strings.HasPrefix(line, prefix) {
		c.t.Fatalf("reply %q, want %q", line, prefix)
	}
	return line
}

func (c *rawClient) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

// rest reads the replies until the server closes the connection.
func (c *rawClient) rest() []string {
	c.t.Helper()
	var lines []string
	for {
		line, ok := c.reply()
		if !ok {
			return lines
		}
		lines = append(lines, line)
	}
}

// A BDAT chunk cut short by a half-close or a dropped connection ends no
// message (RFC 3030 section 2: the command is followed by exactly that many
// octets): never a 250, nothing stored or scored.
func TestHostileTruncatedBDAT(t *testing.T) {
	msg := fixture(t)
	tests := []struct {
		name   string
		script string
		// replies wanted for the chunks sent whole, before the cut one
		whole int
	}{
		{"one chunk", fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), msg[:5]), 0},
		{"last of two chunks", fmt.Sprintf("BDAT 100\r\n%sBDAT %d LAST\r\n%s", msg[:100], len(msg)-100, msg[100:200]), 1},
		{"announced far beyond", fmt.Sprintf("BDAT 4000000000 LAST\r\n%s", msg), 0},
	}
	for _, tc := range tests {
		for _, drop := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, dropped %v", tc.name, drop), func(t *testing.T) {
				hs := startHostile(t, Config{MaxMessageSize: 1 << 40})
				c := dialRaw(t, hs)
				c.cmd("MAIL FROM:<>", "250 ")
				c.cmd("RCPT TO:<b@bounces.example.org>", "250 ")
				c.send(tc.script)
				if drop {
					c.conn.Close()
					hs.wantNothingStored(t)
					return
				}
				c.conn.CloseWrite()
				for i := 0; i < tc.whole; i++ {
					c.expect("250 ")
				}
				c.expect("421 4.4.2 ")
				if more := c.rest(); len(more) != 0 {
					t.Errorf("replies after 421: %q", more)
				}
				hs.wantNothingStored(t)
			})
		}
	}
}

// A bare CR before the CRLF ends no line early and hides no line end: the
// next line's dot is still seen, both as the end of the data and as a
// stuffed dot (RFC 5321 sections 2.3.8, 4.1.1.4 and 4.5.2).
func TestHostileCRCRLF(t *testing.T) {
	hs := startHostile(t, Config{})
	c := dialRaw(t, hs)
	msg := fixture(t)
	intro := []byte("one recipient.\r\n")
	if !bytes.Contains(msg, intro) {
		t.Fatal("fixture changed")
	}
	sent := bytes.Replace(msg, intro, []byte("one recipient.\r\r\n..Details below.\r\r\n"), 1)
	sent = append(sent, "end\r\r\n"...)
	want := bytes.Replace(sent, []byte("\n..Details"), []byte("\n.Details"), 1)

	c.cmd("MAIL FROM:<>", "250 ")
	c.cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	c.cmd("DATA", "354 ")
	// The terminator directly after a line ending in CR CR LF, and a
	// command pipelined behind it.
	c.send(string(sent) + ".\r\nNOOP\r\n")
	c.expect("250 ")
	c.expect("250 2.0.0 I have successfully done nothing")
	c.cmd("QUIT", "221 ")

	msgs := hs.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1", len(msgs))
	}
	if !bytes.Equal(msgs[0].Raw, want) {
		t.Errorf("stored\n%q\nwant\n%q", msgs[0].Raw, want)
	}
	if len(msgs[0].Records) != 1 || msgs[0].Records[0].Recipient != "gone@dest.example" {
		t.Errorf("records %+v, want one for gone@dest.example", msgs[0].Records)
	}
}

// "RCPT TO:<Postmaster>" without a domain must be accepted (RFC 5321
// section 4.5.1); postmaster at a bounce domain is an address there, and at
// any other domain relaying.
func TestHostilePostmaster(t *testing.T) {
	hs := startHostile(t, Config{})
	c := dialRaw(t, hs)
	c.cmd("MAIL FROM:<someone@sender.example>", "250 ")
	for _, tc := range []struct{ rcpt, reply string }{
		{"<postmaster>", "250 "},
		{"<Postmaster>", "250 "},
		{"<POSTMASTER@Bounces.Example.ORG>", "250 "},
		{"<postmaster@elsewhere.example>", "550 5.7.1 "},
	} {
		c.cmd("RCPT TO:"+tc.rcpt, tc.reply)
	}
	c.cmd("DATA", "354 ")
	c.send(string(fixture(t)) + ".\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")

	msgs := hs.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1", len(msgs))
	}
	if got := strings.Join(msgs[0].RcptTo, " "); got != "postmaster Postmaster POSTMASTER@Bounces.Example.ORG" {
		t.Errorf("recipients %q", got)
	}
}

// BDAT content is held to MaxLineLength as DATA is: a permanent error, and
// the session stays in sync (the whole chunk is read) so the next command
// and the next message work.
func TestHostileLongBDATLine(t *testing.T) {
	// Above the 4096 octets go-smtp may read ahead with the BDAT command
	// line, so that the chunk check answers rather than the command line
	// limit (see third_party/go-smtp/README.md).
	const limit = 5000
	hs := startHostile(t, Config{MaxLineLength: limit})
	c := dialRaw(t, hs)
	long := "X-Long: " + strings.Repeat("x", limit) + "\r\n"

	c.cmd("MAIL FROM:<>", "250 ")
	c.cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	// The long line begins in one chunk and ends in the next.
	c.send(fmt.Sprintf("BDAT %d\r\n%s", 3000, long[:3000]))
	c.expect("250 ")
	rest := long[3000:] + string(fixture(t))
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(rest), rest))
	c.expect("500 5.5.0 ")
	c.cmd("NOOP", "250 ")

	msg := fixture(t)
	c.cmd("MAIL FROM:<>", "250 ")
	c.cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), msg))
	c.expect("250 ")
	c.cmd("QUIT", "221 ")

	msgs := hs.stored(t)
	if len(msgs) != 1 || !bytes.Equal(msgs[0].Raw, msg) {
		t.Fatalf("%d messages stored, want only the one without a long line", len(msgs))
	}
}

// DATA holds lines to the same limit; there the connection is closed, as
// the rest of the data cannot be told from commands without reading it.
func TestHostileLongDATALine(t *testing.T) {
	const limit = 5000
	hs := startHostile(t, Config{MaxLineLength: limit})
	c := dialRaw(t, hs)
	c.cmd("MAIL FROM:<>", "250 ")
	c.cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("X-Long: " + strings.Repeat("x", limit) + "\r\n" + string(fixture(t)) + ".\r\nNOOP\r\n")
	c.expect("500 5.5.0 ")
	for _, line := range c.rest() {
		if !strings.HasPrefix(line, "5") {
			t.Errorf("reply %q after the line limit, want none but an error", line)
		}
	}
	hs.wantNothingStored(t)
}

// After a read timeout in the middle of DATA the rest of the message must
// never be read as commands: 421 4.4.2 and the connection is closed.
func TestHostileDATATimeout(t *testing.T) {
	hs := startHostile(t, Config{ReadTimeout: 500 * time.Millisecond})
	c := dialRaw(t, hs)
	c.cmd("MAIL FROM:<>", "250 ")
	c.cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	c.cmd("DATA", "354 ")
	// Body lines that would be commands if read as such.
	c.send("Subject: stalled\r\n\r\nRSET\r\nMAIL FROM:<>\r\n")
	c.expect("421 4.4.2 ")
	// The client goes on with its message; none of it may be answered.
	c.conn.Write([]byte("RCPT TO:<b@bounces.example.org>\r\nNOOP\r\n.\r\n"))
	if more := c.rest(); len(more) != 0 {
		t.Errorf("replies after 421: %q", more)
	}
	hs.wantNothingStored(t)
}

// The same for a BDAT chunk that stops coming.
func TestHostileBDATTimeout(t *testing.T) {
	hs := startHostile(t, Config{ReadTimeout: 500 * time.Millisecond})
	c := dialRaw(t, hs)
	c.cmd("MAIL FROM:<>", "250 ")
	c.cmd("RCPT TO:<b@bounces.example.org>", "250 ")
	c.send("BDAT 1000 LAST\r\nSubject: stalled\r\n\r\n")
	c.expect("421 4.4.2 ")
	c.conn.Write([]byte("NOOP\r\nQUIT\r\n"))
	if more := c.rest(); len(more) != 0 {
		t.Errorf("replies after 421: %q", more)
	}
	hs.wantNothingStored(t)
}
