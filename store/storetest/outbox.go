package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// runOutbox runs the tests of the outbox, the webhook delivery state and
// the suppression history.
func runOutbox(t *testing.T, b Backend) {
	open := func(t *testing.T, outbox bool) store.Store {
		s := b.Open(t, store.Options{Outbox: outbox})
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("OutboxEvents", func(t *testing.T) { testOutboxEvents(t, open(t, true)) })
	t.Run("OutboxOff", func(t *testing.T) { testOutboxOff(t, open(t, false)) })
	t.Run("SuppressionHistory", func(t *testing.T) { testSuppressionHistory(t, open(t, false)) })
	t.Run("EndpointLease", func(t *testing.T) { testEndpointLease(t, open(t, true)) })
	t.Run("DeliveryFlow", func(t *testing.T) { testDeliveryFlow(t, open(t, true)) })
	t.Run("PruneOutbox", func(t *testing.T) { testPruneOutbox(t, open(t, true)) })
	t.Run("OutboxCanceledSave", func(t *testing.T) { testOutboxCanceledSave(t, open(t, true)) })
	t.Run("PolicyHistory", func(t *testing.T) { testPolicyHistory(t, open(t, true)) })
	t.Run("ReplayOutcomes", func(t *testing.T) { testReplayOutcomes(t, open(t, true)) })
	t.Run("PruneAll", func(t *testing.T) { testPruneAll(t, open(t, true)) })
}

func outboxRecord(addr, class, status, reason string) record.Record {
	return record.Record{Recipient: addr, Action: "failed", Status: status, Reason: reason, Class: class,
		Diagnostic: "550 " + status + " " + reason, Confidence: record.ConfidenceHigh}
}

func outboxMessage(n int, at time.Time, recs ...record.Record) *store.Message {
	return &store.Message{ReceivedAt: at, Source: "smtp", Raw: []byte(fmt.Sprintf("Subject: outbox %d\r\n\r\nbody\r\n", n)),
		Records: recs}
}

// allEvents reads every event of s.
func allEvents(t *testing.T, s store.Store) []store.Event {
	t.Helper()
	evs, err := s.Events(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func eventTypes(evs []store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func testOutboxEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	hard := outboxRecord("gone@example.org", record.ClassHard, "5.1.1", "userunknown")
	block := outboxRecord("someone@blocked.example", record.ClassBlock, "5.7.1", "blocked")
	if _, err := s.Save(ctx, outboxMessage(1, base, hard, block)); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, s)
	want := []string{store.EventRecordCreated, store.EventRecordCreated, store.EventSuppressionAdded, store.EventIncidentOpened}
	got := eventTypes(evs)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", eventTypes(evs), want)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Errorf("event IDs not growing: %d after %d", evs[i].ID, evs[i-1].ID)
		}
	}
	stored, err := s.Records(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]record.Record{}
	for _, r := range stored {
		byID[r.ID] = r
	}
	for _, e := range evs {
		switch e.Type {
		case store.EventRecordCreated:
			var r record.Record
			if err := json.Unmarshal(e.Payload, &r); err != nil {
				t.Fatalf("record event: %v", err)
			}
			if st, ok := byID[r.ID]; !ok || st.MessageID != r.MessageID || st.Recipient != r.Recipient || r.MessageID == 0 {
				t.Errorf("record event %+v does not match a stored record", r)
			}
		case store.EventSuppressionAdded:
			var p struct {
				Change      store.SuppressionChange `json:"change"`
				Suppression *store.Suppression      `json:"suppression"`
			}
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.Change.Address != "gone@example.org" || p.Change.Actor != store.ActorPolicy || p.Change.RecordKey == "" ||
				p.Suppression == nil || p.Suppression.Cause != suppress.CauseHard {
				t.Errorf("suppression event %s", e.Payload)
			}
		case store.EventIncidentOpened:
			var in store.Incident
			if err := json.Unmarshal(e.Payload, &in); err != nil {
				t.Fatal(err)
			}
			if in.ID == 0 || in.Count != 1 || !in.Open || in.Domain == "" {
				t.Errorf("incident event %s", e.Payload)
			}
		}
	}

	// A second block joins the incident; the same content again adds
	// nothing.
	last := evs[len(evs)-1].ID
	m2 := outboxMessage(2, base.Add(time.Minute), outboxRecord("other@blocked.example", record.ClassBlock, "5.7.1", "blocked"))
	if _, err := s.Save(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Save(ctx, outboxMessage(2, base.Add(time.Minute), m2.Records...)); err != nil || !res.Duplicate {
		t.Fatalf("duplicate: %+v, %v", res, err)
	}
	more, err := s.Events(ctx, last, 100)
	if err != nil {
		t.Fatal(err)
	}
	got = eventTypes(more)
	slices.Sort(got)
	if want := []string{store.EventIncidentUpdated, store.EventRecordCreated}; !slices.Equal(got, want) {
		t.Fatalf("after the second block: %v, want %v", got, want)
	}
	for _, e := range more {
		if e.Type == store.EventIncidentUpdated {
			var in store.Incident
			json.Unmarshal(e.Payload, &in)
			if in.Count != 2 {
				t.Errorf("updated incident %s: want count 2", e.Payload)
			}
		}
	}

	// Manual changes tell of themselves too.
	last = more[len(more)-1].ID
	if err := s.AddSuppression(ctx, store.Suppression{Address: "asked@example.org", Reason: "asked", Since: base,
		Actor: "crm", Note: "by phone"}); err != nil {
		t.Fatal(err)
	}
	if had, err := s.RemoveSuppression(ctx, "asked@example.org", store.Actor{Who: "crm", Why: "resubscribed"}); err != nil || !had {
		t.Fatalf("RemoveSuppression = %v, %v", had, err)
	}
	manual, err := s.Events(ctx, last, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventTypes(manual); !slices.Equal(got, []string{store.EventSuppressionAdded, store.EventSuppressionLifted}) {
		t.Fatalf("manual events %v", got)
	}
	var lifted struct {
		Change      store.SuppressionChange `json:"change"`
		Suppression *store.Suppression      `json:"suppression"`
	}
	json.Unmarshal(manual[1].Payload, &lifted)
	if lifted.Change.Actor != "crm" || lifted.Change.Note != "resubscribed" || lifted.Suppression != nil {
		t.Errorf("lifted event %s", manual[1].Payload)
	}
	if e, err := s.Event(ctx, manual[0].ID); err != nil || e.Type != store.EventSuppressionAdded {
		t.Errorf("Event(%d) = %+v, %v", manual[0].ID, e, err)
	}
	if _, err := s.Event(ctx, manual[1].ID+1000); err != store.ErrNotFound {
		t.Errorf("Event of no event: %v", err)
	}
	if n, err := s.NewestEvent(ctx); err != nil || n != manual[1].ID {
		t.Errorf("NewestEvent = %d, %v; want %d", n, err, manual[1].ID)
	}
}

func testOutboxOff(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Save(ctx, outboxMessage(1, base, outboxRecord("gone@example.org", record.ClassHard, "5.1.1", "userunknown"))); err != nil {
		t.Fatal(err)
	}
	if n, err := s.NewestEvent(ctx); err != nil || n != 0 {
		t.Errorf("NewestEvent = %d, %v without the outbox", n, err)
	}
}

func testSuppressionHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Save(ctx, outboxMessage(1, base, outboxRecord("Gone@Example.org", record.ClassHard, "5.1.1", "userunknown"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveSuppression(ctx, "gone@example.org", store.Actor{Who: "support", Why: "mailbox restored"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSuppression(ctx, store.Suppression{Address: "gone@example.org", Reason: "asked", Since: base.Add(time.Hour),
		Actor: "crm", Note: "unsubscribed by phone"}); err != nil {
		t.Fatal(err)
	}
	h, err := s.SuppressionChanges(ctx, "GONE@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("history %+v, want 3 entries", h)
	}
	if c := h[2]; c.Action != store.ChangeSuppressed || c.Cause != suppress.CauseHard || c.Actor != store.ActorPolicy || c.RecordKey == "" {
		t.Errorf("first change %+v", c)
	}
	if c := h[1]; c.Action != store.ChangeLifted || c.Actor != "support" || c.Note != "mailbox restored" {
		t.Errorf("second change %+v", c)
	}
	if c := h[0]; c.Action != store.ChangeSuppressed || c.Cause != suppress.CauseManual || c.Actor != "crm" ||
		c.Note != "unsubscribed by phone" || !c.Time.Equal(base.Add(time.Hour)) {
		t.Errorf("third change %+v", c)
	}
	if h, err := s.SuppressionChanges(ctx, "gone@example.org", 1); err != nil || len(h) != 1 || h[0].Actor != "crm" {
		t.Errorf("limit 1: %+v, %v", h, err)
	}
	if h, err := s.SuppressionChanges(ctx, "never@example.org", 0); err != nil || len(h) != 0 {
		t.Errorf("no history: %+v, %v", h, err)
	}
	if _, err := s.SuppressionChanges(ctx, "not an address", 0); err == nil {
		t.Error("history of no address: no error")
	}
}

func testEndpointLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.AddSuppression(ctx, store.Suppression{Address: "before@example.org", Reason: "r", Since: base}); err != nil {
		t.Fatal(err)
	}
	newest, _ := s.NewestEvent(ctx)
	now := time.Now()
	st, ok, err := s.ClaimEndpoint(ctx, "app", "a", now, now.Add(time.Minute))
	if err != nil || !ok || st.Owner != "a" || st.Cursor != newest {
		t.Fatalf("first claim: %+v, %v, %v; want owner a, cursor %d", st, ok, err, newest)
	}
	if st, ok, err := s.ClaimEndpoint(ctx, "app", "b", now, now.Add(time.Minute)); err != nil || ok || st.Owner != "a" {
		t.Fatalf("claim while held: %+v, %v, %v", st, ok, err)
	}
	if _, ok, err := s.ClaimEndpoint(ctx, "app", "a", now, now.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("renewal: %v, %v", ok, err)
	}
	a := store.DeliveryAttempt{Endpoint: "app", EventID: newest, Attempt: 1, Outcome: store.OutcomeDelivered, Time: now}
	if ok, err := s.Advance(ctx, "b", a, store.EndpointState{Cursor: newest}); err != nil || ok {
		t.Fatalf("Advance by a non-owner: %v, %v", ok, err)
	}
	// An ended lease goes to whoever asks.
	later := now.Add(3 * time.Minute)
	if st, ok, err := s.ClaimEndpoint(ctx, "app", "b", later, later.Add(time.Minute)); err != nil || !ok || st.Owner != "b" {
		t.Fatalf("claim after the lease ended: %+v, %v, %v", st, ok, err)
	}
	if err := s.ReleaseEndpoint(ctx, "app", "a"); err != nil {
		t.Fatal(err)
	}
	if eps, _ := s.Endpoints(ctx); len(eps) != 1 || eps[0].Owner != "b" {
		t.Errorf("release by a non-owner changed the lease: %+v", eps)
	}
	if err := s.ReleaseEndpoint(ctx, "app", "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.ClaimEndpoint(ctx, "app", "a", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("claim after release: %v, %v", ok, err)
	}
	if _, _, err := s.ClaimEndpoint(ctx, "", "a", now, now); err == nil {
		t.Error("claim of no endpoint: no error")
	}
}

func testDeliveryFlow(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	if _, ok, err := s.ClaimEndpoint(ctx, "app", "me", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for i := range 3 {
		if err := s.AddSuppression(ctx, store.Suppression{Address: fmt.Sprintf("a%d@example.org", i), Reason: "r", Since: base}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(ctx, 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("events %v, %v", evs, err)
	}
	advance := func(a store.DeliveryAttempt, next store.EndpointState) {
		t.Helper()
		a.Endpoint = "app"
		if ok, err := s.Advance(ctx, "me", a, next); err != nil || !ok {
			t.Fatalf("Advance(%+v) = %v, %v", a, ok, err)
		}
	}
	// The first is delivered; the second fails once, then runs out.
	advance(store.DeliveryAttempt{EventID: evs[0].ID, Attempt: 1, Status: 204, Outcome: store.OutcomeDelivered,
		Duration: time.Millisecond}, store.EndpointState{Cursor: evs[0].ID})
	retry := now.Add(time.Minute).Truncate(time.Microsecond)
	advance(store.DeliveryAttempt{EventID: evs[1].ID, Attempt: 1, Status: 500, Error: "HTTP 500", Outcome: store.OutcomeFailed},
		store.EndpointState{Cursor: evs[0].ID, Attempts: 1, NextAttempt: retry, LastError: "HTTP 500"})
	eps, err := s.Endpoints(ctx)
	if err != nil || len(eps) != 1 || eps[0].Cursor != evs[0].ID || eps[0].Attempts != 1 || !eps[0].NextAttempt.Equal(retry) ||
		eps[0].LastError != "HTTP 500" {
		t.Fatalf("state after a failure: %+v, %v", eps, err)
	}
	advance(store.DeliveryAttempt{EventID: evs[1].ID, Attempt: 2, Error: "connection refused", Outcome: store.OutcomeDead},
		store.EndpointState{Cursor: evs[1].ID})
	dead, err := s.DeadLetters(ctx, "app", false, 0)
	if err != nil || len(dead) != 1 || dead[0].EventID != evs[1].ID || dead[0].Type != store.EventSuppressionAdded ||
		dead[0].Attempts != 2 || dead[0].Replay {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	if r, _ := s.DeadLetters(ctx, "app", true, 0); len(r) != 0 {
		t.Errorf("replays before any was asked: %+v", r)
	}
	if ok, err := s.Replay(ctx, "app", evs[2].ID); err != nil || ok {
		t.Errorf("replay of a live event: %v, %v", ok, err)
	}
	if ok, err := s.Replay(ctx, "app", evs[1].ID); err != nil || !ok {
		t.Fatalf("Replay = %v, %v", ok, err)
	}
	if r, _ := s.DeadLetters(ctx, "app", true, 0); len(r) != 1 || !r[0].Replay {
		t.Fatalf("replays %+v", r)
	}
	// A replay's delivery removes the dead letter and leaves the cursor.
	advance(store.DeliveryAttempt{EventID: evs[1].ID, Attempt: 1, Status: 200, Outcome: store.OutcomeDelivered, Replay: true},
		store.EndpointState{Cursor: 999999})
	if d, _ := s.DeadLetters(ctx, "app", false, 0); len(d) != 0 {
		t.Errorf("dead letters after the replay: %+v", d)
	}
	if eps, _ := s.Endpoints(ctx); eps[0].Cursor != evs[1].ID {
		t.Errorf("a replay moved the cursor to %d", eps[0].Cursor)
	}
	log, err := s.Deliveries(ctx, "app", 0)
	if err != nil || len(log) != 4 {
		t.Fatalf("delivery log %+v, %v", log, err)
	}
	if l := log[0]; !l.Replay || l.Outcome != store.OutcomeDelivered || l.EventID != evs[1].ID {
		t.Errorf("newest entry %+v", l)
	}
	if l := log[3]; l.Status != 204 || l.Duration != time.Millisecond || l.Attempt != 1 {
		t.Errorf("oldest entry %+v", l)
	}
	if l, _ := s.Deliveries(ctx, "app", 2); len(l) != 2 {
		t.Errorf("limit 2: %d entries", len(l))
	}
	if _, err := s.Advance(ctx, "me", store.DeliveryAttempt{Endpoint: "app", Outcome: "maybe"}, store.EndpointState{}); err == nil {
		t.Error("Advance with an unknown outcome: no error")
	}
}

func testPruneOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	if _, ok, err := s.ClaimEndpoint(ctx, "app", "me", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for i := range 4 {
		if err := s.AddSuppression(ctx, store.Suppression{Address: fmt.Sprintf("p%d@example.org", i), Reason: "r",
			Since: base.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	evs := allEvents(t, s)
	// Delivered up to the second; the first is a dead letter.
	for _, a := range []store.DeliveryAttempt{
		{Endpoint: "app", EventID: evs[0].ID, Attempt: 3, Outcome: store.OutcomeDead, Time: base},
		{Endpoint: "app", EventID: evs[1].ID, Attempt: 1, Outcome: store.OutcomeDelivered, Time: base},
	} {
		if ok, err := s.Advance(ctx, "me", a, store.EndpointState{Cursor: a.EventID}); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	n, err := s.PruneOutbox(ctx, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	left := allEvents(t, s)
	var ids []int64
	for _, e := range left {
		ids = append(ids, e.ID)
	}
	if n != 1 || !slices.Equal(ids, []int64{evs[0].ID, evs[2].ID, evs[3].ID}) {
		t.Errorf("pruned %d, left %v; want the delivered one gone, the dead letter and the undelivered kept", n, ids)
	}
	if log, _ := s.Deliveries(ctx, "app", 0); len(log) != 0 {
		t.Errorf("delivery log older than the cut kept: %+v", log)
	}
}

// suppressionPayload is the payload of suppression.added and
// suppression.lifted.
type suppressionPayload struct {
	Change      store.SuppressionChange `json:"change"`
	Suppression *store.Suppression      `json:"suppression"`
}

// A Save that fails writes no event; whatever a canceled Save left, its
// retry leaves the events of one message, once.
func testOutboxCanceledSave(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hard := outboxRecord("canceled@example.org", record.ClassHard, "5.1.1", "userunknown")
	if _, err := s.Save(ctx, outboxMessage(1, base, hard)); err == nil {
		t.Fatal("Save with a canceled context: no error")
	}
	if _, err := s.Save(context.Background(), outboxMessage(1, base, hard)); err != nil {
		t.Fatal(err)
	}
	got := eventTypes(allEvents(t, s))
	slices.Sort(got)
	if want := []string{store.EventRecordCreated, store.EventSuppressionAdded}; !slices.Equal(got, want) {
		t.Errorf("events after a canceled Save and its retry: %v, want %v", got, want)
	}
}

// The policy's changes are kept with the record that made each: soft
// bounces suppress, a delivery lifts the soft suppression, a hard bounce
// suppresses again; each tells of itself in the outbox.
func testPolicyHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	const addr = "flaky@example.org"
	n := 0
	saveAt := func(at time.Time, r record.Record) {
		t.Helper()
		n++
		if _, err := s.Save(ctx, outboxMessage(n, at, r)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		saveAt(base.Add(time.Duration(i)*time.Minute), outboxRecord(addr, record.ClassSoft, "4.2.2", "mailboxfull"))
	}
	delivered := outboxRecord(addr, record.ClassDelivered, "2.0.0", "delivered")
	delivered.Action = "delivered"
	saveAt(base.Add(time.Hour), delivered)
	saveAt(base.Add(2*time.Hour), outboxRecord(addr, record.ClassHard, "5.1.1", "userunknown"))

	h, err := s.SuppressionChanges(ctx, addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, cause string }{
		{store.ChangeSuppressed, suppress.CauseHard},
		{store.ChangeLifted, suppress.CauseSoft},
		{store.ChangeSuppressed, suppress.CauseSoft},
	}
	if len(h) != len(want) {
		t.Fatalf("history %+v, want %d entries", h, len(want))
	}
	keys := map[string]bool{}
	for i, w := range want {
		c := h[i]
		if c.Action != w.action || c.Cause != w.cause || c.Actor != store.ActorPolicy || c.RecordKey == "" || c.Address != addr {
			t.Errorf("change %d: %+v, want %s %s by the policy with its record", i, c, w.action, w.cause)
		}
		keys[c.RecordKey] = true
	}
	if len(keys) != len(want) {
		t.Errorf("changes share record keys: %+v", h)
	}
	if !h[1].Time.Equal(base.Add(time.Hour)) {
		t.Errorf("lifted at %v, want the delivery's time %v", h[1].Time, base.Add(time.Hour))
	}
	if h[2].Expires.IsZero() {
		t.Errorf("soft suppression without an expiry: %+v", h[2])
	}

	var changes []suppressionPayload
	var types []string
	for _, e := range allEvents(t, s) {
		if e.Type != store.EventSuppressionAdded && e.Type != store.EventSuppressionLifted {
			continue
		}
		var p suppressionPayload
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatalf("event %d: %v", e.ID, err)
		}
		types = append(types, e.Type)
		changes = append(changes, p)
	}
	if want := []string{store.EventSuppressionAdded, store.EventSuppressionLifted, store.EventSuppressionAdded}; !slices.Equal(types, want) {
		t.Fatalf("suppression events %v, want %v", types, want)
	}
	for i, p := range changes {
		if hc := h[len(h)-1-i]; p.Change.ID != hc.ID || p.Change.RecordKey != hc.RecordKey {
			t.Errorf("event %d tells of change %+v, the history has %+v", i, p.Change, hc)
		}
	}
	if p := changes[0]; p.Suppression == nil || p.Suppression.Cause != suppress.CauseSoft || p.Suppression.Address != addr {
		t.Errorf("suppression of the first event: %+v", p.Suppression)
	}
	if p := changes[1]; p.Suppression != nil {
		t.Errorf("lifted event with a suppression: %+v", p.Suppression)
	}
	if p := changes[2]; p.Suppression == nil || p.Suppression.Cause != suppress.CauseHard {
		t.Errorf("suppression of the last event: %+v", p.Suppression)
	}
}

// A replay that fails keeps its dead letter, asked again; one that runs
// out keeps it and clears the ask; neither touches the endpoint's state.
func testReplayOutcomes(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	if _, ok, err := s.ClaimEndpoint(ctx, "app", "me", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for i := range 2 {
		if err := s.AddSuppression(ctx, store.Suppression{Address: fmt.Sprintf("r%d@example.org", i), Reason: "r", Since: base}); err != nil {
			t.Fatal(err)
		}
	}
	evs := allEvents(t, s)
	if len(evs) != 2 {
		t.Fatalf("events %+v", evs)
	}
	id := evs[0].ID
	advance := func(a store.DeliveryAttempt, next store.EndpointState) {
		t.Helper()
		a.Endpoint = "app"
		if ok, err := s.Advance(ctx, "me", a, next); err != nil || !ok {
			t.Fatalf("Advance(%+v) = %v, %v", a, ok, err)
		}
	}
	advance(store.DeliveryAttempt{EventID: id, Attempt: 3, Error: "HTTP 503", Outcome: store.OutcomeDead},
		store.EndpointState{Cursor: id})
	retry := now.Add(time.Minute).Truncate(time.Microsecond)
	advance(store.DeliveryAttempt{EventID: evs[1].ID, Attempt: 1, Error: "HTTP 502", Outcome: store.OutcomeFailed},
		store.EndpointState{Cursor: id, Attempts: 1, NextAttempt: retry, LastError: "HTTP 502"})
	wantState := func(when string) {
		t.Helper()
		eps, err := s.Endpoints(ctx)
		if err != nil || len(eps) != 1 {
			t.Fatalf("Endpoints = %+v, %v", eps, err)
		}
		if e := eps[0]; e.Cursor != id || e.Attempts != 1 || !e.NextAttempt.Equal(retry) || e.LastError != "HTTP 502" {
			t.Errorf("%s: endpoint state %+v, want it as the live delivery left it", when, e)
		}
	}
	dead := func() store.DeadLetter {
		t.Helper()
		d, err := s.DeadLetters(ctx, "app", false, 0)
		if err != nil || len(d) != 1 || d[0].EventID != id {
			t.Fatalf("dead letters %+v, %v", d, err)
		}
		return d[0]
	}

	tests := []struct {
		outcome    string
		wantReplay bool
	}{
		{store.OutcomeFailed, true},
		{store.OutcomeDead, false},
	}
	for _, tc := range tests {
		if ok, err := s.Replay(ctx, "app", id); err != nil || !ok {
			t.Fatalf("Replay = %v, %v", ok, err)
		}
		advance(store.DeliveryAttempt{EventID: id, Attempt: 1, Error: "replay " + tc.outcome, Outcome: tc.outcome, Replay: true},
			store.EndpointState{Cursor: 999999, Attempts: 7, LastError: "ignored"})
		d := dead()
		if d.Replay != tc.wantReplay || d.LastError != "replay "+tc.outcome {
			t.Errorf("after a replay %s: dead letter %+v, want replay %v and its error", tc.outcome, d, tc.wantReplay)
		}
		wantState("after a replay " + tc.outcome)
		r, err := s.DeadLetters(ctx, "app", true, 0)
		if err != nil || len(r) != map[bool]int{true: 1, false: 0}[tc.wantReplay] {
			t.Errorf("after a replay %s: replays %+v, %v", tc.outcome, r, err)
		}
	}
	if ok, err := s.Replay(ctx, "other", id); err != nil || ok {
		t.Errorf("replay on another endpoint: %v, %v", ok, err)
	}
}

// Pruning every event an endpoint has passed never lets a later event take
// an ID at or below the endpoint's cursor, which would skip it.
func testPruneAll(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	if _, ok, err := s.ClaimEndpoint(ctx, "app", "me", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for i := range 3 {
		if err := s.AddSuppression(ctx, store.Suppression{Address: fmt.Sprintf("all%d@example.org", i), Reason: "r", Since: base}); err != nil {
			t.Fatal(err)
		}
	}
	newest, err := s.NewestEvent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := store.DeliveryAttempt{Endpoint: "app", EventID: newest, Attempt: 1, Outcome: store.OutcomeDelivered, Time: base}
	if ok, err := s.Advance(ctx, "me", a, store.EndpointState{Cursor: newest}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := s.PruneOutbox(ctx, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSuppression(ctx, store.Suppression{Address: "after@example.org", Reason: "r", Since: base}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, newest, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != store.EventSuppressionAdded {
		t.Errorf("events after the cursor %d once pruned: %+v, want the new one", newest, evs)
	}
}
