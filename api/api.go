// Package api is Rebound's HTTP API: the bounce records, stored messages,
// the suppression list, incidents, statistics and webhook delivery state of
// a store, as JSON under /v1, with bearer tokens scoped read or write. A
// mailer also gets from it the signed return paths (package verp) of its
// messages, and registers the messages it sent, so that the bounces of its
// mail can be told from forged ones.
//
// Errors are problem details (RFC 9457, application/problem+json); a bad
// parameter is named in the problem's "parameter" member. The routes and
// their shapes are described by the OpenAPI 3.1 document embedded in the
// package (openapi.json), served at /v1/openapi.json.
//
// /healthz, /readyz and /metrics are served without authentication, for
// load balancers, orchestrators and Prometheus.
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/verp"
)

// Scopes of a token.
const (
	ScopeRead  = "read"  // every GET route under /v1, batch checks, decoding return paths
	ScopeWrite = "write" // changes: suppressions, webhook replays, return paths, sent mail

	// scopeAny admits every configured token, whatever its scopes: the
	// route that tells a client what its token may do.
	scopeAny = "any"
)

// Defaults of Config.
const (
	DefaultMaxBody  = 4 << 20
	DefaultMaxBatch = 10000
)

// Token is one bearer token and what it may do.
type Token struct {
	Name   string // who holds it: the actor of the changes made with it
	Secret string
	Scopes []string // ScopeRead, ScopeWrite
}

// String keeps the secret out of logs.
func (t Token) String() string { return fmt.Sprintf("token %q %v", t.Name, t.Scopes) }

// Config configures an API.
type Config struct {
	Store store.Store
	// Tokens are the bearer tokens accepted. With none, every /v1 route
	// answers 401: the API is never open by omission.
	Tokens   []Token
	MaxBody  int64 // bound of a request body in bytes; 0: DefaultMaxBody
	MaxBatch int   // bound of the addresses or messages of a batch; 0: DefaultMaxBatch
	// Signer signs the return paths of POST /v1/verp and verifies those
	// of POST /v1/verp/decode; nil: both answer 503.
	Signer *verp.Signer
	// BounceDomains are the domains at which bounces are received; the
	// first is the domain of return paths asked for without one.
	BounceDomains []string
	// Gatherer, when set, is served on /metrics, without authentication
	// as Prometheus scrapers expect.
	Gatherer prometheus.Gatherer
	// Registerer, when set, receives the API's own metrics and a
	// collector of the store's suppression and incident gauges.
	Registerer prometheus.Registerer
	// Endpoints are the names of the configured webhook endpoints.
	Endpoints []string
	// Language is the language of explanations asked for without one
	// (classify.language); "" is English.
	Language string
	Log      *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
}

// API serves the routes of a store. Create it with New.
type API struct {
	store  store.Store
	signer atomic.Pointer[verp.Signer]
	// bounceDomains are normalized as the signer writes them.
	bounceDomains []string
	tokens        []tokenHash
	maxBody       int64
	maxBatch      int
	endpoints     []string
	log           *slog.Logger
	now           func() time.Time
	metrics       *metrics
	gatherer      prometheus.Gatherer
	mux           *http.ServeMux
	// explainers are the classifiers of the explanations, by language.
	explainers map[string]*classify.Classifier
	language   string
}

// tokenHash keeps a token by the SHA-256 of its secret, so that every
// comparison is of equal length and takes the same time.
type tokenHash struct {
	name   string
	sum    [sha256.Size]byte
	scopes []string
}

// New checks cfg and builds the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: no store")
	}
	if cfg.MaxBody < 0 || cfg.MaxBatch < 0 {
		return nil, errors.New("api: MaxBody and MaxBatch must not be negative")
	}
	a := &API{
		store:     cfg.Store,
		maxBody:   cfg.MaxBody,
		maxBatch:  cfg.MaxBatch,
		endpoints: slices.Clone(cfg.Endpoints),
		log:       cfg.Log,
		now:       cfg.Now,
		gatherer:  cfg.Gatherer,
	}
	if a.maxBody == 0 {
		a.maxBody = DefaultMaxBody
	}
	if a.maxBatch == 0 {
		a.maxBatch = DefaultMaxBatch
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	for i, d := range cfg.BounceDomains {
		n, err := normalizeBounceDomain(d)
		if err != nil {
			return nil, fmt.Errorf("api: bounce domain %d: %v", i+1, err)
		}
		if slices.Contains(a.bounceDomains, n) {
			return nil, fmt.Errorf("api: bounce domain %q given twice", n)
		}
		a.bounceDomains = append(a.bounceDomains, n)
	}
	names := map[string]bool{}
	for i, t := range cfg.Tokens {
		if t.Name == "" {
			return nil, fmt.Errorf("api: token %d has no name", i)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("api: token name %q used twice", t.Name)
		}
		names[t.Name] = true
		if t.Secret == "" {
			return nil, fmt.Errorf("api: token %q has an empty secret", t.Name)
		}
		if len(t.Scopes) == 0 {
			return nil, fmt.Errorf("api: token %q has no scope", t.Name)
		}
		for _, s := range t.Scopes {
			if s != ScopeRead && s != ScopeWrite {
				return nil, fmt.Errorf("api: token %q: scope %q: want %s or %s", t.Name, s, ScopeRead, ScopeWrite)
			}
		}
		a.tokens = append(a.tokens, tokenHash{name: t.Name, sum: sha256.Sum256([]byte(t.Secret)), scopes: slices.Clone(t.Scopes)})
	}
	a.language = cfg.Language
	if a.language == "" {
		a.language = "en"
	}
	a.explainers = map[string]*classify.Classifier{}
	for _, lang := range languages {
		c, err := classify.New(lang)
		if err != nil {
			return nil, fmt.Errorf("api: %v", err)
		}
		a.explainers[lang] = c
	}
	if a.explainers[a.language] == nil {
		return nil, fmt.Errorf("api: language %q: want %s", a.language, strings.Join(languages, " or "))
	}
	m, err := newMetrics(cfg.Registerer, a)
	if err != nil {
		return nil, err
	}
	a.metrics = m
	a.mux = a.routes()
	a.signer.Store(cfg.Signer)
	return a, nil
}

// SetSigner replaces the signer of the VERP routes (a reload rotated the
// keys); nil turns them off.
func (a *API) SetSigner(s *verp.Signer) { a.signer.Store(s) }

// Handler returns the handler of every route.
func (a *API) Handler() http.Handler { return a.mux }

// NewServer returns a server for h with timeouts that keep slow or idle
// clients from holding connections: the caller sets Addr and serves.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte { return slices.Clone(openAPIDocument) }

// route is one method and path pattern of the mux.
type route struct {
	method, path string
	scope        string // "" for the unauthenticated routes
	handle       func(w http.ResponseWriter, r *http.Request) error
}

func (a *API) routeTable() []route {
	return []route{
		{"GET", "/healthz", "", a.healthz},
		{"GET", "/readyz", "", a.readyz},
		{"GET", "/metrics", "", a.serveMetrics},
		{"GET", "/v1/openapi.json", ScopeRead, a.openapi},
		{"GET", "/v1/session", scopeAny, a.session},
		{"GET", "/v1/explain", ScopeRead, a.explain},

		{"GET", "/v1/bounces", ScopeRead, a.listBounces},
		{"GET", "/v1/bounces/{id}", ScopeRead, a.getBounce},
		{"GET", "/v1/messages", ScopeRead, a.listMessages},
		{"GET", "/v1/messages/{id}", ScopeRead, a.getMessage},
		{"GET", "/v1/messages/{id}/raw", ScopeRead, a.getRaw},

		{"GET", "/v1/suppressions", ScopeRead, a.listSuppressions},
		{"POST", "/v1/suppressions/check", ScopeRead, a.checkSuppressions},
		{"GET", "/v1/suppressions/export", ScopeRead, a.exportSuppressions},
		{"GET", "/v1/suppressions/{address}", ScopeRead, a.getSuppression},
		{"PUT", "/v1/suppressions/{address}", ScopeWrite, a.putSuppression},
		{"DELETE", "/v1/suppressions/{address}", ScopeWrite, a.deleteSuppression},
		{"GET", "/v1/suppressions/{address}/history", ScopeRead, a.suppressionHistory},

		{"POST", "/v1/verp", ScopeWrite, a.makeReturnPaths},
		{"POST", "/v1/verp/decode", ScopeRead, a.decodeReturnPath},
		{"POST", "/v1/sent", ScopeWrite, a.registerSent},
		{"GET", "/v1/sent/{message_id}", ScopeRead, a.getSent},
		{"GET", "/v1/relay", ScopeRead, a.listRelay},

		{"GET", "/v1/incidents", ScopeRead, a.listIncidents},
		{"GET", "/v1/stats", ScopeRead, a.stats},
		{"GET", "/v1/overview", ScopeRead, a.overview},

		{"GET", "/v1/webhooks", ScopeRead, a.listWebhooks},
		{"GET", "/v1/webhooks/{name}/deliveries", ScopeRead, a.listDeliveries},
		{"GET", "/v1/webhooks/{name}/dead-letters", ScopeRead, a.listDeadLetters},
		{"POST", "/v1/webhooks/{name}/dead-letters/{event_id}/replay", ScopeWrite, a.replay},
	}
}

func (a *API) routes() *http.ServeMux {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	var paths []string
	for _, rt := range a.routeTable() {
		mux.Handle(rt.method+" "+rt.path, a.wrap(rt))
		if methods[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	// Another method on a known path is a 405 problem with Allow
	// (RFC 9110 section 15.5.6) rather than the mux's plain text.
	for _, p := range paths {
		allow := methods[p]
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD")
		}
		refuse := a.wrap(route{path: p, handle: func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return &Problem{Status: http.StatusMethodNotAllowed,
				Detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, p, strings.Join(allow, ", "))}
		}})
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			if !slices.Contains(allow, m) {
				mux.Handle(m+" "+p, refuse)
			}
		}
	}
	mux.Handle("/", a.wrap(route{path: "unmatched", handle: func(w http.ResponseWriter, r *http.Request) error {
		return &Problem{Status: http.StatusNotFound, Detail: "no such route: " + r.URL.Path}
	}}))
	return mux
}

// wrap adds to a route its metrics, its authentication and the writing
// of the error it returns.
func (a *API) wrap(rt route) http.Handler {
	label := rt.path
	if rt.method != "" {
		label = rt.method + " " + rt.path
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			// Answers carry addresses: no cache may keep them.
			sw.Header().Set("Cache-Control", "no-store")
		}
		sw.Header().Set("X-Content-Type-Options", "nosniff")
		r, err := a.authorize(sw, r, rt)
		if err == nil {
			err = rt.handle(sw, r)
		}
		if err != nil {
			a.writeError(sw, r, err)
		}
		a.metrics.observe(label, sw.status(), time.Since(start))
	})
}

// statusWriter remembers the status written, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// caller is the token that authenticated a request.
type caller struct {
	name   string
	scopes []string
}

type callerKey struct{}

// authorize checks the bearer token of a request to an authenticated
// route (RFC 6750 section 2.1) and its scope. The secret is compared with
// every token, whichever matches, so that the time taken tells nothing of
// which tokens exist.
func (a *API) authorize(w http.ResponseWriter, r *http.Request, rt route) (*http.Request, error) {
	if rt.scope == "" {
		return r, nil
	}
	const realm = `Bearer realm="rebound"`
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimLeft(secret, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || strings.ContainsAny(secret, " \t") {
		w.Header().Set("WWW-Authenticate", realm)
		detail := "missing Authorization header: want Authorization: Bearer <token>"
		if h != "" {
			detail = "malformed Authorization header: want Authorization: Bearer <token>"
		}
		return r, &Problem{Status: http.StatusUnauthorized, Detail: detail}
	}
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
		return r, &Problem{Status: http.StatusUnauthorized, Detail: "the token is not one of the configured API tokens"}
	}
	t := &a.tokens[found]
	if rt.scope != scopeAny && !slices.Contains(t.scopes, rt.scope) {
		w.Header().Set("WWW-Authenticate", realm+`, error="insufficient_scope", scope="`+rt.scope+`"`)
		return r, &Problem{Status: http.StatusForbidden,
			Detail: fmt.Sprintf("token %q lacks the %s scope this route needs", t.name, rt.scope)}
	}
	return r.WithContext(withCaller(r.Context(), caller{name: t.name, scopes: t.scopes})), nil
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	ctx, cancel := contextTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := a.store.Ready(ctx); err != nil {
		a.log.Warn("store not ready", "err", err)
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "the store is not ready: " + err.Error()}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if a.gatherer == nil {
		return &Problem{Status: http.StatusNotFound, Detail: "no metrics are configured"}
	}
	promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}).ServeHTTP(w, r)
	return nil
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument)
	return nil
}
