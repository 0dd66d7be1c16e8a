package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/dashboard"
	"github.com/rebound-mail/rebound/smtpd"
	"github.com/rebound-mail/rebound/webhook"
)

// shutdownGrace bounds how long a stopping server waits for messages in
// flight before it closes their connections (unanswered, so the clients
// retry).
const shutdownGrace = 30 * time.Second

// runServe implements "rebound serve": the SMTP/LMTP listener storing
// bounces, until SIGTERM or SIGINT; SIGHUP reloads the configuration.
func runServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default: // a reload is pending already
			}
		}
	}()
	return serveWith(ctx, args, stderr, serveHooks{reload: reload})
}

// serveHooks connect serve to its caller.
type serveHooks struct {
	// ready, when set, receives the listening address once connections
	// are accepted.
	ready chan<- string
	// reload asks for the configuration to be read again (SIGHUP).
	reload <-chan struct{}
	// reloaded, when set, receives the result of each reload.
	reloaded chan<- error
}

// serve runs the listener until ctx ends. ready, when set, receives the
// listening address once connections are accepted.
func serve(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	return serveWith(ctx, args, stderr, serveHooks{ready: ready})
}

// serveWith runs the listener until ctx ends, reloading the configuration
// when hooks.reload says so.
func serveWith(ctx context.Context, args []string, stderr io.Writer, hooks serveHooks) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (TOML); see config.example.toml")
	listen := fs.String("listen", "", "listen address host:port, or unix:/path (overrides listener.listen)")
	db := fs.String("db", "", "store: SQLite path or postgres:// URL (overrides store.url; default "+defaultDB+")")
	apiListen := fs.String("api-listen", "", "HTTP API (and /metrics) address host:port (overrides api.listen; an empty value turns the API off)")
	var domains stringList
	fs.Var(&domains, "domain", "bounce domain to accept mail for (repeatable; overrides domains)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound serve [--config FILE] [--listen ADDR] [--api-listen ADDR] [--db PATH-or-URL] [--domain D]...")
		fs.PrintDefaults()
	}
	if stop, status := parseFlagsOnly(fs, args); stop {
		return status
	}

	src := &serveSource{path: *cfgPath, listen: *listen, db: *db, domains: domains}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "api-listen" {
			src.apiListen, src.apiListenSet = *apiListen, true
		}
	})
	cfg, err := src.load()
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}
	if err := cfg.ResolveSecrets(os.Getenv); err != nil {
		fmt.Fprintf(stderr, "rebound serve: %v\n", err)
		return 2
	}
	log, level := newLogger(&cfg, stderr)
	live := &liveConfig{src: src, getenv: os.Getenv, log: log, level: level, cur: cfg}

	// The certificates are served through GetCertificate, so that a
	// reload replaces them for the handshakes that follow.
	var tlsConfig *tls.Config
	if cfg.Listener.TLSCert != "" {
		live.smtpTLS = &certSlot{}
		if err := live.smtpTLS.load(cfg.Listener.TLSCert, cfg.Listener.TLSKey); err != nil {
			return failf(stderr, "serve", "listener.tls_cert/tls_key: %v", err)
		}
		tlsConfig = live.smtpTLS.tlsConfig()
	}
	// The API's certificate is loaded now, so that a bad one stops serve
	// before it answers mail.
	var apiTLS *tls.Config
	if cfg.API.TLSCert != "" {
		live.apiTLS = &certSlot{}
		if err := live.apiTLS.load(cfg.API.TLSCert, cfg.API.TLSKey); err != nil {
			return failf(stderr, "serve", "api.tls_cert/tls_key: %v", err)
		}
		apiTLS = live.apiTLS.tlsConfig()
	}
	an, err := newAnalyzer(cfg.Classify.Language, int(cfg.Listener.MaxMessageSize))
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}
	an.Parser.Limits.MaxRecipients = cfg.Listener.MaxReportRecipients

	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	opts := storeOptions(&cfg)
	opts.Outbox = len(cfg.Webhooks.Endpoints) > 0
	st, err := openStore(openCtx, cfg.Store.URL, opts)
	cancel()
	if err != nil {
		return failf(stderr, "serve", "opening store %s: %v", redactURL(cfg.Store.URL), err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()

	signer, err := newSigner(&cfg, st)
	if err != nil {
		return failf(stderr, "serve", "verp: %v", err)
	}
	checker, err := newProvenance(&cfg, st)
	if err != nil {
		return failf(stderr, "serve", "authentication: %v", err)
	}
	for _, w := range cfg.Unsafe() {
		log.Warn("unsafe configuration", "setting", w)
	}
	if signer == nil {
		log.Info("no VERP keys: no return path is verified", "unsigned_policy", cfg.Authentication.Unsigned)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := smtpd.NewMetrics(reg)

	var deliverer *webhook.Deliverer
	if len(cfg.Webhooks.Endpoints) > 0 {
		if deliverer, err = newDeliverer(&cfg, st, log, reg); err != nil {
			return failf(stderr, "serve", "%v", err)
		}
	}
	fwd, err := newForwarder(&cfg, st, log, reg)
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}
	// Each stored message wakes the webhook deliverer and the relay
	// forwarder, whichever run.
	stored := func(int64) {
		if deliverer != nil {
			deliverer.Notify()
		}
		if fwd != nil {
			fwd.Notify()
		}
	}
	srv, err := smtpd.New(smtpd.Config{
		Hostname:            cfg.Listener.Hostname,
		Domains:             cfg.Domains,
		LMTP:                cfg.Listener.LMTP,
		MaxMessageSize:      cfg.Listener.MaxMessageSize,
		MaxRecipients:       cfg.Listener.MaxRecipients,
		MaxLineLength:       cfg.Listener.MaxLineLength,
		MaxConnections:      cfg.Listener.MaxConnections,
		MaxConnectionsPerIP: cfg.Listener.MaxConnectionsPerIP,
		ReadTimeout:         time.Duration(cfg.Listener.ReadTimeout),
		WriteTimeout:        time.Duration(cfg.Listener.WriteTimeout),
		DataBudget:          cfg.Listener.DataBudget,
		SpoolThreshold:      cfg.Listener.SpoolThreshold,
		SpoolDir:            cfg.Listener.SpoolDir,
		TLS:                 tlsConfig,
		Stored:              stored,
		RelayPolicy:         cfg.RelayPolicy,

		ConnectionsPerMinute: cfg.Listener.ConnectionsPerMinute,
		MessagesPerMinute:    cfg.Listener.MessagesPerMinute,
		RateLimitExempt:      rateLimitExempt(&cfg),
		Signer:               signer,
		AcceptFailedVERP:     cfg.VERP.OnFailure == config.VERPAccept,
		Provenance:           checker,
	}, st, an, log, metrics)
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}

	// The API is built even when not served: it registers the store's
	// gauges (suppressions by cause, open incidents), which metrics_listen
	// serves too.
	apiSrv, apiHandler, err := newAPIServer(&cfg, st, signer, reg, log)
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}
	live.srv, live.api, live.st = srv, apiHandler, st
	if cfg.API.Dashboard {
		dash, err := dashboard.New()
		if err != nil {
			return failf(stderr, "serve", "%v", err)
		}
		apiSrv.Handler = withDashboard(apiSrv.Handler, dash)
	}

	l, network, addr, err := listenOn(cfg.Listener.Listen)
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}
	if network == "unix" {
		if err := setSocketPermissions(addr, &cfg.Listener); err != nil {
			l.Close()
			return failf(stderr, "serve", "%s: %v", addr, err)
		}
	}

	stopMilter, err := startMilter(&cfg, srv, log)
	if err != nil {
		l.Close()
		return failf(stderr, "serve", "%v", err)
	}

	var metricsSrv *http.Server
	if cfg.MetricsListen != "" {
		ml, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			l.Close()
			stopEarly(stopMilter)
			return failf(stderr, "serve", "metrics_listen: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(ml)
		log.Info("metrics listening", "addr", ml.Addr().String())
	}

	apiServed := make(chan error, 1)
	if cfg.API.Listen != "" {
		al, err := net.Listen("tcp", cfg.API.Listen)
		if err != nil {
			l.Close()
			closeServer(metricsSrv)
			stopEarly(stopMilter)
			return failf(stderr, "serve", "api.listen: %v", err)
		}
		apiSrv.TLSConfig = apiTLS
		go func() {
			var err error
			if apiTLS != nil {
				err = apiSrv.ServeTLS(al, "", "")
			} else {
				err = apiSrv.Serve(al)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				apiServed <- err
			}
		}()
		log.Info("API listening", "addr", al.Addr().String(), "tls", apiTLS != nil, "tokens", len(cfg.API.Tokens))
	}

	deliverCtx, stopDelivery := context.WithCancel(context.Background())
	go pruneSent(deliverCtx, st, time.Duration(cfg.Authentication.SentRetention), log)
	go pruneRetained(deliverCtx, st, cfg.Retention, log)
	relayDone := make(chan struct{})
	if fwd != nil {
		go func() {
			defer close(relayDone)
			if err := fwd.Run(deliverCtx); err != nil {
				log.Error("relay forwarding stopped", "err", err)
			}
		}()
	} else {
		close(relayDone)
	}
	deliveryDone := make(chan struct{})
	if deliverer != nil {
		go func() {
			defer close(deliveryDone)
			if err := deliverer.Run(deliverCtx); err != nil {
				log.Error("webhook delivery stopped", "err", err)
			}
		}()
	} else {
		close(deliveryDone)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	proto := "SMTP"
	if cfg.Listener.LMTP {
		proto = "LMTP"
	}
	log.Info("listening", "protocol", proto, "addr", l.Addr().String(), "store", redactURL(cfg.Store.URL),
		"domains", strings.Join(cfg.Domains, ","))
	if hooks.ready != nil {
		hooks.ready <- l.Addr().String()
	}

	status := 0
wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: finishing messages in flight")
			break wait
		case <-hooks.reload:
			err := live.reload()
			if hooks.reloaded != nil {
				hooks.reloaded <- err
			}
		case err := <-served:
			log.Error("listener failed", "err", err)
			status = 1
			break wait
		case err := <-apiServed:
			log.Error("API listener failed", "err", err)
			status = 1
			break wait
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if stopMilter != nil {
		if err := stopMilter(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Error("milter shutdown", "err", err)
		}
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "err", err)
	}
	if apiSrv != nil {
		if err := apiSrv.Shutdown(sctx); err != nil {
			log.Error("API shutdown", "err", err)
		}
	}
	if metricsSrv != nil {
		metricsSrv.Shutdown(sctx)
	}
	// The deliverer finishes and records the attempt under way.
	stopDelivery()
	<-deliveryDone
	<-relayDone
	return status
}

// withDashboard serves the dashboard at / beside the API on one listener:
// the API keeps /v1/, /healthz, /readyz and /metrics.
func withDashboard(api, dash http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", dash)
	// "/v1" too, so that it is the API's 404 rather than the mux's
	// redirect to "/v1/".
	for _, p := range []string{"/v1", "/v1/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, api)
	}
	return mux
}
