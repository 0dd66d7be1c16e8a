package storetest

import (
	"cmp"
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// runOverview checks Overview against the records it counts, and the
// incidents' recipients and the Message-ID query that the dashboard reads
// beside it.
func runOverview(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"OverviewMatchesRecords", testOverviewMatchesRecords},
		{"OverviewEdges", testOverviewEdges},
		{"OverviewEmpty", testOverviewEmpty},
		{"OverviewInvalid", testOverviewInvalid},
		{"OverviewAfterPrune", testOverviewAfterPrune},
		{"IncidentRecipients", testIncidentRecipients},
		{"QueryMessageID", testQueryMessageID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := b.Open(t, store.Options{})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
	t.Run("OverviewUpgrade", func(t *testing.T) {
		if b.Legacy == nil {
			t.Skip("the backend has no older schema")
		}
		testOverviewUpgrade(t, b.Legacy)
	})
}

// overviewOf is the Overview of q computed from the records themselves.
func overviewOf(t *testing.T, s store.Store, q store.OverviewQuery) *store.Overview {
	t.Helper()
	recs := records(t, s, store.Query{Since: q.Since, Until: q.Until})
	top := q.Top
	if top == 0 {
		top = store.DefaultOverviewTop
	}
	ov := &store.Overview{Since: q.Since.UTC(), Until: q.Until.UTC(), Totals: map[string]int64{}}
	for b := q.Since; b.Before(q.Until); b = b.Add(q.Bucket) {
		ov.Buckets = append(ov.Buckets, store.OverviewBucket{Start: b.UTC(), Counts: map[string]int64{}})
	}
	reasons, domains, providers := map[string]map[string]int64{}, map[string]map[string]int64{}, map[string]map[string]int64{}
	add := func(m map[string]map[string]int64, key, class string) {
		if m[key] == nil {
			m[key] = map[string]int64{}
		}
		m[key][class]++
	}
	for _, r := range recs {
		i := int(r.ReceivedAt.Sub(q.Since) / q.Bucket)
		ov.Buckets[i].Counts[r.Class]++
		ov.Totals[r.Class]++
		add(reasons, r.Reason, r.Class)
		add(domains, suppress.RecipientDomain(r.Recipient), r.Class)
		add(providers, store.OverviewProvider(&r), r.Class)
	}
	ov.Reasons, ov.Domains, ov.Providers = topOf(reasons, top), topOf(domains, top), topOf(providers, top)
	return ov
}

func topOf(m map[string]map[string]int64, n int) []store.TopEntry {
	out := []store.TopEntry{}
	for k, counts := range m {
		e := store.TopEntry{Key: k, Counts: counts}
		for _, c := range counts {
			e.Total += c
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.TopEntry) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), strings.Compare(a.Key, b.Key))
	})
	return out[:min(n, len(out))]
}

func overview(t *testing.T, s store.Store, q store.OverviewQuery) *store.Overview {
	t.Helper()
	ov, err := s.Overview(context.Background(), q)
	if err != nil {
		t.Fatalf("Overview(%s to %s by %s): %v", q.Since.UTC().Format(time.RFC3339), q.Until.UTC().Format(time.RFC3339), q.Bucket, err)
	}
	return ov
}

func sameOverview(t *testing.T, what string, got, want *store.Overview) {
	t.Helper()
	if !got.Since.Equal(want.Since) || !got.Until.Equal(want.Until) {
		t.Errorf("%s: range %s to %s, want %s to %s", what, got.Since, got.Until, want.Since, want.Until)
	}
	if len(got.Buckets) != len(want.Buckets) {
		t.Fatalf("%s: %d buckets, want %d", what, len(got.Buckets), len(want.Buckets))
	}
	for i := range got.Buckets {
		g, w := got.Buckets[i], want.Buckets[i]
		if !g.Start.Equal(w.Start) || g.Start.Location() != time.UTC || !maps.Equal(g.Counts, w.Counts) {
			t.Errorf("%s: bucket %d: %s %v, want %s %v", what, i, g.Start, g.Counts, w.Start, w.Counts)
		}
	}
	if !maps.Equal(got.Totals, want.Totals) {
		t.Errorf("%s: totals %v, want %v", what, got.Totals, want.Totals)
	}
	for _, l := range []struct {
		name      string
		got, want []store.TopEntry
	}{{"reasons", got.Reasons, want.Reasons}, {"domains", got.Domains, want.Domains}, {"providers", got.Providers, want.Providers}} {
		if l.got == nil {
			t.Errorf("%s: %s nil, want a list", what, l.name)
		}
		if !reflect.DeepEqual(l.got, l.want) {
			t.Errorf("%s: %s\n got %v\nwant %v", what, l.name, l.got, l.want)
		}
	}
}

func testOverviewMatchesRecords(t *testing.T, s store.Store) {
	ctx := context.Background()
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	truth, err := Populate(ctx, s, 3000, since.Add(3*time.Hour), 4*day-5*time.Hour, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.OverviewQuery{
		{Since: since, Until: since.Add(4 * day), Bucket: day, Top: 1000},
		{Since: since, Until: since.Add(4 * day), Bucket: time.Hour, Top: 1000},
		// Leading and trailing hours around whole days, for the top
		// lists read from both tables.
		{Since: since.Add(5 * time.Hour), Until: since.Add(3*day + 7*time.Hour), Bucket: time.Hour, Top: 1000},
		// Within one day, and the default and a short top list.
		{Since: since.Add(day + 2*time.Hour), Until: since.Add(day + 9*time.Hour), Bucket: time.Hour},
		{Since: since.Add(day), Until: since.Add(3 * day), Bucket: day, Top: 3},
		// In another location: the same instants.
		{Since: since.In(time.FixedZone("CET", 3600)), Until: since.Add(2 * day).In(time.FixedZone("CET", 3600)), Bucket: day, Top: 5},
	} {
		what := q.Since.UTC().Format(time.RFC3339) + " to " + q.Until.UTC().Format(time.RFC3339) + " by " + q.Bucket.String()
		sameOverview(t, what, overview(t, s, q), overviewOf(t, s, q))
	}
	// And as Populate counted.
	ov := overview(t, s, store.OverviewQuery{Since: since, Until: since.Add(4 * day), Bucket: time.Hour, Top: store.MaxOverviewTop})
	if !maps.Equal(ov.Totals, truth.ByClass) {
		t.Errorf("totals %v, Populate stored %v", ov.Totals, truth.ByClass)
	}
	for _, b := range ov.Buckets {
		if want := truth.ByHour[b.Start]; !maps.Equal(b.Counts, want) && (len(b.Counts) > 0 || len(want) > 0) {
			t.Errorf("hour %s: %v, Populate stored %v", b.Start, b.Counts, want)
		}
	}
	for _, l := range []struct {
		name string
		got  []store.TopEntry
		want map[string]map[string]int64
	}{{"reasons", ov.Reasons, truth.ByReason}, {"domains", ov.Domains, truth.ByDomain}, {"providers", ov.Providers, truth.ByProvider}} {
		if len(l.got) != len(l.want) {
			t.Errorf("%s: %d, Populate stored %d", l.name, len(l.got), len(l.want))
		}
		for _, e := range l.got {
			if !maps.Equal(e.Counts, l.want[e.Key]) {
				t.Errorf("%s %q: %v, Populate stored %v", l.name, e.Key, e.Counts, l.want[e.Key])
			}
		}
	}
	if truth.ByProvider[store.ProviderOther] == nil || truth.ByProvider["gmail.com"] == nil || truth.ByProvider["outlook.com"] == nil {
		t.Errorf("providers of the data: %v", slices.Sorted(maps.Keys(truth.ByProvider)))
	}
}

func testOverviewEdges(t *testing.T, s store.Store) {
	day0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// At each edge of the range of hours 10 to 12 of day0, and of day0.
	for i, when := range []time.Time{
		day0.Add(-time.Hour),
		day0.Add(-time.Microsecond),
		day0,
		day0.Add(10*time.Hour - time.Microsecond),
		day0.Add(10 * time.Hour),
		day0.Add(12*time.Hour - time.Microsecond),
		day0.Add(12 * time.Hour),
		day0.Add(day - time.Microsecond),
		day0.Add(day),
	} {
		r := rec("edge@gmail.com", record.ClassHard, "userunknown", when)
		r.RemoteMTA = "gmail-smtp-in.l.google.com"
		save(t, s, msg("edge"+string(rune('a'+i)), when, r))
	}
	for _, q := range []store.OverviewQuery{
		{Since: day0.Add(10 * time.Hour), Until: day0.Add(12 * time.Hour), Bucket: time.Hour},
		{Since: day0, Until: day0.Add(day), Bucket: day},
		{Since: day0, Until: day0.Add(day), Bucket: time.Hour},
		{Since: day0.Add(-day), Until: day0.Add(2 * day), Bucket: day},
		{Since: day0.Add(-time.Hour), Until: day0.Add(day + time.Hour), Bucket: time.Hour},
	} {
		what := q.Since.UTC().Format(time.RFC3339) + " to " + q.Until.UTC().Format(time.RFC3339) + " by " + q.Bucket.String()
		sameOverview(t, what, overview(t, s, q), overviewOf(t, s, q))
	}
	ov := overview(t, s, store.OverviewQuery{Since: day0.Add(10 * time.Hour), Until: day0.Add(12 * time.Hour), Bucket: time.Hour})
	if ov.Totals[record.ClassHard] != 2 || len(ov.Providers) != 1 || ov.Providers[0].Key != "gmail.com" {
		t.Errorf("hours 10 to 12: %+v", ov)
	}
}

func testOverviewEmpty(t *testing.T, s store.Store) {
	day0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	save(t, s, msg("elsewhere", day0.Add(-3*day), rec("a@example.org", record.ClassSoft, "mailboxfull", day0.Add(-3*day))))
	ov := overview(t, s, store.OverviewQuery{Since: day0, Until: day0.Add(6 * time.Hour), Bucket: time.Hour})
	if len(ov.Buckets) != 6 || len(ov.Totals) != 0 || ov.Reasons == nil || len(ov.Reasons) != 0 ||
		ov.Domains == nil || len(ov.Domains) != 0 || ov.Providers == nil || len(ov.Providers) != 0 {
		t.Fatalf("empty range: %+v", ov)
	}
	for i, b := range ov.Buckets {
		if !b.Start.Equal(day0.Add(time.Duration(i)*time.Hour)) || b.Counts == nil || len(b.Counts) != 0 {
			t.Errorf("bucket %d: %+v", i, b)
		}
	}
}

func testOverviewInvalid(t *testing.T, s store.Store) {
	h := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		q    store.OverviewQuery
		want string
	}{
		{store.OverviewQuery{Until: h, Bucket: time.Hour}, "since"},
		{store.OverviewQuery{Since: h, Bucket: time.Hour}, "until"},
		{store.OverviewQuery{Since: h, Until: h, Bucket: time.Hour}, "not before until"},
		{store.OverviewQuery{Since: h.Add(time.Hour), Until: h, Bucket: time.Hour}, "not before until"},
		{store.OverviewQuery{Since: h, Until: h.Add(time.Hour)}, "bucket"},
		{store.OverviewQuery{Since: h, Until: h.Add(time.Hour), Bucket: time.Minute}, "bucket 1m0s"},
		{store.OverviewQuery{Since: h.Add(time.Minute), Until: h.Add(time.Hour), Bucket: time.Hour}, "not on a whole hour"},
		{store.OverviewQuery{Since: h, Until: h.Add(time.Hour + time.Second), Bucket: time.Hour}, "until"},
		{store.OverviewQuery{Since: h, Until: h.Add(day), Bucket: day}, "not on a whole day"},
		{store.OverviewQuery{Since: h, Until: h.Add(time.Hour), Bucket: time.Hour, Top: -1}, "top -1"},
		{store.OverviewQuery{Since: h, Until: h.Add(time.Hour), Bucket: time.Hour, Top: store.MaxOverviewTop + 1}, "top"},
		{store.OverviewQuery{Since: h, Until: h.Add(400 * day), Bucket: time.Hour}, "buckets"},
	} {
		_, err := s.Overview(context.Background(), tc.q)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Overview(%+v): %v, want an error about %q", tc.q, err, tc.want)
		}
	}
}

func testOverviewAfterPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := Populate(ctx, s, 500, since, 2*day, 11); err != nil {
		t.Fatal(err)
	}
	// Deliveries are evidence of no suppression: retention takes them.
	for i := range 10 {
		when := since.Add(time.Duration(i) * 3 * time.Hour)
		save(t, s, msg("delivered"+string(rune('a'+i)), when, rec("d@example.org", record.ClassDelivered, "delivered", when)))
	}
	q := store.OverviewQuery{Since: since, Until: since.Add(2 * day), Bucket: time.Hour, Top: 50}
	before := overviewOf(t, s, q)
	if n, err := s.PruneRecords(ctx, since.Add(3*day)); err != nil || n == 0 {
		t.Fatalf("PruneRecords: %d, %v", n, err)
	}
	if left := records(t, s, store.Query{}); len(left) == 510 {
		t.Fatalf("PruneRecords kept every record")
	}
	sameOverview(t, "after pruning", overview(t, s, q), before)
}

func testIncidentRecipients(t *testing.T, s store.Store) {
	now := at(time.Hour)
	block := func(addr string, when time.Time) record.Record {
		r := rec(addr, record.ClassBlock, "blocked", when)
		r.RemoteMTA = "mx.blocker.test"
		return r
	}
	save(t, s, msg("b1", at(0), block("a@blocker.test", at(0)), block("b@blocker.test", at(0))))
	save(t, s, msg("b2", at(time.Minute), block("A@blocker.test", at(time.Minute)), block("c@blocker.test", at(time.Minute))))
	// A block with no address counts toward an incident, not its
	// recipients.
	none := block("", at(2*time.Minute))
	none.RecipientInvalid = "not an address"
	save(t, s, msg("b3", at(2*time.Minute), none))
	incs, err := s.Incidents(context.Background(), false, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, in := range incs {
		got[in.Domain] = [2]int{in.Count, in.Recipients}
	}
	if want := map[string][2]int{"blocker.test": {4, 3}, "unknown": {1, 0}}; !maps.Equal(got, want) {
		t.Errorf("incidents' blocks and recipients: %v, want %v", got, want)
	}
}

func testQueryMessageID(t *testing.T, s store.Store) {
	a := rec("a@example.org", record.ClassHard, "userunknown", at(0))
	a.OriginalMessageID = "letter.1@sender.test"
	b := rec("b@example.org", record.ClassHard, "userunknown", at(0))
	b.OriginalMessageID = "<letter.1@sender.test>"
	c := rec("c@example.org", record.ClassHard, "userunknown", at(0))
	c.OriginalMessageID = "letter.2@sender.test"
	d := rec("d@example.org", record.ClassHard, "userunknown", at(0))
	d.OriginalMessageID = "Letter.1@sender.test" // Message-IDs are compared as they are
	save(t, s, msg("ids", at(0), a, b, c, d))
	for _, tc := range []struct {
		id   string
		want []string
	}{
		{"letter.1@sender.test", []string{"a@example.org", "b@example.org"}},
		{" <letter.1@sender.test> ", []string{"a@example.org", "b@example.org"}},
		{"<letter.2@sender.test>", []string{"c@example.org"}},
		{"letter.3@sender.test", nil},
	} {
		var got []string
		for _, r := range records(t, s, store.Query{MessageID: tc.id}) {
			got = append(got, r.Recipient)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("MessageID %q: %v, want %v", tc.id, got, tc.want)
		}
	}
	if _, err := s.Records(context.Background(), store.Query{MessageID: "<>"}); err == nil {
		t.Errorf("MessageID <>: no error")
	}
}

// testOverviewUpgrade opens a database whose records were stored before
// the rollups: the upgrade counts them, and the incidents' recipients.
func testOverviewUpgrade(t *testing.T, legacy func(t *testing.T) (func(string, ...any) error, func(store.Options) store.Store)) {
	exec, open := legacy(t)
	v1 := version1DB{t: t, exec: exec}
	day0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	raw := []byte("From: MAILER-DAEMON@mx.example.net\r\nSubject: stored before the overview\r\n\r\nold\r\n")
	hash := v1.message(raw, day0)
	old := []record.Record{
		rec("gone@old.test", record.ClassHard, "userunknown", day0.Add(time.Hour)),
		rec("soft@gmail.com", record.ClassSoft, "mailboxfull", day0.Add(2*time.Hour)),
		rec("x@blocked.test", record.ClassBlock, "blocked", day0.Add(3*time.Hour)),
		rec("y@blocked.test", record.ClassBlock, "blocked", day0.Add(3*time.Hour+time.Minute)),
		rec("X@blocked.test", record.ClassBlock, "blocked", day0.Add(3*time.Hour+2*time.Minute)),
		rec("z@old.test", record.ClassDelivered, "delivered", day0.Add(day+time.Hour)),
	}
	old[1].RemoteMTA = ""
	for i := range old {
		r := &old[i]
		r.Index = i + 1
		r.Confidence, r.Evidence = "", ""
		v1.record(hash, r, "")
	}
	// The incident the three blocks opened (its destination is their
	// domain: their remote MTA is no known provider).
	dest, code, _ := suppress.IncidentKey(&old[2])
	v1.must(v1.exec(`INSERT INTO incidents (domain, code, status, reason, sample, first_seen, last_seen, count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, dest, code, old[2].Status, old[2].Reason, old[2].Diagnostic,
		sqlstore.UnixNano(old[2].ReceivedAt), sqlstore.UnixNano(old[4].ReceivedAt), int64(3)))

	s := open(store.Options{})
	t.Cleanup(func() { s.Close() })
	for _, q := range []store.OverviewQuery{
		{Since: day0, Until: day0.Add(2 * day), Bucket: day},
		{Since: day0, Until: day0.Add(2 * day), Bucket: time.Hour},
		{Since: day0.Add(2 * time.Hour), Until: day0.Add(day + 2*time.Hour), Bucket: time.Hour},
	} {
		sameOverview(t, "upgraded "+q.Bucket.String(), overview(t, s, q), overviewOf(t, s, q))
	}
	incs, err := s.Incidents(context.Background(), false, day0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].Count != 3 || incs[0].Recipients != 2 {
		t.Errorf("upgraded incidents: %+v, want one of 3 blocks to 2 recipients", incs)
	}
	// New saves count on top of the filled rows.
	more := rec("new@old.test", record.ClassHard, "userunknown", day0.Add(time.Hour+time.Minute))
	save(t, s, msg("after-upgrade", day0.Add(time.Hour), more))
	q := store.OverviewQuery{Since: day0, Until: day0.Add(2 * day), Bucket: time.Hour}
	ov := overview(t, s, q)
	sameOverview(t, "after a new save", ov, overviewOf(t, s, q))
	if ov.Totals[record.ClassHard] != 2 {
		t.Errorf("hard after the upgrade and a save: %d, want 2", ov.Totals[record.ClassHard])
	}
}
