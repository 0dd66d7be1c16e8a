package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// TestServeSocketPermissions: the LMTP socket gets socket_mode (0660 by
// default) and socket_group, so that an MTA in that group may write it.
func TestServeSocketPermissions(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skip("no name for the primary group:", err)
	}
	for _, tc := range []struct {
		name, options string
		mode          os.FileMode
	}{
		{"Default", fmt.Sprintf("socket_group = %q\n", g.Name), 0o660},
		{"Mode", fmt.Sprintf("socket_mode = \"0600\"\nsocket_owner = %q\nsocket_group = %q\n", u.Uid, u.Gid), 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "lmtp.sock")
			conf := filepath.Join(dir, "rebound.toml")
			os.WriteFile(conf, []byte("domains = [\"bounces.example.org\"]\n[listener]\nlmtp = true\n"+tc.options), 0o644)
			_, stop, logs := startServe(t, "--config", conf, "--listen", "unix:"+sock, "--db", filepath.Join(dir, "rebound.db"))
			fi, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != tc.mode {
				t.Errorf("socket mode %v, want %v", fi.Mode(), tc.mode)
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && fmt.Sprint(st.Gid) != u.Gid {
				t.Errorf("socket group %d, want %s (%s)", st.Gid, u.Gid, g.Name)
			}
			conn, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatalf("connecting to the socket: %v", err)
			}
			c := smtp.NewClientLMTP(conn)
			if err := c.Hello("mta.sender.example"); err != nil {
				t.Fatal(err)
			}
			c.Quit()
			if s := stop(); s != 0 {
				t.Fatalf("serve exited %d: %s", s, logs)
			}
		})
	}
}

// TestServeSocketPermissionErrors: an owner or group that does not exist
// stops serve with an error naming the option.
func TestServeSocketPermissionErrors(t *testing.T) {
	for _, tc := range []struct{ options, want string }{
		{"socket_owner = \"no-such-user-rebound\"\n", `listener.socket_owner: "no-such-user-rebound"`},
		{"socket_group = \"no-such-group-rebound\"\n", `listener.socket_group: "no-such-group-rebound"`},
		{"socket_owner = \"-1\"\n", `listener.socket_owner: "-1": a numeric ID must not be negative`},
	} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "rebound.toml")
		os.WriteFile(conf, []byte("domains = [\"bounces.example.org\"]\n[listener]\nlmtp = true\n"+tc.options), 0o644)
		status, _, errs := runCmd(t, serveCmd, "--config", conf, "--listen", "unix:"+filepath.Join(dir, "lmtp.sock"),
			"--db", filepath.Join(dir, "rebound.db"), "--api-listen=")
		if status != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("serve with %q: status %d, %q; want 1 and %q", tc.options, status, errs, tc.want)
		}
	}
}

// TestServeRetention: with [retention] set, serve prunes at start (and
// hourly) what is older, keeping the evidence of suppressions.
func TestServeRetention(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "rebound.db")
	ctx := context.Background()
	st, err := openStore(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-100 * 24 * time.Hour)
	var ids []int64
	for _, m := range []struct {
		tag, class string
	}{
		{"hard", record.ClassHard},   // a suppression: kept
		{"block", record.ClassBlock}, // evidence of nothing: pruned
		{"block2", record.ClassBlock},
	} {
		res, err := st.Save(ctx, &store.Message{ReceivedAt: old, Source: "smtp",
			Raw: []byte("Subject: " + m.tag + "\r\n\r\n" + m.tag + "\r\n"),
			Records: []record.Record{{Index: 1, Recipient: m.tag + "@dest.example", Class: m.class,
				Reason: "userunknown", Status: "5.1.1", Confidence: record.ConfidenceHigh}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MessageID)
	}
	st.Close()

	conf := filepath.Join(dir, "rebound.toml")
	os.WriteFile(conf, []byte("domains = [\"bounces.example.org\"]\n[retention]\nrecords = \"30d\"\n"), 0o644)
	_, stop, logs := startServe(t, "--config", conf, "--db", db)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `msg="pruned messages and their records" count=2 older_than=720h0m0s`) {
		if time.Now().After(deadline) {
			t.Fatalf("no pruning logged:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d: %s", s, logs)
	}
	st, err = openStore(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Message(ctx, ids[0]); err != nil {
		t.Errorf("the suppression's evidence: %v, want it kept", err)
	}
	for _, id := range ids[1:] {
		if _, err := st.Message(ctx, id); err != store.ErrNotFound {
			t.Errorf("message %d: %v, want it pruned", id, err)
		}
	}
}

// TestServeIDNDomains: bounce domains configured as a U-label and with a
// trailing dot take their recipients in every form.
func TestServeIDNDomains(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "rebound.toml")
	os.WriteFile(conf, []byte(`domains = ["bücher.de", "bounces.example.com."]
[authentication]
unsigned = "trust"
`), 0o644)
	addr, stop, logs := startServe(t, "--config", conf, "--db", filepath.Join(dir, "rebound.db"))
	if !strings.Contains(logs.String(), "domains=xn--bcher-kva.de,bounces.example.com") {
		t.Errorf("the domains are not logged normalized:\n%s", logs)
	}
	msg, err := os.ReadFile("testdata/ingest/failed-userunknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	for i, rcpt := range []string{"x@bücher.de", "x@xn--bcher-kva.de", "x@BOUNCES.example.com."} {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("", &smtp.MailOptions{UTF8: true}); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Errorf("RCPT TO:<%s>: %v", rcpt, err)
			c.Close()
			continue
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "X-Try: %d\r\n%s", i, msg)
		if err := w.Close(); err != nil {
			t.Errorf("DATA to %s: %v", rcpt, err)
		}
		c.Quit()
	}
	status, _, errs := runCmd(t, serveCmd, "--domain", "xn--zz.de", "--db", filepath.Join(dir, "other.db"), "--api-listen=")
	if status != 1 || !strings.Contains(errs, `domains: "xn--zz.de" is not a domain name`) {
		t.Errorf("serve with a bad IDN: %d, %q", status, errs)
	}
	if s := stop(); s != 0 {
		t.Fatalf("serve exited %d: %s", s, logs)
	}
}
