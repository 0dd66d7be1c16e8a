package milter

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"

	gomilter "github.com/d--j/go-milter"
	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/smtpd"
)

// Replies of the milter's own. RFC 3463 section 3.4: X.3.4, message too
// big for system; section 3.8: X.7.1, delivery not authorized.
var (
	errTooBig = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message too big for the bounce processor"}
	errRejected = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "stored by rebound; not delivered"}
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Service shutting down, try again later"}
)

// filter is the state of one MTA connection: one SMTP connection at the
// MTA, which may carry several messages.
type filter struct {
	s *Server

	remoteAddr string
	helo       string

	// The transaction, from MAIL to the end of the message or an abort.
	from    string
	bounces []string // recipients at bounce domains, accepted
	others  []string // recipients elsewhere
	raw     bytes.Buffer
	tooBig  bool
}

var _ gomilter.Milter = (*filter)(nil)

func (f *filter) reset() {
	f.from = ""
	f.bounces = nil
	f.others = nil
	f.raw = bytes.Buffer{}
	f.tooBig = false
}

func (f *filter) NewConnection(m gomilter.Modifier) error {
	f.remoteAddr, f.helo = "", ""
	f.reset()
	return nil
}

func (f *filter) Connect(host, family string, port uint16, addr string, m gomilter.Modifier) (*gomilter.Response, error) {
	switch family {
	case "tcp4", "tcp6":
		f.remoteAddr = net.JoinHostPort(addr, strconv.Itoa(int(port)))
	case "unix":
		f.remoteAddr = addr
	default:
		f.remoteAddr = ""
	}
	return gomilter.RespContinue, nil
}

func (f *filter) Helo(name string, m gomilter.Modifier) (*gomilter.Response, error) {
	f.helo = name
	return gomilter.RespContinue, nil
}

func (f *filter) MailFrom(from, esmtpArgs string, m gomilter.Modifier) (*gomilter.Response, error) {
	f.reset()
	f.from = path(from)
	return gomilter.RespContinue, nil
}

// RcptTo answers a recipient at a bounce domain as the SMTP listener's RCPT
// would. Every other recipient is let through: Continue rather than Accept,
// which Sendmail takes for the whole message, so that a later recipient at
// a bounce domain is still seen.
func (f *filter) RcptTo(rcpt, esmtpArgs string, m gomilter.Modifier) (*gomilter.Response, error) {
	rcpt = path(rcpt)
	at := strings.LastIndexByte(rcpt, '@')
	if at <= 0 || !f.s.ing.AcceptsDomain(rcpt[at+1:]) {
		f.others = append(f.others, rcpt)
		return gomilter.RespContinue, nil
	}
	if err := f.s.ing.CheckRecipient(rcpt); err != nil {
		f.s.log.Info("milter: recipient refused", "remote", f.remoteAddr, "mail_from", f.from, "rcpt_to", rcpt, "err", err)
		return reply(err)
	}
	f.bounces = append(f.bounces, rcpt)
	return gomilter.RespContinue, nil
}

// Data ends the work on a message to no bounce domain before the MTA sends
// its headers and body.
func (f *filter) Data(m gomilter.Modifier) (*gomilter.Response, error) {
	if len(f.bounces) == 0 {
		return gomilter.RespAccept, nil
	}
	return gomilter.RespContinue, nil
}

// Header keeps a header field as the MTA received it: with
// SMFIP_HDR_LEADSPC the value is everything after the colon; without it
// the MTA swallowed the one space after the colon. Folded lines arrive
// separated by LF (Postfix) or CRLF: they are stored with CRLF.
func (f *filter) Header(name, value string, m gomilter.Modifier) (*gomilter.Response, error) {
	if len(f.bounces) == 0 {
		// An MTA of protocol version 2 or 3 sends no DATA event.
		return gomilter.RespAccept, nil
	}
	if m.Protocol()&gomilter.OptHeaderLeadingSpace == 0 {
		value = " " + value
	}
	value = strings.ReplaceAll(value, "\r\n", "\n")
	value = strings.ReplaceAll(value, "\n", "\r\n")
	f.add(name, ":", value, "\r\n")
	return gomilter.RespContinue, nil
}

func (f *filter) Headers(m gomilter.Modifier) (*gomilter.Response, error) {
	if len(f.bounces) == 0 {
		return gomilter.RespAccept, nil
	}
	f.add("\r\n")
	return gomilter.RespContinue, nil
}

// BodyChunk keeps the body, which the MTA sends as received, CRLF line
// endings and all (the dot-stuffing of DATA undone).
func (f *filter) BodyChunk(chunk []byte, m gomilter.Modifier) (*gomilter.Response, error) {
	if f.tooBig {
		if m.Protocol()&gomilter.OptSkip != 0 {
			return gomilter.RespSkip, nil
		}
		return gomilter.RespContinue, nil
	}
	if int64(f.raw.Len())+int64(len(chunk)) > f.s.max {
		f.tooBig = true
		f.raw = bytes.Buffer{}
		return gomilter.RespContinue, nil
	}
	f.raw.Write(chunk)
	return gomilter.RespContinue, nil
}

// add appends to the message unless it grew past the maximum size.
func (f *filter) add(parts ...string) {
	if f.tooBig {
		return
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if int64(f.raw.Len()+n) > f.s.max {
		f.tooBig = true
		f.raw = bytes.Buffer{}
		return
	}
	for _, p := range parts {
		f.raw.WriteString(p)
	}
}

// EndOfMessage stores the message and tells the MTA what to do with it:
// tempfail unless it was stored, then what the configured action says.
func (f *filter) EndOfMessage(m gomilter.Modifier) (*gomilter.Response, error) {
	defer f.reset()
	if len(f.bounces) == 0 {
		return gomilter.RespAccept, nil
	}
	queueID := m.Get(gomilter.MacroQueueId)
	if f.tooBig {
		f.s.log.Info("milter: message too big", "queue_id", queueID, "remote", f.remoteAddr, "mail_from", f.from, "max", f.s.max)
		return reply(errTooBig)
	}
	if !f.s.beginIngest() {
		return reply(errShuttingDown)
	}
	env := smtpd.Envelope{
		Source:     Source,
		RemoteAddr: f.remoteAddr,
		Helo:       f.helo,
		MailFrom:   f.from,
		RcptTo:     f.bounces,
	}
	err := f.s.ing.Ingest(env, f.raw.Bytes())
	f.s.endIngest()
	if err != nil {
		f.s.log.Info("milter: message not stored", "queue_id", queueID, "remote", f.remoteAddr, "mail_from", f.from, "err", err)
		return reply(err)
	}

	action := f.s.action
	if action != ActionAccept && len(f.others) > 0 {
		// Others' mail is theirs: only the bounce recipients go.
		if m.Actions()&gomilter.OptRemoveRcpt == 0 {
			f.s.log.Warn("milter: the MTA cannot remove recipients; a stored message with other recipients is delivered to all",
				"queue_id", queueID, "action", action)
			return gomilter.RespAccept, nil
		}
		for _, r := range f.bounces {
			if err := m.DeleteRecipient(r); err != nil {
				// The connection broke: the MTA applies its default
				// action, and the store deduplicates a retry.
				return nil, err
			}
		}
		f.logStored(queueID, "deleted recipients")
		return gomilter.RespAccept, nil
	}
	f.logStored(queueID, action)
	switch action {
	case ActionDiscard:
		return gomilter.RespDiscard, nil
	case ActionReject:
		return reply(errRejected)
	}
	return gomilter.RespAccept, nil
}

func (f *filter) logStored(queueID, action string) {
	f.s.log.LogAttrs(context.Background(), slog.LevelInfo, "milter: message stored",
		slog.String("queue_id", queueID),
		slog.String("remote", f.remoteAddr),
		slog.String("mail_from", f.from),
		slog.String("rcpt_to", strings.Join(f.bounces, ",")),
		slog.Int("others", len(f.others)),
		slog.Int("size", f.raw.Len()),
		slog.String("action", action))
}

func (f *filter) Abort(m gomilter.Modifier) error {
	f.reset()
	return nil
}

func (f *filter) Unknown(cmd string, m gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

func (f *filter) Cleanup(m gomilter.Modifier) {
	f.reset()
}

// path is the address of a MAIL or RCPT argument: MTAs send it in angle
// brackets (RFC 5321 section 4.1.2 Path), which the library removes once.
func path(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// reply turns an error of the SMTP path into the milter response that makes
// the MTA answer the same: the code, enhanced code and text of an
// *smtp.SMTPError (4xx: the MTA tempfails, 5xx: it rejects), else a
// tempfail.
func reply(err error) (*gomilter.Response, error) {
	se, ok := err.(*smtp.SMTPError)
	if !ok || se.Code < 400 || se.Code > 599 {
		return gomilter.RespTempFail, nil
	}
	text := se.Message
	if ec := se.EnhancedCode; ec != smtp.NoEnhancedCode && ec != smtp.EnhancedCodeNotSet {
		text = strconv.Itoa(ec[0]) + "." + strconv.Itoa(ec[1]) + "." + strconv.Itoa(ec[2]) + " " + text
	}
	resp, rerr := gomilter.RejectWithCodeAndReason(uint16(se.Code), text)
	if rerr != nil {
		if se.Code >= 500 {
			return gomilter.RespReject, nil
		}
		return gomilter.RespTempFail, nil
	}
	return resp, nil
}
