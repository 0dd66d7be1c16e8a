package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/api"
	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/verp"
	"github.com/rebound-mail/rebound/webhook"
)

// newLogger builds the logger of log_level and log_format.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level, _ := cfg.SlogLevel()
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
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
func newAPIServer(cfg *config.Config, st store.Store, signer *verp.Signer, reg *prometheus.Registry, log *slog.Logger) (*http.Server, error) {
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
		Log:        log,
		Now:        time.Now,

		Signer:        signer,
		BounceDomains: cfg.Domains,
	})
	if err != nil {
		return nil, err
	}
	return api.NewServer(h.Handler()), nil
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
