package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/mailbox"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// A message that makes the decoder panic is stored as unrecognized and
// reported with its place in the mbox; the messages around it are stored
// with their records.
func TestImportPanicPerMessage(t *testing.T) {
	dir := t.TempDir()
	box := poisonMbox(t, dir)
	ctx := context.Background()
	st, err := openStore(ctx, filepath.Join(dir, "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var errOut bytes.Buffer
	in := &mailbox.Reader{MaxSize: int64(dsn.DefaultLimits.MaxMessageSize)}
	sum := importMessages(ctx, newPoisonAnalyzer(t), nil, st, in, []string{box}, nil, &errOut)
	if got := [5]int64{sum.messages.Load(), sum.records.Load(), sum.duplicates.Load(), sum.unrecognized.Load(), sum.errors.Load()}; got != [5]int64{3, 4, 0, 1, 1} {
		t.Errorf("messages, records, duplicates, unrecognized, errors = %v, want [3 4 0 1 1]", got)
	}
	msg := errOut.String()
	want := "rebound import: " + box + ":2: decoder panic: runtime error: slice bounds out of range [4:3]\n"
	if !strings.HasPrefix(msg, want) || !strings.Contains(msg, "\tgithub.com/rebound-mail/rebound/cmd/rebound.poisonAnalyzer.Analyze") {
		t.Errorf("stderr does not start %q or has no stack:\n%s", want, msg)
	}

	msgs, err := st.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Source+" "+m.ParseError)
	}
	slices.Sort(got)
	wantMsgs := []string{
		box + ":1 ",
		box + ":2 decoder panic: runtime error: slice bounds out of range [4:3]",
		box + ":3 ",
	}
	if !slices.Equal(got, wantMsgs) {
		t.Errorf("stored messages\n got %q\nwant %q", got, wantMsgs)
	}
}

// Imported records are dated by their report: Arrival-Date, else Date,
// else the time of import.
func TestImportDates(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		rep  dsn.Report
		want time.Time
	}{
		{dsn.Report{ArrivalDate: "Fri, 01 Mar 2024 09:59:00 +0100", Date: "Fri, 01 Mar 2024 10:00:00 +0000"}, time.Date(2024, 3, 1, 8, 59, 0, 0, time.UTC)},
		{dsn.Report{Date: "Fri, 01 Mar 2024 10:00:00 +0000"}, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
		{dsn.Report{ArrivalDate: "yesterday", Date: "Fri, 01 Mar 2024 10:00:00 +0000"}, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
		{dsn.Report{Date: "not a date"}, now},
		{dsn.Report{}, now},
		// Hours ahead: a clock off; weeks ahead: a wrong date.
		{dsn.Report{Date: "Thu, 26 Nov 2026 20:00:00 +0000"}, time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)},
		{dsn.Report{Date: "Thu, 10 Dec 2026 10:00:00 +0000"}, now},
	} {
		if got := bounceDate(&tc.rep, now); !got.Equal(tc.want) {
			t.Errorf("bounceDate(%+v) = %v, want %v", tc.rep, got, tc.want)
		}
	}
}

// Two soft bounces 20 days apart are not within a 14-day window: they
// make no suppression, where two 5 days apart do (kept for long
// enough to be in force now).
func TestImportSoftWindow(t *testing.T) {
	tmpl, err := os.ReadFile("testdata/dated/soft-2024-03-01.eml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := "[suppression]\nsoft_threshold = 2\nsoft_window = \"14d\"\nsoft_expiry = \"10000d\"\n[authentication]\nunsigned = \"trust\"\n"
	for _, tc := range []struct {
		second     string
		suppressed bool
	}{
		{"21 Mar 2024", false},
		{"06 Mar 2024", true},
	} {
		dir := t.TempDir()
		db := filepath.Join(dir, "rebound.db")
		second := strings.ReplaceAll(string(tmpl), "01 Mar 2024", tc.second)
		second = strings.ReplaceAll(second, "soft1@", "soft2@")
		os.WriteFile(filepath.Join(dir, "1.eml"), tmpl, 0o644)
		os.WriteFile(filepath.Join(dir, "2.eml"), []byte(second), 0o644)
		cfgPath := filepath.Join(dir, "rebound.toml")
		os.WriteFile(cfgPath, []byte(cfg+"[store]\nurl = \""+db+"\"\n"), 0o644)
		// One after the other, in the order they came.
		for _, f := range []string{"1.eml", "2.eml"} {
			code, out, errOut := runMain("import", "--config", cfgPath, filepath.Join(dir, f))
			if code != 0 || !strings.Contains(out, "1 records") {
				t.Fatalf("import %s: exit %d, %q %s", f, code, out, errOut)
			}
		}
		_, out, _ := runMain("bounces", "--json", "--oldest", "--db", db)
		recs := decodeRecords(t, out)
		if len(recs) != 2 || !recs[0].ReceivedAt.Equal(time.Date(2024, 3, 1, 9, 59, 0, 0, time.UTC)) || recs[1].ReceivedAt.Year() != 2024 {
			t.Fatalf("records: %+v", recs)
		}
		code, out, _ := runMain("suppressions", "check", "full@dest.example", "--db", db)
		if got := code == 0; got != tc.suppressed {
			t.Errorf("second bounce on %s: suppressed %v, want %v: %s", tc.second, got, tc.suppressed, out)
		}
	}
}

// Without a terminal, import prints a line of progress at each interval.
func TestImportProgressLines(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := openStore(ctx, filepath.Join(dir, "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	an, err := newAnalyzer("en", 0)
	if err != nil {
		t.Fatal(err)
	}
	var progress, errOut syncBuffer
	in := &mailbox.Reader{MaxSize: int64(dsn.DefaultLimits.MaxMessageSize)}
	slow := slowAnalyzer{an, 30 * time.Millisecond}
	p := &importProgress{w: &progress, every: 10 * time.Millisecond, total: -1}
	sum := importMessages(ctx, slow, nil, st, in, []string{"testdata/ingest"}, p, &errOut)
	if sum.messages.Load() != 3 {
		t.Fatalf("imported %d messages: %s", sum.messages.Load(), errOut.String())
	}
	line := regexp.MustCompile(`^import: \d+ messages, \d+ records, 0 errors, \d+ msgs/s$`)
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) == 0 || !line.MatchString(lines[0]) {
		t.Errorf("progress lines:\n%s", progress.String())
	}

	if n := countMessages([]string{"testdata/ingest"}); n != 3 {
		t.Errorf("countMessages(folder) = %d, want 3", n)
	}
	if n := countMessages([]string{"testdata/ingest/failed-userunknown.eml", "-"}); n != -1 {
		t.Errorf("countMessages with stdin = %d, want -1", n)
	}
	box := poisonMbox(t, dir)
	if n := countMessages([]string{box}); n != -1 {
		t.Errorf("countMessages(mbox) = %d, want -1", n)
	}
}

// slowAnalyzer takes its time, so that progress is reported meanwhile.
type slowAnalyzer struct {
	bounce.MessageAnalyzer
	delay time.Duration
}

func (a slowAnalyzer) Analyze(data []byte, source string) ([]record.Record, *dsn.Report, error) {
	time.Sleep(a.delay)
	return a.MessageAnalyzer.Analyze(data, source)
}
