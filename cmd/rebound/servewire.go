package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/api"
	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/provenance"
	"github.com/rebound-mail/rebound/relay"
	"github.com/rebound-mail/rebound/smtpd"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/verp"
	"github.com/rebound-mail/rebound/webhook"
)

// newLogger builds the logger of log_level and log_format. Its level is
// the returned variable's, which a reload sets.
func newLogger(cfg *config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	lv := &slog.LevelVar{}
	level, _ := cfg.SlogLevel()
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: lv}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lv
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv
}

// redactURL hides the password of a store URL, for logs and errors; a
// SQLite path is returned as it is.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if _, _, cerr := store.ParseURL(s); cerr == nil {
			// A path the URL parser refuses is no network URL.
			return s
		}
		return "(unparsable store URL)"
	}
	// libpq also takes the password as a parameter:
	// postgres://host/db?password=...
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	} else if u.User == nil {
		return s
	}
	return u.Redacted()
}

// newAPIServer builds the HTTP API over st, serving reg on /metrics and
// signing return paths with signer (nil: no keys).
func newAPIServer(cfg *config.Config, st store.Store, signer *verp.Signer, reg *prometheus.Registry, log *slog.Logger) (*http.Server, *api.API, error) {
	tokens := make([]api.Token, 0, len(cfg.API.Tokens))
	for _, t := range cfg.API.Tokens {
		tokens = append(tokens, api.Token{Name: t.Name, Secret: t.Token, Scopes: t.Scopes})
	}
	names := make([]string, 0, len(cfg.Webhooks.Endpoints))
	for _, e := range cfg.Webhooks.Endpoints {
		names = append(names, e.Name)
	}
	h, err := api.New(api.Config{
		Store:      st,
		Tokens:     tokens,
		MaxBody:    cfg.API.MaxBody,
		MaxBatch:   cfg.API.MaxBatch,
		Gatherer:   reg,
		Registerer: reg,
		Endpoints:  names,
		Language:   cfg.Classify.Language,
		Log:        log,
		Now:        time.Now,

		Signer:        signer,
		BounceDomains: cfg.Domains,
	})
	if err != nil {
		return nil, nil, err
	}
	return api.NewServer(h.Handler()), h, nil
}

// newDeliverer builds the webhook deliverer of the configured endpoints.
func newDeliverer(cfg *config.Config, st store.Store, log *slog.Logger, reg prometheus.Registerer) (*webhook.Deliverer, error) {
	w := &cfg.Webhooks
	eps := make([]webhook.Endpoint, 0, len(w.Endpoints))
	for _, e := range w.Endpoints {
		eps = append(eps, webhook.Endpoint{Name: e.Name, URL: e.URL, Secret: e.Secret, Events: e.Events})
	}
	return webhook.New(st, webhook.Config{
		Endpoints:   eps,
		MaxAttempts: w.MaxAttempts,
		Timeout:     time.Duration(w.Timeout),
		MinBackoff:  time.Duration(w.MinBackoff),
		MaxBackoff:  time.Duration(w.MaxBackoff),
		Retention:   time.Duration(w.Retention),
		Log:         log,
	}, reg)
}

// closeServer closes srv, if any, when serve stops before serving.
func closeServer(srv *http.Server) {
	if srv != nil {
		srv.Close()
	}
}

// setSocketPermissions gives the unix socket at path the mode, owner and
// group of listener.socket_mode, socket_owner and socket_group, so that
// the MTA's LMTP client (Postfix's runs as user postfix) may connect: a
// socket is only connected to by who may write it. An empty owner or
// group is left as created.
func setSocketPermissions(path string, l *config.Listener) error {
	mode, err := l.ParseSocketMode()
	if err != nil {
		return err
	}
	uid, gid := -1, -1
	if l.SocketOwner != "" {
		if uid, err = lookupID(l.SocketOwner, func(s string) (string, error) {
			u, err := user.Lookup(s)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		}); err != nil {
			return fmt.Errorf("listener.socket_owner: %w", err)
		}
	}
	if l.SocketGroup != "" {
		if gid, err = lookupID(l.SocketGroup, func(s string) (string, error) {
			g, err := user.LookupGroup(s)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		}); err != nil {
			return fmt.Errorf("listener.socket_group: %w", err)
		}
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("listener.socket_owner, socket_group: changing the owner of the socket: %w", err)
		}
	}
	if err := os.Chmod(path, os.FileMode(mode)); err != nil {
		return fmt.Errorf("listener.socket_mode: changing the mode of the socket: %w", err)
	}
	return nil
}

// lookupID returns the numeric ID of name, a number or a name that
// lookup finds.
func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%q: a numeric ID must not be negative", name)
		}
		return n, nil
	}
	id, err := lookup(name)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", name, err)
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return 0, fmt.Errorf("%q: ID %q is not numeric", name, id)
	}
	return n, nil
}

// pruneRetained deletes, every hour until ctx ends, the raw bytes of
// messages older than retention.messages and the records and messages
// older than retention.records (0: kept); what is evidence of a
// suppression stays (see store.Store PruneRaw, PruneRecords).
func pruneRetained(ctx context.Context, st store.Store, r config.Retention, log *slog.Logger) {
	if r.Messages <= 0 && r.Records <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if d := time.Duration(r.Messages); d > 0 {
			n, err := st.PruneRaw(ctx, time.Now().Add(-d))
			if err != nil && ctx.Err() == nil {
				log.Error("pruning raw messages", "err", err)
			} else if n > 0 {
				log.Info("pruned raw messages", "count", n, "older_than", d.String())
			}
		}
		if d := time.Duration(r.Records); d > 0 {
			n, err := st.PruneRecords(ctx, time.Now().Add(-d))
			if err != nil && ctx.Err() == nil {
				log.Error("pruning records", "err", err)
			} else if n > 0 {
				log.Info("pruned messages and their records", "count", n, "older_than", d.String())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// certSlot holds a TLS certificate that a reload replaces: handshakes
// begun after the swap get the new one, connections open keep theirs.
type certSlot struct {
	cert atomic.Pointer[tls.Certificate]
}

// load reads the key pair and, only when it is good, makes it current.
func (c *certSlot) load(certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	c.cert.Store(&cert)
	return nil
}

// tlsConfig is a configuration serving the current certificate.
func (c *certSlot) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cert.Load(), nil
		},
	}
}

// serveSource is where serve's configuration comes from: the file of
// --config (read again on reload) and the flags that override it.
type serveSource struct {
	path                  string
	listen, db, apiListen string
	apiListenSet          bool
	domains               []string
}

// load reads the configuration file (the defaults without one), applies
// the flags and validates the result. Secrets are not resolved.
func (src *serveSource) load() (config.Config, error) {
	cfg := config.Defaults()
	if src.path != "" {
		var err error
		if cfg, err = config.Load(src.path); err != nil {
			return config.Config{}, err
		}
	}
	if src.listen != "" {
		cfg.Listener.Listen = src.listen
	}
	if src.db != "" {
		cfg.Store.URL = src.db
	}
	if len(src.domains) > 0 {
		cfg.Domains = slices.Clone(src.domains)
	}
	if src.apiListenSet {
		cfg.API.Listen = src.apiListen
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// liveConfig is the running configuration and the parts of the server a
// reload changes in place: the TLS certificates of the listener and the
// API, the log level, the VERP keys and the authentication of reports,
// and the rate limits. Every other option is read at start.
type liveConfig struct {
	src     *serveSource
	getenv  func(string) string
	log     *slog.Logger
	level   *slog.LevelVar
	smtpTLS *certSlot // nil: no STARTTLS
	apiTLS  *certSlot // nil: the API without TLS
	// srv and api take the reloaded VERP keys, authentication and rate
	// limits; st keeps the tokens and registrations they look up.
	srv *smtpd.Server
	api *api.API
	st  store.Store

	mu  sync.Mutex
	cur config.Config
}

// reload reads the configuration again and applies what can change while
// serving. A file that does not load or validate, or a certificate that
// does not load, changes nothing: the running configuration is kept and
// the error logged. It returns the error, nil once reloaded.
func (lc *liveConfig) reload() error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	next, err := lc.src.load()
	if err == nil {
		err = next.ResolveSecrets(lc.getenv)
	}
	if err != nil {
		lc.log.Error("configuration not reloaded: keeping the running one", "err", err)
		return err
	}
	var live []string
	// Certificates are read before anything changes, so that a bad one
	// leaves both as they were.
	var smtpCert, apiCert certSlot
	if lc.smtpTLS != nil && next.Listener.TLSCert != "" {
		if err := smtpCert.load(next.Listener.TLSCert, next.Listener.TLSKey); err != nil {
			err = fmt.Errorf("listener.tls_cert/tls_key: %w", err)
			lc.log.Error("configuration not reloaded: keeping the running one", "err", err)
			return err
		}
	}
	if lc.apiTLS != nil && next.API.TLSCert != "" {
		if err := apiCert.load(next.API.TLSCert, next.API.TLSKey); err != nil {
			err = fmt.Errorf("api.tls_cert/tls_key: %w", err)
			lc.log.Error("configuration not reloaded: keeping the running one", "err", err)
			return err
		}
	}
	// So are the signer and the checker.
	var authn *smtpd.Live
	if lc.srv != nil && authnChanged(&lc.cur, &next) {
		signer, err := newSigner(&next, lc.st)
		var checker *provenance.Checker
		if err == nil {
			checker, err = newProvenance(&next, lc.st)
		}
		if err != nil {
			lc.log.Error("configuration not reloaded: keeping the running one", "err", err)
			return err
		}
		authn = &smtpd.Live{
			Signer:               signer,
			AcceptFailedVERP:     next.VERP.OnFailure == config.VERPAccept,
			Provenance:           checker,
			ConnectionsPerMinute: next.Listener.ConnectionsPerMinute,
			MessagesPerMinute:    next.Listener.MessagesPerMinute,
			RateLimitExempt:      rateLimitExempt(&next),
		}
	}
	if authn != nil {
		lc.srv.Reload(*authn)
		if lc.api != nil {
			lc.api.SetSigner(authn.Signer)
		}
		live = append(live, "verp,authentication,rate limits")
		for _, w := range next.Unsafe() {
			lc.log.Warn("unsafe configuration", "setting", w)
		}
	}
	if c := smtpCert.cert.Load(); c != nil {
		lc.smtpTLS.cert.Store(c)
		live = append(live, "listener.tls_cert")
	}
	if c := apiCert.cert.Load(); c != nil {
		lc.apiTLS.cert.Store(c)
		live = append(live, "api.tls_cert")
	}
	level, _ := next.SlogLevel()
	if level != lc.level.Level() {
		live = append(live, "log_level")
	}
	restart := restartChanges(&lc.cur, &next)
	lc.cur = next
	lc.log.Info("configuration reloaded", "applied", strings.Join(live, ","))
	if len(restart) > 0 {
		lc.log.Warn("options changed in the file take effect on restart", "options", strings.Join(restart, ","))
	}
	// The level changes last, so that the lines above are written under
	// the level the reload began with.
	lc.level.Set(level)
	return nil
}

// liveOptions are the options a reload applies (see liveConfig.reload),
// as restartChanges names them. The certificate files are reread on
// every reload; only turning TLS on or off needs a restart.
var liveOptions = map[string]bool{
	"log_level": true,

	"verp.keys":                              true,
	"verp.prefix":                            true,
	"verp.max_age":                           true,
	"verp.on_failure":                        true,
	"authentication.unsigned":                true,
	"authentication.sender_domains":          true,
	"authentication.dkim":                    true,
	"authentication.dkim_timeout":            true,
	"listener.connections_per_minute_per_ip": true,
	"listener.messages_per_minute_per_ip":    true,
	"listener.rate_limit_exempt":             true,

	"listener.tls_cert": true,
	"listener.tls_key":  true,
	"api.tls_cert":      true,
	"api.tls_key":       true,
}

// authnChanged reports whether the VERP keys, the authentication of
// reports or the rate limits differ between old and next (secrets
// resolved in both).
func authnChanged(old, next *config.Config) bool {
	var names []string
	diffFields(reflect.ValueOf(*old), reflect.ValueOf(*next), "", &names)
	for _, n := range names {
		if strings.HasPrefix(n, "verp.") || strings.HasPrefix(n, "authentication.") && n != "authentication.sent_retention" ||
			strings.HasPrefix(n, "listener.connections_per") ||
			strings.HasPrefix(n, "listener.messages_per") || n == "listener.rate_limit_exempt" {
			return true
		}
	}
	return false
}

// restartChanges names the options, as the file spells them ("domains",
// "listener.max_recipients"), whose values differ between old and next
// and that a reload does not apply. Values are not named: they may be
// secrets.
func restartChanges(old, next *config.Config) []string {
	var names []string
	diffFields(reflect.ValueOf(*old), reflect.ValueOf(*next), "", &names)
	var out []string
	for _, n := range names {
		if !liveOptions[n] {
			out = append(out, n)
		}
	}
	if (old.Listener.TLSCert == "") != (next.Listener.TLSCert == "") {
		out = append(out, "listener.tls_cert (STARTTLS turned on or off)")
	}
	if (old.API.TLSCert == "") != (next.API.TLSCert == "") {
		out = append(out, "api.tls_cert (TLS turned on or off)")
	}
	return out
}

// diffFields adds to names the TOML keys of the fields of structs a and b
// that differ, descending into the sections (struct fields).
func diffFields(a, b reflect.Value, prefix string, names *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		fa, fb := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.NumField() > 0 {
			diffFields(fa, fb, prefix+key+".", names)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			*names = append(*names, prefix+key)
		}
	}
}

// newForwarder builds the relay forwarder of [relay], or nil when no
// upstream is configured (no domain forwards then: config.Validate).
func newForwarder(cfg *config.Config, st store.Store, log *slog.Logger, reg prometheus.Registerer) (*relay.Forwarder, error) {
	r := &cfg.Relay
	if r.Upstream == "" {
		return nil, nil
	}
	return relay.New(st, relay.Config{
		Upstream:    r.Upstream,
		StartTLS:    r.StartTLS,
		Hostname:    cfg.Listener.Hostname,
		MaxAttempts: r.MaxAttempts,
		MinBackoff:  time.Duration(r.MinBackoff),
		MaxBackoff:  time.Duration(r.MaxBackoff),
		Timeout:     time.Duration(r.Timeout),
		Log:         log,
	}, reg)
}
