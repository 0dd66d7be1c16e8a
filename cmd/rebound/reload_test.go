package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/verp"
)

// startServeReload runs serve in this process like startServe, with a
// reload trigger: reload asks for a reload and returns its result.
func startServeReload(t *testing.T, args ...string) (addr string, reload func() error, stop func() int, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	trigger := make(chan struct{})
	results := make(chan error)
	done := make(chan int, 1)
	logs = &syncBuffer{}
	args = append([]string{"--listen", "127.0.0.1:0"}, args...)
	go func() {
		done <- serveWith(ctx, args, logs, serveHooks{ready: ready, reload: trigger, reloaded: results})
	}()
	select {
	case addr = <-ready:
	case status := <-done:
		cancel()
		t.Fatalf("serve exited with %d: %s", status, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	reload = func() error {
		t.Helper()
		select {
		case trigger <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not take the reload")
		}
		return <-results
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
	return addr, reload, stop, logs
}

// peerCert returns the certificate of a new STARTTLS handshake with addr.
func peerCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	// The handshake runs with the first command after STARTTLS.
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP after STARTTLS: %v", err)
	}
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		t.Fatal("no TLS state after STARTTLS")
	}
	return st.PeerCertificates[0]
}

// apiCert returns the certificate of a new TLS handshake with the API.
func apiCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("API TLS: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// copyFile replaces dst by the contents of src.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReload rewrites the certificates and the configuration of a running
// server and reloads it: new handshakes get the new certificate, the
// connection open before keeps working, the log level changes, options
// that need a restart are named, and a bad file or certificate keeps
// what runs.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	next := filepath.Join(dir, "next")
	os.Mkdir(next, 0o700)
	nextCert, nextKey := writeSelfSigned(t, next)

	conf := filepath.Join(dir, "rebound.toml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := fmt.Sprintf(`domains = ["bounces.example.org"]
[listener]
tls_cert = %q
tls_key = %q
[api]
listen = "127.0.0.1:0"
tls_cert = %q
tls_key = %q
[authentication]
unsigned = "trust"
`, certFile, keyFile, certFile, keyFile)
	write(base)
	addr, reload, stop, logs := startServeReload(t, "--config", conf, "--db", filepath.Join(dir, "rebound.db"))
	m := regexp.MustCompile(`msg="API listening" addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", logs)
	}
	apiAddr := m[1]

	first := peerCert(t, addr)
	if !first.Equal(apiCert(t, apiAddr)) {
		t.Fatal("the listener and the API serve different certificates")
	}
	// A connection open across the reload.
	open, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	msg, err := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if err != nil {
		t.Fatal(err)
	}

	copyFile(t, nextCert, certFile)
	copyFile(t, nextKey, keyFile)
	write(strings.Replace(base, `domains = ["bounces.example.org"]`,
		"log_level = \"warn\"\ndomains = [\"bounces.example.org\", \"more.example.org\"]", 1))
	if err := reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, logs)
	}
	second := peerCert(t, addr)
	if second.Equal(first) {
		t.Fatal("a handshake after the reload got the old certificate")
	}
	if !second.Equal(apiCert(t, apiAddr)) {
		t.Error("the API kept its old certificate after the reload")
	}
	if err := sendLoadMessage(open, "a@bounces.example.org", msg); err != nil {
		t.Errorf("the connection open across the reload: %v", err)
	}
	out := logs.String()
	for _, want := range []string{
		`msg="configuration reloaded" applied=listener.tls_cert,api.tls_cert,log_level`,
		`options=domains`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// At level warn, the message's transaction line (info) is not written.
	if strings.Contains(out, "msg=transaction") {
		t.Errorf("a transaction line at log level warn:\n%s", out)
	}

	for _, tc := range []struct {
		name, conf string
		cert       []byte // written over the certificate file; nil: kept
		want       string // in the error
	}{
		{"BadSyntax", "domains = [\n", nil, "line"},
		{"Invalid", strings.Replace(base, "bounces.example.org", "bad domain", 1), nil, "domains"},
		{"BadCertificate", base, []byte("not a certificate"), "listener.tls_cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.conf)
			if tc.cert != nil {
				good, _ := os.ReadFile(certFile)
				os.WriteFile(certFile, tc.cert, 0o600)
				defer os.WriteFile(certFile, good, 0o600)
			}
			const notReloaded = "configuration not reloaded: keeping the running one"
			before := strings.Count(logs.String(), notReloaded)
			err := reload()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload: %v, want an error saying %q", err, tc.want)
			}
			if got := peerCert(t, addr); !got.Equal(second) {
				t.Error("a failed reload changed the listener's certificate")
			}
			if got := apiCert(t, apiAddr); !got.Equal(second) {
				t.Error("a failed reload changed the API's certificate")
			}
			if strings.Count(logs.String(), notReloaded) != before+1 {
				t.Errorf("no error logged:\n%s", logs)
			}
		})
	}
	// Still serving, with the configuration of the last good reload.
	if err := sendLoadMessage(open, "b@bounces.example.org", append([]byte("X-Again: 1\r\n"), msg...)); err != nil {
		t.Errorf("after the failed reloads: %v", err)
	}
	open.Quit()
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d:\n%s", s, logs)
	}
}

// TestReloadSIGHUP sends SIGHUP to a serve process: it reloads and keeps
// serving.
func TestReloadSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server process")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "rebound.toml")
	os.WriteFile(conf, []byte("domains = [\"bounces.example.org\"]\n[authentication]\nunsigned = \"trust\"\n"), 0o600)
	addr := freeLoopbackAddr(t)
	p := startServeProcess(t, addr, "--config", conf, "--db", filepath.Join(dir, "rebound.db"), "--listen", addr, "--api-listen=")
	os.WriteFile(conf, []byte("log_level = \"debug\"\ndomains = [\"bounces.example.org\"]\n[authentication]\nunsigned = \"trust\"\n"), 0o600)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), `msg="configuration reloaded" applied=log_level`) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged after SIGHUP:\n%s", p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	msg, _ := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if err := sendLoadMessage(c, "a@bounces.example.org", msg); err != nil {
		t.Errorf("after SIGHUP: %v", err)
	}
	c.Quit()
	if n := bytes.Count([]byte(p.logs.String()), []byte(`msg=transaction `)); n != 1 {
		t.Errorf("%d transaction lines after SIGHUP, want 1:\n%s", n, p.logs)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, p.logs)
	}
}

func TestRestartChanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *config.Config)
		want string
	}{
		{"None", func(c *config.Config) {}, ""},
		{"Live", func(c *config.Config) {
			c.LogLevel = "debug"
			c.Listener.TLSCert, c.Listener.TLSKey = "/other/cert.pem", "/other/key.pem"
			c.Listener.MessagesPerMinute = 1
			c.VERP.MaxAge = config.Duration(time.Hour)
			c.Authentication.Unsigned = config.UnsignedNever
		}, ""},
		{"Restart", func(c *config.Config) {
			c.Domains = append(c.Domains, "more.example.org")
			c.Listener.MaxRecipients = 5
			c.Suppression.HardExpiry = config.Duration(time.Hour)
			c.Retention.Records = config.Duration(time.Hour)
		}, "domains,listener.max_recipients,suppression.hard_expiry,retention.records"},
		{"TLSOff", func(c *config.Config) { c.Listener.TLSCert, c.Listener.TLSKey = "", "" },
			"listener.tls_cert (STARTTLS turned on or off)"},
		{"Secret", func(c *config.Config) { c.API.Tokens[0].Token = "another-secret-0123456789" }, "api.tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := config.Defaults()
			old.Listener.TLSCert, old.Listener.TLSKey = "/etc/cert.pem", "/etc/key.pem"
			old.API.Tokens = []config.Token{{Name: "app", Token: "a-secret-0123456789"}}
			next := config.Defaults()
			next.Listener.TLSCert, next.Listener.TLSKey = old.Listener.TLSCert, old.Listener.TLSKey
			next.API.Tokens = slices.Clone(old.API.Tokens)
			tc.edit(&next)
			if got := strings.Join(restartChanges(&old, &next), ","); got != tc.want {
				t.Errorf("restartChanges = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReloadRotatesVERPKeys rotates the VERP keys of a running serve by
// reloads: mail to a return path of the old key is accepted while both
// keys are configured, and refused once the old one is removed.
func TestReloadRotatesVERPKeys(t *testing.T) {
	t.Setenv("REBOUND_VERP_KEYS", "")
	dir := t.TempDir()
	conf := filepath.Join(dir, "rebound.toml")
	keys := map[string]string{"k1": "rotation-old-key-0123456789", "k2": "rotation-new-key-0123456789"}
	write := func(ids ...string) {
		t.Helper()
		text := fmt.Sprintf("domains = [\"bounces.example.org\"]\n[store]\nurl = %q\n", filepath.Join(dir, "rebound.db"))
		for _, id := range ids {
			text += fmt.Sprintf("[[verp.keys]]\nid = %q\nsecret = %q\n", id, keys[id])
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	signed := func(id, rcpt string) string {
		t.Helper()
		s, err := verp.New([]verp.Key{{ID: id, Secret: []byte(keys[id])}}, verp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rp, err := s.Encode(context.Background(), rcpt, "bounces.example.org")
		if err != nil {
			t.Fatal(err)
		}
		return rp
	}
	msg, _ := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	write("k1")
	addr, reload, _, logs := startServeReload(t, "--config", conf, "--api-listen=")
	old := signed("k1", "nobody@dest.example")
	if r := smtpSend(t, addr, old, msg); !queuedAs.MatchString(r) {
		t.Fatalf("old key before the rotation: %q", r)
	}
	write("k2", "k1")
	if err := reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	for _, rp := range []string{old, signed("k2", "nobody@dest.example")} {
		if r := smtpSend(t, addr, rp, msg); !queuedAs.MatchString(r) {
			t.Errorf("during the overlap, %s: %q", rp, r)
		}
	}
	write("k2")
	if err := reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if r := smtpSend(t, addr, old, msg); !strings.HasPrefix(r, "5") {
		t.Errorf("old key after it was removed: %q, want refused", r)
	}
	if !strings.Contains(logs.String(), "verp,authentication,rate limits") {
		t.Errorf("the reload line does not name what changed:\n%s", logs)
	}
}
