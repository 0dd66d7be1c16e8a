package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/webhook"
)

// hookReceiver is a webhook endpoint that verifies every delivery and keeps
// what it got, in arrival order.
type hookReceiver struct {
	t      *testing.T
	secret string
	srv    *httptest.Server

	mu       sync.Mutex
	ids      []string       // webhook-id of each delivery, repeats included
	byID     map[string]int // deliveries of each webhook-id
	records  map[int64]bool // ids of the records of record.created events
	badSigns int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	h := &hookReceiver{t: t, secret: "whsec_" + base64.StdEncoding.EncodeToString(key),
		byID: map[string]int{}, records: map[int64]bool{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serveHTTP))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify(h.secret, r.Header, body, 5*time.Minute, time.Now()); err != nil {
		h.badSigns++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		h.t.Errorf("webhook body: %v: %s", err, body)
	}
	id := r.Header.Get("webhook-id")
	h.ids = append(h.ids, id)
	h.byID[id]++
	if ev.Type == store.EventRecordCreated {
		h.records[ev.Data.ID] = true
	}
	w.WriteHeader(http.StatusNoContent)
}

// recordIDs are the ids of the record.created events received.
func (h *hookReceiver) recordIDs() map[int64]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.records)
}

// writeHookConfig writes the configuration of a "rebound serve" delivering
// every event to h, with short backoffs, and no API listener.
func writeHookConfig(t *testing.T, h *hookReceiver, db, addr string) string {
	t.Helper()
	cfg := fmt.Sprintf(`domains = ["bounces.example.org"]

[listener]
listen = %q

[store]
url = %q

[api]
listen = ""

[webhooks]
min_backoff = "50ms"
max_backoff = "500ms"
timeout = "5s"

[[webhooks.endpoints]]
name = "app"
url = %q
secret = %q
`, addr, db, h.srv.URL, h.secret)
	path := filepath.Join(t.TempDir(), "rebound.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// storedRecordIDs lists the ids of every record in the store at db.
func storedRecordIDs(t *testing.T, db string) []int64 {
	t.Helper()
	st, err := openStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.Records(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// waitDelivered waits until h received a record.created event for every
// record stored in db, and checks that it received none for a record the
// store does not have.
func waitDelivered(t *testing.T, h *hookReceiver, db string, logs ...*serverProcess) {
	t.Helper()
	want := storedRecordIDs(t, db)
	if len(want) == 0 {
		t.Fatal("no records stored")
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := h.recordIDs()
		var missing []int64
		for _, id := range want {
			if !got[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			for id := range got {
				if !slices.Contains(want, id) {
					t.Errorf("record.created for record %d, which is not stored", id)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			var l strings.Builder
			for _, p := range logs {
				l.WriteString(p.logs.String())
			}
			t.Fatalf("%d of %d records have no event after 90s (first %v); logs:\n%s",
				len(missing), len(want), missing[:min(5, len(missing))], tail(l.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// checkOrder checks that the first deliveries of the webhook ids came in
// the order of the events (ids "evt_N" with growing N): a redelivery after
// a crash may repeat an earlier event, but nothing is sent before its
// predecessors.
func checkOrder(t *testing.T, h *hookReceiver) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	last := int64(-1)
	for _, id := range h.ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		var n int64
		if _, err := fmt.Sscanf(id, "evt_%d", &n); err != nil {
			t.Fatalf("webhook-id %q: want evt_N", id)
		}
		if n <= last {
			t.Errorf("event %s first delivered after event %d", id, last)
		}
		last = n
	}
	if h.badSigns > 0 {
		t.Errorf("%d deliveries with a bad signature", h.badSigns)
	}
}

// TestWebhooksSurviveKill kills "rebound serve" with SIGKILL while bounces
// arrive and webhooks go out, and restarts it: every stored record's event
// must reach the receiver (at least once, in order), and no event may tell
// of a record that was not stored.
func TestWebhooksSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	h := newHookReceiver(t)
	db := filepath.Join(t.TempDir(), "rebound.db")
	addr := freeLoopbackAddr(t)
	cfg := writeHookConfig(t, h, db, addr)

	msgs := ingestMessages(t)
	const count = 900
	opts := func() *loadOptions {
		return &loadOptions{addr: addr, rcpt: "bounces@bounces.example.org", runID: "hooks",
			conns: 8, count: count, duration: 3 * time.Minute, unique: true, msgs: msgs}
	}
	first := startServeProcess(t, addr, "--config", cfg)
	var accepted syncBuffer
	loaded := make(chan *loadResult, 1)
	go func() { loaded <- runLoadClients(context.Background(), opts(), &accepted, &syncBuffer{}) }()
	for strings.Count(accepted.String(), "\n") < 150 {
		select {
		case <-loaded:
			t.Fatal("load finished before the kill; raise count")
		case <-time.After(5 * time.Millisecond):
		}
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.cmd.Wait()
	second := startServeProcess(t, addr, "--config", cfg)
	<-loaded
	if res := runLoadClients(context.Background(), opts(), nil, &syncBuffer{}); res.accepted != count {
		t.Fatalf("resend: %d of %d accepted: %s", res.accepted, count, second.logs)
	}
	waitDelivered(t, h, db, first, second)
	checkOrder(t, h)
	second.cmd.Process.Signal(syscall.SIGTERM)
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("server after SIGTERM: %v: %s", err, tail(second.logs.String(), 2000))
	}
	h.mu.Lock()
	t.Logf("%d deliveries of %d events", len(h.ids), len(h.byID))
	h.mu.Unlock()
}

// TestWebhooksTwoInstancesOnce runs two "rebound serve" on one PostgreSQL
// schema, both configured with the same endpoint: between them, each event
// must be delivered once, in order.
func TestWebhooksTwoInstancesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	db := pgtest.SchemaURL(t, "hooks")
	h := newHookReceiver(t)
	addrA, addrB := freeLoopbackAddr(t), freeLoopbackAddr(t)
	a := startServeProcess(t, addrA, "--config", writeHookConfig(t, h, db, addrA))
	b := startServeProcess(t, addrB, "--config", writeHookConfig(t, h, db, addrB))

	var wg sync.WaitGroup
	for i, addr := range []string{addrA, addrB} {
		wg.Go(func() {
			const count = 200
			res := runLoadClients(context.Background(), &loadOptions{addr: addr, rcpt: "bounces@bounces.example.org",
				runID: fmt.Sprintf("two%d", i), conns: 4, count: count, duration: 2 * time.Minute, unique: true,
				msgs: [][]byte{instanceDSN(i, "gone@example.net", "failed", "5.1.1", "550 5.1.1 no such user")}}, nil, &syncBuffer{})
			if res.accepted != count {
				t.Errorf("instance %d: %d of %d accepted", i, res.accepted, count)
			}
		})
	}
	wg.Wait()
	waitDelivered(t, h, db, a, b)
	checkOrder(t, h)
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.byID {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	t.Logf("%d events, each delivered once", len(h.byID))
}
