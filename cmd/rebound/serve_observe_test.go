package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// smtpSend runs one SMTP transaction over a plain connection and returns
// the reply to the data, as the client reads it.
func smtpSend(t *testing.T, addr, rcpt string, msg []byte) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	reply := func(cmd string) string {
		t.Helper()
		if cmd != "" {
			fmt.Fprintf(conn, "%s\r\n", cmd)
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %q: %v", cmd, err)
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimRight(line, "\r\n")
			}
		}
	}
	reply("")
	reply("EHLO mx.sender.example")
	reply("MAIL FROM:<>")
	reply("RCPT TO:<" + rcpt + ">")
	reply("DATA")
	body := strings.ReplaceAll(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\n", "\r\n")
	got := reply(body + ".")
	reply("QUIT")
	return got
}

var queuedAs = regexp.MustCompile(`^250 2\.0\.0 OK: queued as (\d+)$`)

// TestServeTransactionLog checks, in both log formats, the line of each
// transaction and that the 250 reply names the message stored, for a new
// message and for its duplicate.
func TestServeTransactionLog(t *testing.T) {
	msg, err := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "rebound.db")
			conf := filepath.Join(dir, "rebound.toml")
			os.WriteFile(conf, []byte(fmt.Sprintf("domains = [\"bounces.example.org\"]\nlog_format = %q\n", format)), 0o644)
			addr, stop, logs := startServe(t, "--config", conf, "--db", db)

			first := smtpSend(t, addr, "b@bounces.example.org", msg)
			again := smtpSend(t, addr, "b@bounces.example.org", msg)
			m := queuedAs.FindStringSubmatch(first)
			if m == nil || again != first {
				t.Fatalf("replies %q then %q, want both 250 2.0.0 OK: queued as <id>", first, again)
			}
			if s := stop(); s != 0 {
				t.Fatalf("serve exited %d: %s", s, logs)
			}
			id, _ := strconv.ParseInt(m[1], 10, 64)
			st, err := openStore(context.Background(), db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			stored, err := st.Message(context.Background(), id)
			if err != nil || len(stored.RcptTo) != 1 || stored.RcptTo[0] != "b@bounces.example.org" {
				t.Fatalf("message %d in the store: %+v, %v", id, stored, err)
			}

			var lines []map[string]string
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				f := parseLogLine(t, format, l)
				if f["msg"] == "transaction" {
					lines = append(lines, f)
				}
			}
			if len(lines) != 2 {
				t.Fatalf("%d transaction lines, want 2:\n%s", len(lines), logs)
			}
			for i, dup := range []string{"false", "true"} {
				want := map[string]string{
					"helo": "mx.sender.example", "mail_from": "", "rcpt_to": "b@bounces.example.org",
					"size":   strconv.Itoa(len(strings.ReplaceAll(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\n", "\r\n"))),
					"format": "rfc3464", "records": "1", "classes": "hard=1",
					"reply": "250", "id": m[1], "duplicate": dup,
				}
				for k, v := range want {
					if got, ok := lines[i][k]; !ok || got != v {
						t.Errorf("line %d: %s = %q, want %q", i+1, k, got, v)
					}
				}
				if !strings.HasPrefix(lines[i]["remote"], "127.0.0.1:") || lines[i]["duration"] == "" {
					t.Errorf("line %d: remote %q duration %q", i+1, lines[i]["remote"], lines[i]["duration"])
				}
			}
		})
	}
}

// parseLogLine reads one log line of either format into its fields.
func parseLogLine(t *testing.T, format, line string) map[string]string {
	t.Helper()
	f := map[string]string{}
	if format == "json" {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		for k, v := range m {
			f[k] = fmt.Sprint(v)
		}
		return f
	}
	for _, kv := range regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`).FindAllStringSubmatch(line, -1) {
		v := kv[2]
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		f[kv[1]] = v
	}
	return f
}

// TestServeSecretsNotShown checks that neither the log nor --help shows a
// PostgreSQL password or an API token.
func TestServeSecretsNotShown(t *testing.T) {
	const password, token = "pa55-secret-word", "tok-secret-0123456789abcdef"
	t.Setenv("REBOUND_API_TOKEN", token)
	// Nothing listens on port 1: opening the store fails, and says so.
	stores := []struct{ url, shown string }{
		{"postgres://rebound:" + password + "@127.0.0.1:1/rebound?sslmode=disable&connect_timeout=2", "rebound:xxxxx@127.0.0.1:1"},
		{"postgres://rebound@127.0.0.1:1/rebound?sslmode=disable&connect_timeout=2&password=" + password, "password=xxxxx"},
		{"postgress://rebound:" + password + "@127.0.0.1:1/rebound", "unknown store scheme"},
	}
	var outs []string
	for _, s := range stores {
		status, _, errs := runCmd(t, serveCmd, "--api-listen=", "--listen", "127.0.0.1:0", "--db", s.url)
		if status == 0 || !strings.Contains(errs, s.shown) {
			t.Errorf("status %d, stderr %q: want the store to fail to open, showing %q", status, errs, s.shown)
		}
		outs = append(outs, errs)
	}
	status, _, help := runCmd(t, serveCmd, "--help")
	if status != 0 || !strings.Contains(help, "--api-listen") {
		t.Errorf("--help: status %d, %q", status, help)
	}
	for _, out := range append(outs, help) {
		if strings.Contains(out, password) || strings.Contains(out, token) {
			t.Errorf("a secret is shown:\n%s", out)
		}
	}
}

// TestServeAPI checks that serve answers the HTTP API on its own
// listener, with the token of REBOUND_API_TOKEN, and /metrics there.
func TestServeAPI(t *testing.T) {
	const token = "api-token-0123456789abcdef"
	t.Setenv("REBOUND_API_TOKEN", token)
	dir := t.TempDir()
	addr, stop, logs := startServe(t, "--db", filepath.Join(dir, "rebound.db"), "--domain", "bounces.example.org")
	msg, _ := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if r := smtpSend(t, addr, "b@bounces.example.org", msg); !queuedAs.MatchString(r) {
		t.Fatalf("reply %q", r)
	}
	m := regexp.MustCompile(`msg="API listening" addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", logs)
	}
	base := "http://" + m[1]
	get := func(path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		path, auth string
		code       int
		contains   string
	}{
		{"/healthz", "", 200, ""},
		{"/v1/bounces", "", 401, ""},
		{"/v1/bounces", "wrong-token-0123456789", 401, ""},
		{"/v1/bounces", token, 200, "nobody@dest.example"},
		{"/metrics", "", 200, `rebound_smtp_replies_total{code="250"} 1`},
	}
	for _, tt := range tests {
		code, body := get(tt.path, tt.auth)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s: %d, want %d containing %q:\n%.500s", tt.path, code, tt.code, tt.contains, body)
		}
	}
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d: %s", s, logs)
	}
}

// TestServeSecretErrors checks that a secret refused by ResolveSecrets
// stops serve with status 2 and a message that does not show it.
func TestServeSecretErrors(t *testing.T) {
	const short = "tiny-secret"
	dir := t.TempDir()
	conf := filepath.Join(dir, "rebound.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("[[api.tokens]]\nname = \"mailer\"\ntoken = %q\nscopes = [\"read\"]\n", short)), 0o644)
	status, _, errs := runCmd(t, serveCmd, "--config", conf, "--db", filepath.Join(dir, "rebound.db"))
	if status != 2 || !strings.Contains(errs, `"mailer"`) || strings.Contains(errs, short) {
		t.Fatalf("status %d, stderr %q: want 2 naming the token, not showing it", status, errs)
	}
}

// TestServeWebhook checks that serve delivers the events of the messages
// it stores to a configured endpoint, signed.
func TestServeWebhook(t *testing.T) {
	got := make(chan http.Header, 100)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.Header.Clone()
	}))
	defer receiver.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "rebound.toml")
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	os.WriteFile(conf, []byte(fmt.Sprintf(`domains = ["bounces.example.org"]
[webhooks]
min_backoff = "100ms"
[[webhooks.endpoints]]
name = "app"
url = %q
secret = %q
`, receiver.URL, secret)), 0o644)
	addr, stop, logs := startServe(t, "--config", conf, "--db", filepath.Join(dir, "rebound.db"))
	msg, _ := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	// The endpoint starts at the newest event when the deliverer first
	// claims it: send distinct messages until one is delivered.
	deadline := time.After(20 * time.Second)
	for i := 0; ; i++ {
		if r := smtpSend(t, addr, "b@bounces.example.org", append([]byte(fmt.Sprintf("X-Try: %d\n", i)), msg...)); !queuedAs.MatchString(r) {
			t.Fatalf("reply %q", r)
		}
		select {
		case h := <-got:
			if h.Get("webhook-id") == "" || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
				t.Errorf("delivery headers %v", h)
			}
			if s := stop(); s != 0 {
				t.Fatalf("serve exited %d: %s", s, logs)
			}
			return
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no event delivered:\n%s", logs)
		}
	}
}

// TestServeAPITLS checks the API over HTTPS with api.tls_cert and tls_key,
// and that a certificate that cannot be loaded stops serve before it
// listens.
func TestServeAPITLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	conf := filepath.Join(dir, "rebound.toml")
	writeConf := func(cert string) {
		t.Helper()
		body := fmt.Sprintf("domains = [\"bounces.example.org\"]\n[api]\ntls_cert = %q\ntls_key = %q\n", cert, keyFile)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConf(certFile)
	_, stop, logs := startServe(t, "--config", conf, "--db", filepath.Join(dir, "rebound.db"))
	m := regexp.MustCompile(`msg="API listening" addr=(\S+) tls=true`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no API address with TLS in the log:\n%s", logs)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + m[1] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("GET /healthz over HTTPS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d: %s", s, logs)
	}

	writeConf(filepath.Join(dir, "missing.pem"))
	status, _, errs := runCmd(t, serveCmd, "--config", conf, "--db", filepath.Join(dir, "rebound.db"),
		"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	if status == 0 || !strings.Contains(errs, "api.tls_cert") || strings.Contains(errs, "listening") {
		t.Errorf("a missing API certificate: status %d, stderr %q", status, errs)
	}
}
