package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// TokenEnv names the environment variable holding an API token with both
// scopes, for deployments that keep secrets out of files.
const TokenEnv = "REBOUND_API_TOKEN"

// API scopes.
const (
	ScopeRead  = "read"  // GET routes
	ScopeWrite = "write" // changes: suppressions, webhook replays
)

// API configures the HTTP API listener (package api).
type API struct {
	// Listen is the API's host:port; empty turns the API off. The default
	// is loopback: exposing it is a decision.
	Listen string `toml:"listen"`
	// Tokens are the bearer tokens the API accepts.
	Tokens []Token `toml:"tokens"`
	// MaxBody bounds a request body, in bytes.
	MaxBody int64 `toml:"max_body"`
	// MaxBatch bounds the addresses of one batch check.
	MaxBatch int `toml:"max_batch"`
	// TLSCert and TLSKey, both set, serve the API over HTTPS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// Dashboard serves the web dashboard (package dashboard) at / on the
	// API's listener; the API keeps /v1, /healthz, /readyz and /metrics.
	Dashboard bool `toml:"dashboard"`
}

// Token is one bearer token and what it may do.
type Token struct {
	Name string `toml:"name"` // who it is, kept as the actor of its changes
	// Token is the secret itself, or TokenFile a file holding it (the
	// first line, surrounding space trimmed).
	Token     string   `toml:"token"`
	TokenFile string   `toml:"token_file"`
	Scopes    []string `toml:"scopes"` // read, write
}

// String keeps a token's secret out of logs and error messages.
func (t Token) String() string { return fmt.Sprintf("token %q %v", t.Name, t.Scopes) }

// Webhooks configures the delivery of outbox events (package webhook).
type Webhooks struct {
	Endpoints []Endpoint `toml:"endpoints"`
	// MaxAttempts is how many failed attempts move an event to the dead
	// letters of its endpoint.
	MaxAttempts int `toml:"max_attempts"`
	// Timeout bounds one delivery: connecting, sending and the answer.
	Timeout Duration `toml:"timeout"`
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts of one event (with jitter).
	MinBackoff Duration `toml:"min_backoff"`
	MaxBackoff Duration `toml:"max_backoff"`
	// Retention is how long delivered events and the delivery log are kept.
	Retention Duration `toml:"retention"`
}

// Endpoint is one receiver of webhook events.
type Endpoint struct {
	// Name identifies the endpoint in the store (its cursor and delivery
	// log) and the API; renaming it starts a new endpoint.
	Name string `toml:"name"`
	URL  string `toml:"url"`
	// Secret is the signing key, "whsec_" and base64 as in the Standard
	// Webhooks specification, or SecretFile a file holding it.
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
	// Events filters the event types sent: exact types, or "suppression.*"
	// for a family; empty: all.
	Events []string `toml:"events"`
}

// String keeps an endpoint's secret out of logs and error messages.
func (e Endpoint) String() string { return fmt.Sprintf("endpoint %q %s", e.Name, e.URL) }

// Defaults of the API and webhooks.
var (
	defaultAPI      = API{Listen: "127.0.0.1:8025", MaxBody: 4 << 20, MaxBatch: 10000, Dashboard: true}
	defaultWebhooks = Webhooks{
		MaxAttempts: 12,
		Timeout:     Duration(10 * time.Second),
		MinBackoff:  Duration(5 * time.Second),
		MaxBackoff:  Duration(time.Hour),
		Retention:   Duration(7 * 24 * time.Hour),
	}
)

// ResolveSecrets reads the secrets kept in files and adds the token of
// TokenEnv, so that the rest of the program sees them in Token and Secret.
// getenv is os.Getenv outside tests.
func (c *Config) ResolveSecrets(getenv func(string) string) error {
	for i := range c.API.Tokens {
		t := &c.API.Tokens[i]
		if t.TokenFile != "" {
			s, err := readSecret(t.TokenFile)
			if err != nil {
				return fmt.Errorf("api.tokens %q: token_file: %w", t.Name, err)
			}
			t.Token = s
		}
	}
	if v := strings.TrimSpace(getenv(TokenEnv)); v != "" {
		c.API.Tokens = append(c.API.Tokens, Token{Name: "env", Token: v, Scopes: []string{ScopeRead, ScopeWrite}})
	}
	for i := range c.Webhooks.Endpoints {
		e := &c.Webhooks.Endpoints[i]
		if e.SecretFile != "" {
			s, err := readSecret(e.SecretFile)
			if err != nil {
				return fmt.Errorf("webhooks.endpoints %q: secret_file: %w", e.Name, err)
			}
			e.Secret = s
		}
	}
	if err := c.resolveVERPKeys(getenv); err != nil {
		return err
	}
	return c.validateSecrets()
}

func readSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	s := strings.TrimSpace(line)
	if s == "" {
		return "", fmt.Errorf("%s: empty", file)
	}
	return s, nil
}

// validateSecrets checks what ResolveSecrets filled in.
func (c *Config) validateSecrets() error {
	var errs []string
	for _, t := range c.API.Tokens {
		if len(t.Token) < 16 {
			errs = append(errs, fmt.Sprintf("api.tokens %q: the token must be at least 16 characters", t.Name))
		}
	}
	for _, e := range c.Webhooks.Endpoints {
		if e.Secret == "" {
			errs = append(errs, fmt.Sprintf("webhooks.endpoints %q: secret or secret_file is required", e.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// validateAPI checks the API and webhook sections (secrets are checked by
// ResolveSecrets, once read).
func (c *Config) validateAPI(bad func(string, ...any)) {
	a := &c.API
	if a.Listen != "" {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			bad("api.listen: %q: want host:port", a.Listen)
		}
	}
	if a.MaxBody <= 0 {
		bad("api.max_body: must be positive")
	}
	if a.MaxBatch <= 0 {
		bad("api.max_batch: must be positive")
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		bad("api.tls_cert and tls_key: set both or neither")
	}
	names := map[string]bool{}
	for i, t := range a.Tokens {
		if t.Name == "" {
			bad("api.tokens[%d]: name is required", i)
		} else if names[t.Name] {
			bad("api.tokens: name %q used twice", t.Name)
		}
		names[t.Name] = true
		if (t.Token == "") == (t.TokenFile == "") {
			bad("api.tokens %q: set one of token and token_file", t.Name)
		}
		if len(t.Scopes) == 0 {
			bad("api.tokens %q: scopes: want read, write or both", t.Name)
		}
		for _, s := range t.Scopes {
			if s != ScopeRead && s != ScopeWrite {
				bad("api.tokens %q: scope %q: want read or write", t.Name, s)
			}
		}
	}
	w := &c.Webhooks
	if w.MaxAttempts <= 0 {
		bad("webhooks.max_attempts: must be positive")
	}
	if w.Timeout <= 0 || w.MinBackoff <= 0 || w.MaxBackoff <= 0 || w.Retention <= 0 {
		bad("webhooks.timeout, min_backoff, max_backoff, retention: must be positive")
	} else if w.MinBackoff > w.MaxBackoff {
		bad("webhooks.min_backoff: above max_backoff")
	}
	seen := map[string]bool{}
	for i, e := range w.Endpoints {
		if e.Name == "" {
			bad("webhooks.endpoints[%d]: name is required", i)
		} else if seen[e.Name] {
			bad("webhooks.endpoints: name %q used twice", e.Name)
		}
		seen[e.Name] = true
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("webhooks.endpoints %q: url %q: want an http:// or https:// URL", e.Name, e.URL)
		}
		if e.Secret != "" && e.SecretFile != "" {
			bad("webhooks.endpoints %q: set one of secret and secret_file", e.Name)
		}
		for _, ev := range e.Events {
			if !knownEventPattern(ev) {
				bad("webhooks.endpoints %q: events: %q is no event type (want one of %s, or a family such as suppression.*)",
					e.Name, ev, strings.Join(store.EventTypes, ", "))
			}
		}
	}
}

// knownEventPattern reports whether p names an event type or a family of
// them ("incident.*").
func knownEventPattern(p string) bool {
	for _, t := range store.EventTypes {
		if ok, _ := path.Match(p, t); ok {
			return true
		}
	}
	return slices.Contains(store.EventTypes, p)
}

// MatchEvent reports whether an endpoint with filter events takes events
// of type typ: an empty filter takes all.
func MatchEvent(events []string, typ string) bool {
	if len(events) == 0 {
		return true
	}
	for _, p := range events {
		if ok, _ := path.Match(p, typ); ok {
			return true
		}
	}
	return false
}
