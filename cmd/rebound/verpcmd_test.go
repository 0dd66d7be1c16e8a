package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/record"
)

func TestVERPCommand(t *testing.T) {
	t.Setenv("REBOUND_VERP_KEYS", "k1:command-test-secret-0123")
	dir := t.TempDir()
	db := filepath.Join(dir, "rebound.db")

	code, out, errOut := runMain("verp", "encode", "--db", db, "--domain", "bounces.example.net", "jane@example.com", "Jane.Doe@Example.com")
	if code != 0 {
		t.Fatalf("encode: %d %s", code, errOut)
	}
	paths := strings.Fields(out)
	if len(paths) != 2 || !strings.HasPrefix(paths[0], "b+k1+") || !strings.HasSuffix(paths[0], "+jane=example.com@bounces.example.net") {
		t.Fatalf("encode printed %q", out)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("encoding short recipients created the store: %v", err)
	}
	for i, want := range []string{"jane@example.com", "Jane.Doe@Example.com"} {
		code, out, errOut = runMain("verp", "decode", paths[i])
		if code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("decode %s: %d %q %q, want %s", paths[i], code, out, errOut, want)
		}
	}
	// Servers that change the case of the local part.
	code, out, _ = runMain("verp", "decode", strings.ToUpper(paths[0]))
	if code != 0 || strings.TrimSpace(out) != "jane@example.com" {
		t.Errorf("decode of the upper-cased return path: %d %q", code, out)
	}

	// A recipient too long to carry is kept as a token in the store.
	long := strings.Repeat("a", 40) + "@" + strings.Repeat("sub.", 6) + "example.com"
	code, out, errOut = runMain("verp", "encode", "--db", db, "--domain", "bounces.example.net", long)
	if code != 0 {
		t.Fatalf("encode long: %d %s", code, errOut)
	}
	rp := strings.TrimSpace(out)
	if at := strings.IndexByte(rp, '@'); at > 64 {
		t.Errorf("return path %q has a local part of %d octets", rp, at)
	}
	if code, out, errOut = runMain("verp", "decode", "--db", db, rp); code != 0 || strings.TrimSpace(out) != long {
		t.Errorf("decode long: %d %q %q", code, out, errOut)
	}

	// Refusals: exit 1 and the reason.
	tampered := strings.Replace(paths[0], "+jane=", "+joan=", 1)
	for _, tt := range []struct{ arg, want string }{
		{tampered, "tag does not verify"},
		{strings.Replace(paths[0], "+k1+", "+k9+", 1), `unknown key "k9"`},
		{"b+garbage@bounces.example.net", `local part "b+garbage": want b+keyid+daytag+payload`},
	} {
		code, out, errOut = runMain("verp", "decode", tt.arg)
		if code != 1 || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("decode %s: %d %q %q, want 1 and %q", tt.arg, code, out, errOut, tt.want)
		}
	}
	code, _, errOut = runMain("verp", "encode", "--domain", "bounces.example.net", "not an address")
	if code != 1 || !strings.Contains(errOut, `"not an address"`) {
		t.Errorf("encode of no address: %d %q", code, errOut)
	}

	// Usage and missing keys.
	if code, _, _ = runMain("verp"); code != 2 {
		t.Errorf("no subcommand: %d", code)
	}
	if code, _, _ = runMain("verp", "decode"); code != 2 {
		t.Errorf("decode without argument: %d", code)
	}
	if code, _, _ = runMain("verp", "sign", "x"); code != 2 {
		t.Errorf("unknown subcommand: %d", code)
	}
	t.Setenv("REBOUND_VERP_KEYS", "")
	if code, _, errOut = runMain("verp", "encode", "jane@example.com"); code != 1 || !strings.Contains(errOut, "no keys") {
		t.Errorf("without keys: %d %q", code, errOut)
	}
}

// TestImportAuthentication imports reports as a mailbox keeps them: one
// delivered to a signed return path (Delivered-To), one to a forged one,
// one unsigned. Only the signed one suppresses under the default policy;
// with --unsigned trust, the unsigned one does too.
func TestImportAuthentication(t *testing.T) {
	t.Setenv("REBOUND_VERP_KEYS", "k1:command-test-secret-0123")
	dir := t.TempDir()
	db := filepath.Join(dir, "rebound.db")
	code, out, errOut := runMain("verp", "encode", "--domain", "bounces.example.net", "signed@dest.example")
	if code != 0 {
		t.Fatalf("encode: %s", errOut)
	}
	rp := strings.TrimSpace(out)
	forged := strings.Replace(rp, "+signed=", "+forged=", 1)
	box := filepath.Join(dir, "in")
	os.Mkdir(box, 0o755)
	write := func(name, deliveredTo, rcpt string) {
		msg := "Delivered-To: " + deliveredTo + "\n" + string(reportFor([]string{rcpt}, "<"+name+"@sender.example>"))
		if err := os.WriteFile(filepath.Join(box, name+".eml"), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("signed", rp, "signed@dest.example")
	write("forged", forged, "forged@dest.example")
	write("unsigned", "bounces@bounces.example.net", "unsigned@dest.example")
	if code, out, errOut = runMain("import", "--db", db, box); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	code, out, _ = runMain("bounces", "--json", "--db", db)
	auth := map[string]string{}
	for _, r := range decodeRecords(t, out) {
		auth[r.Recipient] = r.Auth
	}
	if auth["signed@dest.example"] != record.AuthVERP || auth["forged@dest.example"] != record.AuthFailed || auth["unsigned@dest.example"] != record.AuthNone {
		t.Errorf("auth by recipient: %v", auth)
	}
	code, out, _ = runMain("suppressions", "list", "--db", db)
	if !strings.Contains(out, "signed@dest.example") || strings.Contains(out, "forged@") || strings.Contains(out, "unsigned@") {
		t.Errorf("suppressions after import:\n%s", out)
	}

	db2 := filepath.Join(dir, "trust.db")
	if code, out, errOut = runMain("import", "--db", db2, "--unsigned", "trust", box); code != 0 {
		t.Fatalf("import --unsigned trust: %d %s", code, errOut)
	}
	code, out, _ = runMain("suppressions", "list", "--db", db2)
	if !strings.Contains(out, "unsigned@dest.example") || strings.Contains(out, "forged@") {
		t.Errorf("suppressions after import --unsigned trust:\n%s", out)
	}
	if code, _, errOut = runMain("import", "--db", db2, "--unsigned", "maybe", box); code != 1 || !strings.Contains(errOut, "maybe") {
		t.Errorf("bad --unsigned: %d %q", code, errOut)
	}
}
