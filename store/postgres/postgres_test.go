package postgres

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/postgres/pgtest"
	"github.com/rebound-mail/rebound/store/sqlite"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

func openTest(tb testing.TB, u string, opts store.Options) *Store {
	tb.Helper()
	s, err := OpenStore(context.Background(), u, opts)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// bounce builds a message with one record of class for rcpt; n makes its
// content unique.
func bounce(n int, rcpt, class, status string, at time.Time) *store.Message {
	reason := map[string]string{
		record.ClassHard: "userunknown", record.ClassSoft: "mailboxfull",
		record.ClassBlock: "blocked", record.ClassDelivered: "delivered",
	}[class]
	return &store.Message{
		ReceivedAt: at,
		Source:     "smtp",
		MailFrom:   "",
		RcptTo:     []string{"bounces@sender.example"},
		Raw:        fmt.Appendf(nil, "From: MAILER-DAEMON@mx.example\r\nSubject: failure %d\r\n\r\n%s %s %s\r\n", n, rcpt, class, status),
		Format:     "rfc3464",
		Records: []record.Record{{
			Index: 1, Recipient: rcpt, Action: "failed", Status: status, Reason: reason, Class: class,
			Diagnostic: "smtp; 550 " + status, RemoteMTA: "mx.example", OriginalMessageID: fmt.Sprintf("<m%d@sender.example>", n),
			ReceivedAt: at,
		}},
	}
}

func TestMigrateTwice(t *testing.T) {
	u := pgtest.SchemaURL(t, "t_")
	ctx := context.Background()
	// Instances starting together: one migrates, the others wait and find
	// the schema current.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenStore(ctx, u, store.Options{})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	s := openTest(t, u, store.Options{})
	ms, err := sqlstore.LoadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(ms) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(ms))
	}
	if _, err := s.pool.Exec(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(ctx, u, store.Options{}); err == nil {
		t.Fatalf("opened a database of a newer schema")
	}
}

// TestBadText stores a message whose fields PostgreSQL text refuses (NUL,
// invalid UTF-8): it must be stored, the raw bytes intact.
func TestBadText(t *testing.T) {
	s := openTest(t, pgtest.SchemaURL(t, "t_"), store.Options{})
	ctx := context.Background()
	m := bounce(1, "a\x00b@example.org", record.ClassHard, "5.1.1", t0)
	m.Records[0].Diagnostic = "550 \xff\xfe user unknown \x00"
	m.Helo = "bad\xc3"
	m.Raw = append(m.Raw, 0, 0xff)
	res, err := s.Save(ctx, m)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	got, err := s.Message(ctx, res.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Raw) != string(m.Raw) {
		t.Errorf("raw bytes changed")
	}
	if len(got.Records) != 1 || got.Records[0].Diagnostic != "550 \uFFFD user unknown \uFFFD" {
		t.Errorf("records %+v", got.Records)
	}

	// A recipient far longer than any address (and than a B-tree entry
	// may be) is stored, and suppresses nothing: it is no address.
	long := strings.Repeat("é", 3000) + "@example.org"
	res, err = s.Save(ctx, bounce(2, long, record.ClassHard, "5.1.1", t0))
	if err != nil {
		t.Fatalf("save with a long recipient: %v", err)
	}
	if got, err := s.Message(ctx, res.MessageID); err != nil || len(got.Records) != 1 || got.Records[0].Recipient != long {
		t.Errorf("the record of the long recipient was not kept whole: %v", err)
	}
	if sups, err := s.Suppressions(ctx, t0); err != nil || len(sups) != 0 {
		t.Errorf("suppressions %+v, %v; want none", sups, err)
	}
	if _, err := s.Suppression(ctx, long, t0); err == nil {
		t.Errorf("Suppression of the long recipient: no error")
	}
}

// TestSeveralInstances opens two stores on one database and saves to both
// at once: distinct messages, and the same messages to both. The result
// must be what one store would hold: each message and record once, every
// soft bounce counted (no lost update), one incident per destination.
func TestSeveralInstances(t *testing.T) {
	u := pgtest.SchemaURL(t, "t_")
	opts := store.Options{Policy: suppress.Policy{SoftThreshold: 5}, BatchSize: 32}
	a := openTest(t, u, opts)
	b := openTest(t, u, opts)
	ctx := context.Background()

	const (
		hot      = 12 // addresses bouncing softly from both instances
		perHot   = 8  // soft bounces each: suppressed, count 8
		cold     = 12 // addresses under the threshold
		perCold  = 4
		hard     = 10
		blocks   = 60
		parallel = 8
	)
	type job struct {
		m    *store.Message
		both bool // saved to both instances
	}
	var jobs []job
	n := 0
	next := func(rcpt, class, status string, both bool) {
		n++
		at := t0.Add(time.Duration(n) * time.Second)
		jobs = append(jobs, job{bounce(n, rcpt, class, status, at), both})
	}
	for i := range hot {
		for j := range perHot {
			next(fmt.Sprintf("hot%d@example.org", i), record.ClassSoft, "4.2.2", j%3 == 0)
		}
	}
	for i := range cold {
		for j := range perCold {
			next(fmt.Sprintf("cold%d@example.net", i), record.ClassSoft, "4.2.2", j%2 == 0)
		}
	}
	for i := range hard {
		next(fmt.Sprintf("gone%d@example.com", i), record.ClassHard, "5.1.1", i%2 == 0)
	}
	for i := range blocks {
		next(fmt.Sprintf("user%d@blocked.example", i%7), record.ClassBlock, "5.7.1", i%4 == 0)
	}
	// Interleave the addresses, so that both instances score the same
	// address at the same time.
	rnd := func(i int) int { return (i*7919 + 13) % len(jobs) }
	perm := make([]int, len(jobs))
	seen := make([]bool, len(jobs))
	for i, k := 0, 0; i < len(jobs); k++ {
		if j := rnd(k); !seen[j] {
			seen[j] = true
			perm[i] = j
			i++
		} else if k > 10*len(jobs) {
			for j := range seen {
				if !seen[j] {
					seen[j] = true
					perm[i] = j
					i++
				}
			}
		}
	}

	work := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards dups and errs
	dups := 0
	var errs []error
	for w := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				targets := []*Store{a}
				if w%2 == 1 {
					targets = []*Store{b}
				}
				if j.both {
					targets = []*Store{a, b}
				}
				var inner sync.WaitGroup
				for _, s := range targets {
					inner.Add(1)
					go func() {
						defer inner.Done()
						m := *j.m // Save sets ID: one copy per instance
						res, err := s.Save(ctx, &m)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							errs = append(errs, err)
						} else if res.Duplicate {
							dups++
						}
					}()
				}
				inner.Wait()
			}
		}()
	}
	for _, i := range perm {
		work <- jobs[i]
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d saves failed, first: %v", len(errs), errs[0])
	}

	both := 0
	for _, j := range jobs {
		if j.both {
			both++
		}
	}
	if dups != both {
		t.Errorf("%d saves reported duplicate, want %d (one per message saved twice)", dups, both)
	}
	for _, s := range []*Store{a, b} {
		recs, err := s.Records(ctx, store.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(jobs) {
			t.Errorf("%d records, want %d", len(recs), len(jobs))
		}
		msgs, err := s.Messages(ctx, store.MessageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(jobs) {
			t.Errorf("%d messages, want %d", len(msgs), len(jobs))
		}
	}

	now := t0.Add(time.Hour)
	sups, err := b.Suppressions(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sups {
		got = append(got, s.Address+" "+s.Cause)
		wantEv := perHot
		if s.Cause == suppress.CauseHard {
			wantEv = 1
		}
		if len(s.Evidence) != wantEv {
			t.Errorf("%s: %d evidence keys, want %d", s.Address, len(s.Evidence), wantEv)
		}
	}
	var want []string
	for i := range hot {
		want = append(want, fmt.Sprintf("hot%d@example.org soft", i))
	}
	for i := range hard {
		want = append(want, fmt.Sprintf("gone%d@example.com hard", i))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("suppressions:\n%q\nwant\n%q", got, want)
	}

	// Every soft bounce counted once: no update lost between instances.
	rows, _ := a.pool.Query(ctx, `SELECT address, soft_count FROM addresses WHERE address LIKE 'hot%' OR address LIKE 'cold%'`)
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var addr string
		var c int32
		err := r.Scan(&addr, &c)
		return fmt.Sprintf("%s=%d", addr, c), err
	})
	if err != nil {
		t.Fatal(err)
	}
	var wantCounts []string
	for i := range hot {
		wantCounts = append(wantCounts, fmt.Sprintf("hot%d@example.org=%d", i, perHot))
	}
	for i := range cold {
		wantCounts = append(wantCounts, fmt.Sprintf("cold%d@example.net=%d", i, perCold))
	}
	slices.Sort(counts)
	slices.Sort(wantCounts)
	if !slices.Equal(counts, wantCounts) {
		t.Errorf("soft counts:\n%v\nwant\n%v", counts, wantCounts)
	}

	// The same messages saved once each, one after the other, to one
	// embedded store: the same records, suppressions and incidents.
	ref, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ref.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, j := range jobs {
		m := *j.m
		if _, err := ref.Save(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []store.Query{{}, {Class: record.ClassSoft}, {Domain: "blocked.example"}} {
		if got, want := recordSet(t, a, q), recordSet(t, ref, q); !slices.Equal(got, want) {
			t.Errorf("records %+v differ from one store's: %d vs %d", q, len(got), len(want))
		}
	}
	if got, want := suppressionSet(t, a, now), suppressionSet(t, ref, now); !slices.Equal(got, want) {
		t.Errorf("suppressions differ from one store's:\n%q\n%q", got, want)
	}
	refIncs, err := ref.Incidents(ctx, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(refIncs) != 1 || refIncs[0].Count != blocks {
		t.Errorf("one store's incidents: %+v", refIncs)
	}

	incs, err := a.Incidents(ctx, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].Count != blocks || incs[0].Domain != "blocked.example" || incs[0].Status != "5.7.1" {
		t.Errorf("incidents %+v, want one of %d blocks for blocked.example 5.7.1", incs, blocks)
	}
}

// recordSet lists what identifies the records q selects, sorted (the
// order of concurrent saves is not fixed).
func recordSet(t *testing.T, s store.Store, q store.Query) []string {
	t.Helper()
	recs, err := s.Records(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s %s %s %s %d %s", r.OriginalMessageID, r.Recipient, r.Status,
			r.Class, r.Index, r.ReceivedAt.Format(time.RFC3339Nano)))
	}
	slices.Sort(out)
	return out
}

// suppressionSet lists the suppressions in force at now with their cause,
// reason and evidence (sorted): what does not depend on the order in which
// concurrent saves were scored.
func suppressionSet(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	sups, err := s.Suppressions(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sp := range sups {
		ev := slices.Clone(sp.Evidence)
		slices.Sort(ev)
		out = append(out, fmt.Sprintf("%s %s %s %v", sp.Address, sp.Cause, sp.Reason, ev))
	}
	return out
}
