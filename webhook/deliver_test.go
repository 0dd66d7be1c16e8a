package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
)

// outboxStore opens a SQLite store with its outbox, skipping the test
// while the backend has none.
func outboxStore(t *testing.T) store.Store {
	t.Helper()
	s := openSQLite(t)
	if _, err := s.NewestEvent(context.Background()); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("the SQLite store has no outbox yet")
	}
	return s
}

// delivery is one request a receiver took.
type delivery struct {
	id     string // webhook-id
	typ    string
	data   json.RawMessage
	at     time.Time
	status int // the answer
}

// receiver is a real HTTP receiver that verifies every request with the
// Standard Webhooks library and answers with the status answer gives.
type receiver struct {
	t      *testing.T
	lib    *standardwebhooks.Webhook
	mu     sync.Mutex
	got    []delivery
	answer func(n int, data string) int // n counts requests from 0
	srv    *httptest.Server
}

func newReceiver(t *testing.T, answer func(n int, data string) int) *receiver {
	lib, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, lib: lib, answer: answer}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := r.lib.Verify(body, req.Header); err != nil {
		r.t.Errorf("delivery does not verify: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("delivery body %q: %v", body, err)
	}
	r.mu.Lock()
	id := req.Header.Get(HeaderID)
	status := http.StatusOK
	if r.answer != nil {
		status = r.answer(len(r.got), string(b.Data))
	}
	r.got = append(r.got, delivery{id: id, typ: b.Type, data: b.Data, at: time.Now(), status: status})
	r.mu.Unlock()
	w.WriteHeader(status)
}

// delivered lists the webhook-ids answered 2xx, in the order received.
func (r *receiver) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, d := range r.got {
		if d.status/100 == 2 {
			ids = append(ids, d.id)
		}
	}
	return ids
}

func (r *receiver) requests() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// fastConfig is a configuration with tiny delays, for tests.
func fastConfig(url string, owner string) Config {
	return Config{
		Endpoints:   []Endpoint{{Name: "app", URL: url, Secret: testSecret}},
		MaxAttempts: 50, Timeout: 2 * time.Second,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Poll: 10 * time.Millisecond, Owner: owner,
	}
}

// start runs d until the test ends, and waits for its endpoints to be
// known to the store (events from then on are theirs).
func start(t *testing.T, s store.Outbox, d *Deliverer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	t.Cleanup(stop)
	waitFor(t, "the endpoints to be claimed", func() bool {
		eps, err := s.Endpoints(context.Background())
		return err == nil && len(eps) >= len(d.eps)
	})
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// suppress writes n suppression.added events and returns their
// webhook-ids in order.
func suppress(t *testing.T, s store.Store, from, n int) []string {
	t.Helper()
	ctx := context.Background()
	before, err := s.NewestEvent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if err := s.AddSuppression(ctx, store.Suppression{Address: fmt.Sprintf("user%d@example.com", i), Reason: "test", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(ctx, before, 10*n+10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, MessageID(ev.ID))
	}
	if len(ids) != n {
		t.Fatalf("%d suppressions wrote %d events", n, len(ids))
	}
	return ids
}

// firstDeliveries drops the repeated deliveries of an id (at least once
// allows them) keeping the first.
func firstDeliveries(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func TestDeliverReceiverDownThenUp(t *testing.T) {
	s := outboxStore(t)
	// An address nothing listens on yet.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := newReceiver(t, nil)
	d, err := New(s, fastConfig("http://"+addr+"/hook", "one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s, d)
	want := suppress(t, s, 0, 10)
	waitFor(t, "failed attempts", func() bool {
		st, _ := s.Endpoints(context.Background())
		return len(st) == 1 && st[0].Attempts >= 3
	})
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the receiver's port was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(l)
	defer srv.Close()
	d.Notify()
	waitFor(t, "every event", func() bool { return len(firstDeliveries(r.delivered())) == len(want) })
	if got := firstDeliveries(r.delivered()); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v in order", got, want)
	}
	log, err := s.Deliveries(context.Background(), "app", 0)
	if err != nil {
		t.Fatal(err)
	}
	var failed int
	for _, a := range log {
		if a.Outcome == store.OutcomeFailed {
			failed++
			if a.EventID != log[len(log)-1].EventID || a.Status != 0 || a.Error == "" {
				t.Errorf("failed attempt %+v: want the first event, no status, an error", a)
			}
		}
	}
	if failed < 3 {
		t.Errorf("%d failed attempts logged, want at least 3", failed)
	}
}

func TestDeliverRetriesWithGrowingDelays(t *testing.T) {
	s := outboxStore(t)
	r := newReceiver(t, func(n int, _ string) int {
		if n < 5 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	cfg := fastConfig(r.srv.URL, "one")
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 2*time.Second
	d, err := New(s, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s, d)
	want := suppress(t, s, 0, 2)
	waitFor(t, "both events", func() bool { return len(r.delivered()) == 2 })
	got := r.requests()
	if len(got) != 7 {
		t.Fatalf("%d requests, want 5 failed and 2 delivered", len(got))
	}
	for i := 1; i < 5; i++ {
		// The i-th failure waits within [base/2, base], base = min·2^(i-1).
		lo := cfg.MinBackoff << (i - 1) / 2
		if gap := got[i].at.Sub(got[i-1].at); gap < lo || got[i].id != want[0] {
			t.Errorf("attempt %d of %s came %s after the previous, want %s of at least %s", i+1, got[i].id, gap, want[0], lo)
		}
	}
	if !slices.Equal(r.delivered(), want) {
		t.Errorf("delivered %v, want %v", r.delivered(), want)
	}
	// The receiver answers before the attempt is recorded.
	var log []store.DeliveryAttempt
	waitFor(t, "the last attempt recorded", func() bool {
		log, _ = s.Deliveries(context.Background(), "app", 0)
		return len(log) == 7
	})
	slices.Reverse(log)
	var attempts []int
	for _, a := range log {
		attempts = append(attempts, a.Attempt)
	}
	if !slices.Equal(attempts, []int{1, 2, 3, 4, 5, 6, 1}) {
		t.Errorf("logged attempts %v", attempts)
	}
	if log[4].Status != 500 || !strings.HasPrefix(log[4].Error, "HTTP 500") || log[5].Outcome != store.OutcomeDelivered {
		t.Errorf("log %+v", log)
	}
}

func TestDeliverDeadLetterAndReplay(t *testing.T) {
	s := outboxStore(t)
	var refuse sync.Map // addresses whose events the receiver refuses
	r := newReceiver(t, func(_ int, data string) int {
		var refused bool
		refuse.Range(func(a, _ any) bool {
			refused = refused || strings.Contains(data, a.(string))
			return !refused
		})
		if refused {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	cfg := fastConfig(r.srv.URL, "one")
	cfg.MaxAttempts = 3
	d, err := New(s, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s, d)
	refuse.Store("user0@example.com", true)
	ids := suppress(t, s, 0, 3)
	waitFor(t, "the later events", func() bool { return slices.Contains(r.delivered(), ids[2]) })
	ctx := context.Background()
	dls, err := s.DeadLetters(ctx, "app", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || MessageID(dls[0].EventID) != ids[0] || dls[0].Attempts != 3 || !strings.HasPrefix(dls[0].LastError, "HTTP 400") {
		t.Fatalf("dead letters %+v, want %s after 3 attempts", dls, ids[0])
	}
	if got := firstDeliveries(r.delivered()); !slices.Equal(got[len(got)-2:], ids[1:]) {
		t.Errorf("delivered %v, want %v after the dead letter", got, ids[1:])
	}

	refuse.Delete("user0@example.com")
	ok, err := s.Replay(ctx, "app", dls[0].EventID)
	if err != nil || !ok {
		t.Fatalf("Replay = %v, %v", ok, err)
	}
	d.Notify()
	waitFor(t, "the replay", func() bool { return slices.Contains(r.delivered(), ids[0]) })
	waitFor(t, "the dead letter to go", func() bool {
		dls, err := s.DeadLetters(ctx, "app", false, 0)
		return err == nil && len(dls) == 0
	})
	log, _ := s.Deliveries(ctx, "app", 1)
	if len(log) != 1 || !log[0].Replay || log[0].Outcome != store.OutcomeDelivered || MessageID(log[0].EventID) != ids[0] {
		t.Errorf("last delivery %+v, want the replay delivered", log)
	}
}

func TestDeliverFilterSkips(t *testing.T) {
	s := outboxStore(t)
	r := newReceiver(t, nil)
	cfg := fastConfig(r.srv.URL, "one")
	cfg.Endpoints[0].Events = []string{store.EventSuppressionLifted}
	d, err := New(s, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s, d)
	ctx := context.Background()
	added := suppress(t, s, 0, 3)
	if ok, err := s.RemoveSuppression(ctx, "user1@example.com", store.Actor{Who: "test"}); err != nil || !ok {
		t.Fatalf("RemoveSuppression = %v, %v", ok, err)
	}
	suppress(t, s, 3, 2)
	waitFor(t, "the lifted event", func() bool { return len(r.delivered()) == 1 })
	time.Sleep(100 * time.Millisecond)
	got := r.requests()
	if len(got) != 1 || got[0].typ != store.EventSuppressionLifted || slices.Contains(added, got[0].id) {
		t.Errorf("requests %+v, want the lifted event alone", got)
	}
	log, _ := s.Deliveries(ctx, "app", 0)
	if len(log) != 1 {
		t.Errorf("delivery log %+v, want the one delivery", log)
	}
}

func TestRunReleasesLeaseOnCancel(t *testing.T) {
	s := outboxStore(t)
	r := newReceiver(t, nil)
	d, err := New(s, fastConfig(r.srv.URL, "one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, s, d)
	stop()
	eps, err := s.Endpoints(context.Background())
	if err != nil || len(eps) != 1 {
		t.Fatalf("Endpoints = %+v, %v", eps, err)
	}
	now := time.Now()
	if eps[0].Owner == "one" && eps[0].LeaseUntil.After(now) {
		t.Errorf("lease still held after Run: %+v", eps[0])
	}
	_, ok, err := s.ClaimEndpoint(context.Background(), "app", "two", now, now.Add(time.Minute))
	if err != nil || !ok {
		t.Errorf("another owner cannot claim the endpoint: %v, %v", ok, err)
	}
}

func TestTwoInstancesDeliverOnceSQLite(t *testing.T) {
	testTwoInstances(t, outboxStore(t))
}

func TestTwoInstancesDeliverOncePostgres(t *testing.T) {
	url := pgtest.SchemaURL(t, "webhook_")
	ctx := context.Background()
	open := func() store.Store {
		s, err := postgres.Open(ctx, url, store.Options{Outbox: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	if _, err := s.NewestEvent(ctx); errors.Is(err, errors.ErrUnsupported) {
		t.Skip("the PostgreSQL store has no outbox yet")
	}
	testTwoInstances(t, s, open())
}

// testTwoInstances runs two Deliverers of different owners, each on its
// own handle of the store when two are given, and checks that every event
// reaches the endpoint once, in order.
func testTwoInstances(t *testing.T, stores ...store.Store) {
	if len(stores) == 1 {
		stores = append(stores, stores[0])
	}
	r := newReceiver(t, nil)
	var ds []*Deliverer
	for i, s := range stores {
		d, err := New(s, fastConfig(r.srv.URL, "owner"+strconv.Itoa(i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	start(t, stores[0], ds[0])
	stopSecond := start(t, stores[1], ds[1])
	var want []string
	for i := range 4 {
		want = append(want, suppress(t, stores[i%2], 10*i, 10)...)
		for _, d := range ds {
			d.Notify()
		}
		if i == 2 {
			// One instance stops mid-stream; the other goes on.
			stopSecond()
		}
	}
	waitFor(t, "every event", func() bool { return len(r.delivered()) >= len(want) })
	time.Sleep(200 * time.Millisecond)
	if got := r.delivered(); !slices.Equal(got, want) {
		t.Errorf("delivered %d events %v, want each of %d once in order %v", len(got), got, len(want), want)
	}
}
