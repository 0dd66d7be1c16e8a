package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuthnErrors(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"prefix", "[verp]\nprefix = \"B+\"\n", "verp.prefix"},
		{"prefix long", "[verp]\nprefix = \"abcdefghi\"\n", "verp.prefix"},
		{"max age", "[verp]\nmax_age = \"1000d\"\n", "verp.max_age"},
		{"on failure", "[verp]\non_failure = \"drop\"\n", `verp.on_failure: "drop": want reject or accept`},
		{"key id", "[[verp.keys]]\nsecret = \"0123456789abcdef\"\n", "verp.keys[0]: id is required"},
		{"key twice", "[[verp.keys]]\nid = \"k1\"\nsecret = \"0123456789abcdef\"\n[[verp.keys]]\nid = \"K1\"\nsecret = \"0123456789abcdef\"\n", `id "K1" used twice`},
		{"key secret", "[[verp.keys]]\nid = \"k1\"\n", `verp.keys "k1": set one of secret and secret_file`},
		{"unsigned", "[authentication]\nunsigned = \"yes\"\n", `authentication.unsigned: "yes": want registered, trust or never`},
		{"sender domain", "[authentication]\nsender_domains = [\"not a domain\"]\n", "authentication.sender_domains"},
		{"rate", "[listener]\nmessages_per_minute_per_ip = -1\n", "must not be negative"},
		{"exempt", "[listener]\nrate_limit_exempt = [\"10.0.0.1\"]\n", `rate_limit_exempt: "10.0.0.1"`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestAuthnDefaults(t *testing.T) {
	c := Defaults()
	if c.Authentication.Unsigned != UnsignedRegistered || c.VERP.OnFailure != VERPReject || !c.Authentication.DKIM {
		t.Errorf("defaults are not the safe ones: %+v %+v", c.Authentication, c.VERP)
	}
	if len(c.Unsafe()) != 0 {
		t.Errorf("defaults reported unsafe: %v", c.Unsafe())
	}
	c.Authentication.Unsigned = UnsignedTrust
	if len(c.Unsafe()) != 1 {
		t.Errorf("trust-all not reported unsafe")
	}
}

func TestResolveVERPKeys(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "k1")
	if err := os.WriteFile(file, []byte("  secret-from-a-file-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte("[[verp.keys]]\nid = \"k1\"\nsecret_file = \"" + file + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ResolveSecrets(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if c.VERP.Keys[0].Secret != "secret-from-a-file-0123" {
		t.Errorf("secret_file read as %q", c.VERP.Keys[0].Secret)
	}
	if s := c.VERP.Keys[0].String(); strings.Contains(s, "secret-from") {
		t.Errorf("String shows the secret: %s", s)
	}

	env := map[string]string{VERPKeysEnv: "new:0123456789abcdefXX, old:fedcba9876543210YY"}
	if err := c.ResolveSecrets(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if len(c.VERP.Keys) != 2 || c.VERP.Keys[0].ID != "new" || c.VERP.Keys[1].Secret != "fedcba9876543210YY" {
		t.Errorf("keys from %s: %v", VERPKeysEnv, c.VERP.Keys)
	}

	env[VERPKeysEnv] = "k1"
	if err := c.ResolveSecrets(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), `entry "k1": want id:secret`) {
		t.Errorf("bad %s: err = %v", VERPKeysEnv, err)
	}
	short, _ := Parse([]byte("[[verp.keys]]\nid = \"k1\"\nsecret = \"short\"\n"))
	if err := short.ResolveSecrets(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short secret: err = %v", err)
	}
}

func TestRelayPolicy(t *testing.T) {
	c := Defaults()
	c.Relay.Default = RelayStore
	c.Relay.Domains = map[string]string{"bücher.de": RelayForward, "Bounces.Example.com.": RelayReject}
	for _, tt := range []struct{ domain, want string }{
		{"xn--bcher-kva.de", RelayForward},
		{"BÜCHER.de.", RelayForward},
		{"bounces.example.com", RelayReject},
		{"other.example", RelayStore},
	} {
		if got := c.RelayPolicy(tt.domain); got != tt.want {
			t.Errorf("RelayPolicy(%q) = %q, want %q", tt.domain, got, tt.want)
		}
	}
}
