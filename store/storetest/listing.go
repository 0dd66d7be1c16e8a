package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// runListings runs the tests of the paged listings, the batch check, the
// statistics and readiness.
func runListings(t *testing.T, b Backend) {
	// The store's clock stands still at clock, for the listings that
	// default to it.
	clock := at(100 * day)
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RecordIDs", testRecordIDs},
		{"RecordPaging", testRecordPaging},
		{"RecordStatus", testRecordStatus},
		{"RecordNotFound", testRecordNotFound},
		{"ListSuppressions", func(t *testing.T, s store.Store) { testListSuppressions(t, s, clock) }},
		{"CheckSuppressions", testCheckSuppressions},
		{"CheckSuppressionsBatch", testCheckSuppressionsBatch},
		{"Stats", testStats},
		{"StatsBadQuery", testStatsBadQuery},
		{"Ready", testReady},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := b.Open(t, store.Options{Now: func() time.Time { return clock }})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// ids are the IDs of recs, in their order.
func ids(recs []record.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// testRecordIDs checks that every read of records numbers them alike: the
// listing, one record by ID and the records of a message.
func testRecordIDs(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := save(t, s, msg("ids-1", at(time.Hour),
		rec("one@ids.test", record.ClassHard, "userunknown", time.Time{}),
		rec("two@ids.test", record.ClassSoft, "mailboxfull", time.Time{})))
	second := save(t, s, msg("ids-2", at(2*time.Hour), rec("three@ids.test", record.ClassBlock, "blocked", time.Time{})))
	all := records(t, s, store.Query{})
	if len(all) != 3 {
		t.Fatalf("got %d records, want 3", len(all))
	}
	wantMessages := []int64{first.MessageID, first.MessageID, second.MessageID}
	for i, r := range all {
		if r.ID == 0 || (i > 0 && r.ID <= all[i-1].ID) {
			t.Errorf("record %d: ID %d, want IDs set and rising: %v", i, r.ID, ids(all))
		}
		if r.MessageID != wantMessages[i] {
			t.Errorf("record %d: MessageID %d, want %d", i, r.MessageID, wantMessages[i])
		}
		got, err := s.Record(ctx, r.ID)
		if err != nil {
			t.Fatalf("Record(%d): %v", r.ID, err)
		}
		sameRecords(t, fmt.Sprintf("Record(%d)", r.ID), []record.Record{*got}, []record.Record{r})
		if got.ID != r.ID || got.MessageID != r.MessageID {
			t.Errorf("Record(%d): ID %d, MessageID %d; want %d, %d", r.ID, got.ID, got.MessageID, r.ID, r.MessageID)
		}
	}
	m, err := s.Message(ctx, first.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(m.Records), ids(all[:2]); !slices.Equal(got, want) {
		t.Errorf("Message(%d) record IDs %v, want %v", first.MessageID, got, want)
	}
	for _, r := range m.Records {
		if r.MessageID != first.MessageID {
			t.Errorf("Message(%d): record %d has MessageID %d", first.MessageID, r.ID, r.MessageID)
		}
	}
}

// pageAll reads q page by page of size, following the cursor of the
// direction, and returns the IDs in the order read.
func pageAll(t *testing.T, s store.Store, q store.Query, size int) []int64 {
	t.Helper()
	q.Limit = size
	var got []int64
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("paging %+v does not end", q)
		}
		page := records(t, s, q)
		if len(page) > size {
			t.Fatalf("page of %d records, limit %d", len(page), size)
		}
		got = append(got, ids(page)...)
		if len(page) < size {
			return got
		}
		last := page[len(page)-1].ID
		if q.Newest {
			q.BeforeID = last
		} else {
			q.AfterID = last
		}
	}
}

func testRecordPaging(t *testing.T, s store.Store) {
	domains := []string{"one.test", "two.test", "three.test"}
	classes := []string{record.ClassHard, record.ClassSoft, record.ClassBlock}
	reasons := map[string]string{record.ClassHard: "userunknown", record.ClassSoft: "mailboxfull", record.ClassBlock: "blocked"}
	const messages = 40
	stored := 0
	for i := range messages {
		var recs []record.Record
		for j := range 1 + i%3 {
			class := classes[(i+j)%len(classes)]
			addr := fmt.Sprintf("user%02d.%d@%s", i, j, domains[(i*7+j)%len(domains)])
			recs = append(recs, rec(addr, class, reasons[class], time.Time{}))
		}
		stored += len(recs)
		// Times run backwards for a while: the listing follows the order
		// of storing, not the times.
		when := at(time.Duration((i*37)%messages) * time.Hour)
		save(t, s, msg(fmt.Sprintf("paging-%d", i), when, recs...))
	}
	all := records(t, s, store.Query{})
	allIDs := ids(all)
	if !slices.IsSorted(allIDs) || len(all) != stored {
		t.Fatalf("Records: %d records, IDs %v: want %d in rising order", len(all), allIDs, stored)
	}
	newest := slices.Clone(allIDs)
	slices.Reverse(newest)
	if got := ids(records(t, s, store.Query{Newest: true})); !slices.Equal(got, newest) {
		t.Errorf("Newest: IDs %v, want %v", got, newest)
	}
	if got := ids(records(t, s, store.Query{Newest: true, Limit: 5})); !slices.Equal(got, newest[:5]) {
		t.Errorf("Newest, limit 5: IDs %v, want %v", got, newest[:5])
	}

	for _, size := range []int{1, 7, stored, stored + 1} {
		if got := pageAll(t, s, store.Query{}, size); !slices.Equal(got, allIDs) {
			t.Errorf("forward by %d: IDs %v, want %v", size, got, allIDs)
		}
		if got := pageAll(t, s, store.Query{Newest: true}, size); !slices.Equal(got, newest) {
			t.Errorf("backward by %d: IDs %v, want %v", size, got, newest)
		}
	}

	// Filters page alike, and the cursors bound the IDs strictly.
	filtered := func(keep func(record.Record) bool) []int64 {
		var out []int64
		for _, r := range all {
			if keep(r) {
				out = append(out, r.ID)
			}
		}
		return out
	}
	lo, hi := allIDs[10], allIDs[50]
	for _, tc := range []struct {
		name string
		q    store.Query
		keep func(record.Record) bool
	}{
		{"domain", store.Query{Domain: "TWO.test"}, func(r record.Record) bool { return strings.HasSuffix(r.Recipient, "@two.test") }},
		{"class", store.Query{Class: record.ClassSoft}, func(r record.Record) bool { return r.Class == record.ClassSoft }},
		{"reason", store.Query{Reason: "blocked"}, func(r record.Record) bool { return r.Reason == "blocked" }},
		{"status", store.Query{Status: "5"}, func(r record.Record) bool { return strings.HasPrefix(r.Status, "5.") }},
		{"since", store.Query{Since: at(20 * time.Hour)}, func(r record.Record) bool { return !r.ReceivedAt.Before(at(20 * time.Hour)) }},
		{"after", store.Query{AfterID: lo}, func(r record.Record) bool { return r.ID > lo }},
		{"before", store.Query{BeforeID: hi}, func(r record.Record) bool { return r.ID < hi }},
		{"between", store.Query{AfterID: lo, BeforeID: hi, Class: record.ClassHard},
			func(r record.Record) bool { return r.ID > lo && r.ID < hi && r.Class == record.ClassHard }},
		{"empty window", store.Query{AfterID: lo, BeforeID: lo + 1}, func(record.Record) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := filtered(tc.keep)
			if len(want) == 0 && tc.name != "empty window" {
				t.Fatalf("the seed has no record for %+v", tc.q)
			}
			if got := ids(records(t, s, tc.q)); !slices.Equal(got, want) {
				t.Errorf("Records(%+v): IDs %v, want %v", tc.q, got, want)
			}
			if got := pageAll(t, s, tc.q, 4); !slices.Equal(got, want) {
				t.Errorf("forward by 4: IDs %v, want %v", got, want)
			}
			back := slices.Clone(want)
			slices.Reverse(back)
			q := tc.q
			q.Newest = true
			if got := pageAll(t, s, q, 4); !slices.Equal(got, back) {
				t.Errorf("backward by 4: IDs %v, want %v", got, back)
			}
		})
	}
}

func testRecordStatus(t *testing.T, s store.Store) {
	statuses := []string{"5.1.1", "5.1.10", "5.10.1", "5.7.1", "4.2.2", "4.7.1", "2.0.0", ""}
	var recs []record.Record
	for i, st := range statuses {
		r := rec(fmt.Sprintf("status%d@status.test", i), record.ClassHard, "userunknown", time.Time{})
		r.Status = st
		recs = append(recs, r)
	}
	save(t, s, msg("statuses", at(time.Hour), recs...))
	for _, tc := range []struct {
		status string
		want   []string
	}{
		{"5", []string{"5.1.1", "5.1.10", "5.10.1", "5.7.1"}},
		{"5.1", []string{"5.1.1", "5.1.10"}},
		{"5.10", []string{"5.10.1"}},
		{"5.1.1", []string{"5.1.1"}},
		{"5.1.10", []string{"5.1.10"}},
		{"4", []string{"4.2.2", "4.7.1"}},
		{"4.7.1", []string{"4.7.1"}},
		{"2", []string{"2.0.0"}},
		{"3", nil},
		{"5.2", nil},
	} {
		var got []string
		for _, r := range records(t, s, store.Query{Status: tc.status}) {
			got = append(got, r.Status)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Status %q: got %q, want %q", tc.status, got, tc.want)
		}
	}
	for _, bad := range []string{"5.", ".1", "5.1.1.1", "5.%", "5_1", "x", "5.1.1 "} {
		if recs, err := s.Records(context.Background(), store.Query{Status: bad}); err == nil {
			t.Errorf("Status %q: %d records, want an error", bad, len(recs))
		} else if !strings.Contains(err.Error(), "status") {
			t.Errorf("Status %q: error %q does not say the status is wrong", bad, err)
		}
	}
}

func testRecordNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	if r, err := s.Record(ctx, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Record(1) on an empty store = %+v, %v; want ErrNotFound", r, err)
	}
	save(t, s, msg("found", at(time.Hour), rec("found@example.org", record.ClassHard, "userunknown", time.Time{})))
	all := records(t, s, store.Query{})
	for _, id := range []int64{all[0].ID + 1, all[0].ID + 1000, 0, -1} {
		if r, err := s.Record(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Record(%d) = %+v, %v; want ErrNotFound", id, r, err)
		}
	}
}

// seedSuppressions suppresses addrs with hard bounces, all in one
// message of records received at when.
func seedSuppressions(t *testing.T, s store.Store, tag string, when time.Time, addrs []string) {
	t.Helper()
	var recs []record.Record
	for _, a := range addrs {
		recs = append(recs, rec(a, record.ClassHard, "userunknown", when))
	}
	save(t, s, msg(tag, when, recs...))
}

func listSuppressions(t *testing.T, s store.Store, q store.SuppressionQuery) []string {
	t.Helper()
	sups, err := s.ListSuppressions(context.Background(), q)
	if err != nil {
		t.Fatalf("ListSuppressions(%+v): %v", q, err)
	}
	return addresses(sups)
}

// pageSuppressions reads q page by page of size, following the cursor.
func pageSuppressions(t *testing.T, s store.Store, q store.SuppressionQuery, size int) []string {
	t.Helper()
	q.Limit = size
	var got []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("paging %+v does not end", q)
		}
		page := listSuppressions(t, s, q)
		got = append(got, page...)
		if len(page) < size {
			return got
		}
		q.After = page[len(page)-1]
	}
}

func testListSuppressions(t *testing.T, s store.Store, clock time.Time) {
	ctx := context.Background()
	var hard []string
	for i := range 30 {
		hard = append(hard, fmt.Sprintf("hard%02d@one.test", i), fmt.Sprintf("hard%02d@two.test", i))
	}
	// Domains that end like one.test or hold it in the local part are
	// not of one.test.
	hard = append(hard, "hard@sub.one.test", "hard@xone.test", `"x@one.test"@three.test`)
	seedSuppressions(t, s, "list-hard", at(time.Hour), hard)
	var complaints []record.Record
	for i := range 5 {
		complaints = append(complaints, rec(fmt.Sprintf("plaint%d@one.test", i), record.ClassComplaint, "feedback", at(2*time.Hour)))
	}
	save(t, s, msg("list-complaints", at(2*time.Hour), complaints...))
	// Manual ones: one lapsed before the clock, one lapsing after it.
	for _, m := range []store.Suppression{
		{Address: "Lapsed@One.test", Reason: "paused", Since: base, Expires: clock.Add(-time.Hour)},
		{Address: "lapsing@one.test", Reason: "paused", Since: base, Expires: clock.Add(time.Hour)},
		{Address: "forever@two.test", Reason: "asked", Since: base},
	} {
		if err := s.AddSuppression(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	all, err := s.Suppressions(ctx, clock)
	if err != nil {
		t.Fatal(err)
	}
	want := addresses(all)
	if len(want) != len(hard)+5+2 {
		t.Fatalf("Suppressions: %d, want %d", len(want), len(hard)+5+2)
	}
	// Zero Now is the store's clock.
	if got := listSuppressions(t, s, store.SuppressionQuery{}); !slices.Equal(got, want) {
		t.Errorf("ListSuppressions(): %q\nwant %q", got, want)
	}
	for _, size := range []int{1, 7, len(want), len(want) + 1} {
		if got := pageSuppressions(t, s, store.SuppressionQuery{}, size); !slices.Equal(got, want) {
			t.Errorf("paged by %d: %q\nwant %q", size, got, want)
		}
	}
	// The cursor need not be a suppressed address.
	if got := listSuppressions(t, s, store.SuppressionQuery{After: "hard29@one.test", Limit: 2}); !slices.Equal(got, []string{"hard29@two.test", "hard@sub.one.test"}) {
		t.Errorf("after hard29@one.test: %q", got)
	}
	if got := listSuppressions(t, s, store.SuppressionQuery{After: "zzz"}); len(got) != 0 {
		t.Errorf("after the last: %q, want none", got)
	}

	keep := func(f func(string, store.Suppression) bool) []string {
		var out []string
		for _, sup := range all {
			if f(sup.Address[strings.LastIndexByte(sup.Address, '@')+1:], sup) {
				out = append(out, sup.Address)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    store.SuppressionQuery
		want []string
	}{
		{"domain", store.SuppressionQuery{Domain: "one.test"}, keep(func(d string, _ store.Suppression) bool { return d == "one.test" })},
		{"domain any case", store.SuppressionQuery{Domain: " ONE.Test"}, keep(func(d string, _ store.Suppression) bool { return d == "one.test" })},
		{"cause", store.SuppressionQuery{Cause: suppress.CauseComplaint}, keep(func(_ string, s store.Suppression) bool { return s.Cause == suppress.CauseComplaint })},
		{"domain and cause", store.SuppressionQuery{Domain: "two.test", Cause: suppress.CauseManual}, []string{"forever@two.test"}},
		{"domain none", store.SuppressionQuery{Domain: "none.test"}, nil},
		{"before the expiry", store.SuppressionQuery{Now: clock.Add(-2 * time.Hour), Cause: suppress.CauseManual},
			[]string{"forever@two.test", "lapsed@one.test", "lapsing@one.test"}},
		{"after the expiry", store.SuppressionQuery{Now: clock.Add(2 * time.Hour), Cause: suppress.CauseManual},
			[]string{"forever@two.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listSuppressions(t, s, tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("ListSuppressions(%+v): %q\nwant %q", tc.q, got, tc.want)
			}
			if got := pageSuppressions(t, s, tc.q, 3); !slices.Equal(got, tc.want) {
				t.Errorf("paged by 3: %q\nwant %q", got, tc.want)
			}
		})
	}
	if sups, err := s.ListSuppressions(ctx, store.SuppressionQuery{Domain: "exa_mple.org"}); err == nil {
		t.Errorf("ListSuppressions(domain exa_mple.org): %d, want an error", len(sups))
	}
	// The suppressions listed are the ones Suppression returns.
	page, err := s.ListSuppressions(ctx, store.SuppressionQuery{Cause: suppress.CauseManual, Limit: 1})
	if err != nil || len(page) != 1 {
		t.Fatalf("ListSuppressions(manual, 1) = %v, %v", page, err)
	}
	one := suppression(t, s, page[0].Address, clock)
	if one == nil || one.Reason != page[0].Reason || !one.Since.Equal(page[0].Since) || one.Cause != page[0].Cause {
		t.Errorf("listed %+v, Suppression gives %+v", page[0], one)
	}
}

func testCheckSuppressions(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedSuppressions(t, s, "check", at(time.Hour), []string{"a@check.test", "b@check.test", "c@check.test"})
	lapse := at(10 * time.Hour)
	if err := s.AddSuppression(ctx, store.Suppression{Address: "d@check.test", Reason: "pause", Since: base, Expires: lapse}); err != nil {
		t.Fatal(err)
	}
	check := func(addrs []string, now time.Time) []string {
		t.Helper()
		sups, err := s.CheckSuppressions(ctx, addrs, now)
		if err != nil {
			t.Fatalf("CheckSuppressions(%q): %v", addrs, err)
		}
		return addresses(sups)
	}
	for _, tc := range []struct {
		name  string
		addrs []string
		now   time.Time
		want  []string
	}{
		{"order of the input", []string{"c@check.test", "nobody@check.test", "a@check.test", "d@check.test"}, at(2 * time.Hour),
			[]string{"c@check.test", "a@check.test", "d@check.test"}},
		{"normalized, once each", []string{"<B@Check.TEST>", "b@check.test", " a@CHECK.test ", "B@check.test"}, at(2 * time.Hour),
			[]string{"b@check.test", "a@check.test"}},
		{"lapsed", []string{"d@check.test", "a@check.test"}, lapse, []string{"a@check.test"}},
		{"none suppressed", []string{"x@check.test", "y@check.test"}, at(2 * time.Hour), nil},
		{"none given", nil, at(2 * time.Hour), nil},
	} {
		if got := check(tc.addrs, tc.now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	sups, err := s.CheckSuppressions(ctx, []string{"a@check.test"}, at(2*time.Hour))
	if err != nil || len(sups) != 1 || sups[0].Cause != suppress.CauseHard || len(sups[0].Evidence) != 1 || !sups[0].Since.Equal(at(time.Hour)) {
		t.Errorf("CheckSuppressions(a@check.test) = %+v, %v; want the hard bounce with its evidence", sups, err)
	}

	for _, bad := range []string{"not an address", "a@check.test\r\nBcc: x@y.test", ""} {
		_, err := s.CheckSuppressions(ctx, []string{"a@check.test", bad}, at(2*time.Hour))
		if err == nil {
			t.Errorf("CheckSuppressions with %q: no error", bad)
			continue
		}
		if quoted := fmt.Sprintf("%q", bad); !strings.Contains(err.Error(), quoted) {
			t.Errorf("CheckSuppressions with %q: error %q does not name %s", bad, err, quoted)
		}
	}
}

func testCheckSuppressionsBatch(t *testing.T, s store.Store) {
	const batch = 10000
	var suppressed []string
	for i := 0; i < batch; i += 37 {
		suppressed = append(suppressed, fmt.Sprintf("u%05d@batch.test", i))
	}
	seedSuppressions(t, s, "batch", at(time.Hour), suppressed)
	// Given from the last to the first, so that the answer's order is the
	// input's and not the index's.
	addrs := make([]string, 0, batch)
	for i := batch - 1; i >= 0; i-- {
		addrs = append(addrs, fmt.Sprintf("U%05d@Batch.test", i))
	}
	sups, err := s.CheckSuppressions(context.Background(), addrs, at(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(suppressed)
	slices.Reverse(want)
	if got := addresses(sups); !slices.Equal(got, want) {
		t.Errorf("%d addresses: %d suppressed, want %d in the order given", batch, len(got), len(want))
	}
	if _, err := s.CheckSuppressions(context.Background(), append(addrs, "one@more.test"), at(2*time.Hour)); err == nil {
		t.Errorf("%d addresses: no error", batch+1)
	}
}

func testStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	type seed struct {
		offset time.Duration
		addr   string
		class  string
		reason string
	}
	seeds := []seed{
		{-time.Second, "early@one.test", record.ClassHard, "userunknown"}, // before Since
		{0, "a@one.test", record.ClassHard, "userunknown"},
		{30 * time.Minute, "b@two.test", record.ClassSoft, "mailboxfull"},
		{time.Hour - time.Nanosecond*1000, "c@one.test", record.ClassHard, "userunknown"},
		{time.Hour, "d@two.test", record.ClassHard, "userunknown"},
		{time.Hour + time.Minute, "e@Two.test", record.ClassBlock, "blocked"},
		{3*time.Hour + time.Minute, "f@one.test", record.ClassSoft, "mailboxfull"},
		{3*time.Hour + 2*time.Minute, "g@three.test", record.ClassSoft, "mailboxfull"},
		{4 * time.Hour, "late@one.test", record.ClassHard, "userunknown"}, // at Until
	}
	for i, sd := range seeds {
		save(t, s, msg(fmt.Sprintf("stats-%d", i), at(sd.offset), rec(sd.addr, sd.class, sd.reason, at(sd.offset))))
	}
	q := store.StatsQuery{Since: base, Until: at(4 * time.Hour), Bucket: time.Hour}
	type count struct {
		start time.Time
		key   string
		n     int64
	}
	h := func(n int) time.Time { return at(time.Duration(n) * time.Hour) }
	for _, tc := range []struct {
		name string
		q    func(store.StatsQuery) store.StatsQuery
		want []count
	}{
		{"by class", func(q store.StatsQuery) store.StatsQuery { q.By = store.StatsByClass; return q }, []count{
			{h(0), record.ClassHard, 2}, {h(0), record.ClassSoft, 1},
			{h(1), record.ClassBlock, 1}, {h(1), record.ClassHard, 1},
			{h(3), record.ClassSoft, 2},
		}},
		{"by reason", func(q store.StatsQuery) store.StatsQuery { q.By = store.StatsByReason; return q }, []count{
			{h(0), "mailboxfull", 1}, {h(0), "userunknown", 2},
			{h(1), "blocked", 1}, {h(1), "userunknown", 1},
			{h(3), "mailboxfull", 2},
		}},
		{"by domain", func(q store.StatsQuery) store.StatsQuery { q.By = store.StatsByDomain; return q }, []count{
			{h(0), "one.test", 2}, {h(0), "two.test", 1},
			{h(1), "two.test", 2},
			{h(3), "one.test", 1}, {h(3), "three.test", 1},
		}},
		{"one bucket", func(q store.StatsQuery) store.StatsQuery {
			q.By = store.StatsByClass
			q.Bucket = 24 * time.Hour
			return q
		}, []count{
			{h(0), record.ClassBlock, 1}, {h(0), record.ClassHard, 3}, {h(0), record.ClassSoft, 3},
		}},
		{"buckets from since", func(q store.StatsQuery) store.StatsQuery {
			q.By = store.StatsByClass
			q.Since, q.Bucket = at(30*time.Minute), 2*time.Hour
			return q
		}, []count{
			{at(30 * time.Minute), record.ClassBlock, 1}, {at(30 * time.Minute), record.ClassHard, 2}, {at(30 * time.Minute), record.ClassSoft, 1},
			{at(150 * time.Minute), record.ClassSoft, 2},
		}},
		{"class filter", func(q store.StatsQuery) store.StatsQuery {
			q.By, q.Class = store.StatsByDomain, record.ClassHard
			return q
		}, []count{{h(0), "one.test", 2}, {h(1), "two.test", 1}}},
		{"domain filter", func(q store.StatsQuery) store.StatsQuery {
			q.By, q.Domain = store.StatsByClass, "TWO.test"
			return q
		}, []count{{h(0), record.ClassSoft, 1}, {h(1), record.ClassBlock, 1}, {h(1), record.ClassHard, 1}}},
		{"reason filter", func(q store.StatsQuery) store.StatsQuery {
			q.By, q.Reason = store.StatsByDomain, "mailboxfull"
			return q
		}, []count{{h(0), "two.test", 1}, {h(3), "one.test", 1}, {h(3), "three.test", 1}}},
		{"no match", func(q store.StatsQuery) store.StatsQuery {
			q.By, q.Reason = store.StatsByClass, "nosuchreason"
			return q
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sq := tc.q(q)
			got, err := s.Stats(ctx, sq)
			if err != nil {
				t.Fatalf("Stats(%+v): %v", sq, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Stats(%+v):\n got %v\nwant %v", sq, got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if !g.Start.Equal(w.start) || g.Key != w.key || g.Count != w.n {
					t.Errorf("count %d: got %v %q %d, want %v %q %d", i, g.Start.UTC(), g.Key, g.Count, w.start, w.key, w.n)
				}
			}
		})
	}
}

func testStatsBadQuery(t *testing.T, s store.Store) {
	good := store.StatsQuery{Since: base, Until: at(time.Hour), Bucket: time.Minute, By: store.StatsByClass}
	if _, err := s.Stats(context.Background(), good); err != nil {
		t.Fatalf("Stats(%+v) on an empty store: %v", good, err)
	}
	for _, tc := range []struct {
		name   string
		change func(*store.StatsQuery)
		says   string // a word the error must hold
	}{
		{"no since", func(q *store.StatsQuery) { q.Since = time.Time{} }, "since"},
		{"no until", func(q *store.StatsQuery) { q.Until = time.Time{} }, "until"},
		{"until before since", func(q *store.StatsQuery) { q.Until = at(-time.Hour) }, "until"},
		{"empty range", func(q *store.StatsQuery) { q.Until = q.Since }, "until"},
		{"no bucket", func(q *store.StatsQuery) { q.Bucket = 0 }, "bucket"},
		{"negative bucket", func(q *store.StatsQuery) { q.Bucket = -time.Hour }, "bucket"},
		{"no dimension", func(q *store.StatsQuery) { q.By = "" }, "by"},
		{"unknown dimension", func(q *store.StatsQuery) { q.By = "colour" }, "colour"},
		{"bad domain", func(q *store.StatsQuery) { q.Domain = "exa_mple.org" }, "exa_mple.org"},
	} {
		q := good
		tc.change(&q)
		counts, err := s.Stats(context.Background(), q)
		if err == nil {
			t.Errorf("%s: Stats(%+v) = %v, want an error", tc.name, q, counts)
		} else if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %q does not name %q", tc.name, err, tc.says)
		}
	}
}

func testReady(t *testing.T, s store.Store) {
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("Ready on a fresh store: %v", err)
	}
	save(t, s, msg("ready", at(time.Hour), rec("ready@example.org", record.ClassHard, "userunknown", time.Time{})))
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("Ready after a save: %v", err)
	}
}
