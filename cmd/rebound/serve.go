package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/rebound-mail/rebound/smtpd"
)

// shutdownGrace bounds how long a stopping server waits for messages in
// flight before it closes their connections (unanswered, so the clients
// retry).
const shutdownGrace = 30 * time.Second

// runServe implements "rebound serve": the SMTP/LMTP listener storing
// bounces, until SIGTERM or SIGINT.
func runServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, args, stderr, nil)
}

// serve runs the listener until ctx ends. ready, when set, receives the
// listening address once connections are accepted.
func serve(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (TOML); see config.example.toml")
	listen := fs.String("listen", "", "listen address host:port, or unix:/path (overrides listener.listen)")
	db := fs.String("db", "", "store: SQLite path or postgres:// URL (overrides store.url; default "+defaultDB+")")
	var domains stringList
	fs.Var(&domains, "domain", "bounce domain to accept mail for (repeatable; overrides domains)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rebound serve [--config FILE] [--listen ADDR] [--db PATH-or-URL] [--domain D]...")
		fs.PrintDefaults()
	}
	if stop, status := parseFlagsOnly(fs, args); stop {
		return status
	}

	cfg := config.Defaults()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return failf(stderr, "serve", "%v", err)
		}
	}
	if *listen != "" {
		cfg.Listener.Listen = *listen
	}
	if *db != "" {
		cfg.Store.URL = *db
	}
	if len(domains) > 0 {
		cfg.Domains = domains
	}
	if err := cfg.Validate(); err != nil {
		return failf(stderr, "serve", "%v", err)
	}
	level, _ := cfg.SlogLevel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var tlsConfig *tls.Config
	if cfg.Listener.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Listener.TLSCert, cfg.Listener.TLSKey)
		if err != nil {
			return failf(stderr, "serve", "listener.tls_cert/tls_key: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	an, err := newAnalyzer(cfg.Classify.Language, int(cfg.Listener.MaxMessageSize))
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}
	an.Parser.Limits.MaxRecipients = cfg.Listener.MaxReportRecipients

	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	st, err := openStore(openCtx, cfg.Store.URL, storeOptions(&cfg))
	cancel()
	if err != nil {
		return failf(stderr, "serve", "opening store: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := smtpd.NewMetrics(reg)
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
	}, st, an, log, metrics)
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}

	network, addr := "tcp", cfg.Listener.Listen
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", path
		// A socket left by a previous run; never remove anything else.
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path)
		}
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return failf(stderr, "serve", "%v", err)
	}

	var metricsSrv *http.Server
	if cfg.MetricsListen != "" {
		ml, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			l.Close()
			return failf(stderr, "serve", "metrics_listen: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(ml)
		log.Info("metrics listening", "addr", ml.Addr().String())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	proto := "SMTP"
	if cfg.Listener.LMTP {
		proto = "LMTP"
	}
	log.Info("listening", "protocol", proto, "addr", l.Addr().String(), "store", cfg.Store.URL,
		"domains", strings.Join(cfg.Domains, ","))
	if ready != nil {
		ready <- l.Addr().String()
	}

	status := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing messages in flight")
	case err := <-served:
		log.Error("listener failed", "err", err)
		status = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "err", err)
	}
	if metricsSrv != nil {
		metricsSrv.Shutdown(sctx)
	}
	return status
}
