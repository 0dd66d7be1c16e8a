package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// verdictMessage is a message with one record of class for rcpt whose
// verdict has the given confidence and evidence.
func verdictMessage(tag, rcpt, class, confidence, evidence string, at time.Time) *store.Message {
	reason := map[string]string{record.ClassHard: "userunknown", record.ClassSoft: "mailboxfull"}[class]
	m := failureMessage(tag, rcpt, class, reason, "5.1.1", at)
	m.Records[0].Confidence = confidence
	m.Records[0].Evidence = evidence
	return m
}

// storeWithPolicy is storeWithMessages for a store scored by policy.
func storeWithPolicy(t *testing.T, db string, policy suppress.Policy, msgs ...*store.Message) {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, db, store.Options{Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if _, err := st.Save(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

const weakEvidence = "reply phrase \"user unknown\";\nbut status 4.4.7 and the Exim profile say delayed"

func TestBouncesConfidence(t *testing.T) {
	now := time.Now().UTC()
	db := storeWithMessages(t,
		verdictMessage("sure", "sure@example.org", record.ClassHard, record.ConfidenceHigh, "status 5.1.1 and reply phrase agree", now.Add(-3*time.Hour)),
		verdictMessage("weak", "weak@example.org", record.ClassHard, record.ConfidenceLow, weakEvidence, now.Add(-2*time.Hour)),
		// Stored the way records were before confidence was recorded.
		verdictMessage("old", "old@example.org", record.ClassHard, "", "", now.Add(-time.Hour)),
	)

	code, out, errOut := runMain("bounces", "--oldest", "--db", db)
	if code != 0 {
		t.Fatalf("bounces: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("bounces table:\n%s", out)
	}
	col := strings.Index(lines[0], "CONF")
	if col < 0 || strings.Contains(lines[0], "EVIDENCE") {
		t.Fatalf("bounces header %q: want CONF and no EVIDENCE", lines[0])
	}
	for i, want := range []string{"high", "low", "-"} {
		if !strings.HasPrefix(lines[i+1][col:], want+" ") {
			t.Errorf("row %q: CONF is not %q", lines[i+1], want)
		}
	}

	for _, tc := range []struct {
		confidence string
		want       []string
	}{
		{"low", []string{"weak@example.org"}},
		// high takes the records stored before confidence was recorded:
		// the policy scored them as sure.
		{"high", []string{"sure@example.org", "old@example.org"}},
	} {
		code, out, errOut := runMain("bounces", "--json", "--oldest", "--confidence", tc.confidence, "--db", db)
		if code != 0 {
			t.Fatalf("--confidence %s: exit %d: %s", tc.confidence, code, errOut)
		}
		var got []string
		for _, r := range decodeRecords(t, out) {
			got = append(got, r.Recipient)
			if r.Recipient == "weak@example.org" && (r.Confidence != record.ConfidenceLow || r.Evidence != weakEvidence) {
				t.Errorf("--json: confidence %q evidence %q, want low and the stored evidence", r.Confidence, r.Evidence)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("--confidence %s: %q, want %q", tc.confidence, got, tc.want)
		}
	}

	code, out, errOut = runMain("bounces", "--verbose", "--confidence", "low", "--db", db)
	if code != 0 {
		t.Fatalf("--verbose: exit %d: %s", code, errOut)
	}
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "EVIDENCE") ||
		!strings.HasSuffix(lines[1], `reply phrase "user unknown"; but status 4.4.7 and the Exim profile say delayed`) {
		t.Errorf("--verbose: want the evidence whole, on one line:\n%s", out)
	}

	code, _, errOut = runMain("bounces", "--confidence", "medium", "--db", db)
	if code != 2 || !strings.Contains(errOut, `--confidence "medium": want high or low`) {
		t.Errorf("--confidence medium: exit %d, stderr %q", code, errOut)
	}
}

func TestParseTableConfidence(t *testing.T) {
	code, out, errOut := runMain("parse", "testdata/ingest/failed-userunknown.eml")
	if code != 0 {
		t.Fatalf("parse: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	col := strings.Index(lines[0], "CONF")
	if len(lines) != 2 || col < 0 {
		t.Fatalf("parse table without CONF:\n%s", out)
	}
	if conf := strings.Fields(lines[1][col:])[0]; conf != record.ConfidenceHigh && conf != record.ConfidenceLow {
		t.Errorf("CONF %q, want high or low:\n%s", conf, out)
	}
}

func TestSuppressionsLowConfidence(t *testing.T) {
	now := time.Now().UTC()
	p := suppress.DefaultPolicy
	var msgs []*store.Message
	msgs = append(msgs, verdictMessage("once", "once@example.org", record.ClassHard, record.ConfidenceLow, weakEvidence, now.Add(-time.Hour)))
	for i := range p.SoftThreshold {
		at := now.Add(-time.Duration(p.SoftThreshold-i) * time.Hour)
		msgs = append(msgs, verdictMessage(fmt.Sprintf("often-%d", i), "often@example.org", record.ClassHard, record.ConfidenceLow,
			fmt.Sprintf("weak clue %d", i), at))
	}
	msgs = append(msgs, verdictMessage("sure", "sure@example.org", record.ClassHard, record.ConfidenceHigh, "status 5.1.1", now.Add(-time.Hour)))
	db := storeWithMessages(t, msgs...)
	// Scored under low_confidence_hard = "suppress", in the same store.
	storeWithPolicy(t, db, suppress.Policy{LowConfidenceHard: suppress.LowConfidenceSuppress},
		verdictMessage("at-once", "at-once@example.org", record.ClassHard, record.ConfidenceLow, "only a provider rule said hard", now.Add(-time.Hour)))

	for _, tc := range []struct {
		addr   string
		code   int
		stdout []string // substrings, in order
		not    string
	}{
		{"once@example.org", 1, []string{
			"once@example.org: not suppressed; 1 hard bounce with low confidence did not suppress it",
			"they count as soft bounces",
			"hard, low confidence  5.1.1 userunknown: " + `reply phrase "user unknown"; but status 4.4.7`}, ""},
		{"often@example.org", 0, []string{
			"often@example.org: suppressed, cause soft (userunknown)",
			fmt.Sprintf("%d records as evidence, all hard bounces with low confidence (counted as soft bounces)", p.SoftThreshold),
			"weak clue 0", "weak clue 1", fmt.Sprintf("weak clue %d", p.SoftThreshold-1)}, ""},
		{"at-once@example.org", 0, []string{
			"at-once@example.org: suppressed, cause hard (userunknown)",
			`a hard bounce with low confidence (suppressed at once, as suppression.low_confidence_hard = "suppress" makes them)`,
			"only a provider rule said hard"}, ""},
		{"sure@example.org", 0, []string{"sure@example.org: suppressed, cause hard (userunknown)", "1 record as evidence\n"}, "low confidence"},
		{"nobody@example.org", 1, []string{"nobody@example.org: not suppressed\n"}, "low confidence"},
	} {
		code, out, errOut := runMain("suppressions", "check", tc.addr, "--db", db)
		if code != tc.code {
			t.Errorf("check %s: exit %d, want %d (stderr %q)", tc.addr, code, tc.code, errOut)
		}
		rest := out
		for _, want := range tc.stdout {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Errorf("check %s: stdout %q lacks %q", tc.addr, out, want)
				break
			}
			rest = rest[i+len(want):]
		}
		if tc.not != "" && strings.Contains(out, tc.not) {
			t.Errorf("check %s: stdout %q holds %q", tc.addr, out, tc.not)
		}
	}

	// list stays one address per line; --verbose says why beside each.
	code, out, _ := runMain("suppressions", "list", "--db", db)
	if code != 0 || out != "at-once@example.org\noften@example.org\nsure@example.org\n" {
		t.Errorf("list: exit %d, %q", code, out)
	}
	code, out, _ = runMain("suppressions", "list", "--verbose", "--db", db)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "at-once@example.org  cause hard") || !strings.Contains(lines[0], "a hard bounce with low confidence") ||
		!strings.HasPrefix(lines[1], "often@example.org    cause soft") || !strings.Contains(lines[1], "counted as soft bounces") ||
		!strings.HasPrefix(lines[2], "sure@example.org     cause hard") || strings.Contains(lines[2], "low confidence") {
		t.Errorf("list --verbose: exit %d:\n%s", code, out)
	}
	code, out, _ = runMain("suppressions", "list", "--json", "--db", db)
	var marks []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var s store.Suppression
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("list --json: %q: %v", line, err)
		}
		marks = append(marks, fmt.Sprintf("%s %d/%d", s.Address, len(s.LowConfidence), len(s.Evidence)))
	}
	if want := fmt.Sprintf("at-once@example.org 1/1 often@example.org %d/%d sure@example.org 0/1", p.SoftThreshold, p.SoftThreshold); code != 0 || strings.Join(marks, " ") != want {
		t.Errorf("list --json low-confidence marks: %q, want %q", marks, want)
	}
}

// TestImportConfig imports with the configuration rebound serve reads: its
// store and its suppression policy.
func TestImportConfig(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "from-config.db")
	conf := filepath.Join(dir, "rebound.toml")
	writeFile(t, conf, fmt.Sprintf("domains = [\"bounces.example.org\"]\n[store]\nurl = %q\n[suppression]\nlow_confidence_hard = \"suppress\"\n", db))
	status, out, errs := runCmd(t, importCmd, "--config", conf, "testdata/ingest")
	if status != 0 || !strings.Contains(out, "2 records") {
		t.Fatalf("import --config: %d %q %s", status, out, errs)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("import --config did not use the configured store: %v", err)
	}

	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dbFlagValue := dbFlag(fs)
	lang := fs.String("lang", "en", "")
	if err := fs.Parse([]string{"--db", filepath.Join(dir, "flag.db")}); err != nil {
		t.Fatal(err)
	}
	url, opts, language, err := importSettings(fs, conf, *dbFlagValue, *lang)
	if err != nil {
		t.Fatal(err)
	}
	if url != filepath.Join(dir, "flag.db") || language != "en" || opts.Policy.LowConfidenceHard != suppress.LowConfidenceSuppress {
		t.Errorf("importSettings: %q %q %+v; want the --db flag over the file, and the file's policy", url, language, opts.Policy)
	}
	// Without a file, the defaults: what rebound import did before --config.
	url, opts, _, err = importSettings(flag.NewFlagSet("import", flag.ContinueOnError), "", "", "")
	if err != nil || url != defaultDB || opts.Policy.LowConfidenceHard != suppress.LowConfidenceSoft {
		t.Errorf("importSettings without a file: %q %+v %v", url, opts.Policy, err)
	}

	writeFile(t, conf, "[suppression]\nlow_confidence_hard = \"never\"\n")
	status, _, errs = runCmd(t, importCmd, "--config", conf, "testdata/ingest")
	if status == 0 || !strings.Contains(errs, `line 2: suppression.low_confidence_hard: "never": want soft, suppress or ignore`) {
		t.Errorf("import with a bad low_confidence_hard: %d %q", status, errs)
	}
	status, _, errs = runCmd(t, serveCmd, "--config", conf)
	if status == 0 || !strings.Contains(errs, `line 2: suppression.low_confidence_hard`) {
		t.Errorf("serve with a bad low_confidence_hard: %d %q", status, errs)
	}
}

// TestServeStoreOptions checks that rebound serve opens its store with the
// configured treatment of low-confidence hard bounces.
func TestServeStoreOptions(t *testing.T) {
	cfg, err := config.Parse([]byte("[suppression]\nlow_confidence_hard = \"ignore\"\nsoft_threshold = 2\n[store]\nbatch_size = 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts := storeOptions(&cfg)
	if opts.Policy.LowConfidenceHard != suppress.LowConfidenceIgnore || opts.Policy.SoftThreshold != 2 || opts.BatchSize != 7 {
		t.Errorf("storeOptions = %+v", opts)
	}
}

func TestBouncesByMessageID(t *testing.T) {
	now := time.Now().UTC()
	first := failureMessage("one", "one@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-2*time.Hour))
	first.Records[0].OriginalMessageID = "<newsletter-12.a@sender.example>"
	second := failureMessage("two", "two@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Hour))
	second.Records[0].OriginalMessageID = "<newsletter-12.b@sender.example>"
	db := storeWithMessages(t, first, second)
	for _, id := range []string{"newsletter-12.a@sender.example", "<newsletter-12.a@sender.example>"} {
		code, out, errOut := runMain("bounces", "--json", "--message-id", id, "--db", db)
		if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "one@example.org") {
			t.Errorf("bounces --message-id %s: exit %d, out %q, err %q", id, code, out, errOut)
		}
	}
}
