package config

import (
	"fmt"
	"strings"
	"time"
)

// VERPKeysEnv names the environment variable holding the VERP keys as
// "id1:secret1,id2:secret2" (the first signs, all verify). When set it
// replaces the keys of the file.
const VERPKeysEnv = "REBOUND_VERP_KEYS"

// VERP configures signed return paths (package verp, docs/verp.md).
type VERP struct {
	// Keys sign and verify return paths: the first signs, all verify, so
	// that a new key is put first and the old one kept until mail signed
	// with it can no longer bounce (MaxAge). No keys: no return path is
	// verified; every recipient is an ordinary address, and its reports
	// follow the policy for unsigned ones.
	Keys []VERPKey `toml:"keys"`
	// Prefix starts the local part of every signed return path.
	Prefix string `toml:"prefix"`
	// MaxAge is how long after signing a return path verifies.
	MaxAge Duration `toml:"max_age"`
	// OnFailure is what a report to a return path that claims to be signed
	// and fails verification gets: "reject" (550 5.7.1 at RCPT) or
	// "accept" (stored as failed, changing no suppression).
	OnFailure string `toml:"on_failure"`
}

// VERPKey is one signing key; Secret, or SecretFile a file holding it.
type VERPKey struct {
	ID         string `toml:"id"`
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
}

// String keeps a key's secret out of logs and error messages.
func (k VERPKey) String() string { return fmt.Sprintf("verp key %q", k.ID) }

// Values of VERP.OnFailure.
const (
	VERPReject = "reject"
	VERPAccept = "accept"
)

// Authentication configures how reports are tied to mail the sender sent
// (package provenance, docs/authentication.md).
type Authentication struct {
	// Unsigned is the policy for reports that came to no signed return
	// path: "registered" (count a record only for a registered sent
	// message or our DKIM signature on the original), "trust" (count all:
	// unsafe) or "never".
	Unsigned string `toml:"unsigned"`
	// SenderDomains are the sender's own DKIM signing domains (d=); a
	// valid signature of one of them (or a subdomain) on a report's copy
	// of the original, covering To, authenticates the recipient in To.
	SenderDomains []string `toml:"sender_domains"`
	// DKIM turns the verification of DKIM signatures on and off.
	DKIM bool `toml:"dkim"`
	// DKIMTimeout bounds the DNS lookups of one message's signatures.
	DKIMTimeout Duration `toml:"dkim_timeout"`
	// SentRetention is how long registered sent messages are kept.
	SentRetention Duration `toml:"sent_retention"`
}

// Values of Authentication.Unsigned.
const (
	UnsignedRegistered = "registered"
	UnsignedTrust      = "trust"
	UnsignedNever      = "never"
)

var (
	defaultVERP = VERP{Prefix: "b", MaxAge: Duration(30 * 24 * time.Hour), OnFailure: VERPReject}
	defaultAuth = Authentication{
		Unsigned:      UnsignedRegistered,
		DKIM:          true,
		DKIMTimeout:   Duration(5 * time.Second),
		SentRetention: Duration(60 * 24 * time.Hour),
	}
)

// resolveVERPKeys reads the key files and REBOUND_VERP_KEYS.
func (c *Config) resolveVERPKeys(getenv func(string) string) error {
	if v := strings.TrimSpace(getenv(VERPKeysEnv)); v != "" {
		var keys []VERPKey
		for _, entry := range strings.Split(v, ",") {
			id, secret, ok := strings.Cut(strings.TrimSpace(entry), ":")
			if !ok || id == "" || secret == "" {
				return fmt.Errorf("%s: entry %q: want id:secret", VERPKeysEnv, entry)
			}
			keys = append(keys, VERPKey{ID: id, Secret: secret})
		}
		c.VERP.Keys = keys
		return nil
	}
	for i := range c.VERP.Keys {
		k := &c.VERP.Keys[i]
		if k.SecretFile != "" {
			s, err := readSecret(k.SecretFile)
			if err != nil {
				return fmt.Errorf("verp.keys %q: secret_file: %w", k.ID, err)
			}
			k.Secret = s
		}
		if len(k.Secret) < 16 {
			return fmt.Errorf("verp.keys %q: the secret must be at least 16 characters", k.ID)
		}
	}
	return nil
}

// validateAuthn checks the verp and authentication sections (key secrets
// are checked once read, by ResolveSecrets).
func (c *Config) validateAuthn(bad func(string, ...any)) {
	v := &c.VERP
	if n := len(v.Prefix); n == 0 || n > 8 || strings.Trim(v.Prefix, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		bad("verp.prefix: %q: want 1 to 8 lower-case letters or digits", v.Prefix)
	}
	if v.MaxAge <= 0 || time.Duration(v.MaxAge) >= 1000*24*time.Hour {
		bad("verp.max_age: must be positive and under 1000d")
	}
	switch v.OnFailure {
	case VERPReject, VERPAccept:
	default:
		bad("verp.on_failure: %q: want reject or accept", v.OnFailure)
	}
	ids := map[string]bool{}
	for i, k := range v.Keys {
		if k.ID == "" {
			bad("verp.keys[%d]: id is required", i)
		} else if ids[strings.ToLower(k.ID)] {
			bad("verp.keys: id %q used twice", k.ID)
		}
		ids[strings.ToLower(k.ID)] = true
		if (k.Secret == "") == (k.SecretFile == "") {
			bad("verp.keys %q: set one of secret and secret_file", k.ID)
		}
	}
	a := &c.Authentication
	switch a.Unsigned {
	case UnsignedRegistered, UnsignedTrust, UnsignedNever:
	default:
		bad("authentication.unsigned: %q: want registered, trust or never", a.Unsigned)
	}
	for _, d := range a.SenderDomains {
		if !validDomain(d) {
			bad("authentication.sender_domains: %q is not a domain name", d)
		}
	}
	if a.DKIMTimeout <= 0 {
		bad("authentication.dkim_timeout: must be positive")
	}
	if a.SentRetention <= 0 {
		bad("authentication.sent_retention: must be positive")
	}
}

// Unsafe lists what the configuration makes unsafe, for the log.
func (c *Config) Unsafe() []string {
	var w []string
	if c.Authentication.Unsigned == UnsignedTrust {
		w = append(w, "authentication.unsigned = \"trust\": any report from anybody changes suppressions")
	}
	return w
}
