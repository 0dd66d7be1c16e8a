package smtpd

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

// relayPolicies are the policies of the test's bounce domains.
var relayPolicies = map[string]string{
	"fwd.example.org":  "forward",
	"rej.example.org":  "reject",
	"keep.example.org": "store",
}

// relayServer is a listener on a real SQLite store and the real decoder,
// under relayPolicies (policy nil: none configured).
type relayServer struct {
	srv    *Server
	store  *sqlite.Store
	addr   string
	mu     sync.Mutex
	stored []int64 // IDs given to Config.Stored
}

func startRelayServer(t *testing.T, policy func(string) string) *relayServer {
	t.Helper()
	st, err := sqlite.OpenStore(context.Background(), filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := classify.New("en")
	if err != nil {
		t.Fatal(err)
	}
	an := &bounce.Analyzer{Parser: &dsn.Parser{Limits: dsn.DefaultLimits}, Classifier: cl}
	rs := &relayServer{store: st}
	cfg := Config{
		Hostname:    "rebound.test",
		Domains:     []string{"fwd.example.org", "rej.example.org", "keep.example.org"},
		RelayPolicy: policy,
		Stored: func(id int64) {
			rs.mu.Lock()
			rs.stored = append(rs.stored, id)
			rs.mu.Unlock()
		},
	}
	srv, err := New(cfg, st, an, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs.srv, rs.addr = srv, l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		st.Close()
	})
	return rs
}

func relayFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func TestRelayPolicyAtIngest(t *testing.T) {
	policy := func(d string) string { return relayPolicies[d] }
	for _, tc := range []struct {
		name    string
		policy  func(string) string
		fixture string
		from    string
		rcpt    []string
		code    int               // the reply at the end of DATA
		enh     smtp.EnhancedCode // of a refusal
		stored  bool
		queued  bool
	}{
		{"reply forwarded", policy, "human-reply.eml", "alice@customer.example",
			[]string{"bounces+news@fwd.example.org"}, 250, smtp.EnhancedCode{}, true, true},
		{"null sender reply forwarded", policy, "human-reply.eml", "",
			[]string{"bounces+news@FWD.example.org."}, 250, smtp.EnhancedCode{}, true, true},
		{"reply rejected", policy, "human-reply.eml", "alice@customer.example",
			[]string{"bounces+news@rej.example.org"}, 550, smtp.EnhancedCode{5, 7, 1}, false, false},
		{"reply stored", policy, "human-reply.eml", "alice@customer.example",
			[]string{"bounces+news@keep.example.org"}, 250, smtp.EnhancedCode{}, true, false},
		{"first recipient's domain decides", policy, "human-reply.eml", "alice@customer.example",
			[]string{"a@keep.example.org", "b@fwd.example.org"}, 250, smtp.EnhancedCode{}, true, false},
		{"no policy stores", nil, "human-reply.eml", "alice@customer.example",
			[]string{"bounces+news@rej.example.org"}, 250, smtp.EnhancedCode{}, true, false},
		{"bounce never queued", policy, "failed-dsn.eml", "",
			[]string{"bounces+news@fwd.example.org"}, 250, smtp.EnhancedCode{}, true, false},
		{"bounce never rejected", policy, "failed-dsn.eml", "",
			[]string{"bounces+news@rej.example.org"}, 250, smtp.EnhancedCode{}, true, false},
		{"auto-reply never queued", policy, "auto-reply.eml", "bob@customer.example",
			[]string{"bounces+news@fwd.example.org"}, 250, smtp.EnhancedCode{}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := startRelayServer(t, tc.policy)
			raw := relayFixture(t, tc.fixture)
			c, err := smtp.Dial(rs.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("mx.customer.example"); err != nil {
				t.Fatal(err)
			}
			err = send(c, tc.from, tc.rcpt, raw)
			if tc.code == 250 {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
			} else {
				wantCode(t, err, tc.code, tc.enh)
				if se := err.(*smtp.SMTPError); se.Message != "This address accepts bounces only" {
					t.Errorf("refusal text %q", se.Message)
				}
			}
			ctx := context.Background()
			msgs, err := rs.store.Messages(ctx, store.MessageQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(msgs) == 1; got != tc.stored {
				t.Fatalf("%d messages stored, want stored=%v", len(msgs), tc.stored)
			}
			items, err := rs.store.RelayItems(ctx, store.RelayQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(items) == 1; got != tc.queued {
				t.Fatalf("relay queue %+v, want queued=%v", items, tc.queued)
			}
			if !tc.queued {
				return
			}
			it := items[0]
			if it.MessageID != msgs[0].ID || it.State != store.RelayQueued || it.MailFrom != tc.from ||
				strings.Join(it.RcptTo, ",") != strings.Join(tc.rcpt, ",") {
				t.Errorf("queued %+v, want message %d from %q to %v", it, msgs[0].ID, tc.from, tc.rcpt)
			}
			// The forwarder is told of it as of any new message.
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if len(rs.stored) != 1 || rs.stored[0] != it.MessageID {
				t.Errorf("Stored called with %v, want [%d]", rs.stored, it.MessageID)
			}
		})
	}
}

// TestRelayDuplicateQueuedOnce sends the same reply twice: it is stored
// and queued once.
func TestRelayDuplicateQueuedOnce(t *testing.T) {
	rs := startRelayServer(t, func(d string) string { return relayPolicies[d] })
	raw := relayFixture(t, "human-reply.eml")
	for range 2 {
		c, err := smtp.Dial(rs.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Hello("mx.customer.example"); err != nil {
			t.Fatal(err)
		}
		if err := send(c, "alice@customer.example", []string{"r@fwd.example.org"}, raw); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	items, err := rs.store.RelayItems(context.Background(), store.RelayQuery{})
	if err != nil || len(items) != 1 {
		t.Fatalf("relay queue %+v, %v; want one item", items, err)
	}
}

// TestRelayIngest checks the milter's path: Ingest queues and refuses as
// the listener does.
func TestRelayIngest(t *testing.T) {
	rs := startRelayServer(t, func(d string) string { return relayPolicies[d] })
	raw := relayFixture(t, "human-reply.eml")
	env := Envelope{Source: "milter", RemoteAddr: "198.51.100.4:5870", Helo: "mx.customer.example",
		MailFrom: "alice@customer.example", RcptTo: []string{"r@rej.example.org"}}
	wantCode(t, rs.srv.Ingest(env, raw), 550, smtp.EnhancedCode{5, 7, 1})
	env.RcptTo = []string{"r@fwd.example.org"}
	if err := rs.srv.Ingest(env, raw); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	items, err := rs.store.RelayItems(context.Background(), store.RelayQuery{State: store.RelayQueued})
	if err != nil || len(items) != 1 || items[0].RcptTo[0] != "r@fwd.example.org" {
		t.Fatalf("relay queue %+v, %v; want the ingested reply", items, err)
	}
}
