package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

func TestMessages(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	raw := []byte("Subject: hello\r\nFrom: someone@example.com\r\n\r\nnot a bounce \x00\xff\r\n")
	db := storeWithMessages(t,
		failureMessage("h", "gone@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-2*time.Hour)),
		&store.Message{ReceivedAt: now.Add(-time.Hour), Source: "smtp", RemoteAddr: "192.0.2.7", Helo: "mx.example.com",
			MailFrom: "someone@example.com", RcptTo: []string{"b@bounces.example.org"}, Raw: raw,
			ParseError: "not a delivery status notification"},
	)

	code, out, errOut := runMain("messages", "--db", db)
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "rfc3464") || !strings.Contains(out, "not a delivery status notification") {
		t.Fatalf("messages: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runMain("messages", "--unrecognized", "--json", "--db", db)
	var views []messageView
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v messageView
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("messages --json: %q: %v", l, err)
		}
		views = append(views, v)
	}
	if code != 0 || len(views) != 1 || views[0].ParseError == "" || views[0].MailFrom != "someone@example.com" || views[0].Helo != "mx.example.com" {
		t.Fatalf("messages --unrecognized --json: exit %d, %+v %s", code, views, errOut)
	}
	id := fmt.Sprint(views[0].ID)
	if code, out, _ := runMain("messages", "--since", "90m", "--db", db); code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("messages --since 90m:\n%s", out)
	}
	// Newest first: the unrecognized message came an hour after the
	// bounce.
	if code, out, _ := runMain("messages", "--limit", "1", "--db", db); code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "not a delivery status notification") {
		t.Errorf("messages --limit 1:\n%s", out)
	}
	if code, out, _ := runMain("messages", "--limit", "1", "--oldest", "--db", db); code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "rfc3464") {
		t.Errorf("messages --limit 1 --oldest:\n%s", out)
	}
	if code, out, _ := runMain("messages", "--truncated", "--db", db); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("messages --truncated:\n%s", out)
	}

	code, out, errOut = runMain("messages", "show", id, "--db", db)
	for _, want := range []string{"id:          " + id, "mail from:   <someone@example.com>", "client:      192.0.2.7 (helo mx.example.com)",
		"parse error: not a delivery status notification", "no records"} {
		if !strings.Contains(out, want) {
			t.Errorf("messages show: %q missing:\n%s%s", want, out, errOut)
		}
	}
	if code != 0 {
		t.Errorf("messages show: exit %d", code)
	}
	_, out, _ = runMain("messages", "show", "1", "--db", db)
	if !strings.Contains(out, "1 record:") || !strings.Contains(out, "gone@example.org") {
		t.Errorf("messages show 1:\n%s", out)
	}

	code, out, errOut = runMain("messages", "raw", id, "--db", db)
	if code != 0 || out != string(raw) {
		t.Errorf("messages raw: exit %d, %q, want %q %s", code, out, raw, errOut)
	}
	if code, _, errOut := runMain("messages", "raw", "99", "--db", db); code != 1 || !strings.Contains(errOut, "no message 99") {
		t.Errorf("messages raw 99: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runMain("messages", "show", "x", "--db", db); code != 2 || !strings.Contains(errOut, "want a message ID") {
		t.Errorf("messages show x: exit %d, %s", code, errOut)
	}
}
