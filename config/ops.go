package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Milter configures the milter listener (package milter): Rebound attached
// to an existing Postfix or Sendmail (smtpd_milters = inet:HOST:PORT).
type Milter struct {
	// Listen is host:port (or unix:/path) of the milter listener; empty:
	// no milter.
	Listen string `toml:"listen"`
	// Action is what the MTA is told to do with a message to a bounce
	// domain once Rebound has stored it: "accept" (the MTA delivers it
	// too), "discard" or "reject". Other mail passes untouched.
	Action string `toml:"action"`
}

// Values of Milter.Action.
const (
	MilterAccept  = "accept"
	MilterDiscard = "discard"
	MilterReject  = "reject"
)

// Relay configures what becomes of mail to a bounce domain that is no
// bounce, complaint or auto-reply (a person answering the Return-Path).
type Relay struct {
	// Upstream is the host:port that forwarded mail goes to; required
	// when any domain forwards.
	Upstream string `toml:"upstream"`
	// StartTLS is "opportunistic" (when the upstream offers it; the
	// default), "required" or "off".
	StartTLS string `toml:"starttls"`
	// Default is the policy of the bounce domains not in Domains:
	// "store" (keep it, listed as unrecognized; the default), "forward"
	// or "reject" (answered 550 at the end of DATA).
	Default string `toml:"default"`
	// Domains maps a bounce domain to its policy.
	Domains map[string]string `toml:"domains"`
	// MaxAttempts, MinBackoff and MaxBackoff bound the retries of one
	// forwarded message before it is given up (logged and listed by the
	// API, never dropped silently); Timeout bounds one attempt.
	MaxAttempts int      `toml:"max_attempts"`
	MinBackoff  Duration `toml:"min_backoff"`
	MaxBackoff  Duration `toml:"max_backoff"`
	Timeout     Duration `toml:"timeout"`
}

// Values of a relay policy.
const (
	RelayStore   = "store"
	RelayForward = "forward"
	RelayReject  = "reject"
)

// Retention configures how long stored data is kept. Zero keeps it for
// ever. Suppressions and the records and messages that are their
// evidence are always kept.
type Retention struct {
	// Messages bounds the age of raw messages: past it, a message's raw
	// bytes are deleted and its envelope and records kept.
	Messages Duration `toml:"messages"`
	// Records bounds the age of records and their messages.
	Records Duration `toml:"records"`
}

var (
	defaultMilter = Milter{Action: MilterAccept}
	defaultRelay  = Relay{
		StartTLS:    "opportunistic",
		Default:     RelayStore,
		MaxAttempts: 30,
		MinBackoff:  Duration(time.Minute),
		MaxBackoff:  Duration(4 * time.Hour),
		Timeout:     Duration(2 * time.Minute),
	}
)

// RelayPolicy is the relay policy of a bounce domain, domains compared as
// NormalizeDomain keeps them (case, a trailing dot, U-labels or A-labels
// make no difference).
func (c *Config) RelayPolicy(domain string) string {
	d := relayKey(domain)
	for k, v := range c.Relay.Domains {
		if relayKey(k) == d {
			return v
		}
	}
	return c.Relay.Default
}

func relayKey(domain string) string {
	if d, err := NormalizeDomain(domain); err == nil {
		return d
	}
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}

// ParseSocketMode parses listener.socket_mode, an octal permission such as
// "0660".
func (l *Listener) ParseSocketMode() (uint32, error) {
	if l.SocketMode == "" {
		return 0o660, nil
	}
	m, err := strconv.ParseUint(l.SocketMode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("listener.socket_mode: %q: want an octal mode such as \"0660\"", l.SocketMode)
	}
	return uint32(m), nil
}

// validateOps checks the milter, relay and retention sections and the
// unix socket options of the listener.
func (c *Config) validateOps(bad func(string, ...any)) {
	m := &c.Milter
	if m.Listen != "" {
		if path, ok := strings.CutPrefix(m.Listen, "unix:"); ok {
			if path == "" {
				bad("milter.listen: unix: needs a socket path")
			}
		} else if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			bad("milter.listen: %q: want host:port or unix:/path", m.Listen)
		}
	}
	switch m.Action {
	case MilterAccept, MilterDiscard, MilterReject:
	default:
		bad("milter.action: %q: want accept, discard or reject", m.Action)
	}
	r := &c.Relay
	policy := func(where, v string) {
		switch v {
		case RelayStore, RelayForward, RelayReject:
		default:
			bad("%s: %q: want store, forward or reject", where, v)
		}
	}
	policy("relay.default", r.Default)
	forwards := r.Default == RelayForward
	for d, v := range r.Domains {
		policy("relay.domains."+d, v)
		forwards = forwards || v == RelayForward
	}
	if r.Upstream != "" {
		if _, _, err := net.SplitHostPort(r.Upstream); err != nil {
			bad("relay.upstream: %q: want host:port", r.Upstream)
		}
	} else if forwards {
		bad("relay.upstream: needed when a domain forwards")
	}
	switch r.StartTLS {
	case "opportunistic", "required", "off":
	default:
		bad("relay.starttls: %q: want opportunistic, required or off", r.StartTLS)
	}
	if r.MaxAttempts <= 0 {
		bad("relay.max_attempts: must be positive")
	}
	if r.MinBackoff <= 0 || r.MaxBackoff < r.MinBackoff {
		bad("relay.min_backoff, max_backoff: positive, and min at most max")
	}
	if r.Timeout <= 0 {
		bad("relay.timeout: must be positive")
	}
	if _, err := c.Listener.ParseSocketMode(); err != nil {
		bad("%v", err)
	}
}
