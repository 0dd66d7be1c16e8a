package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// seedStore creates a SQLite store in a temporary folder holding msgs and
// returns its path.
func storeWithMessages(t *testing.T, msgs ...*store.Message) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "rebound.db")
	ctx := context.Background()
	st, err := openStore(ctx, db, store.Options{})
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
	return db
}

// failure is a message with one record of class for rcpt at time at.
func failureMessage(tag, rcpt, class, reason, status string, at time.Time) *store.Message {
	return &store.Message{
		ReceivedAt: at,
		Source:     "smtp",
		Raw:        []byte("Subject: failure " + tag + "\r\n\r\n" + rcpt + "\r\n"),
		Format:     "rfc3464",
		Records: []record.Record{{
			Index: 1, Recipient: rcpt, Action: "failed", Status: status, Reason: reason, Class: class,
			Diagnostic: "550 " + status + " refused", RemoteMTA: "mx.example.net",
			OriginalMessageID: "<" + tag + "@sender.example>", ReceivedAt: at,
		}},
	}
}

func runMain(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSuppressions(t *testing.T) {
	now := time.Now().UTC()
	db := storeWithMessages(t,
		failureMessage("h1", "Gone@Example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Hour)),
		failureMessage("b1", "fine@example.org", record.ClassBlock, "blocked", "5.7.1", now.Add(-time.Hour)),
	)
	steps := []struct {
		args    []string
		code    int
		stdout  []string // substrings, in order
		stderr  string
		noLines []string // lines stdout must not hold
	}{
		{args: []string{"list"}, code: 0, stdout: []string{"gone@example.org\n"}, noLines: []string{"fine@example.org"}},
		{args: []string{"check", "GONE@example.org"}, code: 0, stdout: []string{"gone@example.org: suppressed, cause hard (userunknown)", "no expiry", "1 record as evidence"}},
		{args: []string{"check", "fine@example.org"}, code: 1, stdout: []string{"fine@example.org: not suppressed"}},
		{args: []string{"add", "asked@example.com", "--reason", "asked by phone"}, code: 0, stdout: []string{"asked@example.com: suppressed, cause manual (asked by phone)", "no expiry"}},
		{args: []string{"add", "--reason", "pause", "--expires", "2d", "pause@example.com"}, code: 0, stdout: []string{"pause@example.com: suppressed, cause manual (pause)", "until "}},
		{args: []string{"list"}, code: 0, stdout: []string{"asked@example.com\ngone@example.org\npause@example.com\n"}},
		{args: []string{"check", "pause@example.com"}, code: 0, stdout: []string{"until " + now.Add(48*time.Hour).Format("2006-01-02")}},
		{args: []string{"remove", "asked@example.com"}, code: 0, stdout: []string{"asked@example.com: suppression removed"}},
		{args: []string{"remove", "asked@example.com"}, code: 0, stdout: []string{"asked@example.com: was not suppressed"}},
		{args: []string{"check", "asked@example.com"}, code: 1, stdout: []string{"not suppressed"}},
		{args: []string{"add", "x@example.com"}, code: 2, stderr: "--reason is required"},
		{args: []string{"add", "x@example.com", "--reason", "r", "--expires", "soon"}, code: 2, stderr: "--expires"},
		{args: []string{"check"}, code: 2, stderr: "want one ADDRESS"},
		{args: []string{"check", "not-an-address"}, code: 2, stderr: "is not an address"},
		{args: []string{"list", "extra"}, code: 2, stderr: "unexpected argument"},
		{args: []string{"purge"}, code: 2, stderr: "unknown subcommand"},
	}
	for _, st := range steps {
		name := strings.Join(st.args, " ")
		code, out, errOut := runMain(append(append([]string{"suppressions"}, st.args...), "--db", db)...)
		if code != st.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", name, code, st.code, errOut)
		}
		rest := out
		for _, want := range st.stdout {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Errorf("%s: stdout %q lacks %q", name, out, want)
				break
			}
			rest = rest[i+len(want):]
		}
		for _, bad := range st.noLines {
			if strings.Contains(out, bad) {
				t.Errorf("%s: stdout %q holds %q", name, out, bad)
			}
		}
		if st.stderr != "" && !strings.Contains(errOut, st.stderr) {
			t.Errorf("%s: stderr %q lacks %q", name, errOut, st.stderr)
		}
	}

	// --json: one object per line, with cause and evidence.
	code, out, errOut := runMain("suppressions", "list", "--json", "--db", db)
	if code != 0 {
		t.Fatalf("list --json: exit %d: %s", code, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var s store.Suppression
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("list --json: %q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %v", s.Address, s.Cause, len(s.Evidence), s.Expires.IsZero()))
	}
	want := []string{"gone@example.org hard 1 true", "pause@example.com manual 0 false"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("list --json: %q, want %q", got, want)
	}

	// export --csv
	code, out, errOut = runMain("suppressions", "export", "--csv", "--db", db)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != "address,cause,reason,since,expires,evidence" {
		t.Fatalf("export: %q", rows)
	}
	if r := rows[1]; r[0] != "gone@example.org" || r[1] != "hard" || r[2] != "userunknown" || r[4] != "" || len(r[5]) != 32 {
		t.Errorf("export row %q", r)
	}
	if r := rows[2]; r[0] != "pause@example.com" || r[1] != "manual" || r[4] == "" || r[5] != "" {
		t.Errorf("export row %q", r)
	}
	if _, err := time.Parse(time.RFC3339, rows[2][3]); err != nil {
		t.Errorf("export since: %v", err)
	}
}

func TestSuppressionsBadStore(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	for _, args := range [][]string{
		// check must not answer "not suppressed" (1) when it cannot tell.
		{"suppressions", "check", "a@example.org", "--db", "nosuchscheme://x"},
		{"suppressions", "check", "a@example.org", "--db", missing},
		{"suppressions", "list", "--db", missing},
	} {
		code, _, errOut := runMain(args...)
		if code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and an error", args, code, errOut)
		}
	}
	if code, _, _ := runMain("incidents", "--db", missing); code != 1 {
		t.Errorf("incidents on a missing store: exit %d, want 1", code)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("reading a missing store created it")
	}
	// add starts a store.
	if code, _, errOut := runMain("suppressions", "add", "a@example.org", "--reason", "r", "--db", missing); code != 0 {
		t.Errorf("add to a new store: exit %d: %s", code, errOut)
	}
}

// TestSuppressionsNotAnAddress checks that what is no address is refused
// with a reason and exit 2, and that nothing is stored.
func TestSuppressionsNotAnAddress(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rebound.db")
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"add", "@", "--reason", "r"}, `rebound suppressions add: "@" is not an address: empty local part`},
		{[]string{"add", "user@", "--reason", "r"}, "empty domain"},
		{[]string{"add", "a\r\nb@example.org", "--reason", "r"}, `"a\r\nb@example.org" is not an address: control character U+000D at byte 1`},
		{[]string{"add", strings.Repeat("x", 5000) + "@example.org", "--reason", "r"}, "local part is 5000 octets, more than the 64"},
		{[]string{"add", "user@exa_mple.org", "--reason", "r"}, "character '_' not allowed in a domain"},
		{[]string{"check", "a\x00b@example.org"}, "control character U+0000"},
		{[]string{"remove", "two words@example.org"}, "allowed only in a quoted local part"},
	} {
		code, out, errOut := runMain(append(append([]string{"suppressions"}, tt.args...), "--db", db)...)
		if code != 2 || !strings.Contains(errOut, tt.stderr) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, errOut, tt.stderr)
		}
		if len(errOut) > 300 {
			t.Errorf("%q: stderr of %d bytes repeats the whole input", tt.args[:1], len(errOut))
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("a refused address created the store")
	}
	// The same addresses, spelled properly, are taken.
	for _, addr := range []string{`"a b"@Example.org`, "jörg@Bücher.example"} {
		if code, _, errOut := runMain("suppressions", "add", addr, "--reason", "r", "--db", db); code != 0 {
			t.Errorf("add %q: exit %d: %s", addr, code, errOut)
		}
	}
	code, out, _ := runMain("suppressions", "list", "--db", db)
	if want := "\"a b\"@example.org\njörg@xn--bcher-kva.example\n"; code != 0 || out != want {
		t.Errorf("list: exit %d, %q; want %q", code, out, want)
	}
}

// TestSuppressionsExportFormulas checks that no cell of the CSV export
// starts what a spreadsheet runs as a formula, and that every cell is
// quoted.
func TestSuppressionsExportFormulas(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rebound.db")
	for _, a := range []struct{ addr, reason string }{
		{"=cmd@example.org", "plain"},
		{"+31@example.org", "@SUM(1+1)*cmd|' /C calc'!A0"},
		{"-minus@example.org", "=HYPERLINK(\"http://evil.example/\",\"click\")"},
		{"quiet@example.org", "\tTab"},
		{"cr@example.org", "\rCR"},
		{"wide@example.org", "＝1+2"},
		{"semi@example.org", "a;=1+2,b"},
		{"safe@example.org", "asked by phone"},
	} {
		// "--": an address may start with "-".
		if code, _, errOut := runMain("suppressions", "add", "--reason", a.reason, "--db", db, "--", a.addr); code != 0 {
			t.Fatalf("add %q: exit %d: %s", a.addr, code, errOut)
		}
	}
	code, out, errOut := runMain("suppressions", "export", "--csv", "--db", db)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("export is no CSV: %v\n%s", err, out)
	}
	got := map[string]string{} // address cell → reason cell
	for _, r := range rows[1:] {
		got[r[0]] = r[2]
		for i, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r＝", []rune(cell)[0]) {
				t.Errorf("row %q: cell %d %q starts a formula", r, i, cell)
			}
		}
	}
	want := map[string]string{
		"'=cmd@example.org":   "plain",
		"'+31@example.org":    "'@SUM(1+1)*cmd|' /C calc'!A0",
		"'-minus@example.org": "'=HYPERLINK(\"http://evil.example/\",\"click\")",
		"quiet@example.org":   "'\tTab",
		"cr@example.org":      "'\rCR",
		"wide@example.org":    "'＝1+2",
		"semi@example.org":    "a;=1+2,b",
		"safe@example.org":    "asked by phone",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("export cells:\n got %q\nwant %q", got, want)
	}
	// Every field quoted: read with ';' as the separator, no cell starts
	// a formula either.
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, `"`) || strings.Contains(line, `",=`) || strings.Contains(line, `;=`) && !strings.Contains(line, `"a;=1+2,b"`) {
			t.Errorf("line not quoted field by field: %q", line)
		}
	}
	if !strings.Contains(out, `"'-minus@example.org","manual","'=HYPERLINK(""http://evil.example/"",""click"")",`) {
		t.Errorf("export does not quote and escape as RFC 4180 says:\n%s", out)
	}
}

// TestSuppressionsListOldAddresses checks that an address stored before
// addresses were checked, control characters and all, is listed on one
// line, escaped.
func TestSuppressionsListOldAddresses(t *testing.T) {
	db := storeWithMessages(t)
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(`INSERT INTO addresses (address, soft_count, window_start, last_bounce, suppressed,
		cause, reason, since, expires, evidence) VALUES (?, 0, 0, 0, 1, 'hard', 'userunknown', 1, 0, '[]')`,
		"evil\r\nforged@example.org")
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"list"}, {"list", "--verbose"}} {
		code, out, errOut := runMain(append(append([]string{"suppressions"}, args...), "--db", db)...)
		if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, `"evil\r\nforged@example.org"`) {
			t.Errorf("%v: exit %d, %q (%s); want one escaped line", args, code, out, errOut)
		}
	}
}
