// Package relay forwards the mail that reached a bounce domain but was no
// report (a person answering the Return-Path) to an upstream SMTP server,
// from the durable queue the listener filled (store.RelayQueue).
//
// A message is queued in the transaction that stores it, so once the
// listener answered 250 it is forwarded even across a crash. A Forwarder
// claims the due items under a lease, so that instances sharing a store
// never send one at once, and sends each as it was received: the original
// MAIL FROM (the null sender stays null), every original recipient, and
// the raw bytes with one Received line in front (RFC 5321 section 4.4).
// Delivery is at least once: an instance that stops between the
// upstream's 250 and marking the item sent leaves it to be sent again
// once its lease ends.
//
// A 4xx reply, a connection that fails or an attempt that runs out of time
// is retried with exponential backoff and jitter; a 5xx reply, a refused
// STARTTLS that is required, or the last allowed attempt gives the item up:
// it is marked failed with its error, logged, and listed by the API. None
// is dropped silently.
package relay

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-mail/rebound/store"
)

// Values of Config.StartTLS.
const (
	StartTLSOpportunistic = "opportunistic" // when the upstream offers it
	StartTLSRequired      = "required"      // an upstream without it fails the item
	StartTLSOff           = "off"
)

// Config configures a Forwarder.
type Config struct {
	// Upstream is the host:port forwarded mail goes to.
	Upstream string
	// StartTLS is a StartTLS* value; empty: opportunistic.
	StartTLS string
	// Hostname is the name Rebound gives in EHLO and in the Received
	// line; empty: the system's host name.
	Hostname string
	// MaxAttempts bounds the attempts at one message before it is given
	// up; MinBackoff and MaxBackoff bound the wait after a failed one,
	// doubling from the first; Timeout bounds one attempt, from dialling
	// to the reply to the data.
	MaxAttempts int
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	Timeout     time.Duration
	Log         *slog.Logger

	// TLS is the base of the TLS configuration of STARTTLS (its RootCAs,
	// say); nil: the system roots. ServerName is the upstream's host.
	TLS *tls.Config
	// Owner identifies this instance in the queue's leases; empty: host
	// name, process ID and a random part.
	Owner string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Forwarder sends the queued messages to the upstream.
type Forwarder struct {
	st      store.RelayQueue
	cfg     Config
	host    string // of the upstream: the TLS server name
	poll    time.Duration
	wake    chan struct{}
	metrics *metrics
	running atomic.Bool
}

// leaseGrace is added to Timeout for the lease of an item being sent, so
// that an attempt that runs its full time still ends inside its lease.
const leaseGrace = time.Minute

// maxPoll bounds how long due items wait when nothing calls Notify: a
// retry becomes due without a save to announce it.
const maxPoll = 30 * time.Second

// New returns a Forwarder sending from st. Its metrics are registered
// with reg when it is not nil.
func New(st store.RelayQueue, cfg Config, reg prometheus.Registerer) (*Forwarder, error) {
	if st == nil {
		return nil, errors.New("relay: a store is needed")
	}
	host, _, err := net.SplitHostPort(cfg.Upstream)
	if err != nil || host == "" {
		return nil, fmt.Errorf("relay: upstream %q: want host:port", cfg.Upstream)
	}
	switch cfg.StartTLS {
	case "":
		cfg.StartTLS = StartTLSOpportunistic
	case StartTLSOpportunistic, StartTLSRequired, StartTLSOff:
	default:
		return nil, fmt.Errorf("relay: starttls %q: want opportunistic, required or off", cfg.StartTLS)
	}
	if cfg.MaxAttempts <= 0 || cfg.MinBackoff <= 0 || cfg.MaxBackoff < cfg.MinBackoff || cfg.Timeout <= 0 {
		return nil, fmt.Errorf("relay: max attempts %d, backoff %s to %s, timeout %s: want positive values, min backoff at most max",
			cfg.MaxAttempts, cfg.MinBackoff, cfg.MaxBackoff, cfg.Timeout)
	}
	if cfg.Hostname == "" {
		if cfg.Hostname, err = os.Hostname(); err != nil || cfg.Hostname == "" {
			cfg.Hostname = "localhost"
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Owner == "" {
		var b [4]byte
		crand.Read(b[:])
		cfg.Owner = fmt.Sprintf("%s:%d:%s", cfg.Hostname, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return &Forwarder{st: st, cfg: cfg, host: host, poll: min(cfg.MinBackoff, maxPoll),
		wake: make(chan struct{}, 1), metrics: m}, nil
}

// Notify tells the Forwarder that a message may have been queued, waking
// it at once. It never blocks.
func (f *Forwarder) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run forwards the due items until ctx ends, then returns nil. Between
// rounds it waits for Notify, or for the poll interval (MinBackoff, at
// most 30 seconds) that makes retries due.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("relay: Run called while running")
	}
	defer f.running.Store(false)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		f.drain(ctx)
		f.updateDepth(ctx)
		t.Reset(f.poll)
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
		case <-t.C:
		}
	}
}

// drain sends the due items one by one, each under its own lease, until
// none is due or ctx ends.
func (f *Forwarder) drain(ctx context.Context) {
	for ctx.Err() == nil {
		items, err := f.st.ClaimRelay(ctx, f.cfg.Owner, f.cfg.Timeout+leaseGrace, f.cfg.Now(), 1)
		if err != nil {
			if ctx.Err() == nil {
				f.cfg.Log.Error("relay: cannot claim queued messages", "err", err)
			}
			return
		}
		if len(items) == 0 {
			return
		}
		f.forward(ctx, &items[0])
	}
}

// forward makes one attempt at an item and records its outcome.
func (f *Forwarder) forward(ctx context.Context, it *store.RelayItem) {
	err := f.send(ctx, it)
	if err != nil && ctx.Err() != nil {
		// Stopped, not failed: the item's lease runs out and it is sent
		// then, by this instance or another, without an attempt counted.
		return
	}
	// The outcome is recorded even when ctx ends now: the upstream has
	// answered.
	bg := context.WithoutCancel(ctx)
	log := f.cfg.Log.With("message_id", it.MessageID, "mail_from", it.MailFrom,
		"rcpt_to", strings.Join(it.RcptTo, ","), "upstream", f.cfg.Upstream)
	attempts := it.Attempts + 1
	switch {
	case err == nil:
		if serr := f.st.RelayDone(bg, it.MessageID); serr != nil {
			log.Error("relay: forwarded, but cannot mark it sent; it may be sent again", "err", serr)
			return
		}
		f.metrics.sent.Inc()
		log.Info("relay: forwarded", "attempts", attempts)
	case permanent(err) || attempts >= f.cfg.MaxAttempts:
		why := err.Error()
		if !permanent(err) {
			why = fmt.Sprintf("giving up after %d attempts: %s", attempts, why)
		}
		if serr := f.st.RelayFailed(bg, it.MessageID, why); serr != nil {
			log.Error("relay: cannot mark a message failed", "err", serr, "why", why)
			return
		}
		f.metrics.failed.Inc()
		log.Error("relay: message not forwarded, given up", "attempts", attempts, "err", why)
	default:
		next := f.cfg.Now().Add(f.backoff(attempts))
		if serr := f.st.RelayRetry(bg, it.MessageID, next, err.Error()); serr != nil {
			log.Error("relay: cannot schedule a retry", "err", serr)
			return
		}
		f.metrics.retried.Inc()
		log.Warn("relay: forwarding failed, will retry", "attempts", attempts, "next_attempt", next, "err", err)
	}
}

// backoff is the wait after the failures-th failed attempt: MinBackoff
// doubled for each failure before it, at most MaxBackoff, less a random
// part of up to a half, so that messages failed together spread out.
func (f *Forwarder) backoff(failures int) time.Duration {
	d := f.cfg.MinBackoff
	for i := 1; i < failures && d < f.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, f.cfg.MaxBackoff)
	return d - rand.N(d/2+1)
}

func (f *Forwarder) updateDepth(ctx context.Context) {
	items, err := f.st.RelayItems(ctx, store.RelayQuery{State: store.RelayQueued})
	if err == nil {
		f.metrics.depth.Set(float64(len(items)))
	}
}

// permanentError is a failure that trying again cannot mend.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent reports whether err ends the item: a 5xx reply (RFC 5321
// section 4.2.1) or a permanentError.
func permanent(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return true
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code >= 500 && se.Code < 600
	}
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

// send makes one SMTP transaction with the upstream for it, bounded by
// Timeout.
func (f *Forwarder) send(ctx context.Context, it *store.RelayItem) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", f.cfg.Upstream)
	if err != nil {
		return err
	}
	defer conn.Close()
	// go-smtp sets a deadline per command; the attempt as a whole ends
	// with ctx.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sconn := conn
	if f.cfg.StartTLS != StartTLSOff {
		if sconn, err = f.startTLS(ctx, conn); err != nil {
			return err
		}
	}
	c := smtp.NewClient(sconn)
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = f.cfg.Timeout, f.cfg.Timeout
	if err := c.Hello(f.cfg.Hostname); err != nil {
		return fmt.Errorf("greeting the upstream: %w", reply(err))
	}
	opts := &smtp.MailOptions{Size: int64(len(it.Raw))}
	if !ascii(it.MailFrom) || !allASCII(it.RcptTo) {
		// RFC 6531 section 3.4: internationalized addresses need SMTPUTF8.
		if ok, _ := c.Extension("SMTPUTF8"); !ok {
			return &permanentError{fmt.Errorf("upstream %s does not offer SMTPUTF8, needed for the envelope's addresses", f.cfg.Upstream)}
		}
		opts.UTF8 = true
	}
	if err := c.Mail(it.MailFrom, opts); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", it.MailFrom, reply(err))
	}
	for _, to := range it.RcptTo {
		// One refused recipient ends the attempt, as its reply says: the
		// recipients are addresses at one bounce domain, which the
		// upstream takes or refuses alike.
		if err := c.Rcpt(to, nil); err != nil {
			return fmt.Errorf("RCPT TO:<%s>: %w", to, reply(err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", reply(err))
	}
	if _, err := w.Write(received(f.cfg.Hostname, it, f.cfg.Now())); err != nil {
		return fmt.Errorf("sending the message: %w", err)
	}
	if _, err := w.Write(it.Raw); err != nil {
		return fmt.Errorf("sending the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %w", reply(err))
	}
	// The message is accepted; a failed QUIT does not change that.
	c.Quit()
	return nil
}

// startTLS greets the upstream, says EHLO, and starts TLS when the
// upstream offers it (RFC 3207 section 4); it returns the connection the
// transaction goes on with. The client of go-smtp starts TLS only as part
// of its own first EHLO, as "localhost", and gives up on an upstream that
// does not offer it; here the upstream hears Rebound's name and an
// opportunistic attempt goes on in plain text on the same connection.
// go-smtp's client then reads the greeting it expects from what is
// returned, and says EHLO again (RFC 3207 section 4.2 requires it after
// TLS; in plain text a second EHLO is allowed, RFC 5321 section 4.1.4).
func (f *Forwarder) startTLS(ctx context.Context, conn net.Conn) (net.Conn, error) {
	conn.SetDeadline(time.Now().Add(f.cfg.Timeout))
	defer conn.SetDeadline(time.Time{})
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("greeting of the upstream: %w", err)
	}
	id, err := tp.Cmd("EHLO %s", f.cfg.Hostname)
	if err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	tp.StartResponse(id)
	_, msg, err := tp.ReadResponse(250)
	tp.EndResponse(id)
	var te *textproto.Error
	if err != nil && !errors.As(err, &te) {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	// An upstream that refuses EHLO offers no extensions (go-smtp's
	// client falls back to HELO); the lines after the first name them.
	offered := false
	for i, line := range strings.Split(msg, "\n") {
		if ext, _, _ := strings.Cut(line, " "); i > 0 && err == nil && strings.EqualFold(ext, "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		if f.cfg.StartTLS == StartTLSRequired {
			return nil, &permanentError{fmt.Errorf("upstream %s does not offer STARTTLS, and relay.starttls is required", f.cfg.Upstream)}
		}
		return greeted(conn, f.host), nil
	}
	id, err = tp.Cmd("STARTTLS")
	if err != nil {
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	tp.StartResponse(id)
	_, _, err = tp.ReadResponse(220)
	tp.EndResponse(id)
	if err != nil {
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.cfg.TLS != nil {
		tc = f.cfg.TLS.Clone()
	}
	tc.ServerName = f.host
	tconn := tls.Client(conn, tc)
	if err := tconn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS with upstream %s: %w", f.cfg.Upstream, err)
	}
	return greeted(tconn, f.host), nil
}

// greetedConn is a connection whose greeting was read already: it gives
// go-smtp's client a greeting to read first.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func greeted(c net.Conn, host string) net.Conn {
	return &greetedConn{Conn: c, r: io.MultiReader(strings.NewReader("220 "+host+"\r\n"), c)}
}

func (g *greetedConn) Read(p []byte) (int, error) { return g.r.Read(p) }

// replyError is an upstream's reply as it was written: "550 5.1.1 No
// such user".
type replyError struct{ se *smtp.SMTPError }

func (e *replyError) Error() string {
	if e.se.EnhancedCode == (smtp.EnhancedCode{}) || e.se.EnhancedCode == smtp.NoEnhancedCode {
		return fmt.Sprintf("%d %s", e.se.Code, e.se.Message)
	}
	c := e.se.EnhancedCode
	return fmt.Sprintf("%d %d.%d.%d %s", e.se.Code, c[0], c[1], c[2], e.se.Message)
}

func (e *replyError) Unwrap() error { return e.se }

// reply makes an upstream's reply among errors read as the reply.
func reply(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &replyError{se}
	}
	return err
}

// received is the trace field Rebound adds in front of a forwarded
// message (RFC 5321 section 4.4; the syntax of RFC 5322 section 3.6.7):
// by whom, the stored message's ID, for whom when there is one recipient
// (the for clause names one address), and when.
func received(hostname string, it *store.RelayItem, now time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Received: by %s (Rebound) id %d", hostname, it.MessageID)
	if len(it.RcptTo) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", it.RcptTo[0])
	}
	fmt.Fprintf(&b, "; %s\r\n", now.Format(time.RFC1123Z))
	return []byte(b.String())
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !ascii(s) {
			return false
		}
	}
	return true
}
