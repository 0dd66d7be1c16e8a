package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
)

// writeConfig writes a configuration file in a temporary folder.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rebound.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every command that reads a store or a setting takes it from --config;
// a flag given overrides the file.
func TestCommandsReadConfig(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	db := storeWithMessages(t,
		failureMessage("h", "gone@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Hour)),
		failureMessage("b", "x@contoso.example", record.ClassBlock, "blocked", "5.7.606", now.Add(-10*time.Minute)),
	)
	other := storeWithMessages(t)
	cfg := writeConfig(t, fmt.Sprintf("[store]\nurl = %q\n[suppression]\nincident_quiet = \"5m\"\n[classify]\nlanguage = \"nl\"\n", db))
	longQuiet := writeConfig(t, fmt.Sprintf("[store]\nurl = %q\n[suppression]\nincident_quiet = \"1h\"\n", db))

	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout
		not  string // not in stdout
	}{
		{"bounces", []string{"bounces", "--config", cfg}, 0, "gone@example.org", ""},
		{"bounces --db wins", []string{"bounces", "--config", cfg, "--db", other}, 0, "", "gone@example.org"},
		{"suppressions list", []string{"suppressions", "list", "--config", cfg}, 0, "gone@example.org", ""},
		{"suppressions check", []string{"suppressions", "check", "gone@example.org", "--config", cfg}, 0, "suppressed, cause hard", ""},
		{"suppressions export", []string{"suppressions", "export", "--config", cfg}, 0, `"gone@example.org","hard"`, ""},
		{"messages", []string{"messages", "--config", cfg}, 0, "rfc3464", ""},
		// Ten minutes without a block: closed after 5m of quiet, open
		// after 1h.
		{"incidents quiet 5m", []string{"incidents", "--config", cfg}, 0, "", "contoso.example"},
		{"incidents quiet 1h", []string{"incidents", "--config", longQuiet}, 0, "contoso.example", ""},
		{"explain in nl", []string{"explain", "--config", cfg, "5.1.1"}, 0, "betekenis", ""},
		{"explain --lang wins", []string{"explain", "--config", cfg, "--lang", "en", "5.1.1"}, 0, "meaning", "betekenis"},
		{"parse in nl", []string{"parse", "--config", cfg, "testdata/ingest/failed-userunknown.eml"}, 0, "nobody@dest.example", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMain(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) || tc.not != "" && strings.Contains(out, tc.not) {
				t.Errorf("%q: exit %d, want %d; stdout:\n%s\nstderr: %s", tc.args, code, tc.code, out, errOut)
			}
		})
	}

	// parse --json carries the explanation in the configured language.
	_, en, _ := runMain("parse", "--json", "testdata/ingest/failed-userunknown.eml")
	_, nl, _ := runMain("parse", "--json", "--config", cfg, "testdata/ingest/failed-userunknown.eml")
	if en == nl || en == "" {
		t.Errorf("parse --config with classify.language nl gave the English output:\n%s", nl)
	}

	// bench-lookup --seed fills the configured store.
	seeded := filepath.Join(t.TempDir(), "seed.db")
	seedCfg := writeConfig(t, fmt.Sprintf("[store]\nurl = %q\n", seeded))
	if code, _, errOut := runMain("bench-lookup", "--seed", "3", "--config", seedCfg); code != 0 {
		t.Fatalf("bench-lookup --seed --config: exit %d: %s", code, errOut)
	}
	if code, out, _ := runMain("suppressions", "list", "--db", seeded); code != 0 || strings.Count(out, "\n") != 3 {
		t.Errorf("seeded store lists:\n%s", out)
	}

	// A broken file stops every command.
	bad := writeConfig(t, "nosuch = 1\n")
	for _, args := range [][]string{{"bounces"}, {"incidents"}, {"messages"}, {"suppressions", "list"}, {"explain", "5.1.1"}} {
		code, _, errOut := runMain(append(args, "--config", bad)...)
		if code == 0 || !strings.Contains(errOut, `unknown option "nosuch"`) {
			t.Errorf("%q with a bad file: exit %d, %s", args, code, errOut)
		}
	}
}

// Reading commands open the store read-only: they never create one, say
// what is wrong with a store they cannot read, and read one on a
// read-only file or folder.
func TestReadCommandsNeverCreateStore(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.db")
	for _, args := range [][]string{
		{"bounces"}, {"incidents"}, {"messages"}, {"messages", "show", "1"}, {"messages", "raw", "1"},
		{"suppressions", "list"}, {"suppressions", "check", "a@example.org"}, {"suppressions", "export"},
	} {
		code, _, errOut := runMain(append(args, "--db", typo)...)
		if code == 0 || !strings.Contains(errOut, "no store at "+typo+" (give --db or store.url)") {
			t.Errorf("%q on a missing store: exit %d, %s", args, code, errOut)
		}
		if _, err := os.Stat(typo); err == nil {
			t.Fatalf("%q created %s", args, typo)
		}
	}
	noDir := filepath.Join(dir, "nosuch", "rebound.db")
	if code, _, errOut := runMain("bounces", "--db", noDir); code != 1 || !strings.Contains(errOut, "there is no folder "+filepath.Dir(noDir)) {
		t.Errorf("bounces in a missing folder: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Dir(noDir)); err == nil {
		t.Errorf("the missing folder was created")
	}

	// A read-only file, and a read-only folder without a -wal file.
	now := time.Now().UTC()
	db := storeWithMessages(t, failureMessage("h", "gone@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Hour)))
	roDir := filepath.Dir(db)
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(roDir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(roDir, 0o755) })
	for _, args := range [][]string{{"bounces"}, {"suppressions", "list"}, {"messages"}, {"incidents", "--all"}} {
		code, out, errOut := runAs(t, append(args, "--db", db)...)
		if code != 0 || args[0] != "incidents" && !strings.Contains(out, "gone@example.org") && !strings.Contains(out, "rfc3464") {
			t.Errorf("%q on a read-only store: exit %d, %s%s", args, code, out, errOut)
		}
	}
	entries, _ := os.ReadDir(roDir)
	if len(entries) != 1 {
		t.Errorf("reading made files beside the store: %v", entries)
	}

	// A file the user may not read.
	os.Chmod(roDir, 0o755)
	secret := storeWithMessages(t)
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runAs(t, "bounces", "--db", secret); code != 1 || !strings.Contains(errOut, "cannot read "+secret+": permission denied") {
		t.Errorf("bounces on an unreadable store: exit %d, %s", code, errOut)
	}
}

// A store written by an older build is not migrated by a read: the error
// says how to upgrade it.
func TestReadOldSchema(t *testing.T) {
	db := storeWithMessages(t)
	sdb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	var want int
	if err := sdb.QueryRow(`SELECT version FROM schema_version`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if _, err := sdb.Exec(`UPDATE schema_version SET version = version - 1`); err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	code, _, errOut := runMain("bounces", "--db", db)
	msg := fmt.Sprintf("store %s has schema version %d, this rebound needs %d: run rebound serve or import once to upgrade", db, want-1, want)
	if code != 1 || !strings.Contains(errOut, msg) {
		t.Errorf("bounces on an old store: exit %d, %s\nwant %s", code, errOut, msg)
	}
}

// TestHelperRun runs the command line after "--" when started by runAs.
func TestHelperRun(t *testing.T) {
	if os.Getenv("REBOUND_HELPER_RUN") != "1" {
		t.Skip("helper process")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// runAs runs the command line as an unprivileged user when the tests run
// as root, who may read and write any file: permissions are then real.
// Otherwise it runs it in this process.
func runAs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return runMain(args...)
	}
	// The test binary, where the unprivileged user may run it.
	bin := filepath.Join(t.TempDir(), "rebound.test")
	os.Chmod(filepath.Dir(bin), 0o755)
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	for _, a := range args {
		// Let the user reach the files: the folders above them.
		for d := filepath.Dir(a); strings.HasPrefix(d, os.TempDir()) && len(d) > len(os.TempDir()); d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 == 0 {
				os.Chmod(d, fi.Mode().Perm()|0o055)
			}
		}
	}
	cmd := exec.Command(bin, append([]string{"-test.run=^TestHelperRun$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "REBOUND_HELPER_RUN=1")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func TestConfigCheck(t *testing.T) {
	good := writeConfig(t, "domains = [\"bounces.example.com\"]\n")
	if code, out, errOut := runMain("config", "check", "--config", good); code != 0 || out != "ok: "+good+"\n" {
		t.Errorf("check good: exit %d, %q %s", code, out, errOut)
	}
	if code, out, _ := runMain("config", "check"); code != 0 || out != "ok: (defaults)\n" {
		t.Errorf("check defaults: exit %d, %q", code, out)
	}
	bad := writeConfig(t, "domains = []\nlog_level = \"loud\"\n[listener]\nlisten = \"nowhere\"\n")
	code, out, errOut := runMain("config", "check", "--config", bad)
	for _, want := range []string{"domains: at least one bounce domain", `log_level: "loud"`, `listener.listen: "nowhere"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check bad: %q missing from\n%s", want, errOut)
		}
	}
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 3 {
		t.Errorf("check bad: exit %d, stdout %q, stderr\n%s", code, out, errOut)
	}
	// Secrets are resolved: a missing secret file is an error.
	noSecret := writeConfig(t, "[[api.tokens]]\nname = \"ops\"\ntoken_file = \"/nonexistent/token\"\nscopes = [\"read\"]\n")
	if code, _, errOut := runMain("config", "check", "--config", noSecret); code != 1 || !strings.Contains(errOut, "token_file") {
		t.Errorf("check missing secret file: exit %d, %s", code, errOut)
	}
	t.Setenv(config.VERPKeysEnv, "k1")
	if code, _, errOut := runMain("config", "check", "--config", good); code != 1 || !strings.Contains(errOut, config.VERPKeysEnv+`: entry "k1": want id:secret`) {
		t.Errorf("check with a bad %s: exit %d, %s", config.VERPKeysEnv, code, errOut)
	}
}

func TestConfigShow(t *testing.T) {
	text := `domains = ["bounces.example.com", "b.example.net"]
log_level = "debug"
[store]
url = "/var/lib/rebound/rebound.db"
[suppression]
soft_threshold = 2
soft_window = "7d"
[relay]
upstream = "127.0.0.1:25"
domains = {"b.example.net" = "forward"}
`
	path := writeConfig(t, text)
	want, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, all := range []bool{false, true} {
		args := []string{"config", "show", "--config", path}
		if all {
			args = append(args, "--all")
		}
		code, out, errOut := runMain(args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		got, err := config.Parse([]byte(out))
		if err != nil {
			t.Fatalf("%q output does not parse: %v\n%s", args, err, out)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q output parses to\n%+v\nwant\n%+v", args, got, want)
		}
		var m map[string]any
		if _, err := toml.Decode(out, &m); err != nil {
			t.Fatal(err)
		}
		_, hasAPI := m["api"]
		if all != hasAPI {
			t.Errorf("%q: [api] shown %v, want %v (it has its defaults):\n%s", args, hasAPI, all, out)
		}
		if !strings.Contains(out, "soft_threshold = 2") || all != strings.Contains(out, "max_recipients = 100") {
			t.Errorf("%q:\n%s", args, out)
		}
	}

	// Secrets are shown as set, never as they are.
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n"), 0o600)
	withSecrets := writeConfig(t, `[[api.tokens]]
name = "ops"
token = "token-token-token-1234"
scopes = ["read"]
[[webhooks.endpoints]]
name = "crm"
url = "https://crm.example.com/hook"
secret_file = "`+secretFile+`"
`)
	code, out, errOut := runMain("config", "show", "--config", withSecrets)
	if code != 0 || strings.Contains(out, "token-token-token-1234") || strings.Contains(out, "c2VjcmV0") ||
		strings.Count(out, `"(set)"`) != 2 {
		t.Errorf("show with secrets: exit %d, %s\n%s", code, out, errOut)
	}
}

// The store a read command opens refuses writes.
func TestReadOnlyStoreRefusesWrites(t *testing.T) {
	db := storeWithMessages(t)
	st, err := openReadStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Save(context.Background(), failureMessage("w", "a@example.org", record.ClassHard, "userunknown", "5.1.1", time.Now())); err == nil {
		t.Errorf("Save on a read-only store succeeded")
	}
}
