package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/record"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server
// and reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startServe runs "rebound serve args..." in this process on a free port
// and returns its address and a function that stops it (as SIGTERM does)
// and returns its exit status.
func startServe(t *testing.T, args ...string) (addr string, stop func() int, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	logs = &syncBuffer{}
	if !slices.Contains(args, "--listen") {
		args = append([]string{"--listen", "127.0.0.1:0"}, args...)
	}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--api-listen") }) {
		args = append([]string{"--api-listen", "127.0.0.1:0"}, args...)
	}
	go func() { done <- serve(ctx, args, logs, ready) }()
	select {
	case addr = <-ready:
	case status := <-done:
		cancel()
		t.Fatalf("serve exited with %d: %s", status, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	var once sync.Once
	status := 0
	stop = func() int {
		once.Do(func() {
			cancel()
			status = <-done
		})
		return status
	}
	t.Cleanup(func() { stop() })
	return addr, stop, logs
}

func runCmd(t *testing.T, fn func([]string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	status := fn(args, &out, &errb)
	return status, out.String(), errb.String()
}

func bouncesCmd(args []string, out, errb *bytes.Buffer) int { return runBounces(args, out, errb) }
func importCmd(args []string, out, errb *bytes.Buffer) int  { return runImport(args, out, errb) }
func loadCmd(args []string, out, errb *bytes.Buffer) int    { return runLoad(args, out, errb) }
func serveCmd(args []string, out, errb *bytes.Buffer) int {
	return serve(context.Background(), args, errb, nil)
}

func decodeRecords(t *testing.T, jsonl string) []record.Record {
	t.Helper()
	var recs []record.Record
	dec := json.NewDecoder(strings.NewReader(jsonl))
	for dec.More() {
		var r record.Record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("bad JSON line: %v", err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestServeLoadBounces sends the fixtures through a real listener and
// SQLite store, then lists them back.
func TestServeLoadBounces(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rebound.db")
	addr, stop, logs := startServe(t, "--db", db, "--domain", "bounces.example.org")

	status, out, errs := runCmd(t, loadCmd, "--addr", addr, "--conns", "2", "--count", "6",
		"--rcpt", "bounces@bounces.example.org", "--run-id", "t1", "testdata/ingest")
	if status != 0 || !strings.HasPrefix(out, "load: 6 sent, 6 accepted (250), 0 tempfailed, 0 permfailed, ") {
		t.Fatalf("load: status %d, %q, %s", status, out, errs)
	}
	// A domain that is not ours is refused, never relayed.
	status, out, _ = runCmd(t, loadCmd, "--addr", addr, "--conns", "1", "--count", "1",
		"--rcpt", "someone@elsewhere.example", "testdata/ingest")
	if status != 1 || !strings.HasPrefix(out, "load: 1 sent, 0 accepted (250), 0 tempfailed, 1 permfailed,") {
		t.Fatalf("relay: status %d, %q", status, out)
	}
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d: %s", s, logs)
	}

	status, out, errs = runCmd(t, bouncesCmd, "--json", "--db", db)
	if status != 0 {
		t.Fatalf("bounces: %d %s", status, errs)
	}
	recs := decodeRecords(t, out)
	// Two of the three fixtures are DSNs with one recipient each; each was
	// sent twice with distinct load ids.
	var got []string
	for _, r := range recs {
		got = append(got, r.Recipient+" "+r.Action+" "+r.Status)
		if r.ReceivedAt.IsZero() {
			t.Errorf("record without received_at: %+v", r)
		}
	}
	slices.Sort(got)
	want := []string{"full@dest.example delayed 4.2.2", "full@dest.example delayed 4.2.2",
		"nobody@dest.example failed 5.1.1", "nobody@dest.example failed 5.1.1"}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	status, out, _ = runCmd(t, bouncesCmd, "--db", db, "--recipient", "nobody@dest.example", "--limit", "1")
	if status != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "nobody@dest.example") {
		t.Errorf("table:\n%s", out)
	}
}

// TestServeLMTPUnixSocket runs the listener as LMTP on a unix socket, as
// an MTA delivering to a local transport would use it.
func TestServeLMTPUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "lmtp.sock")
	conf := filepath.Join(dir, "rebound.toml")
	os.WriteFile(conf, []byte("domains = [\"bounces.example.org\"]\n[listener]\nlmtp = true\n"), 0o644)
	_, stop, logs := startServe(t, "--config", conf, "--listen", "unix:"+sock, "--db", filepath.Join(dir, "rebound.db"))

	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	msg, err := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("mta.sender.example"); err != nil {
		t.Fatal(err)
	}
	c.Mail("", nil)
	for _, r := range []string{"a@bounces.example.org", "b@bounces.example.org"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	resp, err := w.CloseWithLMTPResponse()
	if err != nil || len(resp) != 2 {
		t.Fatalf("LMTP replies %v, %v", resp, err)
	}
	// One reply per recipient (RFC 2033 section 4.2), each naming the
	// one stored message.
	for rcpt, r := range resp {
		if want := "2.0.0 <" + rcpt + "> OK: queued as 1"; r.StatusText != want {
			t.Errorf("LMTP reply for %s: %q, want %q", rcpt, r.StatusText, want)
		}
	}
	c.Quit()
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d: %s", s, logs)
	}
}

func TestImportCountsAndDuplicates(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rebound.db")
	status, out, errs := runCmd(t, importCmd, "--db", db, "testdata/ingest")
	if status != 0 || out != "import: 3 messages, 2 records, 0 duplicates, 1 unrecognized, 0 errors\n" {
		t.Fatalf("first import: %d %q %s", status, out, errs)
	}
	status, out, _ = runCmd(t, importCmd, "--db", db, "testdata/ingest")
	if status != 0 || out != "import: 3 messages, 0 records, 3 duplicates, 1 unrecognized, 0 errors\n" {
		t.Fatalf("second import: %d %q", status, out)
	}
	status, out, _ = runCmd(t, importCmd, "--db", db, "testdata/ingest/missing.eml")
	if status != 1 || !strings.Contains(out, "1 errors") {
		t.Fatalf("missing file: %d %q", status, out)
	}
	status, out, _ = runCmd(t, bouncesCmd, "--json", "--db", db, "--domain", "DEST.example", "--reason", "", "--since", "2026-11-26")
	if recs := decodeRecords(t, out); status != 0 || len(recs) != 2 {
		t.Fatalf("bounces after import: %d records", len(recs))
	}
}

func TestCommandUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		fn   func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		want string
	}{
		{"load off loopback", loadCmd, []string{"--addr", "192.0.2.1:25", "testdata/ingest"}, "not a loopback address"},
		{"load private range", loadCmd, []string{"--addr", "10.1.2.3:2525", "testdata/ingest"}, "not a loopback address"},
		{"load bad addr", loadCmd, []string{"--addr", "localhost", "testdata/ingest"}, "HOST:PORT"},
		{"load no paths", loadCmd, []string{"--addr", "127.0.0.1:2525"}, "usage"},
		{"bounces bad class", bouncesCmd, []string{"--class", "permanent"}, "--class"},
		{"bounces bad since", bouncesCmd, []string{"--since", "yesterday"}, "--since"},
		{"import no paths", importCmd, nil, "usage"},
		{"serve no domain config", serveCmd, []string{"--domain", "not a domain"}, "not a domain name"},
		{"serve missing config", serveCmd, []string{"--config", "testdata/ingest/none.toml"}, "none.toml"},
	}
	for _, tt := range tests {
		status, _, errs := runCmd(t, tt.fn, tt.args...)
		if status == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("%s: status %d, stderr %q, want it to contain %q", tt.name, status, errs, tt.want)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-20T08:00:00Z", time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"36h", now.Add(-36 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		p    int
		want time.Duration
	}{{50, 100 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}} {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("p%d = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

// TestServeMetricsAndTLS configures STARTTLS and the metrics listener from
// a file, delivers one message over TLS and reads the counters back.
func TestServeMetricsAndTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	conf := filepath.Join(dir, "rebound.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`domains = ["bounces.example.org"]
metrics_listen = "127.0.0.1:0"
[listener]
tls_cert = %q
tls_key = %q
`, certFile, keyFile)), 0o644)
	// The API is off: metrics_listen still serves the store's gauges.
	addr, stop, logs := startServe(t, "--config", conf, "--db", filepath.Join(dir, "rebound.db"), "--api-listen=")

	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if err := sendLoadMessage(c, "bounces@bounces.example.org", msg); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	m := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", logs)
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"rebound_smtp_messages_stored_total 1",
		`rebound_records_total{class="hard",confidence="high",reason="userunknown"} 1`,
		`rebound_smtp_replies_total{code="250"} 1`,
		"rebound_store_save_seconds_count 1",
		`rebound_suppressions{cause="`,
		"rebound_incidents_open 0",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(logs.String(), "API listening") {
		t.Errorf("the API listens though turned off:\n%s", logs)
	}
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d", s)
	}
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
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
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
