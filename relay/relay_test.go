package relay

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

// delivery is one message the test upstream accepted.
type delivery struct {
	from string
	to   []string
	data []byte
	tls  bool // received over TLS
}

// upstream is a go-smtp server on loopback that records what it accepts,
// or refuses recipients with rcptErr while that is set.
type upstream struct {
	addr string
	srv  *smtp.Server

	mu      sync.Mutex
	got     []delivery
	rcptErr *smtp.SMTPError
}

func (u *upstream) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &upSession{u: u, c: c}, nil
}

type upSession struct {
	u   *upstream
	c   *smtp.Conn
	cur delivery
}

func (s *upSession) Reset()        { s.cur = delivery{} }
func (s *upSession) Logout() error { return nil }
func (s *upSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = delivery{from: from}
	return nil
}

func (s *upSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	if s.u.rcptErr != nil {
		return s.u.rcptErr
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *upSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	_, s.cur.tls = s.c.TLSConnectionState()
	s.u.mu.Lock()
	s.u.got = append(s.u.got, s.cur)
	s.u.mu.Unlock()
	return nil
}

func (u *upstream) deliveries() []delivery {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]delivery(nil), u.got...)
}

func (u *upstream) refuse(e *smtp.SMTPError) {
	u.mu.Lock()
	u.rcptErr = e
	u.mu.Unlock()
}

// startUpstream listens on addr ("127.0.0.1:0" for any port); with cert,
// it offers STARTTLS.
func startUpstream(t *testing.T, addr string, cert *tls.Certificate) *upstream {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: l.Addr().String()}
	u.srv = smtp.NewServer(u)
	u.srv.Domain = "upstream.test"
	u.srv.ReadTimeout, u.srv.WriteTimeout = 10*time.Second, 10*time.Second
	if cert != nil {
		u.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	go u.srv.Serve(l)
	t.Cleanup(func() { u.srv.Close() })
	return u
}

// testCert is a self-signed certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "upstream.test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.OpenStore(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/reply.eml")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// queue stores raw as a reply to forward and returns its ID.
func queue(t *testing.T, st store.Store, from string, to []string, raw []byte) int64 {
	t.Helper()
	res, err := st.Save(context.Background(), &store.Message{ReceivedAt: clock.Add(-time.Minute), Source: "smtp",
		MailFrom: from, RcptTo: to, Raw: raw, Relay: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.MessageID
}

// clock is the Forwarder's time in the tests: the Received line's date.
var clock = time.Date(2026, 3, 2, 10, 15, 0, 0, time.FixedZone("", 3600))

func testConfig(upstream string) Config {
	return Config{
		Upstream:    upstream,
		Hostname:    "rebound.test",
		MaxAttempts: 30,
		MinBackoff:  20 * time.Millisecond,
		MaxBackoff:  80 * time.Millisecond,
		Timeout:     5 * time.Second,
		Now:         func() time.Time { return clock },
	}
}

// run runs f until the test ends.
// settled returns the counter's value once it reaches want, or after a
// moment: the forwarder counts an outcome just after it stores it.
func settled(t *testing.T, c prometheus.Counter, want float64) float64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for value(t, c) < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return value(t, c)
}

func run(t *testing.T, f *Forwarder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitItem waits until the item of id is in state, and returns it.
func waitItem(t *testing.T, st store.Store, id int64, state string) store.RelayItem {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		items, err := st.RelayItems(context.Background(), store.RelayQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.MessageID == id && it.State == state {
				return it
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("item %d never reached %s: %+v", id, state, items)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForwardsAsReceived(t *testing.T) {
	cert, pool := testCert(t)
	raw := fixture(t)
	for _, tc := range []struct {
		name     string
		tls      bool   // the upstream offers STARTTLS
		starttls string // the Forwarder's setting
		from     string
		to       []string
		received string
	}{
		{"plain upstream, opportunistic", false, "", "alice@customer.example", []string{"bounces+n1@bounces.example.org"},
			"Received: by rebound.test (Rebound) id 1\r\n\tfor <bounces+n1@bounces.example.org>; Mon, 02 Mar 2026 10:15:00 +0100\r\n"},
		{"TLS upstream, opportunistic", true, StartTLSOpportunistic, "alice@customer.example", []string{"a@bounces.example.org", "b@bounces.example.org"},
			"Received: by rebound.test (Rebound) id 1; Mon, 02 Mar 2026 10:15:00 +0100\r\n"},
		{"TLS upstream, required, null sender", true, StartTLSRequired, "", []string{"r@bounces.example.org"},
			"Received: by rebound.test (Rebound) id 1\r\n\tfor <r@bounces.example.org>; Mon, 02 Mar 2026 10:15:00 +0100\r\n"},
		{"TLS upstream, off", true, StartTLSOff, "alice@customer.example", []string{"r@bounces.example.org"},
			"Received: by rebound.test (Rebound) id 1\r\n\tfor <r@bounces.example.org>; Mon, 02 Mar 2026 10:15:00 +0100\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *tls.Certificate
			if tc.tls {
				c = cert
			}
			up := startUpstream(t, "127.0.0.1:0", c)
			st := openStore(t, filepath.Join(t.TempDir(), "rebound.db"))
			defer st.Close()
			id := queue(t, st, tc.from, tc.to, raw)
			cfg := testConfig(up.addr)
			cfg.StartTLS = tc.starttls
			cfg.TLS = &tls.Config{RootCAs: pool}
			reg := prometheus.NewRegistry()
			f, err := New(st, cfg, reg)
			if err != nil {
				t.Fatal(err)
			}
			run(t, f)
			f.Notify()
			it := waitItem(t, st, id, store.RelaySent)
			if it.Attempts != 1 || it.LastError != "" {
				t.Errorf("sent item %+v", it)
			}
			got := up.deliveries()
			if len(got) != 1 {
				t.Fatalf("upstream got %d messages, want 1", len(got))
			}
			d := got[0]
			if d.from != tc.from || strings.Join(d.to, " ") != strings.Join(tc.to, " ") {
				t.Errorf("envelope MAIL FROM:<%s> RCPT TO:%v, want <%s> %v", d.from, d.to, tc.from, tc.to)
			}
			if want := tc.tls && tc.starttls != StartTLSOff; d.tls != want {
				t.Errorf("over TLS: %v, want %v", d.tls, want)
			}
			if want := append([]byte(tc.received), raw...); !bytes.Equal(d.data, want) {
				t.Errorf("upstream got\n%q\nwant\n%q", d.data, want)
			}
			if v := settled(t, f.metrics.sent, 1); v != 1 {
				t.Errorf("sent_total %v, want 1", v)
			}
		})
	}
}

// TestRetriesUntilUpstreamUp forwards to an address where nothing listens
// until the item has failed a few times; once an upstream comes up there,
// the item is delivered.
func TestRetriesUntilUpstreamUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	st := openStore(t, filepath.Join(t.TempDir(), "rebound.db"))
	defer st.Close()
	raw := fixture(t)
	id := queue(t, st, "alice@customer.example", []string{"r@bounces.example.org"}, raw)
	cfg := testConfig(addr)
	cfg.Now = time.Now // retries become due as time passes
	f, err := New(st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, f)
	deadline := time.Now().Add(10 * time.Second)
	var it store.RelayItem
	for {
		it = waitItem(t, st, id, store.RelayQueued)
		if it.Attempts >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("item not retried: %+v", it)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(it.LastError, "connection refused") || it.NextAttempt.IsZero() {
		t.Errorf("retried item %+v: want the refused connection and a next attempt", it)
	}
	if v := settled(t, f.metrics.retried, 3); v < 3 {
		t.Errorf("retried_total %v, want at least 3", v)
	}
	up := startUpstream(t, addr, nil)
	sent := waitItem(t, st, id, store.RelaySent)
	if sent.Attempts < 4 {
		t.Errorf("sent after %d attempts, want the failed ones counted", sent.Attempts)
	}
	got := up.deliveries()
	if len(got) != 1 || !bytes.HasSuffix(got[0].data, raw) {
		t.Fatalf("upstream got %d messages, want the reply once", len(got))
	}
}

// TestGivesUp checks the items that end failed: a 5xx reply at once, a
// 4xx reply after the last attempt, and an upstream without the STARTTLS
// that is required. Each is listed as failed, with its error, and logged.
func TestGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		refuse   *smtp.SMTPError
		starttls string
		attempts int    // of the failed item
		err      string // in its last error
	}{
		{"5xx", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, "", 1,
			"RCPT TO:<r@bounces.example.org>: 550 5.1.1 No such user"},
		{"4xx out of attempts", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try later"}, "", 3,
			"giving up after 3 attempts: RCPT TO:<r@bounces.example.org>: 451 4.3.0 Try later"},
		{"STARTTLS required, not offered", nil, StartTLSRequired, 1,
			"does not offer STARTTLS, and relay.starttls is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, "127.0.0.1:0", nil)
			up.refuse(tc.refuse)
			st := openStore(t, filepath.Join(t.TempDir(), "rebound.db"))
			defer st.Close()
			id := queue(t, st, "alice@customer.example", []string{"r@bounces.example.org"}, fixture(t))
			cfg := testConfig(up.addr)
			cfg.Now = time.Now
			cfg.MaxAttempts = 3
			cfg.StartTLS = tc.starttls
			var logs syncBuffer
			cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
			f, err := New(st, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			run(t, f)
			waitItem(t, st, id, store.RelayFailed)
			failed, err := st.RelayItems(context.Background(), store.RelayQuery{State: store.RelayFailed})
			if err != nil || len(failed) != 1 {
				t.Fatalf("failed items %+v, %v", failed, err)
			}
			it := failed[0]
			if it.Attempts != tc.attempts || !strings.Contains(it.LastError, tc.err) {
				t.Errorf("failed item: %d attempts, error %q; want %d, %q", it.Attempts, it.LastError, tc.attempts, tc.err)
			}
			if v := settled(t, f.metrics.failed, 1); v != 1 {
				t.Errorf("failed_total %v, want 1", v)
			}
			if n := len(up.deliveries()); n != 0 {
				t.Errorf("upstream got %d messages", n)
			}
			if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "given up") ||
				!strings.Contains(l, "message_id="+itoa(id)) {
				t.Errorf("no error line naming the message in the log:\n%s", l)
			}
		})
	}
}

// TestRestartDelivers queues a message, closes the store as a stopped
// process would, and forwards it from the reopened file.
func TestRestartDelivers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	raw := fixture(t)
	st := openStore(t, path)
	id := queue(t, st, "alice@customer.example", []string{"r@bounces.example.org"}, raw)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, "127.0.0.1:0", nil)
	st = openStore(t, path)
	defer st.Close()
	f, err := New(st, testConfig(up.addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, f)
	waitItem(t, st, id, store.RelaySent)
	if got := up.deliveries(); len(got) != 1 || !bytes.HasSuffix(got[0].data, raw) {
		t.Fatalf("upstream got %d messages, want the reply", len(got))
	}
}

func TestBackoff(t *testing.T) {
	f, err := New(openStore(t, filepath.Join(t.TempDir(), "rebound.db")), Config{Upstream: "127.0.0.1:25",
		MaxAttempts: 10, MinBackoff: time.Minute, MaxBackoff: 10 * time.Minute, Timeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		failures int
		max      time.Duration // the wait is in [max/2, max]
	}{
		{1, time.Minute},
		{2, 2 * time.Minute},
		{3, 4 * time.Minute},
		{4, 8 * time.Minute},
		{5, 10 * time.Minute},
		{50, 10 * time.Minute},
	} {
		for range 50 {
			if d := f.backoff(tc.failures); d < tc.max/2 || d > tc.max {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tc.failures, d, tc.max/2, tc.max)
			}
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "rebound.db"))
	defer st.Close()
	good := Config{Upstream: "mx.example.org:25", MaxAttempts: 1, MinBackoff: time.Second, MaxBackoff: time.Second, Timeout: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no port", func(c *Config) { c.Upstream = "mx.example.org" }},
		{"starttls", func(c *Config) { c.StartTLS = "sometimes" }},
		{"attempts", func(c *Config) { c.MaxAttempts = 0 }},
		{"backoff order", func(c *Config) { c.MinBackoff = time.Hour }},
		{"timeout", func(c *Config) { c.Timeout = 0 }},
	} {
		c := good
		tc.edit(&c)
		if _, err := New(st, c, nil); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, c)
		}
	}
	if _, err := New(st, good, nil); err != nil {
		t.Errorf("New(%+v): %v", good, err)
	}
}

// syncBuffer is a log the Forwarder writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func itoa(n int64) string { return big.NewInt(n).String() }

// value reads a counter of the Forwarder.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
