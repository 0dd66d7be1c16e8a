package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/mailbox"
	"github.com/rebound-mail/rebound/record"
)

const testDSN = "From: MAILER-DAEMON@mx.example.net\n" +
	"To: sender@example.org\n" +
	"Subject: Undelivered Mail Returned to Sender\n" +
	"MIME-Version: 1.0\n" +
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n" +
	"--b\nContent-Type: message/delivery-status\n\n" +
	"Reporting-MTA: dns; mx.example.net\n\n" +
	"Final-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n" +
	"Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n" +
	"Final-Recipient: rfc822; second-%s\nAction: failed\nStatus: 5.2.2\n" +
	"Diagnostic-Code: smtp; 552 5.2.2 mailbox full\n\n--b--\n"

func dsnFor(addr string) string {
	return strings.ReplaceAll(testDSN, "%s", addr)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseJSON(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "1.eml"), dsnFor("a@example.com"))
	writeFile(t, filepath.Join(dir, "2.eml"), "From: friend@example.com\nSubject: hello\n\nJust saying hello.\n")
	writeFile(t, filepath.Join(dir, "3.mbox"),
		"From x Thu Mar  5 12:00:00 2026\n"+dsnFor("b@example.com")+"\n"+
			"From y Thu Mar  5 12:00:00 2026\n"+dsnFor("c@example.com"))
	var out, errOut bytes.Buffer
	code := runParse([]string{"--json", dir}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	type row struct{ source, rcpt, status, smtp, format string }
	var got []row
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r record.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		rel, _ := filepath.Rel(dir, r.Source)
		got = append(got, row{rel + "#" + string(rune('0'+r.Index)), r.Recipient, r.Status, r.SMTPCode, r.Format})
	}
	want := []row{
		{"1.eml#1", "a@example.com", "5.1.1", "550", "rfc3464"},
		{"1.eml#2", "second-a@example.com", "5.2.2", "552", "rfc3464"},
		{"3.mbox#1", "b@example.com", "5.1.1", "550", "rfc3464"},
		{"3.mbox#2", "second-b@example.com", "5.2.2", "552", "rfc3464"},
		{"3.mbox#3", "c@example.com", "5.1.1", "550", "rfc3464"},
		{"3.mbox#4", "second-c@example.com", "5.2.2", "552", "rfc3464"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

func TestParseKeepsInputOrder(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 40 {
		p := filepath.Join(dir, string(rune('a'+i/26))+string(rune('a'+i%26))+".eml")
		writeFile(t, p, dsnFor(filepath.Base(p)+"@example.com"))
		paths = append(paths, p)
	}
	var out, errOut bytes.Buffer
	if code := runParse(append([]string{"--json"}, paths...), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 80 {
		t.Fatalf("%d records, want 80", len(lines))
	}
	for i, line := range lines {
		var r record.Record
		json.Unmarshal([]byte(line), &r)
		if r.Source != paths[i/2] {
			t.Fatalf("record %d from %s, want %s", i+1, r.Source, paths[i/2])
		}
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.eml")
	writeFile(t, good, dsnFor("a@example.com"))
	empty := filepath.Join(dir, "empty.eml")
	writeFile(t, empty, "")
	missing := filepath.Join(dir, "missing.eml")

	var out, errOut bytes.Buffer
	code := runParse([]string{"--json", missing, empty, good}, &out, &errOut)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	msg := errOut.String()
	for _, want := range []string{missing + ": no such file or directory", empty + ": dsn: empty message"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q does not say %q", msg, want)
		}
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("%d records after the failures, want 2", n)
	}
}

func TestParseUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--nope"}, {"--lang"}} {
		var out, errOut bytes.Buffer
		if code := runParse(args, &out, &errOut); code != 2 {
			t.Errorf("runParse(%q) = %d, want 2", args, code)
		}
		if !strings.Contains(errOut.String(), "usage: rebound parse") && !strings.Contains(errOut.String(), "flag") {
			t.Errorf("runParse(%q) printed no usage: %q", args, errOut.String())
		}
	}
}

func TestParseTable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.eml")
	writeFile(t, p, dsnFor("a@example.com"))
	var out, errOut bytes.Buffer
	if code := runParse([]string{p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SOURCE") {
		t.Fatalf("table:\n%s", out.String())
	}
	// Columns are aligned: RECIPIENT starts at the same offset on every line.
	col := strings.Index(lines[0], "RECIPIENT")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "a@example.com") && !strings.HasPrefix(l[col:], "second-a@example.com") {
			t.Errorf("misaligned row %q", l)
		}
	}
}

func TestParseStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old }()
	go func() {
		w.WriteString(dsnFor("in@example.com"))
		w.Close()
	}()
	var out, errOut bytes.Buffer
	if code := runParse([]string{"--json", "-"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"source":"-"`) || !strings.Contains(out.String(), "in@example.com") {
		t.Errorf("output %s", out.String())
	}
}

// poisonAnalyzer is the real analyzer, except that a message with the
// header field "X-Poison: yes" makes it slice past the end of a short
// value, as a decoder bug would.
type poisonAnalyzer struct{ real bounce.MessageAnalyzer }

func (a poisonAnalyzer) Analyze(msg []byte, source string) ([]record.Record, *dsn.Report, error) {
	if bytes.Contains(msg, []byte("\nX-Poison: yes\n")) {
		value, n := "255", 4
		_ = value[n:]
	}
	return a.real.Analyze(msg, source)
}

func newPoisonAnalyzer(t *testing.T) poisonAnalyzer {
	t.Helper()
	an, err := newAnalyzer("en", 0)
	if err != nil {
		t.Fatal(err)
	}
	return poisonAnalyzer{an}
}

// poisonMbox writes an mbox of three bounces, the second of which
// poisons the decoder, and returns its path.
func poisonMbox(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "bounces.mbox")
	poison := strings.Replace(dsnFor("b@example.com"), "\nMIME-Version:", "\nX-Poison: yes\nMIME-Version:", 1)
	writeFile(t, p, "From x Thu Mar  5 12:00:00 2026\n"+dsnFor("a@example.com")+"\n"+
		"From y Thu Mar  5 12:00:00 2026\n"+poison+"\n"+
		"From z Thu Mar  5 12:00:00 2026\n"+dsnFor("c@example.com"))
	return p
}

// A message that makes the decoder panic is named on stderr with its
// place in the mbox; the messages around it are still printed.
func TestParsePanicPerMessage(t *testing.T) {
	dir := t.TempDir()
	box := poisonMbox(t, dir)
	after := filepath.Join(dir, "after.eml")
	writeFile(t, after, dsnFor("d@example.com"))

	var out, errOut bytes.Buffer
	in := &mailbox.Reader{MaxSize: int64(dsn.DefaultLimits.MaxMessageSize)}
	status := parseInputs(newPoisonAnalyzer(t), in, []string{box, after}, true, &out, &errOut)
	if status != 1 {
		t.Errorf("exit %d, want 1", status)
	}
	msg := errOut.String()
	want := "rebound parse: " + box + ":2: decoder panic: runtime error: slice bounds out of range [4:3]\n"
	if !strings.HasPrefix(msg, want) {
		t.Errorf("stderr does not start %q:\n%s", want, msg)
	}
	if !strings.Contains(msg, "\tgithub.com/rebound-mail/rebound/cmd/rebound.poisonAnalyzer.Analyze") {
		t.Errorf("stderr holds no stack naming the panicking function:\n%s", msg)
	}
	var got []string
	for _, r := range decodeRecords(t, out.String()) {
		got = append(got, fmt.Sprintf("%s#%d %s", filepath.Base(r.Source), r.Index, r.Recipient))
	}
	wantRecs := []string{
		"bounces.mbox#1 a@example.com", "bounces.mbox#2 second-a@example.com",
		"bounces.mbox#3 c@example.com", "bounces.mbox#4 second-c@example.com",
		"after.eml#1 d@example.com", "after.eml#2 second-d@example.com",
	}
	if !slices.Equal(got, wantRecs) {
		t.Errorf("records\n got %q\nwant %q", got, wantRecs)
	}
}
