// Package dsn decodes bounce messages: delivery status notifications
// (RFC 3464, RFC 6522, RFC 6533), feedback reports (RFC 5965), auto-replies
// (RFC 3834) and the non-standard text bounces real MTAs send, into a Report
// with one entry per recipient.
package dsn

import (
	"bytes"
	"errors"
	"strings"
)

// Limits bound the work Parse does on one message. Zero fields take the
// defaults of DefaultLimits.
type Limits struct {
	MaxMessageSize int // bytes
	MaxHeaderSize  int // bytes of one header section
	MaxParts       int // MIME parts in all, forwarded messages included
	MaxDepth       int // MIME nesting depth of one message
	// MaxForwardDepth bounds the forwards Parse looks through for the
	// bounce they carry (see forward.go).
	MaxForwardDepth int
	// MaxRecipients bounds the recipients of one report: the ones beyond
	// are counted in Report.TruncatedRecipients and not decoded. A real
	// report rarely names more than a few hundred; a hostile one names
	// hundreds of thousands in a few megabytes.
	MaxRecipients int
}

// DefaultLimits are generous for real bounces and bound hostile input.
var DefaultLimits = Limits{
	MaxMessageSize:  64 << 20,
	MaxHeaderSize:   1 << 20,
	MaxParts:        1000,
	MaxDepth:        20,
	MaxForwardDepth: 3,
	MaxRecipients:   1000,
}

// Errors for input beyond the limits.
var (
	ErrTooLarge     = errors.New("dsn: message exceeds the maximum size")
	ErrHeaderTooBig = errors.New("dsn: header section exceeds the maximum size")
	ErrTooManyParts = errors.New("dsn: too many MIME parts")
	ErrTooDeep      = errors.New("dsn: MIME parts nested too deeply")
	ErrForwardDepth = errors.New("dsn: bounce forwarded inside too many forwards")
)

// Errors for input that is not a message.
var (
	ErrEmpty    = errors.New("dsn: empty message")
	ErrNoHeader = errors.New("dsn: message does not start with a header field")
)

// Parser decodes messages. The zero value uses DefaultLimits. A Parser is
// safe for concurrent use.
type Parser struct {
	Limits Limits
}

// Parse decodes one message with DefaultLimits.
func Parse(msg []byte) (*Report, error) {
	var p Parser
	return p.Parse(msg)
}

func (p *Parser) limits() Limits {
	l := p.Limits
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = DefaultLimits.MaxMessageSize
	}
	if l.MaxHeaderSize <= 0 {
		l.MaxHeaderSize = DefaultLimits.MaxHeaderSize
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultLimits.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxForwardDepth <= 0 {
		l.MaxForwardDepth = DefaultLimits.MaxForwardDepth
	}
	if l.MaxRecipients <= 0 {
		l.MaxRecipients = DefaultLimits.MaxRecipients
	}
	return l
}

// Parse decodes one message. A message that is not a bounce, complaint or
// auto-reply yields a Report with an empty Format and no recipients, and no
// error. An error means the message could not be read at all or is beyond
// the limits.
//
// The decoders are tried in order: the delivery-status part of a report
// (RFC 3464, RFC 6533), a feedback report (RFC 5965), the human-readable
// text of a non-standard bounce, an auto-reply (RFC 3834). A message that
// is none of these but forwards one, attached or inline, yields the
// report of the forwarded bounce (forward.go).
func (p *Parser) Parse(msg []byte) (*Report, error) {
	lim := p.limits()
	rep, err := p.parse(msg, lim, nesting{})
	if rep != nil {
		capRecipients(rep, lim.MaxRecipients)
		for i := range rep.Recipients {
			rep.Recipients[i].Diagnostic = oneLine(rep.Recipients[i].Diagnostic)
		}
	}
	return rep, err
}

// oneLine returns s with every line break, and the white space around it,
// as one space: a diagnostic is the server's reply unfolded (RFC 5322
// section 2.2.3), whichever part it was read from.
func oneLine(s string) string {
	if strings.IndexByte(s, '\n') < 0 && strings.IndexByte(s, '\r') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	brk := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			brk = true
			continue
		}
		if brk {
			if c == ' ' || c == '\t' {
				continue
			}
			for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
				b = b[:len(b)-1]
			}
			if len(b) > 0 {
				b = append(b, ' ')
			}
			brk = false
		}
		b = append(b, c)
	}
	return strings.TrimSpace(string(b))
}

// capRecipients drops the recipients of rep beyond max, counting them in
// rep.TruncatedRecipients: the decoders that read recipients from text
// stop at no bound of their own.
func capRecipients(rep *Report, max int) {
	if len(rep.Recipients) == 0 {
		// Recipients read and then dropped (a forwarder's own) leave
		// nothing to have cut.
		rep.TruncatedRecipients = 0
	}
	if max <= 0 || len(rep.Recipients) <= max {
		return
	}
	rep.TruncatedRecipients += len(rep.Recipients) - max
	// A copy, so that the dropped ones are not kept alive behind it.
	rep.Recipients = append([]Recipient(nil), rep.Recipients[:max]...)
}

// parse decodes one message, the top-level one or one a forward carries.
func (p *Parser) parse(msg []byte, lim Limits, nest nesting) (*Report, error) {
	if len(msg) > lim.MaxMessageSize {
		return nil, ErrTooLarge
	}
	if len(trimSpace(msg)) == 0 {
		return nil, ErrEmpty
	}
	msg = normalizeBareCR(bytes.TrimLeft(msg, " \t\r\n"))

	var d decoder
	d.scan.lim = lim
	d.scan.parts = nest.parts
	h, body, err := readHeader(msg, lim.MaxHeaderSize, d.hdrBuf[:0])
	if err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, ErrNoHeader
	}
	d.top = h
	rep := &Report{
		From:    decodeWords(h.text("From")),
		Subject: decodeWords(h.text("Subject")),
		Date:    h.text("Date"),
	}
	if err := d.scan.walk(h, body, 0); err != nil {
		return nil, err
	}
	if d.scan.broken || d.scan.empty() && hasPrefixFold(trimSpace(h.get("Content-Type")), "multipart/") {
		// Nothing found in a multipart message: read it with go-message,
		// and keep the single-pass reading if that finds nothing either.
		fast := d.scan
		d.scan = scan{lim: lim, parts: nest.parts}
		if err := d.scan.walkEntity(msg); err != nil || d.scan.empty() {
			d.scan = fast
		}
	}
	if d.scan.hasOrig {
		rep.Original = originalOf(d.scan.original)
		rep.Original.Raw = d.scan.origRaw
	}

	if d.scan.hasStatus {
		if err := parseStatus(rep, d.scan.status.text(), lim.MaxHeaderSize, lim.MaxRecipients); err != nil {
			return nil, err
		}
		if len(rep.Recipients) > 0 {
			rep.Format = FormatRFC3464
			if d.scan.global {
				rep.Format = FormatRFC6533
			}
			d.reconcile(rep)
			return rep, nil
		}
		// A report part without recipients: read the text instead.
		clearMessageFields(rep)
	}
	if !d.scan.hasFeed && d.scan.reportType == "feedback-report" {
		// A feedback report whose machine-readable part is labelled as
		// text: the part that carries the Feedback-Type field.
		for i := range d.scan.texts {
			if indexLineFold(d.scan.texts[i].decoded(), "feedback-type:") >= 0 {
				d.scan.feedback, d.scan.hasFeed = d.scan.texts[i], true
				break
			}
		}
	}
	if d.scan.hasFeed {
		if err := parseFeedback(rep, d.scan.feedback.text(), lim.MaxHeaderSize); err != nil {
			return nil, err
		}
		if len(rep.Recipients) > 0 {
			rep.Format = FormatARF
			return rep, nil
		}
		rep.Feedback = nil
	}
	if fw, err := d.forwarded(p, rep, h, lim, nest); err != nil || fw != nil {
		return fw, err
	}
	if ok, err := d.readNotice(rep, h, lim.MaxHeaderSize); err != nil {
		return nil, err
	} else if ok && d.dropForwarders(rep, h) {
		return rep, nil
	}
	rep.Recipients = nil
	rep.Format = ""
	if d.scan.hasStatus {
		// A report that names no recipient, in neither part ("Delivery
		// report unavailable"): the original was addressed to one.
		if to := addressList(rep.Original.To); len(to) == 1 {
			rep.Format = FormatRFC3464
			rep.Recipients = []Recipient{{FinalRecipient: to[0]}}
			return rep, nil
		}
	}
	if isUnsubscribeRequest(h) {
		if addr := cleanAddress(rep.From); addr != "" {
			rep.Format = FormatARF
			rep.Feedback = &Feedback{FeedbackType: "opt-out", UserAgent: h.text("User-Agent")}
			rep.Recipients = []Recipient{{FinalRecipient: addr, FeedbackType: "opt-out"}}
			return rep, nil
		}
	}
	if isAutoReply(h, rep.Subject, rep.From) {
		if addr := cleanAddress(rep.From); addr != "" {
			rep.Format = FormatRFC3834
			rep.Recipients = []Recipient{{FinalRecipient: addr}}
		}
	}
	return rep, nil
}

// readNotice reads a report from the human-readable text of a message
// that has no machine-readable part to read it from: delivery-status
// fields pasted into the text of a notice, else a text bounce. h is the
// header the notice is judged by. It reports whether it found recipients.
func (d *decoder) readNotice(rep *Report, h header, maxHeader int) (bool, error) {
	if st := inlineStatus(d.humanText()); st != nil && isNotice(h, rep.Subject, rep.From) {
		if err := parseStatus(rep, st, maxHeader, d.scan.lim.MaxRecipients); err != nil {
			return false, err
		}
		if len(rep.Recipients) > 0 {
			rep.Format = FormatRFC3464
			d.reconcile(rep)
			return true, nil
		}
		clearMessageFields(rep)
	}
	rep.Recipients, rep.TruncatedRecipients = nil, 0
	if scanText(rep, d.hdr, d.humanString()) && len(rep.Recipients) > 0 {
		if rep.Format == "" {
			rep.Format = FormatText
		}
		capRecipients(rep, d.scan.lim.MaxRecipients)
		for i := range rep.Recipients {
			finishRecipient(&rep.Recipients[i])
		}
		d.textCommands(rep)
		return true, nil
	}
	return false, nil
}

// clearMessageFields forgets the per-message fields of a report part that
// named no recipient.
func clearMessageFields(rep *Report) {
	rep.ReportingMTA, rep.ReceivedFromMTA, rep.ArrivalDate, rep.OriginalEnvelopeID = "", "", "", ""
}

// A decoder holds the state of one Parse call.
type decoder struct {
	top    header
	scan   scan
	text   []byte
	read   bool
	str    string
	strSet bool
	lower  string
	lowSet bool
	hdrBuf [32]field
}

// hdr returns a decoded top-level header field, "" when absent.
func (d *decoder) hdr(name string) string {
	return decodeWords(d.top.text(name))
}

// humanText returns the decoded human-readable text of the message: its
// text/plain parts outside the attached original, else its text/html
// parts without markup.
func (d *decoder) humanText() []byte {
	if d.read {
		return d.text
	}
	d.read = true
	switch len(d.scan.texts) {
	case 0:
	case 1:
		d.text = d.scan.texts[0].text()
		return d.text
	default:
		var out []byte
		for i := range d.scan.texts {
			if i > 0 {
				out = append(out, '\n')
			}
			out = append(out, d.scan.texts[i].text()...)
		}
		d.text = out
		return d.text
	}
	var out []byte
	for i := range d.scan.htmls {
		out = appendHTMLText(out, d.scan.htmls[i].text())
	}
	d.text = out
	return d.text
}

// humanString returns humanText as a string, converted once.
func (d *decoder) humanString() string {
	if !d.strSet {
		d.str, d.strSet = string(d.humanText()), true
	}
	return d.str
}

// lowerString returns humanString in ASCII lower case, for searching.
func (d *decoder) lowerString() string {
	if !d.lowSet {
		d.lower, d.lowSet = toLowerASCII(d.humanString()), true
	}
	return d.lower
}

// normalizeBareCR returns msg with bare CR line ends (old Mac mail) turned
// into LF, when msg has no LF at all; msg itself otherwise.
func normalizeBareCR(msg []byte) []byte {
	if bytes.IndexByte(msg, '\n') >= 0 || bytes.IndexByte(msg, '\r') < 0 {
		return msg
	}
	out := make([]byte, len(msg))
	for i, c := range msg {
		if c == '\r' {
			c = '\n'
		}
		out[i] = c
	}
	return out
}
