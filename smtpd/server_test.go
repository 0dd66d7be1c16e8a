package smtpd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// memStore is an in-memory Saver whose Save can be made to fail or
// to block, to exercise the durability contract.
type memStore struct {
	mu      sync.Mutex
	msgs    []*store.Message
	fail    error         // Save returns it while set
	gate    chan struct{} // Save waits for it while set
	entered chan struct{} // signalled when a Save starts, if set
	closed  bool
}

func (m *memStore) Save(ctx context.Context, msg *store.Message) (store.SaveResult, error) {
	m.mu.Lock()
	gate, entered := m.gate, m.entered
	m.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return store.SaveResult{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return store.SaveResult{}, store.ErrClosed
	}
	if m.fail != nil {
		return store.SaveResult{}, fmt.Errorf("saving message: %w", m.fail)
	}
	cp := *msg
	// Raw may be a mapped spool file, released when Save returns.
	cp.Raw = bytes.Clone(msg.Raw)
	cp.ID = int64(len(m.msgs) + 1)
	m.msgs = append(m.msgs, &cp)
	return store.SaveResult{MessageID: cp.ID}, nil
}

func (m *memStore) setFail(err error) { m.mu.Lock(); m.fail = err; m.mu.Unlock() }

func (m *memStore) messages() []*store.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*store.Message(nil), m.msgs...)
}

func (m *memStore) Close() error { m.mu.Lock(); m.closed = true; m.mu.Unlock(); return nil }

// fakeAnalyzer yields one record per "Final-Recipient:" line, fails on a
// message containing "X-Test: unparsable", panics on "X-Test: panic" and
// reports 7 recipients not recorded on "X-Test: truncated",
// so the listener can be tested without depending on the decoder.
type fakeAnalyzer struct{}

func (fakeAnalyzer) Analyze(raw []byte, source string) ([]record.Record, *dsn.Report, error) {
	if bytes.Contains(raw, []byte("X-Test: unparsable")) {
		return nil, nil, errors.New("dsn: header section is not terminated")
	}
	if bytes.Contains(raw, []byte("X-Test: panic")) {
		panic("decoder bug")
	}
	var recs []record.Record
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "Final-Recipient: rfc822; "); ok {
			recs = append(recs, record.Record{Source: source, Index: len(recs) + 1,
				Recipient: strings.TrimSpace(rest), Class: record.ClassHard, Reason: "userunknown",
				Confidence: record.ConfidenceHigh})
		}
	}
	rep := &dsn.Report{Format: "rfc3464"}
	if bytes.Contains(raw, []byte("X-Test: truncated")) {
		rep.TruncatedRecipients = 7
	}
	return recs, rep, nil
}

type testServer struct {
	srv   *Server
	store *memStore
	addr  string
	reg   *prometheus.Registry
	done  chan error
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Domains == nil {
		cfg.Domains = []string{"bounces.example.org"}
	}
	cfg.Hostname = "rebound.test"
	st := &memStore{}
	reg := prometheus.NewRegistry()
	srv, err := New(cfg, st, fakeAnalyzer{}, nil, NewMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, store: st, addr: l.Addr().String(), reg: reg, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-ts.done
	})
	return ts
}

func (ts *testServer) dial(t *testing.T) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("mx.sender.example"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send runs one transaction and returns the error of the first step that
// failed.
func send(c *smtp.Client, from string, to []string, msg []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
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

func wantCode(t *testing.T, err error, code int, enh smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want SMTP %d %v", err, code, enh)
	}
	if se.Code != code || se.EnhancedCode != enh {
		t.Fatalf("reply = %d %v %q, want %d %v", se.Code, se.EnhancedCode, se.Message, code, enh)
	}
}

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/failed-dsn.eml")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func TestStoresMessageWithEnvelope(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	before := time.Now().UTC()
	if err := send(c, "", []string{"bounces+list42@Bounces.Example.ORG"}, fixture(t)); err != nil {
		t.Fatal(err)
	}
	msgs := ts.store.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	m := msgs[0]
	if m.MailFrom != "" || len(m.RcptTo) != 1 || m.RcptTo[0] != "bounces+list42@Bounces.Example.ORG" ||
		m.Helo != "mx.sender.example" || !strings.HasPrefix(m.RemoteAddr, "127.0.0.1:") || m.Source != "smtp" {
		t.Errorf("envelope = from %q rcpt %q helo %q remote %q source %q", m.MailFrom, m.RcptTo, m.Helo, m.RemoteAddr, m.Source)
	}
	if !bytes.Contains(m.Raw, []byte("Final-Recipient: rfc822; gone@dest.example")) || m.Format != "rfc3464" {
		t.Errorf("raw/format not kept: format %q", m.Format)
	}
	if len(m.Records) != 1 || m.Records[0].Recipient != "gone@dest.example" || m.Records[0].ReceivedAt.Before(before.Add(-time.Second)) {
		t.Errorf("records = %+v", m.Records)
	}
	if got := counterValue(t, ts.srv.metrics.records.WithLabelValues("hard", "userunknown", "high")); got != 1 {
		t.Errorf("records metric = %v", got)
	}
}

func TestOrdinarySenderAccepted(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	if err := send(c, "postmaster@mx.sender.example", []string{"bounces@bounces.example.org"}, fixture(t)); err != nil {
		t.Fatal(err)
	}
	if m := ts.store.messages(); len(m) != 1 || m[0].MailFrom != "postmaster@mx.sender.example" {
		t.Fatalf("stored %+v", m)
	}
}

func TestRelayDenied(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	for _, rcpt := range []string{"someone@elsewhere.example", "x@bounces.example.org.evil.example", "x@sub.bounces.example.org"} {
		err := send(c, "", []string{rcpt}, fixture(t))
		wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
		c.Reset()
	}
	if n := len(ts.store.messages()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

// TestStoreFailureAnswers451 checks the durability contract: a failing
// store answers a temporary 451 4.3.0, never a permanent 5xx, and the
// next message after the store recovers is accepted.
func TestStoreFailureAnswers451(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	ts.store.setFail(errors.New("disk I/O error"))
	for i := 0; i < 3; i++ {
		err := send(c, "", []string{"b@bounces.example.org"}, fixture(t))
		wantCode(t, err, 451, smtp.EnhancedCode{4, 3, 0})
	}
	ts.store.setFail(nil)
	if err := send(c, "", []string{"b@bounces.example.org"}, fixture(t)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if got := counterValue(t, ts.srv.metrics.tempfailed); got != 3 {
		t.Errorf("tempfailed = %v", got)
	}
	if n := len(ts.store.messages()); n != 1 {
		t.Errorf("%d messages stored", n)
	}
}

func TestClosedStoreAnswers451(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	ts.store.Close()
	wantCode(t, send(c, "", []string{"b@bounces.example.org"}, fixture(t)), 451, smtp.EnhancedCode{4, 3, 0})
}

func TestSaveTimeoutAnswers451(t *testing.T) {
	ts := startServer(t, Config{SaveTimeout: 50 * time.Millisecond})
	ts.store.gate = make(chan struct{}) // never opened
	c := ts.dial(t)
	wantCode(t, send(c, "", []string{"b@bounces.example.org"}, fixture(t)), 451, smtp.EnhancedCode{4, 3, 0})
}

func TestUnparsableStoredNotDropped(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	for _, kind := range []string{"unparsable", "panic"} {
		msg := []byte("X-Test: " + kind + "\r\nSubject: ???\r\n\r\nbody\r\n")
		if err := send(c, "", []string{"b@bounces.example.org"}, msg); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
	}
	msgs := ts.store.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	for _, m := range msgs {
		if m.ParseError == "" || len(m.Records) != 0 {
			t.Errorf("parse error %q, %d records", m.ParseError, len(m.Records))
		}
	}
	if got := counterValue(t, ts.srv.metrics.unrecognized); got != 2 {
		t.Errorf("unrecognized = %v", got)
	}
	// A failed decoding is told apart from a message that is no bounce,
	// and a decoder panic from a malformed message.
	for _, kind := range []string{"error", "panic"} {
		if got := counterValue(t, ts.srv.metrics.parseFailed.WithLabelValues(kind)); got != 1 {
			t.Errorf("parse_failed{kind=%s} = %v, want 1", kind, got)
		}
	}
	if err := send(c, "", []string{"b@bounces.example.org"}, []byte("Subject: hello\r\n\r\nnot a bounce\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, ts.srv.metrics.unrecognized); got != 3 {
		t.Errorf("unrecognized = %v after a message that is no bounce, want 3", got)
	}
	for _, kind := range []string{"error", "panic"} {
		if got := counterValue(t, ts.srv.metrics.parseFailed.WithLabelValues(kind)); got != 1 {
			t.Errorf("parse_failed{kind=%s} = %v after a message that is no bounce, want 1", kind, got)
		}
	}
}

func TestLimits(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 4096, MaxRecipients: 2, MaxLineLength: 3000})
	c := ts.dial(t)

	if size, ok := c.MaxMessageSize(); !ok || size != 4096 {
		t.Errorf("SIZE = %d, %v", size, ok)
	}
	big := append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789012345678901234567890123456789\r\n"), 200)...)
	wantCode(t, send(c, "", []string{"b@bounces.example.org"}, big), 552, smtp.EnhancedCode{5, 3, 4})

	c = ts.dial(t)
	err := send(c, "", []string{"a@bounces.example.org", "b@bounces.example.org", "c@bounces.example.org"}, fixture(t))
	wantCode(t, err, 452, smtp.EnhancedCode{4, 5, 3})
	c.Reset()

	// A long line inside DATA (bounces quote long header lines) is fine
	// up to the configured limit.
	long := []byte("Subject: long\r\nX-Long: " + strings.Repeat("x", 2500) + "\r\n\r\nbody\r\n")
	if err := send(c, "", []string{"b@bounces.example.org"}, long); err != nil {
		t.Fatalf("long line: %v", err)
	}
	if n := len(ts.store.messages()); n != 1 {
		t.Errorf("%d messages stored", n)
	}
}

// greeting connects to addr and returns what the server says first.
func greeting(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, _ := conn.Read(buf)
	return string(buf[:n])
}

func TestConnectionLimits(t *testing.T) {
	ts := startServer(t, Config{MaxConnectionsPerIP: 2})
	ts.dial(t)
	ts.dial(t)
	if got := greeting(t, ts.addr); !strings.HasPrefix(got, "421 4.7.0 ") {
		t.Fatalf("third connection got %q", got)
	}
	if got := counterValue(t, ts.srv.metrics.connsRejected.WithLabelValues("per_ip")); got != 1 {
		t.Errorf("rejected metric = %v", got)
	}
}

func TestLMTPStatusPerRecipient(t *testing.T) {
	ts := startServer(t, Config{LMTP: true})
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.sender.example"); err != nil {
		t.Fatal(err)
	}
	rcpts := []string{"a@bounces.example.org", "b@bounces.example.org"}
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(fixture(t))
	resp, err := w.CloseWithLMTPResponse()
	if err != nil || len(resp) != 2 {
		t.Fatalf("LMTP replies %v, %v", resp, err)
	}
	msgs := ts.store.messages()
	if len(msgs) != 1 || msgs[0].Source != "lmtp" || len(msgs[0].RcptTo) != 2 {
		t.Fatalf("stored %d messages", len(msgs))
	}

	// A failing store gives every recipient 451.
	ts.store.setFail(errors.New("database is locked"))
	c.Mail("", nil)
	for _, r := range rcpts {
		c.Rcpt(r, nil)
	}
	w, _ = c.Data()
	w.Write(fixture(t))
	_, err = w.CloseWithLMTPResponse()
	var lerr smtp.LMTPDataError
	if !errors.As(err, &lerr) || len(lerr) != 2 {
		t.Fatalf("error = %v", err)
	}
	for r, se := range lerr {
		if se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
			t.Errorf("%s: %d %v", r, se.Code, se.EnhancedCode)
		}
	}
}

// TestShutdownFinishesInFlight: a message being stored when shutdown
// starts is still answered 250; new transactions are refused.
func TestShutdownFinishesInFlight(t *testing.T) {
	ts := startServer(t, Config{})
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	ts.store.mu.Lock()
	ts.store.gate, ts.store.entered = gate, entered
	ts.store.mu.Unlock()

	idle := ts.dial(t)
	c := ts.dial(t)
	result := make(chan error, 1)
	go func() { result <- send(c, "", []string{"b@bounces.example.org"}, fixture(t)) }()
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- ts.srv.Shutdown(ctx)
	}()
	// New connections during the drain: see TestDrainGreets421.
	waitFor(t, "shutdown started", ts.srv.shuttingDown)
	close(gate)
	if err := <-result; err != nil {
		t.Fatalf("in-flight message: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if n := len(ts.store.messages()); n != 1 {
		t.Fatalf("%d messages stored", n)
	}
	// Idle connections are closed rather than waited for.
	if err := idle.Noop(); err == nil {
		t.Error("idle connection still open after shutdown")
	}
}

func TestStartTLS(t *testing.T) {
	cert := selfSigned(t)
	ts := startServer(t, Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	c, err := smtp.DialStartTLS(ts.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("not TLS")
	}
	if err := send(c, "", []string{"b@bounces.example.org"}, fixture(t)); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentClients(t *testing.T) {
	ts := startServer(t, Config{})
	const clients, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(ts.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := 0; j < each; j++ {
				if err := send(c, "", []string{"b@bounces.example.org"}, fixture(t)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(ts.store.messages()); n != clients*each {
		t.Fatalf("%d messages stored, want %d", n, clients*each)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rebound.test"},
		DNSNames:     []string{"rebound.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func counterValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// BenchmarkTransactions measures the listener alone (in-memory store, fake
// decoder): parallel clients over loopback, one transaction per iteration.
func BenchmarkTransactions(b *testing.B) { benchmarkTransactions(b, nil) }

// BenchmarkTransactionsLogged is BenchmarkTransactions writing the line of
// each transaction, as serve does at its default level.
func BenchmarkTransactionsLogged(b *testing.B) {
	benchmarkTransactions(b, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func benchmarkTransactions(b *testing.B, log *slog.Logger) {
	st := &memStore{}
	srv, err := New(Config{Domains: []string{"bounces.example.org"}}, st, fakeAnalyzer{}, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
	msg, err := os.ReadFile("testdata/failed-dsn.eml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := smtp.Dial(l.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		for pb.Next() {
			if err := send(c, "", []string{"b@bounces.example.org"}, msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestChunking sends the message with BDAT (RFC 3030) after pipelined
// commands (RFC 2920).
func TestChunking(t *testing.T) {
	ts := startServer(t, Config{})
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := fixture(t)
	half := len(msg) / 2
	script := fmt.Sprintf("EHLO mx.sender.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@bounces.example.org>\r\nBDAT %d\r\n%sBDAT %d LAST\r\n%sQUIT\r\n",
		half, msg[:half], len(msg)-half, msg[half:])
	if _, err := conn.Write([]byte(script)); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(conn)
	codes := []string{}
	for _, line := range strings.Split(strings.TrimSpace(string(reply)), "\r\n") {
		if len(line) > 3 && line[3] == ' ' {
			codes = append(codes, line[:3])
		}
	}
	want := []string{"220", "250", "250", "250", "250", "250", "221"}
	if strings.Join(codes, " ") != strings.Join(want, " ") {
		t.Fatalf("replies %v, want %v:\n%s", codes, want, reply)
	}
	msgs := ts.store.messages()
	if len(msgs) != 1 || !bytes.Equal(msgs[0].Raw, msg) {
		t.Fatalf("stored %d messages", len(msgs))
	}
}

// TestSMTPUTF8 accepts an internationalized sender and recipient
// (RFC 6531).
func TestSMTPUTF8(t *testing.T) {
	ts := startServer(t, Config{Domains: []string{"bounces.example.org"}})
	c := ts.dial(t)
	if ok, _ := c.Extension("SMTPUTF8"); !ok {
		t.Fatal("SMTPUTF8 not offered")
	}
	if err := c.Mail("postmeister@absender.example", &smtp.MailOptions{UTF8: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("rückläufer@bounces.example.org", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(fixture(t))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m := ts.store.messages(); len(m) != 1 || m[0].RcptTo[0] != "rückläufer@bounces.example.org" {
		t.Fatalf("stored %+v", m)
	}
}
