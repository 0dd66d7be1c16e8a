package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/store"
)

// Endpoint is one receiver of events.
type Endpoint struct {
	Name   string   // its name in the store and the API
	URL    string   // http:// or https://
	Secret string   // "whsec_" and base64 of the signing key
	Events []string // filter of event types (config.MatchEvent); empty: all
}

// String keeps the secret out of logs and error messages.
func (e Endpoint) String() string { return fmt.Sprintf("endpoint %q %s", e.Name, e.URL) }

// Config configures a Deliverer. Zero durations and counts take the
// defaults of the [webhooks] configuration section.
type Config struct {
	Endpoints   []Endpoint
	MaxAttempts int // failed attempts before an event becomes a dead letter
	// Timeout bounds one attempt; MinBackoff and MaxBackoff the delay
	// between attempts of one event; Retention how long the outbox keeps
	// delivered events and the delivery log.
	Timeout, MinBackoff, MaxBackoff, Retention time.Duration
	// Owner identifies this instance in endpoint leases; empty:
	// hostname:pid:random.
	Owner string
	// Client sends the requests; nil: one with Timeout that follows no
	// redirects (a 3xx answer is a failed attempt).
	Client *http.Client
	Now    func() time.Time // nil: time.Now
	Log    *slog.Logger     // nil: no logs
	// Poll is how often an idle endpoint looks for new events besides
	// Notify; zero: 500ms.
	Poll time.Duration
}

// Defaults, those of the [webhooks] configuration section.
const (
	defaultMaxAttempts = 12
	defaultTimeout     = 10 * time.Second
	defaultMinBackoff  = 5 * time.Second
	defaultMaxBackoff  = time.Hour
	defaultRetention   = 7 * 24 * time.Hour
	defaultPoll        = 500 * time.Millisecond
)

const (
	// minLease is the shortest endpoint lease; a lease is also at least
	// three attempt timeouts, so that renewing it at two thirds leaves
	// room for a whole attempt.
	minLease = 30 * time.Second
	// batchSize is how many events one read of the outbox takes.
	batchSize = 100
	// pruneEvery is how often the outbox is pruned of what Retention
	// no longer keeps.
	pruneEvery = 5 * time.Minute
	// checkpointEvery bounds how long the cursor of an endpoint whose
	// filter skips every new event stays behind in the store, holding
	// those events back from pruning (see checkpoint).
	checkpointEvery = 5 * time.Minute
	// maxResponse bounds the bytes of an answer read; the rest is dropped
	// with the connection.
	maxResponse = 64 << 10
	// maxErrorLen bounds an attempt's error as logged and stored.
	maxErrorLen = 200
	// releaseTimeout bounds releasing the leases when Run ends.
	releaseTimeout = 5 * time.Second
	// userAgent names the sender to receivers.
	userAgent = "Rebound-Webhook/1"
	// skippedNote marks a delivery log entry that records only the
	// events an endpoint's filter skipped, up to its event.
	skippedNote = "checkpoint: events up to this one skipped by the endpoint's event filter"
)

// Deliverer delivers outbox events to the configured endpoints.
type Deliverer struct {
	out     store.Outbox
	cfg     Config
	eps     []*endpoint
	client  *http.Client
	lease   time.Duration
	errWait time.Duration
	metrics *metrics
	log     *slog.Logger
	running atomic.Bool
}

// endpoint is a configured endpoint, checked and decoded.
type endpoint struct {
	Endpoint
	key  []byte
	wake chan struct{} // Notify's signal, buffered 1
}

// New checks cfg and returns a Deliverer over out, with its metrics
// registered on reg (none when reg is nil).
func New(out store.Outbox, cfg Config, reg prometheus.Registerer) (*Deliverer, error) {
	if out == nil {
		return nil, errors.New("webhook: no outbox")
	}
	setDefaults(&cfg)
	if cfg.MinBackoff > cfg.MaxBackoff {
		return nil, fmt.Errorf("webhook: min backoff %s above max backoff %s", cfg.MinBackoff, cfg.MaxBackoff)
	}
	d := &Deliverer{out: out, cfg: cfg, client: cfg.Client, log: cfg.Log}
	seen := map[string]bool{}
	var errs []error
	for _, e := range cfg.Endpoints {
		if e.Name == "" {
			errs = append(errs, fmt.Errorf("webhook endpoint %s: no name", e.URL))
			continue
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("webhook endpoint %q: name used twice", e.Name))
		}
		seen[e.Name] = true
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("webhook endpoint %q: url: want an http:// or https:// URL", e.Name))
		}
		key, err := secretKey(e.Secret)
		if err == nil && len(key) < minKeyBytes {
			err = fmt.Errorf("webhook secret: key of %d bytes, want at least %d (24 to 64 recommended)", len(key), minKeyBytes)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("webhook endpoint %q: %w", e.Name, err))
		}
		d.eps = append(d.eps, &endpoint{Endpoint: e, key: key, wake: make(chan struct{}, 1)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if d.client == nil {
		d.client = &http.Client{
			Timeout:       cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	d.lease = max(minLease, 3*cfg.Timeout)
	d.errWait = min(max(10*cfg.Poll, time.Second), 30*time.Second)
	m, err := newMetrics(reg, d.eps)
	if err != nil {
		return nil, err
	}
	d.metrics = m
	return d, nil
}

func setDefaults(c *Config) {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = defaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = max(defaultMaxBackoff, c.MinBackoff)
	}
	if c.Retention <= 0 {
		c.Retention = defaultRetention
	}
	if c.Poll <= 0 {
		c.Poll = defaultPoll
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
}

// defaultOwner names this instance: hostname, process and a random part
// that tells apart two runs of one process.
func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	crand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Owner is the lease owner id of this instance.
func (d *Deliverer) Owner() string { return d.cfg.Owner }

// Notify tells the Deliverer that new events were committed, waking the
// idle endpoints at once. It never blocks.
func (d *Deliverer) Notify() {
	for _, ep := range d.eps {
		select {
		case ep.wake <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx ends, with one goroutine per endpoint and one
// that prunes the outbox, then releases the endpoint leases it holds. It
// returns nil once stopped by ctx.
func (d *Deliverer) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("webhook: Run called while running")
	}
	defer d.running.Store(false)
	var wg sync.WaitGroup
	for _, ep := range d.eps {
		w := &worker{d: d, ep: ep, log: d.log.With("endpoint", ep.Name)}
		wg.Go(func() { w.run(ctx) })
	}
	wg.Go(func() { d.prune(ctx) })
	wg.Wait()
	return nil
}

// prune deletes, every pruneEvery, the events every endpoint is done with
// and the delivery log older than Retention.
func (d *Deliverer) prune(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := d.out.PruneOutbox(ctx, d.cfg.Now().Add(-d.cfg.Retention))
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Warn("webhook outbox prune failed", "error", err)
		case n > 0:
			d.log.Debug("webhook outbox pruned", "events", n)
		}
	}
}

// worker delivers to one endpoint.
type worker struct {
	d   *Deliverer
	ep  *endpoint
	log *slog.Logger

	held       bool      // the lease is ours until leaseUntil
	leaseUntil time.Time //
	// st is the endpoint's state while the lease is held. Its Cursor may
	// be ahead of the stored one (persisted) by events the filter
	// skipped: they are written with the next Advance.
	st        store.EndpointState
	persisted int64
	lastWrite time.Time // of the last Advance, for checkpoint
	replays   map[int64]replayTry
}

// replayTry is the progress of the replay of one dead letter. It is kept
// in memory only: a restart gives a replay its attempts again.
type replayTry struct {
	failures int
	next     time.Time
}

// wait is what a step asks for before the next: how long, and whether
// Notify may cut it short.
type wait struct {
	d        time.Duration
	wakeable bool
}

func (w *worker) run(ctx context.Context) {
	defer w.release()
	for ctx.Err() == nil {
		wt := w.step(ctx)
		if wt.d <= 0 {
			continue
		}
		if w.held {
			// Wake in time to renew the lease.
			wt.d = min(wt.d, w.d.lease/3)
		}
		t := time.NewTimer(wt.d)
		var wake chan struct{}
		if wt.wakeable {
			wake = w.ep.wake
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-wake:
		}
		t.Stop()
	}
}

// release ends the lease, if held, once Run is stopping.
func (w *worker) release() {
	if !w.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := w.d.out.ReleaseEndpoint(ctx, w.ep.Name, w.d.cfg.Owner); err != nil {
		w.log.Warn("webhook lease release failed", "error", err)
	}
	w.held = false
}

// step does one thing: take or renew the lease, one replay attempt, or
// a batch of events up to the first attempt that failed.
func (w *worker) step(ctx context.Context) wait {
	d := w.d
	now := d.cfg.Now()
	if !w.held || now.After(w.leaseUntil) || w.leaseUntil.Sub(now) < d.lease*2/3 {
		if wt, ok := w.claim(ctx, now); !ok {
			return wt
		}
	}
	if wt, busy := w.replay(ctx); busy {
		return wt
	}
	return w.deliverEvents(ctx)
}

// claim takes or renews the lease; false with the wait before trying
// again when it is not ours.
func (w *worker) claim(ctx context.Context, now time.Time) (wait, bool) {
	d := w.d
	until := now.Add(d.lease)
	st, ok, err := d.out.ClaimEndpoint(ctx, w.ep.Name, d.cfg.Owner, now, until)
	if err != nil {
		w.held = false
		if ctx.Err() == nil {
			w.log.Warn("webhook endpoint claim failed", "error", err)
		}
		return wait{d: d.errWait}, false
	}
	if !ok {
		w.held = false
		// Another instance delivers; look again when its lease may end.
		return wait{d: min(max(st.LeaseUntil.Sub(now), d.cfg.Poll), 5*time.Second)}, false
	}
	if w.held && !now.After(w.leaseUntil) && st.Cursor == w.persisted {
		// Renewed without a gap: the skipped events are still ours to
		// write.
		cursor := max(w.st.Cursor, st.Cursor)
		w.st = st
		w.st.Cursor = cursor
	} else {
		w.st = st
		w.persisted = st.Cursor
		w.lastWrite = now
		w.replays = map[int64]replayTry{}
	}
	w.held, w.leaseUntil = true, until
	return wait{}, true
}

// leaseLeft reports whether the lease leaves room for an attempt.
func (w *worker) leaseLeft() bool {
	return w.held && w.leaseUntil.Sub(w.d.cfg.Now()) >= w.d.lease*2/3-time.Second
}

// replay attempts the oldest dead letter whose replay was asked; busy is
// false when there is none.
func (w *worker) replay(ctx context.Context) (wt wait, busy bool) {
	d := w.d
	dls, err := d.out.DeadLetters(ctx, w.ep.Name, true, 1)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhook dead letters read failed", "error", err)
		}
		return wait{d: d.errWait}, true
	}
	if len(dls) == 0 {
		return wait{}, false
	}
	dl := dls[0]
	try := w.replays[dl.EventID]
	now := d.cfg.Now()
	if try.next.After(now) {
		return wait{d: try.next.Sub(now)}, true
	}
	a := store.DeliveryAttempt{Endpoint: w.ep.Name, EventID: dl.EventID, Attempt: try.failures + 1, Replay: true}
	ev, err := d.out.Event(ctx, dl.EventID)
	var res result
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.Time, a.Outcome, a.Error = now, store.OutcomeDead, "the event is no longer in the outbox"
	case err != nil:
		if ctx.Err() == nil {
			w.log.Warn("webhook event read failed", "event_id", dl.EventID, "error", err)
		}
		return wait{d: d.errWait}, true
	default:
		res = w.attempt(ctx, ev)
		a.Time, a.Status, a.Error, a.Duration = res.time, res.status, res.err, res.dur
		switch {
		case res.ok:
			a.Outcome = store.OutcomeDelivered
		case try.failures+1 >= d.cfg.MaxAttempts:
			a.Outcome = store.OutcomeDead
		default:
			a.Outcome = store.OutcomeFailed
		}
	}
	ok, err := d.out.Advance(context.WithoutCancel(ctx), d.cfg.Owner, a, w.st)
	if !w.advanced(ok, err) {
		return wait{d: d.errWait}, true
	}
	w.account(a, dl.Type)
	if a.Outcome == store.OutcomeFailed {
		delay := w.backoff(a.Attempt, res.retryAfter)
		w.replays[dl.EventID] = replayTry{failures: a.Attempt, next: now.Add(delay)}
		return wait{d: delay}, true
	}
	delete(w.replays, dl.EventID)
	return wait{}, true
}

// deliverEvents works through the events after the cursor, in order,
// until one fails or the batch ends.
func (w *worker) deliverEvents(ctx context.Context) wait {
	d := w.d
	now := d.cfg.Now()
	if w.st.Attempts > 0 && w.st.NextAttempt.After(now) {
		w.updateDepth(ctx)
		return wait{d: w.st.NextAttempt.Sub(now)}
	}
	evs, err := d.out.Events(ctx, w.st.Cursor, batchSize)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhook events read failed", "error", err)
		}
		return wait{d: d.errWait}
	}
	for i := range evs {
		ev := &evs[i]
		if !config.MatchEvent(w.ep.Events, ev.Type) {
			w.st.Cursor = ev.ID
			continue
		}
		if !w.leaseLeft() {
			return wait{} // renew first
		}
		res := w.attempt(ctx, ev)
		a := store.DeliveryAttempt{Endpoint: w.ep.Name, EventID: ev.ID, Time: res.time,
			Attempt: w.st.Attempts + 1, Status: res.status, Error: res.err, Duration: res.dur}
		next := w.st
		var delay time.Duration
		switch {
		case res.ok:
			a.Outcome = store.OutcomeDelivered
			next.Cursor, next.Attempts, next.NextAttempt, next.LastError = ev.ID, 0, time.Time{}, ""
		case a.Attempt >= d.cfg.MaxAttempts:
			a.Outcome = store.OutcomeDead
			next.Cursor, next.Attempts, next.NextAttempt, next.LastError = ev.ID, 0, time.Time{}, ""
		default:
			a.Outcome = store.OutcomeFailed
			delay = w.backoff(a.Attempt, res.retryAfter)
			next.Attempts, next.NextAttempt, next.LastError = a.Attempt, res.time.Add(delay), res.err
		}
		// Recorded even when stopping, so the next owner does not send
		// it again.
		ok, err := d.out.Advance(context.WithoutCancel(ctx), d.cfg.Owner, a, next)
		if !w.advanced(ok, err) {
			return wait{d: d.errWait}
		}
		w.st = next
		w.persisted = next.Cursor
		w.account(a, ev.Type)
		if delay > 0 {
			w.updateDepth(ctx)
			return wait{d: delay}
		}
	}
	if len(evs) < batchSize {
		w.checkpoint(ctx)
		if len(evs) == 0 {
			// Nothing after the cursor: no need to ask the store.
			d.metrics.depth.WithLabelValues(w.ep.Name).Set(0)
		} else {
			w.updateDepth(ctx)
		}
		return wait{d: d.cfg.Poll, wakeable: true}
	}
	return wait{}
}

// checkpoint writes the cursor of an endpoint whose filter skipped every
// event since its last Advance, at most every checkpointEvery: without
// it the stored cursor would stay behind and hold those events back from
// PruneOutbox. store.Outbox moves a cursor only with a delivery log
// entry, so this writes one, on the last skipped event, with attempt 0
// and a note saying so.
func (w *worker) checkpoint(ctx context.Context) {
	d := w.d
	now := d.cfg.Now()
	if w.st.Cursor <= w.persisted || w.st.Attempts > 0 || now.Sub(w.lastWrite) < checkpointEvery || !w.leaseLeft() {
		return
	}
	a := store.DeliveryAttempt{Endpoint: w.ep.Name, EventID: w.st.Cursor, Time: now, Attempt: 0,
		Outcome: store.OutcomeDelivered, Error: skippedNote}
	ok, err := d.out.Advance(ctx, d.cfg.Owner, a, w.st)
	if w.advanced(ok, err) {
		w.persisted = w.st.Cursor
	}
}

// advanced handles what Advance returned; false when the attempt was not
// recorded (the lease was lost, or the store failed).
func (w *worker) advanced(ok bool, err error) bool {
	switch {
	case err != nil:
		w.held = false // claim again: the stored state decides
		w.log.Warn("webhook delivery state write failed", "error", err)
		return false
	case !ok:
		w.held = false
		w.log.Warn("webhook endpoint lease lost to another instance")
		return false
	}
	w.lastWrite = w.d.cfg.Now()
	return true
}

// account logs an attempt and counts it in the metrics.
func (w *worker) account(a store.DeliveryAttempt, typ string) {
	m := w.d.metrics
	m.deliveries.WithLabelValues(w.ep.Name, a.Outcome).Inc()
	if a.Duration > 0 {
		m.seconds.WithLabelValues(w.ep.Name).Observe(a.Duration.Seconds())
	}
	attrs := []any{"event_id", a.EventID, "type", typ, "attempt", a.Attempt, "status", a.Status,
		"duration", a.Duration, "replay", a.Replay}
	switch a.Outcome {
	case store.OutcomeDelivered:
		w.log.Debug("webhook delivered", attrs...)
	case store.OutcomeFailed:
		w.log.Warn("webhook delivery failed", append(attrs, "error", a.Error)...)
	case store.OutcomeDead:
		m.dead.WithLabelValues(w.ep.Name).Inc()
		w.log.Error("webhook event dead-lettered", append(attrs, "error", a.Error)...)
	}
}

// updateDepth sets the outbox depth gauge: the events after the cursor.
func (w *worker) updateDepth(ctx context.Context) {
	newest, err := w.d.out.NewestEvent(ctx)
	if err != nil {
		return
	}
	w.d.metrics.depth.WithLabelValues(w.ep.Name).Set(float64(max(newest-w.st.Cursor, 0)))
}

// backoff is the delay after the failures-th failed attempt: MinBackoff
// doubled per earlier failure up to MaxBackoff, the upper half of it
// taken at random (so that endpoints failing together spread out), and
// at least a Retry-After the receiver asked for, within MaxBackoff.
func (w *worker) backoff(failures int, retryAfter time.Duration) time.Duration {
	c := w.d.cfg
	base := c.MinBackoff
	for i := 1; i < failures && base < c.MaxBackoff; i++ {
		base *= 2
	}
	base = min(base, c.MaxBackoff)
	delay := base/2 + rand.N(base/2+1)
	return min(max(delay, retryAfter), c.MaxBackoff)
}

// result is the outcome of one HTTP attempt.
type result struct {
	ok         bool
	status     int
	err        string
	time       time.Time // when it was sent
	dur        time.Duration
	retryAfter time.Duration
}

// body is what a delivery POSTs.
type body struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// MessageID is the webhook-id of an event's deliveries, the same on every
// attempt so that a receiver can drop the duplicates of at-least-once
// delivery.
func MessageID(eventID int64) string { return "evt_" + strconv.FormatInt(eventID, 10) }

// Body is the JSON body delivered for ev.
func Body(ev *store.Event) ([]byte, error) {
	data := ev.Payload
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return json.Marshal(body{Type: ev.Type, Timestamp: ev.Time.UTC().Format(time.RFC3339Nano), Data: data})
}

// attempt POSTs ev to the endpoint once. An attempt under way when ctx
// ends is finished (within Timeout), so that stopping does not make a
// receiver get the event twice.
func (w *worker) attempt(ctx context.Context, ev *store.Event) result {
	d := w.d
	res := result{time: d.cfg.Now()}
	payload, err := Body(ev)
	if err != nil {
		res.err = shorten("event payload is not JSON: " + err.Error())
		return res
	}
	id := MessageID(ev.ID)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, w.ep.URL, bytes.NewReader(payload))
	if err != nil {
		res.err = shorten(err.Error())
		return res
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(res.time.Unix(), 10))
	req.Header.Set(HeaderSignature, "v1,"+signature(w.ep.key, id, res.time.Unix(), payload))
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		res.dur = time.Since(start)
		res.err = transportError(err)
		return res
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	res.dur = time.Since(start)
	res.status = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		res.ok = true
		return res
	}
	res.err = shorten(fmt.Sprintf("HTTP %d %s", resp.StatusCode, printable(answer)))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.retryAfter = retryAfter(resp.Header.Get("Retry-After"), res.time)
	}
	return res
}

// retryAfter reads a Retry-After header (RFC 9110, section 10.2.3):
// seconds or an HTTP date; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(365*24*3600))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// transportError keeps the cause of a failed request without the URL,
// which may carry credentials in its query.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return shorten(err.Error())
}

// printable turns the start of an answer into one line of text.
func printable(b []byte) string {
	const keep = 120
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, string(b[:min(len(b), keep*4)]))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > keep {
		s = s[:keep]
	}
	return s
}

// shorten bounds an error kept in the log and the store.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxErrorLen {
		return s
	}
	cut := maxErrorLen
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
