package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"bad listen", "[api]\nlisten = \"8025\"\n", `api.listen: "8025": want host:port`},
		{"token without secret", "[[api.tokens]]\nname = \"a\"\nscopes = [\"read\"]\n", `api.tokens "a": set one of token and token_file`},
		{"token both", "[[api.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\ntoken_file = \"/x\"\nscopes = [\"read\"]\n",
			`set one of token and token_file`},
		{"bad scope", "[[api.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nscopes = [\"admin\"]\n", `scope "admin": want read or write`},
		{"no scope", "[[api.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n", `scopes: want read, write or both`},
		{"twice", "[[api.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nscopes = [\"read\"]\n" +
			"[[api.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdeg\"\nscopes = [\"read\"]\n", `name "a" used twice`},
		{"endpoint url", "[[webhooks.endpoints]]\nname = \"e\"\nurl = \"ftp://x\"\nsecret = \"whsec_AAAA\"\n", `url "ftp://x": want an http:// or https:// URL`},
		{"endpoint event", "[[webhooks.endpoints]]\nname = \"e\"\nurl = \"http://x\"\nsecret = \"whsec_AAAA\"\nevents = [\"bounce\"]\n",
			`events: "bounce" is no event type`},
		{"backoff order", "[webhooks]\nmin_backoff = \"2h\"\nmax_backoff = \"1h\"\n", "min_backoff: above max_backoff"},
		{"log format", "log_format = \"xml\"\n", `log_format: "xml": want text or json`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(tokenFile, []byte("  file-token-0123456789 \nignored\n"), 0o600)
	os.WriteFile(secretFile, []byte("whsec_c2VjcmV0\n"), 0o600)
	c, err := Parse([]byte("[[api.tokens]]\nname = \"mailer\"\ntoken_file = \"" + tokenFile + "\"\nscopes = [\"read\"]\n" +
		"[[webhooks.endpoints]]\nname = \"app\"\nurl = \"http://127.0.0.1:1/\"\nsecret_file = \"" + secretFile + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{TokenEnv: "env-token-0123456789"}
	if err := c.ResolveSecrets(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if len(c.API.Tokens) != 2 || c.API.Tokens[0].Token != "file-token-0123456789" ||
		c.API.Tokens[1].Name != "env" || c.API.Tokens[1].Token != "env-token-0123456789" || len(c.API.Tokens[1].Scopes) != 2 {
		t.Errorf("tokens = %+v", c.API.Tokens)
	}
	if c.Webhooks.Endpoints[0].Secret != "whsec_c2VjcmV0" {
		t.Errorf("secret = %q", c.Webhooks.Endpoints[0].Secret)
	}
	for _, s := range []string{c.API.Tokens[0].String(), c.Webhooks.Endpoints[0].String()} {
		if strings.Contains(s, "0123456789") || strings.Contains(s, "whsec") {
			t.Errorf("String() shows the secret: %s", s)
		}
	}

	short, _ := Parse([]byte("[[api.tokens]]\nname = \"s\"\ntoken = \"short\"\nscopes = [\"read\"]\n"))
	if err := short.ResolveSecrets(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short token: %v", err)
	}
	missing, _ := Parse([]byte("[[api.tokens]]\nname = \"m\"\ntoken_file = \"" + filepath.Join(dir, "none") + "\"\nscopes = [\"read\"]\n"))
	if err := missing.ResolveSecrets(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), `api.tokens "m": token_file`) {
		t.Errorf("missing token file: %v", err)
	}
}

func TestMatchEvent(t *testing.T) {
	for _, tt := range []struct {
		events []string
		typ    string
		want   bool
	}{
		{nil, "record.created", true},
		{[]string{"suppression.*"}, "suppression.lifted", true},
		{[]string{"suppression.*"}, "record.created", false},
		{[]string{"record.created"}, "record.created", true},
	} {
		if got := MatchEvent(tt.events, tt.typ); got != tt.want {
			t.Errorf("MatchEvent(%v, %s) = %v", tt.events, tt.typ, got)
		}
	}
}
