// Package smtpd is Rebound's SMTP and LMTP listener: it accepts bounces
// for the configured bounce domains, decodes and classifies them, and
// answers 250 only once the message and its records are durably stored.
//
// Durability contract: any failure to store answers "451 4.3.0" (RFC 3463
// section 3.4: mail system full / temporary system problem), so that the
// sending MTA keeps the message and retries. go-smtp turns every error that
// is not an *smtp.SMTPError into a permanent 554, so every error this
// package returns from a transaction is an *smtp.SMTPError.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/idna"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/internal/drain"
	"github.com/rebound-mail/rebound/provenance"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/verp"
)

// Saver is the part of a store.Store the listener writes to.
type Saver interface {
	Save(ctx context.Context, m *store.Message) (store.SaveResult, error)
}

// Analyzer turns a raw message into bounce records; *bounce.Analyzer is
// the one used in production.
type Analyzer interface {
	Analyze(raw []byte, source string) ([]record.Record, *dsn.Report, error)
}

// Config configures a Server. Zero limits take the defaults of
// DefaultConfig.
type Config struct {
	Hostname string
	// Domains are the bounce domains; RCPT TO any other domain is refused.
	Domains []string
	LMTP    bool

	MaxMessageSize      int64 // bytes
	MaxRecipients       int
	MaxLineLength       int // bytes, commands and DATA lines
	MaxConnections      int
	MaxConnectionsPerIP int
	ReadTimeout         time.Duration
	WriteTimeout        time.Duration
	// SaveTimeout bounds one store.Save; past it the client gets 451.
	SaveTimeout time.Duration

	// DataBudget bounds the bytes of message data all transactions in
	// flight hold at once, in memory or spooled (see budget); beyond it a
	// transaction gets "452 4.3.1".
	DataBudget int64
	// SpoolThreshold is the size beyond which a message is received into
	// a file in SpoolDir rather than memory.
	SpoolThreshold int64
	// SpoolDir is where large messages are spooled; empty: DefaultSpoolDir.
	SpoolDir string

	// TLS enables STARTTLS when set.
	TLS *tls.Config

	// ConnectionsPerMinute and MessagesPerMinute bound what one client
	// (an IPv4 address, an IPv6 /64) may open and send, as token buckets
	// with bursts of the same size; 0: no limit. Clients in
	// RateLimitExempt are not limited.
	ConnectionsPerMinute int
	MessagesPerMinute    int
	RateLimitExempt      []netip.Prefix

	// Signer verifies the recipients that claim to be signed return paths
	// (verp.Signer.Claims) at RCPT; nil: no recipient is taken for one.
	Signer *verp.Signer
	// AcceptFailedVERP accepts a recipient whose signature fails (its
	// report is stored with auth "failed" and changes no suppression)
	// instead of refusing it with 550 5.7.1.
	AcceptFailedVERP bool
	// Provenance ties each report's records to mail the sender sent
	// (record.Record.Auth) before they are stored. nil: records are
	// stored without Auth, which counts like before authentication
	// existed; rebound serve always sets one.
	Provenance *provenance.Checker

	// Stored, when set, is called with the ID of each message newly
	// stored (not of duplicates), after the store committed it and before
	// the client is answered: the webhook deliverer is told of new events
	// so.
	Stored func(messageID int64)

	// RelayPolicy is the relay policy (config.RelayStore, RelayForward,
	// RelayReject) of a bounce domain, for mail to it that is no report:
	// a person answering the Return-Path. nil: every domain stores.
	RelayPolicy func(domain string) string
}

// DefaultConfig returns the limits used for zero fields of Config.
func DefaultConfig() Config {
	return Config{
		Hostname:            "localhost",
		MaxMessageSize:      10 << 20,
		MaxRecipients:       100,
		MaxLineLength:       64 << 10,
		MaxConnections:      1000,
		MaxConnectionsPerIP: 100,
		ReadTimeout:         5 * time.Minute,
		WriteTimeout:        5 * time.Minute,
		SaveTimeout:         time.Minute,
		DataBudget:          256 << 20,
		SpoolThreshold:      1 << 20,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Hostname == "" {
		c.Hostname = d.Hostname
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = d.MaxMessageSize
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = d.MaxRecipients
	}
	if c.MaxLineLength <= 0 {
		c.MaxLineLength = d.MaxLineLength
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = d.MaxConnections
	}
	if c.MaxConnectionsPerIP <= 0 {
		c.MaxConnectionsPerIP = d.MaxConnectionsPerIP
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.SaveTimeout <= 0 {
		c.SaveTimeout = d.SaveTimeout
	}
	if c.DataBudget <= 0 {
		c.DataBudget = d.DataBudget
	}
	if c.SpoolThreshold <= 0 {
		c.SpoolThreshold = d.SpoolThreshold
	}
	if c.SpoolDir == "" {
		c.SpoolDir = DefaultSpoolDir()
	}
	return c
}

// Server is one SMTP or LMTP listener.
type Server struct {
	cfg      Config
	domains  map[string]bool
	store    Saver
	analyzer Analyzer
	log      *slog.Logger
	metrics  *Metrics
	smtp     *smtp.Server
	now      func() time.Time
	budget   *budget
	// live holds the settings Reload changes while serving.
	live atomic.Pointer[liveState]
	// decoding holds a token per spooled message being decoded: decoding
	// is CPU-bound, and more large messages decoded at once than there are
	// cores would only hold more memory at once.
	decoding chan struct{}

	// Transactions in DATA, so that shutdown can let them finish.
	mu        sync.Mutex
	gate      drain.Gate // transactions in DATA
	listeners []*limitListener
}

// Errors answered to clients. All are *smtp.SMTPError: see the package
// comment.
var (
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Relaying denied: this server accepts mail for its bounce domains only"}
	errBadAddress = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "Bad recipient address syntax"}
	errStoreFailed = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary storage failure, try again later"}
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Service shutting down, try again later"}
	errReadFailed = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Error reading message, try again later"}
	// A line over MaxLineLength, in DATA or in a BDAT chunk: permanent, as
	// the same message would fail again (RFC 5321 section 4.5.3.1).
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 0},
		Message: "Line too long in message content"}
	// RFC 3463 section 3.8: X.7.0, other security or policy status.
	errRateLimited = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many messages from your address, try again later"}
	errCheckFailed = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure checking the report, try again later"}
	// Mail that is no report, to a domain whose relay policy rejects it;
	// RFC 3463 section 3.8: X.7.1, delivery not authorized.
	errNotReport = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "This address accepts bounces only"}
)

// New returns a server storing into st. metrics may be nil.
func New(cfg Config, st Saver, an Analyzer, log *slog.Logger, metrics *Metrics) (*Server, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Domains) == 0 {
		return nil, errors.New("smtpd: no bounce domains configured")
	}
	if st == nil || an == nil {
		return nil, errors.New("smtpd: a store and an analyzer are needed")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	if err := prepareSpoolDir(cfg.SpoolDir); err != nil {
		return nil, err
	}
	if inMemoryFS(cfg.SpoolDir) {
		log.Warn("the spool directory is a tmpfs: spooled messages stay in memory; set listener.spool_dir to a directory on disk",
			"spool_dir", cfg.SpoolDir)
	}
	s := &Server{
		cfg:      cfg,
		domains:  make(map[string]bool, len(cfg.Domains)),
		store:    st,
		analyzer: an,
		log:      log,
		metrics:  metrics,
		now:      time.Now,
		budget:   &budget{max: cfg.DataBudget, gauge: metrics.dataInFlight},
		decoding: make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
	}
	s.Reload(Live{
		Signer:               cfg.Signer,
		AcceptFailedVERP:     cfg.AcceptFailedVERP,
		Provenance:           cfg.Provenance,
		ConnectionsPerMinute: cfg.ConnectionsPerMinute,
		MessagesPerMinute:    cfg.MessagesPerMinute,
		RateLimitExempt:      cfg.RateLimitExempt,
	})
	for _, d := range cfg.Domains {
		k, ok := domainKey(d)
		if !ok {
			return nil, fmt.Errorf("smtpd: bounce domain %q is not a domain name", d)
		}
		s.domains[k] = true
	}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.LMTP = cfg.LMTP
	srv.MaxMessageBytes = cfg.MaxMessageSize
	srv.MaxRecipients = cfg.MaxRecipients
	srv.MaxLineLength = cfg.MaxLineLength
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.TLSConfig = cfg.TLS
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{log}
	s.smtp = srv
	return s, nil
}

// Serve accepts connections on l until Shutdown. It returns nil after a
// shutdown.
func (s *Server) Serve(l net.Listener) error {
	ll := newLimitListener(l, s.cfg.MaxConnections, s.cfg.MaxConnectionsPerIP,
		func() *rateLimiter { return s.live.Load().connRate }, s.metrics)
	// s.mu orders this against Shutdown, which closes the gate and takes
	// the listeners under it.
	s.mu.Lock()
	if s.gate.Closing() {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners = append(s.listeners, ll)
	s.mu.Unlock()
	err := s.smtp.Serve(ll)
	if s.shuttingDown() || errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops new sessions and transactions, waits for the messages
// being received or stored to be answered (or ctx to end), then closes the
// listeners and every connection. While it waits, new connections are
// greeted with 421 and closed (RFC 5321 section 3.8), so that clients see
// the service going down rather than gone. The store is the caller's to
// close afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	idle := s.gate.Close()
	listeners := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range listeners {
		l.draining.Store(true)
	}

	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = fmt.Errorf("smtpd: shutdown: %w", ctx.Err())
	}
	// Closing our listeners stops Serve without marking the go-smtp server
	// closed, so that Close below still closes the open connections.
	for _, l := range listeners {
		l.Close()
	}
	if cerr := s.smtp.Close(); cerr != nil && !errors.Is(cerr, smtp.ErrServerClosed) && !errors.Is(cerr, net.ErrClosed) && err == nil {
		err = cerr
	}
	return err
}

// beginData registers a transaction entering DATA; false once shutting down.
func (s *Server) beginData() bool { return s.gate.Enter() }

func (s *Server) endData() { s.gate.Leave() }

func (s *Server) shuttingDown() bool { return s.gate.Closing() }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if s.shuttingDown() {
		return nil, errShuttingDown
	}
	addr := ""
	if ra := c.Conn().RemoteAddr(); ra != nil {
		addr = ra.String()
	}
	return &session{srv: s, conn: c, remoteAddr: addr, remoteIP: remoteIP(c.Conn())}, nil
}

// Live are the settings a running server takes from Reload: how it
// verifies signed return paths and authenticates reports, and its rate
// limits (see the fields of the same names in Config).
type Live struct {
	Signer               *verp.Signer
	AcceptFailedVERP     bool
	Provenance           *provenance.Checker
	ConnectionsPerMinute int
	MessagesPerMinute    int
	RateLimitExempt      []netip.Prefix
}

// liveState is Live with the rate limiters it makes.
type liveState struct {
	Live
	connRate, msgRate *rateLimiter
}

// Reload applies new live settings to the transactions that follow:
// VERP keys can be rotated and policies changed without a restart. A
// rate limiter whose rate and exemptions are unchanged keeps its buckets.
func (s *Server) Reload(l Live) {
	next := &liveState{Live: l}
	prev := s.live.Load()
	same := prev != nil && slices.Equal(prev.RateLimitExempt, l.RateLimitExempt)
	if same && prev.ConnectionsPerMinute == l.ConnectionsPerMinute {
		next.connRate = prev.connRate
	} else {
		next.connRate = newRateLimiter(l.ConnectionsPerMinute, l.RateLimitExempt, s.clock)
	}
	if same && prev.MessagesPerMinute == l.MessagesPerMinute {
		next.msgRate = prev.msgRate
	} else {
		next.msgRate = newRateLimiter(l.MessagesPerMinute, l.RateLimitExempt, s.clock)
	}
	s.live.Store(next)
}

// Envelope is the SMTP envelope of a message that reached Rebound another
// way than this server's listener: a milter sees it from the MTA.
type Envelope struct {
	Source     string // stored as the message's source, e.g. "milter"
	RemoteAddr string
	Helo       string
	MailFrom   string
	RcptTo     []string
}

// AcceptsDomain reports whether domain is one of the bounce domains.
func (s *Server) AcceptsDomain(domain string) bool { return s.acceptsDomain(domain) }

// CheckRecipient answers a recipient as RCPT would: nil when it is
// accepted, else the *smtp.SMTPError of its refusal (not a bounce domain,
// a signed return path that fails verification under the reject policy,
// a lookup that failed).
func (s *Server) CheckRecipient(to string) error {
	at := strings.LastIndexByte(to, '@')
	if at <= 0 || at == len(to)-1 {
		return errBadAddress
	}
	if !s.acceptsDomain(to[at+1:]) {
		return errRelayDenied
	}
	if signer := s.signerOf(to); signer != nil {
		var sig provenance.Envelope
		if se := s.verifyRecipient(signer, to, &sig); se != nil {
			return se
		}
	}
	return nil
}

// Ingest decodes, authenticates and stores a message that reached Rebound
// another way, exactly as the listener stores one it received: the signed
// return paths among env.RcptTo are verified (one refused under the
// reject policy refuses the message), the records are authenticated, and
// the message is saved durably. It returns nil once the message is
// stored, else the *smtp.SMTPError the SMTP path would answer (451 when
// the store failed: never accept what was not stored).
func (s *Server) Ingest(env Envelope, raw []byte) error {
	var sig provenance.Envelope
	for _, to := range env.RcptTo {
		if signer := s.signerOf(to); signer != nil {
			if se := s.verifyRecipient(signer, to, &sig); se != nil {
				return se
			}
		}
	}
	e := envelope{remoteAddr: env.RemoteAddr, helo: env.Helo, from: env.MailFrom, rcpts: env.RcptTo, start: time.Now()}
	err := s.deliverSigned(env.Source, e, sig, raw)
	if se, ok := err.(*smtp.SMTPError); ok && se.Code == 250 {
		return nil
	}
	return err
}

// signerOf returns the signer that verifies to, an address at a bounce
// domain, when it claims to be a signed return path; nil when it does not
// (or no key is configured).
func (s *Server) signerOf(to string) *verp.Signer {
	signer := s.live.Load().Signer
	at := strings.LastIndexByte(to, '@')
	if signer == nil || at <= 0 || !signer.Claims(to[:at]) {
		return nil
	}
	return signer
}

// verifyRecipient verifies a recipient that claims to be a signed return
// path (package verp) and adds what it says to sig. A valid one names the
// recipient the report is about; one that fails is refused with 550 5.7.1
// (RFC 3463 section 3.8: delivery not authorized), or accepted and marked
// when the configuration says so, so that its report is stored as evidence
// and changes no suppression. A lookup that failed (a long recipient's
// token in the store) is answered 451, so that the report is sent again.
func (s *Server) verifyRecipient(signer *verp.Signer, to string, sig *provenance.Envelope) *smtp.SMTPError {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SaveTimeout)
	res, err := signer.Decode(ctx, to)
	cancel()
	result := verifyResult(err)
	s.metrics.returnPaths.WithLabelValues(result).Inc()
	switch {
	case err == nil:
		sig.Signed = append(sig.Signed, provenance.SignedRecipient{ReturnPath: to, Recipient: res.Recipient, KeyID: res.KeyID})
	case result == "lookup_failed":
		s.log.Error("cannot look up a signed return path's token, answered 451", "rcpt_to", to, "err", err)
		return errCheckFailed
	case s.live.Load().AcceptFailedVERP:
		sig.Failed = append(sig.Failed, provenance.FailedReturnPath{ReturnPath: to, Why: err.Error()})
	default:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "Return path signature does not verify: " + strings.TrimPrefix(err.Error(), "verp: ")}
	}
	return nil
}

// clock is s.now, read when called, so that tests may replace it.
func (s *Server) clock() time.Time { return s.now() }

// acceptsDomain reports whether mail for domain is ours.
func (s *Server) acceptsDomain(domain string) bool {
	k, ok := domainKey(domain)
	return ok && s.domains[k]
}

// domainKey is the form in which domains are compared: A-labels (RFC 5890
// section 2.3.2.1) by the IDNA lookup profile, so that a U-label domain
// of an SMTPUTF8 recipient (RFC 6531 section 3.2) and its A-label are one
// domain, in lower case, without a trailing dot.
func domainKey(d string) (string, bool) {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", false
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", false
	}
	return strings.ToLower(a), true
}

// deliverSigned decodes, authenticates and stores one message received
// by source, sig saying what its signed return paths said. It returns the
// 250 reply (an *smtp.SMTPError, which go-smtp writes as it is) only when
// the message is durably stored, else the error to answer.
func (s *Server) deliverSigned(source string, env envelope, sig provenance.Envelope, raw []byte) error {
	s.metrics.received.Inc()
	now := s.now().UTC()
	msg := &store.Message{
		ReceivedAt: now,
		Source:     source,
		RemoteAddr: env.remoteAddr,
		Helo:       env.helo,
		MailFrom:   env.from,
		RcptTo:     env.rcpts,
		Raw:        raw,
	}
	recs, rep, err := s.analyze(raw, source)
	if err != nil {
		// Still stored, as unrecognized: never drop a message.
		msg.ParseError = err.Error()
		kind := "error"
		if _, ok := err.(*bounce.PanicError); ok {
			kind = "panic"
		}
		s.metrics.parseFailed.WithLabelValues(kind).Inc()
		recs = nil
	} else {
		if rep != nil {
			msg.Format = rep.Format
			msg.TruncatedRecipients = rep.TruncatedRecipients
		}
		for i := range recs {
			recs[i].ReceivedAt = now
		}
		msg.Records = recs
		if checker := s.live.Load().Provenance; checker != nil && len(recs) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SaveTimeout)
			results, err := checker.Check(ctx, sig, raw, rep, recs)
			cancel()
			if err != nil {
				s.metrics.tempfailed.Inc()
				s.metrics.countReply(errCheckFailed.Code)
				s.log.Error("cannot check the report's authentication, answered 451", "remote", env.remoteAddr, "mail_from", env.from, "err", err)
				s.logTransaction(env, msg, errCheckFailed.Code, store.SaveResult{}, "authentication check failed")
				return errCheckFailed
			}
			msg.AuthResults = results
		}
	}

	if err == nil && len(recs) == 0 && (rep == nil || rep.Format == "") {
		// No bounce, complaint or auto-reply: a person writing to the
		// return path. Its domain's policy says what becomes of it.
		switch s.relayPolicy(env.rcpts) {
		case "reject":
			s.metrics.countReply(errNotReport.Code)
			s.logTransaction(env, msg, errNotReport.Code, store.SaveResult{}, "not a report, relay policy reject")
			return errNotReport
		case "forward":
			// Queued in the transaction that stores it: once answered
			// 250 it is forwarded, even across a crash.
			msg.Relay = true
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SaveTimeout)
	defer cancel()
	start := time.Now()
	res, err := s.store.Save(ctx, msg)
	s.metrics.saveSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.tempfailed.Inc()
		s.metrics.countReply(errStoreFailed.Code)
		s.log.Error("cannot store message, answered 451", "remote", env.remoteAddr, "mail_from", env.from, "err", err)
		s.logTransaction(env, msg, errStoreFailed.Code, store.SaveResult{}, "store failed")
		return errStoreFailed
	}
	s.metrics.stored.Inc()
	if res.Duplicate {
		s.metrics.duplicates.Inc()
	} else {
		s.metrics.countRecords(recs)
		if s.cfg.Stored != nil {
			s.cfg.Stored(res.MessageID)
		}
	}
	if len(recs) == 0 {
		s.metrics.unrecognized.Inc()
	}
	if msg.TruncatedRecipients > 0 {
		s.metrics.truncated.Inc()
	}
	s.metrics.replied250.Inc()
	s.logTransaction(env, msg, 250, res, "")
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0},
		Message: "OK: queued as " + strconv.FormatInt(res.MessageID, 10)}
}

// relayPolicy is the relay policy of the bounce domain of the first
// recipient at one: store when none is configured.
func (s *Server) relayPolicy(rcpts []string) string {
	if s.cfg.RelayPolicy == nil {
		return "store"
	}
	for _, to := range rcpts {
		at := strings.LastIndexByte(to, '@')
		if at <= 0 {
			continue
		}
		// The domain as the bounce domains are kept: an A-label.
		if k, ok := domainKey(to[at+1:]); ok && s.domains[k] {
			return s.cfg.RelayPolicy(k)
		}
	}
	return "store"
}

// logTransaction writes the line of one transaction that reached the end
// of its data: its envelope, what the decoder made of it, the reply and
// the stored message.
func (s *Server) logTransaction(env envelope, msg *store.Message, code int, res store.SaveResult, why string) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("remote", env.remoteAddr),
		slog.String("helo", env.helo),
		slog.String("mail_from", env.from),
		slog.String("rcpt_to", strings.Join(env.rcpts, ",")),
		slog.Int("size", len(msg.Raw)),
		slog.String("format", msg.Format),
		slog.Int("records", len(msg.Records)),
		slog.String("classes", classCounts(msg.Records)),
	)
	if msg.AuthResults != "" {
		attrs = append(attrs, slog.String("auth", authCounts(msg.Records)))
	}
	if msg.ParseError != "" {
		attrs = append(attrs, slog.String("parse_error", msg.ParseError))
	}
	if msg.TruncatedRecipients > 0 {
		attrs = append(attrs, slog.Int("truncated_recipients", msg.TruncatedRecipients))
	}
	attrs = append(attrs, slog.Int("reply", code))
	if why != "" {
		attrs = append(attrs, slog.String("why", why))
	} else {
		attrs = append(attrs, slog.Int64("id", res.MessageID), slog.Bool("duplicate", res.Duplicate))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(env.start)))
	s.log.LogAttrs(ctx, slog.LevelInfo, "transaction", attrs...)
}

// logRefused writes the line of a transaction refused before its message
// could be stored: the reply code and why.
func (s *Server) logRefused(env envelope, stage string, se *smtp.SMTPError) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "transaction refused",
		slog.String("remote", env.remoteAddr),
		slog.String("helo", env.helo),
		slog.String("mail_from", env.from),
		slog.String("rcpt_to", strings.Join(env.rcpts, ",")),
		slog.String("stage", stage),
		slog.Int("reply", se.Code),
		slog.String("why", se.Message),
		slog.Duration("duration", time.Since(env.start)),
	)
}

// classCounts summarizes records by class, "hard=1,soft=2", classes in
// the order first met.
func classCounts(recs []record.Record) string {
	return countBy(recs, func(r *record.Record) string { return r.Class })
}

// authCounts summarizes records by Auth, "verp=1" or "none=3,failed=1".
func authCounts(recs []record.Record) string {
	return countBy(recs, func(r *record.Record) string { return r.Auth })
}

// countBy counts records by the value key gives, "a=1,b=2", values in the
// order first met.
func countBy(recs []record.Record, key func(*record.Record) string) string {
	switch len(recs) {
	case 0:
		return ""
	case 1:
		return key(&recs[0]) + "=1"
	}
	var values []string
	counts := make(map[string]int, 4)
	for i := range recs {
		v := key(&recs[i])
		if counts[v] == 0 {
			values = append(values, v)
		}
		counts[v]++
	}
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(counts[v]))
	}
	return b.String()
}

// analyze runs the analyzer, turning a panic into an error so that a
// decoder bug makes an unrecognized message rather than a lost one.
func (s *Server) analyze(raw []byte, source string) ([]record.Record, *dsn.Report, error) {
	if int64(len(raw)) > s.cfg.SpoolThreshold {
		s.decoding <- struct{}{}
		defer func() { <-s.decoding }()
	}
	recs, rep, err := bounce.SafeAnalyze(s.analyzer, raw, source)
	if pe, ok := err.(*bounce.PanicError); ok {
		s.log.Error("decoder panic; message stored as unrecognized", "panic", pe.Value, "stack", string(pe.Stack))
	}
	return recs, rep, err
}

// slogLogger adapts slog to go-smtp's logger.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l slogLogger) Println(v ...any)               { l.l.Warn(strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }
