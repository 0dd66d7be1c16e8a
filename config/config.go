// Package config reads the Rebound configuration file (TOML) and supplies
// the defaults that make the file optional.
//
// Every option is documented in config.example.toml at the root of the
// repository. Unknown keys are errors naming their line, so that a typo
// never silently falls back to a default.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/net/idna"

	"github.com/rebound-mail/rebound/suppress"
)

// Config is the whole configuration.
type Config struct {
	// Domains are the bounce domains: RCPT TO any other domain is refused
	// (no relaying). Until set, only "localhost" is accepted.
	Domains []string `toml:"domains"`
	// MetricsListen is the address of the HTTP listener serving Prometheus
	// metrics on /metrics; empty: no listener.
	MetricsListen string `toml:"metrics_listen"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// LogFormat is text (logfmt-like key=value) or json.
	LogFormat string `toml:"log_format"`

	Listener    Listener    `toml:"listener"`
	Store       Store       `toml:"store"`
	Suppression Suppression `toml:"suppression"`
	Classify    Classify    `toml:"classify"`
	API         API         `toml:"api"`
	Webhooks    Webhooks    `toml:"webhooks"`

	VERP           VERP           `toml:"verp"`
	Authentication Authentication `toml:"authentication"`

	Milter    Milter    `toml:"milter"`
	Relay     Relay     `toml:"relay"`
	Retention Retention `toml:"retention"`
}

// Listener configures the SMTP (or LMTP) listener.
type Listener struct {
	Listen              string `toml:"listen"`   // host:port, or unix:/path for LMTP
	Hostname            string `toml:"hostname"` // name in the greeting
	LMTP                bool   `toml:"lmtp"`
	MaxMessageSize      int64  `toml:"max_message_size"` // bytes
	MaxRecipients       int    `toml:"max_recipients"`
	MaxLineLength       int    `toml:"max_line_length"` // bytes, commands and DATA lines
	MaxConnections      int    `toml:"max_connections"`
	MaxConnectionsPerIP int    `toml:"max_connections_per_ip"`
	// ConnectionsPerMinute and MessagesPerMinute bound what one client IP
	// address (an IPv6 /64) may open and send; 0: no limit. Clients in
	// RateLimitExempt (CIDR prefixes) are not limited: an MTA relaying to
	// Rebound on the same host sends everything from loopback.
	ConnectionsPerMinute int      `toml:"connections_per_minute_per_ip"`
	MessagesPerMinute    int      `toml:"messages_per_minute_per_ip"`
	RateLimitExempt      []string `toml:"rate_limit_exempt"`
	ReadTimeout          Duration `toml:"read_timeout"`
	WriteTimeout         Duration `toml:"write_timeout"`
	TLSCert              string   `toml:"tls_cert"` // PEM file; with TLSKey enables STARTTLS
	TLSKey               string   `toml:"tls_key"`
	// DataBudget bounds the bytes of message data all transactions in
	// flight hold at once, in memory or spooled ("452 4.3.1" beyond).
	DataBudget int64 `toml:"data_budget"`
	// SpoolThreshold is the size beyond which a message is received into
	// a file in SpoolDir instead of memory.
	SpoolThreshold int64  `toml:"spool_threshold"`
	SpoolDir       string `toml:"spool_dir"` // empty: $TMPDIR, else /var/tmp
	// MaxReportRecipients bounds the recipients recorded from one report;
	// a message naming more is stored whole and flagged with the count of
	// those left out.
	MaxReportRecipients int `toml:"max_report_recipients"`
	// SocketMode, SocketOwner and SocketGroup set the permissions of a
	// unix socket (listen = "unix:/path"), so that the MTA's LMTP client
	// may write to it.
	SocketMode  string `toml:"socket_mode"`
	SocketOwner string `toml:"socket_owner"`
	SocketGroup string `toml:"socket_group"`
}

// Store configures persistence.
type Store struct {
	// URL is a SQLite path (or sqlite:PATH) or a postgres:// URL.
	URL string `toml:"url"`
	// BatchSize bounds how many concurrent saves are committed together.
	BatchSize int `toml:"batch_size"`
}

// Suppression configures the suppression policy (package suppress).
type Suppression struct {
	SoftThreshold   int      `toml:"soft_threshold"`
	SoftWindow      Duration `toml:"soft_window"`
	HardExpiry      Duration `toml:"hard_expiry"`
	SoftExpiry      Duration `toml:"soft_expiry"`
	ComplaintExpiry Duration `toml:"complaint_expiry"`
	IncidentQuiet   Duration `toml:"incident_quiet"`
	// LowConfidenceHard is what a hard bounce whose verdict has low
	// confidence does: soft, suppress or ignore (suppress.Policy).
	LowConfidenceHard LowConfidenceHard `toml:"low_confidence_hard"`
}

// LowConfidenceHard is a suppress.LowConfidence* value. It is checked as
// the file is read, so that an unknown value is an error naming its line.
type LowConfidenceHard string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *LowConfidenceHard) UnmarshalText(b []byte) error {
	if err := suppress.CheckLowConfidenceHard(string(b)); err != nil {
		return fmt.Errorf("suppression.low_confidence_hard: %w", err)
	}
	*v = LowConfidenceHard(b)
	return nil
}

// Classify configures the classifier.
type Classify struct {
	Language string `toml:"language"` // explanations: en or nl
}

// Defaults returns the configuration used when no file is given: a
// listener on loopback, a SQLite database in the working directory and
// mail accepted for localhost only.
func Defaults() Config {
	p := suppress.DefaultPolicy
	return Config{
		Domains:   []string{"localhost"},
		LogLevel:  "info",
		LogFormat: "text",
		API:       defaultAPI,
		Webhooks:  defaultWebhooks,
		VERP:      defaultVERP,

		Authentication: defaultAuth,
		Milter:         defaultMilter,
		Relay:          defaultRelay,
		Listener: Listener{
			Listen:              "127.0.0.1:2525",
			Hostname:            defaultHostname(),
			MaxMessageSize:      10 << 20,
			MaxRecipients:       100,
			MaxLineLength:       64 << 10,
			MaxConnections:      1000,
			MaxConnectionsPerIP: 100,

			ConnectionsPerMinute: 300,
			MessagesPerMinute:    600,
			RateLimitExempt:      []string{"127.0.0.0/8", "::1/128"},
			ReadTimeout:          Duration(5 * time.Minute),
			WriteTimeout:         Duration(5 * time.Minute),
			DataBudget:           256 << 20,
			SpoolThreshold:       1 << 20,
			MaxReportRecipients:  1000,
			SocketMode:           "0660",
		},
		Store: Store{URL: "./rebound.db", BatchSize: 256},
		Suppression: Suppression{
			SoftThreshold:   p.SoftThreshold,
			SoftWindow:      Duration(p.SoftWindow),
			HardExpiry:      Duration(p.HardExpiry),
			SoftExpiry:      Duration(p.SoftExpiry),
			ComplaintExpiry: Duration(p.ComplaintExpiry),
			IncidentQuiet:   Duration(p.IncidentQuiet),

			LowConfidenceHard: LowConfidenceHard(p.LowConfidenceHard),
		},
		Classify: Classify{Language: "en"},
	}
}

func defaultHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// Load reads the file at path over the defaults and validates the result.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a configuration file's contents over the defaults and
// validates the result. A key present in the file replaces the default,
// so "domains = []" is an (invalid) empty list, not the default.
func Parse(b []byte) (Config, error) {
	c := Defaults()
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return Config{}, fmt.Errorf("line %d: %s", perr.Position.Line, perr.Message)
		}
		return Config{}, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		var msgs []string
		for _, k := range und {
			if line := keyLine(b, k); line > 0 {
				msgs = append(msgs, fmt.Sprintf("line %d: unknown option %q", line, k.String()))
			} else {
				msgs = append(msgs, fmt.Sprintf("unknown option %q", k.String()))
			}
		}
		return Config{}, errors.New(strings.Join(msgs, "; "))
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// keyLine finds the line where key is set: the line of its table header
// when the key is a table, else the line of "name =" inside the table that
// holds it. It returns 0 when not found (e.g. inline tables).
func keyLine(b []byte, key toml.Key) int {
	if len(key) == 0 {
		return 0
	}
	table := strings.Join(key[:len(key)-1], ".")
	name := key[len(key)-1]
	full := key.String()
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			h := strings.Trim(line, "[]")
			if i := strings.IndexByte(h, '#'); i >= 0 {
				h = strings.Trim(strings.TrimSpace(h[:i]), "[]")
			}
			cur = strings.TrimSpace(h)
			if cur == full {
				return n
			}
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			continue
		}
		k := strings.Trim(strings.TrimSpace(line[:eq]), `"'`)
		// dotted keys: "a.b = 1" inside table t sets t.a.b
		fq := k
		if cur != "" {
			fq = cur + "." + k
		}
		if (cur == table && k == name) || fq == full {
			return n
		}
	}
	return 0
}

// Validate checks values that would otherwise fail later or be silently
// meaningless, and puts the bounce domains in their normalized form
// (NormalizeDomain).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if len(c.Domains) == 0 {
		bad("domains: at least one bounce domain is needed")
	}
	// The bounce domains are kept normalized, so that every comparison
	// (RCPT TO, return paths) sees one form of each.
	for i, d := range c.Domains {
		n, err := NormalizeDomain(d)
		if err != nil {
			bad("domains: %q is not a domain name: %v", d, err)
			continue
		}
		c.Domains[i] = n
	}
	l := &c.Listener
	if l.Listen == "" {
		bad("listener.listen: empty")
	} else if path, ok := strings.CutPrefix(l.Listen, "unix:"); ok {
		if path == "" {
			bad("listener.listen: unix: needs a socket path")
		}
	} else if _, _, err := net.SplitHostPort(l.Listen); err != nil {
		bad("listener.listen: %q: want host:port or unix:/path", l.Listen)
	}
	if l.Hostname == "" {
		bad("listener.hostname: empty")
	}
	if l.MaxMessageSize <= 0 {
		bad("listener.max_message_size: must be positive")
	}
	if l.MaxRecipients <= 0 {
		bad("listener.max_recipients: must be positive")
	}
	if l.MaxLineLength < 1000 {
		// RFC 5321 section 4.5.3.1.6: a text line may be 1000 octets.
		bad("listener.max_line_length: %d is below the 1000 octets RFC 5321 allows", l.MaxLineLength)
	}
	if l.MaxConnections <= 0 {
		bad("listener.max_connections: must be positive")
	}
	if l.MaxConnectionsPerIP <= 0 {
		bad("listener.max_connections_per_ip: must be positive")
	}
	if l.ConnectionsPerMinute < 0 || l.MessagesPerMinute < 0 {
		bad("listener.connections_per_minute_per_ip, messages_per_minute_per_ip: must not be negative (0: no limit)")
	}
	for _, p := range l.RateLimitExempt {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("listener.rate_limit_exempt: %q: want a CIDR prefix such as 192.0.2.0/24", p)
		}
	}
	if l.ReadTimeout <= 0 || l.WriteTimeout <= 0 {
		bad("listener.read_timeout, write_timeout: must be positive")
	}
	if l.DataBudget <= 0 {
		bad("listener.data_budget: must be positive")
	} else if l.MaxMessageSize > 0 && l.DataBudget < l.MaxMessageSize {
		bad("listener.data_budget: %d is below max_message_size %d: a message of the largest size could never be received",
			l.DataBudget, l.MaxMessageSize)
	}
	if l.SpoolThreshold <= 0 {
		bad("listener.spool_threshold: must be positive")
	}
	if l.MaxReportRecipients <= 0 {
		bad("listener.max_report_recipients: must be positive")
	}
	if (l.TLSCert == "") != (l.TLSKey == "") {
		bad("listener.tls_cert and tls_key: set both or neither")
	}
	if c.Store.URL == "" {
		bad("store.url: empty")
	}
	if c.Store.BatchSize <= 0 {
		bad("store.batch_size: must be positive")
	}
	if c.Suppression.SoftThreshold <= 0 {
		bad("suppression.soft_threshold: must be positive")
	}
	if c.Suppression.SoftWindow <= 0 {
		bad("suppression.soft_window: must be positive")
	}
	if err := suppress.CheckLowConfidenceHard(string(c.Suppression.LowConfidenceHard)); err != nil {
		bad("suppression.low_confidence_hard: %v", err)
	}
	switch c.Classify.Language {
	case "en", "nl":
	default:
		bad("classify.language: %q: want en or nl", c.Classify.Language)
	}
	if _, err := c.SlogLevel(); err != nil {
		bad("log_level: %v", err)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format: %q: want text or json", c.LogFormat)
	}
	c.validateAPI(bad)
	c.validateAuthn(bad)
	c.validateOps(bad)
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics_listen: %q: want host:port", c.MetricsListen)
		}
	}
	return errors.Join(errs...)
}

// Policy returns the suppression policy the configuration describes.
func (c *Config) Policy() suppress.Policy {
	s := c.Suppression
	return suppress.Policy{
		SoftThreshold:   s.SoftThreshold,
		SoftWindow:      time.Duration(s.SoftWindow),
		HardExpiry:      time.Duration(s.HardExpiry),
		SoftExpiry:      time.Duration(s.SoftExpiry),
		ComplaintExpiry: time.Duration(s.ComplaintExpiry),
		IncidentQuiet:   time.Duration(s.IncidentQuiet),

		LowConfidenceHard: string(s.LowConfidenceHard),
	}
}

// SlogLevel maps LogLevel to a slog level.
func (c *Config) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(c.LogLevel) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want debug, info, warn or error", c.LogLevel)
}

// validDomain accepts what NormalizeDomain does.
func validDomain(d string) bool {
	_, err := NormalizeDomain(d)
	return err == nil
}

// NormalizeDomain returns the form in which a domain name is configured
// and compared: its A-labels (RFC 5890 section 2.3.2.1), converted with
// the IDNA lookup profile (UTS #46 mapping, so case is folded), lower
// case, without a trailing dot (the root label, RFC 1034 section 3.1).
// The result must be LDH labels separated by dots (RFC 1035 section
// 2.3.1, with digits first allowed per RFC 1123). The error says what is
// wrong with d.
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", errors.New("empty domain name")
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("not a valid internationalized domain name: %v", err)
	}
	a = strings.ToLower(a)
	if len(a) > 253 {
		return "", fmt.Errorf("%d octets, longer than the 253 a name may have", len(a))
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" {
			return "", errors.New("empty label")
		}
		if len(label) > 63 {
			return "", fmt.Errorf("label %q longer than 63 octets", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("label %q begins or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return "", fmt.Errorf("label %q has %q: want letters, digits and hyphens", label, ch)
			}
		}
	}
	return a, nil
}
