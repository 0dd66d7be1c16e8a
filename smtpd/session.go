package smtpd

import (
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/provenance"
	"github.com/rebound-mail/rebound/verp"
)

// envelope is what a session knows of the current transaction.
type envelope struct {
	remoteAddr string
	helo       string
	from       string
	rcpts      []string
	start      time.Time // of MAIL
}

// session is one SMTP connection's state.
type session struct {
	srv        *Server
	conn       *smtp.Conn
	remoteAddr string
	remoteIP   string // for the rate limits
	from       string
	rcpts      []string
	size       int64     // the SIZE of MAIL FROM (RFC 1870), 0 when none
	start      time.Time // when MAIL was accepted (or refused)
	// signed holds what the transaction's signed return paths said.
	signed provenance.Envelope

	// inData is set from DATA until go-smtp resets the transaction, which
	// it does after writing the reply: shutdown waits for that, not just
	// for Data to return, so that no 250 is lost to a closed connection.
	mu     sync.Mutex
	inData bool
}

var _ smtp.LMTPSession = (*session)(nil)

func (s *session) Reset() {
	s.from = ""
	s.rcpts = nil
	s.signed = provenance.Envelope{}
	s.size = 0
	s.endData()
}

func (s *session) Logout() error {
	s.endData()
	return nil
}

func (s *session) endData() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inData {
		s.inData = false
		s.srv.endData()
	}
}

// Mail accepts any sender: bounces come from the null sender (RFC 5321
// section 4.5.5), but some systems send them from ordinary addresses. A
// transaction is refused here when the data budget is exhausted or has less
// left than the SIZE the client declared (see budget).
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.srv.shuttingDown() {
		return errShuttingDown
	}
	var size int64
	if opts != nil {
		size = opts.Size
	}
	s.start = time.Now()
	if !s.srv.live.Load().msgRate.allow(s.remoteIP) {
		s.srv.metrics.rateLimited.Inc()
		env := s.envelope()
		env.from = from
		return s.refuse(env, "mail", errRateLimited)
	}
	if left := s.srv.budget.available(); left <= 0 || size > left {
		s.srv.metrics.budgetRefused.WithLabelValues("mail").Inc()
		env := s.envelope()
		env.from = from
		return s.refuse(env, "mail", errInsufficientResources)
	}
	s.from = from
	s.rcpts = s.rcpts[:0]
	s.signed = provenance.Envelope{}
	s.size = size
	return nil
}

// refuse counts and logs a refusal and returns it as the reply.
func (s *session) refuse(env envelope, stage string, se *smtp.SMTPError) error {
	s.srv.metrics.countReply(se.Code)
	s.srv.logRefused(env, stage, se)
	return se
}

// refuseRcpt refuses one recipient; the transaction goes on with the
// others.
func (s *session) refuseRcpt(to string, se *smtp.SMTPError) error {
	env := s.envelope()
	env.rcpts = []string{to}
	return s.refuse(env, "rcpt", se)
}

// Rcpt accepts the bounce domains only, and "postmaster" without a domain
// (RFC 5321 section 4.5.1 requires it; go-smtp parses "<Postmaster>" by
// section 4.1.1.3). Postmaster at a bounce domain is accepted like any
// address there, and at any other domain refused as relaying; what arrives
// for postmaster is stored and decoded like any message.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	at := strings.LastIndexByte(to, '@')
	if at < 0 {
		if strings.EqualFold(to, "postmaster") {
			s.rcpts = append(s.rcpts, to)
			return nil
		}
		return s.refuseRcpt(to, errBadAddress)
	}
	if at == 0 || at == len(to)-1 {
		return s.refuseRcpt(to, errBadAddress)
	}
	if !s.srv.acceptsDomain(to[at+1:]) {
		return s.refuseRcpt(to, errRelayDenied)
	}
	if signer := s.srv.signerOf(to); signer != nil {
		return s.rcptSigned(signer, to)
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

// rcptSigned verifies a recipient that claims to be a signed return path
// (see Server.verifyRecipient) and adds it to the transaction, or refuses
// it.
func (s *session) rcptSigned(signer *verp.Signer, to string) error {
	if se := s.srv.verifyRecipient(signer, to, &s.signed); se != nil {
		return s.refuseRcpt(to, se)
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

// verifyResult names the outcome of verp.Signer.Decode for the metrics.
func verifyResult(err error) string {
	if err == nil {
		return "pass"
	}
	if r := verp.Reason(err); r != "" {
		return r
	}
	return "lookup_failed"
}

// Data reads the message and answers 250 only once it is stored.
func (s *session) Data(r io.Reader) error {
	if !s.srv.beginData() {
		return s.refuse(s.envelope(), "data", errShuttingDown)
	}
	s.mu.Lock()
	s.inData = true
	s.mu.Unlock()
	in, err := s.read(r)
	if err != nil {
		return s.refuse(s.envelope(), "data", err)
	}
	defer in.close()
	return s.srv.deliverSigned(s.source(), s.envelope(), s.signed, in.bytes())
}

// LMTPData stores the message once and gives every recipient the same
// status: the message and all its records are saved in one transaction
// (RFC 2033 section 4.2 asks for one reply per recipient).
func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	err := s.Data(r)
	for _, rcpt := range s.rcpts {
		status.SetStatus(rcpt, err)
	}
	return err
}

// read reads DATA completely, within the data budget, into memory or the
// spool (Server.receive). go-smtp's reader enforces the size limit
// (its error is the 552 we must answer) and the line length limit; any
// other read error is the connection failing, answered as temporary (go-smtp
// then answers 421 and closes the connection instead).
func (s *session) read(r io.Reader) (*inbound, *smtp.SMTPError) {
	in, err := s.srv.receive(r, s.size)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return nil, se
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			return nil, errLineTooLong
		}
		return nil, errReadFailed
	}
	return in, nil
}

// source names the listener in stored messages.
func (s *session) source() string {
	if s.srv.cfg.LMTP {
		return "lmtp"
	}
	return "smtp"
}

func (s *session) envelope() envelope {
	return envelope{
		remoteAddr: s.remoteAddr,
		helo:       s.conn.Hostname(),
		from:       s.from,
		rcpts:      append([]string(nil), s.rcpts...),
		start:      s.start,
	}
}
