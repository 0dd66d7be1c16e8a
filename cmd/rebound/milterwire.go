package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/milter"
	"github.com/rebound-mail/rebound/smtpd"
)

// startMilter starts the milter listener of milter.listen, storing through
// srv as the SMTP listener does. It returns nil, nil when milter.listen is
// empty. stop shuts the milter down, letting the messages being stored be
// answered.
func startMilter(cfg *config.Config, srv *smtpd.Server, log *slog.Logger) (stop func(context.Context) error, err error) {
	if cfg.Milter.Listen == "" {
		return nil, nil
	}
	ms, err := milter.New(srv, milter.Config{
		Action:         cfg.Milter.Action,
		MaxMessageSize: cfg.Listener.MaxMessageSize,
		Log:            log,
	})
	if err != nil {
		return nil, err
	}
	l, _, _, err := listenOn(cfg.Milter.Listen)
	if err != nil {
		return nil, fmt.Errorf("milter.listen: %v", err)
	}
	go func() {
		if err := ms.Serve(l); err != nil {
			log.Error("milter listener failed", "err", err)
		}
	}()
	log.Info("milter listening", "addr", l.Addr().String(), "action", cfg.Milter.Action)
	return ms.Shutdown, nil
}

// stopEarly stops a milter started before serve failed to start.
func stopEarly(stop func(context.Context) error) {
	if stop != nil {
		stop(context.Background())
	}
}

// listenOn listens on a listen option's value: host:port, or unix:/path for
// a unix socket (a socket left there by a previous run is removed first;
// never anything else). It returns the network and address it used.
func listenOn(spec string) (l net.Listener, network, addr string, err error) {
	network, addr = "tcp", spec
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		network, addr = "unix", path
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path)
		}
	}
	l, err = net.Listen(network, addr)
	return l, network, addr, err
}
