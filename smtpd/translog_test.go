package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/record"
)

// lockedBuffer is a bytes.Buffer safe for a server's writes and a test's
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestTransactionLogAndQueuedID checks the 250 reply naming the stored
// message, the Stored hook, the reply counters and the log line of each
// transaction, stored or refused.
func TestTransactionLogAndQueuedID(t *testing.T) {
	logs := &lockedBuffer{}
	st := &memStore{}
	var storedMu sync.Mutex
	var stored []int64
	cfg := Config{Domains: []string{"bounces.example.org"}, Stored: func(id int64) {
		storedMu.Lock()
		stored = append(stored, id)
		storedMu.Unlock()
	}}
	metrics := NewMetrics(prometheus.NewRegistry())
	srv, err := New(cfg, st, fakeAnalyzer{}, slog.New(slog.NewJSONHandler(logs, nil)), metrics)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	exchange := func(line, want string) {
		t.Helper()
		if line != "" {
			conn.Write([]byte(line + "\r\n"))
		}
		for {
			reply, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %q: %v", line, err)
			}
			if len(reply) > 3 && reply[3] == '-' {
				continue
			}
			if !strings.HasPrefix(reply, want) {
				t.Fatalf("after %q: reply %q, want %q", line, reply, want)
			}
			return
		}
	}
	exchange("", "220 ")
	exchange("EHLO mx.sender.example", "250 ")
	exchange("MAIL FROM:<>", "250 ")
	exchange("RCPT TO:<someone@elsewhere.example>", "550 5.7.1 ")
	exchange("RCPT TO:<b@bounces.example.org>", "250 ")
	exchange("DATA", "354 ")
	msg := string(fixture(t))
	exchange(msg+".", "250 2.0.0 OK: queued as 1\r")
	exchange("QUIT", "221 ")

	storedMu.Lock()
	if len(stored) != 1 || stored[0] != 1 {
		t.Errorf("Stored called with %v, want [1]", stored)
	}
	storedMu.Unlock()
	if got := counterValue(t, metrics.replies.WithLabelValues("250")); got != 1 {
		t.Errorf("replies{code=250} = %v", got)
	}
	if got := counterValue(t, metrics.replies.WithLabelValues("550")); got != 1 {
		t.Errorf("replies{code=550} = %v", got)
	}

	var tx, refused map[string]any
	for _, m := range logs.lines() {
		switch m["msg"] {
		case "transaction":
			tx = m
		case "transaction refused":
			refused = m
		}
	}
	if tx == nil || refused == nil {
		t.Fatalf("log lacks the transaction lines:\n%v", logs.lines())
	}
	for k, want := range map[string]any{
		"helo": "mx.sender.example", "mail_from": "", "rcpt_to": "b@bounces.example.org",
		"size": float64(len(msg)), "format": "rfc3464", "records": float64(1), "classes": "hard=1",
		"reply": float64(250), "id": float64(1), "duplicate": false,
	} {
		if tx[k] != want {
			t.Errorf("transaction %s = %#v, want %#v", k, tx[k], want)
		}
	}
	if remote, _ := tx["remote"].(string); !strings.HasPrefix(remote, "127.0.0.1:") {
		t.Errorf("transaction remote = %q", remote)
	}
	if _, ok := tx["duration"].(float64); !ok {
		t.Errorf("transaction without a duration: %v", tx)
	}
	if refused["reply"] != float64(550) || refused["stage"] != "rcpt" || refused["rcpt_to"] != "someone@elsewhere.example" {
		t.Errorf("refusal line = %v", refused)
	}
}

func TestClassCounts(t *testing.T) {
	tests := []struct {
		classes []string
		want    string
	}{
		{nil, ""},
		{[]string{"hard"}, "hard=1"},
		{[]string{"soft", "hard", "soft"}, "soft=2,hard=1"},
	}
	for _, tt := range tests {
		var recs []record.Record
		for _, c := range tt.classes {
			recs = append(recs, record.Record{Class: c})
		}
		if got := classCounts(recs); got != tt.want {
			t.Errorf("classCounts(%v) = %q, want %q", tt.classes, got, tt.want)
		}
	}
}

// TestTransactionLogLines checks the fields of the transaction line that
// depend on the message: classes, truncated recipients, parse errors.
func TestTransactionLogLines(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want map[string]any
		none []string // fields that must be absent
	}{
		{"two records", "Final-Recipient: rfc822; a@dest.example\r\nFinal-Recipient: rfc822; b@dest.example\r\n\r\nbody\r\n",
			map[string]any{"records": float64(2), "classes": "hard=2", "format": "rfc3464"},
			[]string{"truncated_recipients", "parse_error"}},
		{"truncated", "X-Test: truncated\r\nFinal-Recipient: rfc822; a@dest.example\r\n\r\nbody\r\n",
			map[string]any{"records": float64(1), "truncated_recipients": float64(7)},
			[]string{"parse_error"}},
		{"unparsable", "X-Test: unparsable\r\n\r\nbody\r\n",
			map[string]any{"records": float64(0), "classes": "", "parse_error": "dsn: header section is not terminated", "reply": float64(250)},
			[]string{"truncated_recipients"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			srv, err := New(Config{Domains: []string{"bounces.example.org"}}, &memStore{}, fakeAnalyzer{},
				slog.New(slog.NewJSONHandler(logs, nil)), NewMetrics(nil))
			if err != nil {
				t.Fatal(err)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(l)
			t.Cleanup(func() { srv.Shutdown(context.Background()) })
			ts := &testServer{srv: srv, addr: l.Addr().String()}
			if err := send(ts.dial(t), "", []string{"b@bounces.example.org"}, []byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			var tx map[string]any
			for _, m := range logs.lines() {
				if m["msg"] == "transaction" {
					tx = m
				}
			}
			if tx == nil {
				t.Fatalf("no transaction line: %v", logs.lines())
			}
			for k, want := range tt.want {
				if tx[k] != want {
					t.Errorf("%s = %#v, want %#v", k, tx[k], want)
				}
			}
			for _, k := range tt.none {
				if v, ok := tx[k]; ok {
					t.Errorf("%s = %#v, want none", k, v)
				}
			}
		})
	}
}
