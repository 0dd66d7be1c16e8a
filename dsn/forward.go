package dsn

import (
	"errors"
	"slices"
	"strings"

	"github.com/rebound-mail/rebound/internal/phrase"
)

// Bounces that reach the decoder one level down: a person or a ticket
// system forwards the notice as an attachment (a message/rfc822 part, RFC
// 2046 section 5.2.1, or message/global, RFC 6532 section 3.7), or inline
// below a forward marker ("---------- Forwarded message ---------",
// "Begin forwarded message:", "-----Original Message-----") and the
// forwarded message's header fields as text. The forward itself is no
// report: its sender and the addresses it went to are never failed
// recipients, and its "Fwd:" subject must not decide whether the text
// is a bounce. The forwarded notice is read as if it had arrived itself.
//
// Only a message that is not a report of its own is looked into (Parse
// tries the delivery-status and feedback parts first), and only when it
// reads as a forward: titled as one, or sent by something other than a
// mail system. A mail system's message that carries a bounce is a
// bounce of that bounce: the outer report says what failed (the attached
// bounce could not be delivered to its own recipient), so the attached
// one is the original message, as for any other report.

// nesting says where a message sits in a chain of forwards.
type nesting struct {
	level int // forwards around the message
	parts int // MIME parts read in the messages around it
}

// forwarded returns the report of the bounce the message forwards, nil
// when it forwards none. rep holds what was read of the message itself, h
// is its header. The attached message is tried first, then the text.
func (d *decoder) forwarded(p *Parser, rep *Report, h header, lim Limits, nest nesting) (*Report, error) {
	titled := forwardSubject(rep.Subject)
	if !titled && mailSystem(rep.From) {
		return nil, nil
	}
	if d.scan.hasMessage {
		inner := d.scan.original
		// A person's message with a report attached, or a forward of
		// a message that may be a bounce.
		if reportHeader(inner) || titled && noticeHeader(inner) {
			if nest.level >= lim.MaxForwardDepth {
				return nil, ErrForwardDepth
			}
			fw, err := p.parse(d.scan.message.decoded(), lim, nesting{level: nest.level + 1, parts: d.scan.parts})
			switch {
			case errors.Is(err, ErrEmpty), errors.Is(err, ErrNoHeader):
				// Not a message after all: read the forward's own text.
			case err != nil:
				return nil, err
			case fw.Format != "":
				if dropAddresses(fw, forwarderAddresses(h, nil)) {
					return fw, nil
				}
				// A bounce about the forward's own addresses only: the
				// forward's text, a person's, is no notice either.
				rep.Recipients, rep.Format = nil, ""
				return rep, nil
			}
		}
	}
	levels := lim.MaxForwardDepth - nest.level
	fw, ok, err := unwrapForward(d.humanString(), levels)
	if err != nil {
		return nil, err
	}
	if !ok {
		if fw, ok = quotedReply(d.humanString(), h, rep.Subject); !ok {
			return nil, nil
		}
		if levels <= 0 {
			return nil, ErrForwardDepth
		}
	}
	// The forwarded notice, read by the same code as a notice of its own,
	// judged by its own header.
	sub := decoder{top: fw.hdr}
	sub.text, sub.read = []byte(fw.text), true
	sub.str, sub.strSet = fw.text, true
	inner := &Report{
		From:     decodeWords(fw.hdr.text("From")),
		Subject:  decodeWords(fw.hdr.text("Subject")),
		Date:     fw.hdr.text("Date"),
		Original: rep.Original,
	}
	if ok, err := sub.readNotice(inner, fw.hdr, lim.MaxHeaderSize); err != nil {
		return nil, err
	} else if ok && dropAddresses(inner, forwarderAddresses(h, fw.forwarders)) {
		return inner, nil
	}
	return nil, nil
}

// dropForwarders removes from a report read from a message's own text,
// when the message is titled as a forward or is a person's reply (which
// quotes a bounce with "> ", read as such by scanText), the addresses of
// the message and of the message it attaches: those it went to and came
// from, the forwarder's, never failed recipients. It reports whether
// recipients remain.
func (d *decoder) dropForwarders(rep *Report, h header) bool {
	forward, reply, _ := subjectPrefixes(rep.Subject)
	if !forward && !(reply && !mailSystem(rep.From)) {
		return true
	}
	addrs := forwarderAddresses(h, nil)
	if d.scan.hasOrig {
		addrs = forwarderAddresses(d.scan.original, addrs)
	}
	return dropAddresses(rep, addrs)
}

// dropAddresses removes the recipients whose address is one of addrs and
// reports whether any remain.
func dropAddresses(rep *Report, addrs []string) bool {
	if len(addrs) > 0 {
		kept := rep.Recipients[:0]
		for _, r := range rep.Recipients {
			if !hasAddress(addrs, r.FinalRecipient) {
				kept = append(kept, r)
			}
		}
		rep.Recipients = kept
	}
	if len(rep.Recipients) == 0 {
		rep.Recipients, rep.Format = nil, ""
		return false
	}
	return true
}

func hasAddress(addrs []string, addr string) bool {
	for _, a := range addrs {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

// forwarderAddresses appends to out the addresses of a forward's From, To
// and Cc fields: its sender and those it was sent to.
func forwarderAddresses(h header, out []string) []string {
	for _, name := range [...]string{"From", "To", "Cc"} {
		out = append(out, addressList(decodeWords(h.text(name)))...)
	}
	return out
}

// forwardPrefixes start the subject of a forward in the languages mail
// clients write it in; lower case, without the colon.
var forwardPrefixes = []string{"fwd", "fw", "wg", "tr", "rv", "enc", "i", "doorst"}

// replyPrefixes may come before a forward prefix ("RE: FW: ...").
var replyPrefixes = []string{"re", "aw", "sv", "antw", "r", "ref", "res", "rif"}

// forwardSubject reports whether subject is that of a forward.
func forwardSubject(subject string) bool {
	fwd, _, _ := subjectPrefixes(subject)
	return fwd
}

// subjectPrefixes reports whether subject starts with one of
// forwardPrefixes, or with one of replyPrefixes, among the prefixes it
// starts with after any bracketed tag a list or ticket system puts first
// ("[Ticket #12] Fwd: ..."). French puts a space, often a no-break
// space, before the colon. rest is the subject after the reply prefixes.
func subjectPrefixes(subject string) (forward, reply bool, rest string) {
	s := strings.TrimSpace(subject)
	for n := 0; n < 6 && s != ""; n++ {
		if s[0] == '[' {
			i := strings.IndexByte(s, ']')
			if i < 0 {
				return false, reply, s
			}
			s = strings.TrimSpace(s[i+1:])
			continue
		}
		i := strings.IndexByte(s, ':')
		if i <= 0 || i > 10 {
			return false, reply, s
		}
		prefix := strings.ToLower(strings.TrimRight(s[:i], " \t\u00a0"))
		switch {
		case slices.Contains(forwardPrefixes, prefix):
			return true, reply, s
		case !slices.Contains(replyPrefixes, prefix):
			return false, reply, s
		}
		reply = true
		s = strings.TrimLeft(s[i+1:], " \t\u00a0")
	}
	return false, reply, s
}

// mailSystem reports whether a message comes from the mail system rather
// than from a person or a ticket system: sent by a mailer daemon,
// postmaster or the like. Auto-Submitted (RFC 3834 section 5) does not
// tell: ticket systems set it on the forwards they send.
func mailSystem(from string) bool {
	return containsAnyFold(from, textBounceSenders)
}

// reportHeader reports whether the header of an attached message says
// the message is a report or a bounce whoever forwards it: a
// multipart/report (RFC 6522), a message from a mail system, the failed
// recipients Exim names.
func reportHeader(h header) bool {
	return mediaType(h.get("Content-Type")) == "multipart/report" || h.get("X-Failed-Recipients") != nil ||
		mailSystem(decodeWords(h.text("From")))
}

// noticeHeader reports whether the header of a forwarded message says it
// may be a bounce: one of reportHeader, or a subject of failure.
func noticeHeader(h header) bool {
	return reportHeader(h) || containsAnyFold(decodeWords(h.text("Subject")), textBounceSubjects)
}

// forwardMarkerLines are the lines mail clients put above an inline
// forward or the message a reply quotes, without the dashes around them
// or a final colon; lower case. Gmail, Yahoo and Thunderbird write
// "Forwarded message" between dashes, Apple Mail "Begin forwarded
// message:", Outlook "-----Original Message-----", in these languages:
// English, German, French, Spanish, Dutch, Italian, Portuguese.
var forwardMarkerLines = []string{
	"forwarded message", "begin forwarded message", "original message",
	"weitergeleitete nachricht", "ursprüngliche nachricht", "original-nachricht",
	"anfang der weitergeleiteten nachricht", "anfang der weitergeleiteten e-mail",
	"message transféré", "message d'origine", "message original", "début du message réexpédié",
	"début du message transféré",
	"mensaje reenviado", "mensaje original", "inicio del mensaje reenviado", "comienzo del mensaje reenviado",
	"doorgestuurd bericht", "oorspronkelijk bericht", "origineel bericht", "begin doorgestuurd bericht",
	"messaggio inoltrato", "messaggio originale", "inizio messaggio inoltrato",
	"mensagem encaminhada", "mensagem reencaminhada", "mensagem original",
	"início da mensagem encaminhada", "início da mensagem reencaminhada",
}

// outlookRule is the line of underscores newer Outlook versions put above
// the header of the message a forward or reply quotes.
const outlookRule = "__________"

// forwardMarkers finds the candidates for a marker line in one pass.
var forwardMarkers = phrase.MustCompile(append([]string{outlookRule}, forwardMarkerLines...), phrase.Options{})

// forwardLabels are the labels of the header lines a mail client quotes
// of a forwarded message, by the field they stand for; lower case,
// without the colon.
var forwardLabels = []struct {
	field  string
	labels []string
}{
	{"From", []string{"from", "von", "de", "van", "da", "mittente"}},
	{"Date", []string{
		"date", "sent", "datum", "gesendet", "envoyé", "envoyé le", "fecha", "enviado", "enviado el",
		"enviada", "enviada em", "verzonden", "verstuurd", "data", "inviato",
	}},
	{"To", []string{"to", "an", "à", "a", "para", "aan", "pour"}},
	{"Cc", []string{"cc", "kopie", "copie", "copia"}},
	{"Subject", []string{"subject", "betreff", "objet", "sujet", "asunto", "onderwerp", "oggetto", "assunto"}},
	{"Message-ID", []string{"message-id"}},
	// Read so that the header goes on past them, not kept.
	{"", []string{
		"reply-to", "antwort an", "répondre à", "responder a", "beantwoorden", "rispondi a", "responder para",
		"bcc", "importance", "wichtigkeit", "priorität", "attachments", "anlagen", "pièces jointes",
	}},
}

// maxForwardHeaderLines bounds the quoted header of one forwarded message.
const maxForwardHeaderLines = 30

// A forwardedText is the innermost forwarded notice found in a text.
type forwardedText struct {
	hdr  header // the quoted header fields, under their English names
	text string // what follows them: the forwarded message's text
	// forwarders holds the addresses of the forwards the notice was
	// found inside, besides the outermost.
	forwarders []string
	levels     int
}

// unwrapForward finds the notice a text forwards inline: below a marker
// line, the header lines of the forwarded message, then its text. A
// forward of a forward is unwrapped in turn, up to levels deep, while the
// forwarded message is from a person but titled like a failure. It
// reports false when the text forwards no message that may be a bounce.
func unwrapForward(text string, levels int) (forwardedText, bool, error) {
	var fw forwardedText
	for {
		h, body, ok := nextForward(text)
		if !ok {
			break
		}
		from := decodeWords(h.text("From"))
		system := containsAnyFold(from, textBounceSenders)
		if !system && !containsAnyFold(decodeWords(h.text("Subject")), textBounceSubjects) {
			// A forward of something else (or, deeper down, the
			// message a forwarder's own text quotes).
			break
		}
		if fw.levels >= levels {
			return fw, false, ErrForwardDepth
		}
		if fw.levels > 0 {
			fw.forwarders = forwarderAddresses(fw.hdr, fw.forwarders)
		}
		fw.hdr, fw.text, fw.levels = h, body, fw.levels+1
		if system {
			break
		}
		text = body
	}
	return fw, fw.levels > 0, nil
}

// nextForward finds the first marker line of text followed by the quoted
// header of a forwarded message and returns that header and the text
// after it. A forwarded part quoted with "> " (Apple Mail) is unquoted as
// the text reader unquotes a quoted notice.
func nextForward(text string) (header, string, bool) {
	for off := 0; off < len(text); {
		i := forwardMarkers.Index(text[off:])
		if i < 0 {
			break
		}
		start := strings.LastIndexByte(text[:off+i], '\n') + 1
		line, rest := nextLine(text[start:])
		off = len(text) - len(rest)
		if !forwardMarkerLine(line) {
			continue
		}
		// The header is read from the lines right after the marker, so
		// that a text of many marker lines costs its length, not its
		// length for each.
		window := firstLines(rest, maxForwardHeaderLines+3)
		if !quotedNotice(window) {
			if h, body, ok := forwardHeader(rest); ok {
				return h, body, true
			}
			continue
		}
		if h, _, ok := forwardHeader(unquoteText(window)); ok {
			_, body, _ := forwardHeader(unquoteText(quotedBlock(rest)))
			return h, body, true
		}
	}
	return nil, "", false
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	end := 0
	for rest := s; rest != "" && n > 0; n-- {
		_, rest = nextLine(rest)
		end = len(s) - len(rest)
	}
	return s[:end]
}

// forwardMarkerLine reports whether line is a forward marker on its own:
// one of forwardMarkerLines between dashes or before a colon, or a rule
// of underscores.
func forwardMarkerLine(line string) bool {
	t := strings.TrimSpace(line)
	if len(t) >= len(outlookRule) && strings.Trim(t, "_") == "" {
		return true
	}
	t = strings.TrimSpace(strings.Trim(t, "-=*> \t"))
	t = strings.TrimSpace(strings.TrimSuffix(t, ":"))
	for _, m := range forwardMarkerLines {
		if strings.EqualFold(t, m) {
			return true
		}
	}
	return false
}

// unquoteText removes one level of "> " quoting from every line of s.
func unquoteText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for s != "" {
		var line string
		line, s = nextLine(s)
		b.WriteString(unquoteLine(line))
		b.WriteByte('\n')
	}
	return b.String()
}

// forwardHeader reads the quoted header lines at the start of s (after
// blank lines) into a header under the fields' English names, and returns
// it with the text after it. A header without a From line, or without
// any other known line, is none.
func forwardHeader(s string) (header, string, bool) {
	for n := 0; n < 3; n++ {
		line, rest := nextLine(s)
		if strings.TrimSpace(line) != "" {
			break
		}
		s = rest
	}
	var h header
	last := -1 // index in h of the field a continuation line extends
	for n := 0; s != "" && n < maxForwardHeaderLines; n++ {
		line, rest := nextLine(s)
		t := strings.TrimSpace(line)
		if t == "" {
			s = rest
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && last >= 0 {
			// Outlook folds a long To or Cc line.
			h[last].value = append(append(h[last].value, ' '), t...)
			s = rest
			continue
		}
		name, value, ok := forwardLabel(t)
		if !ok {
			break
		}
		last = -1
		if name != "" && h.get(name) == nil {
			h = append(h, field{name: []byte(name), value: []byte(value)})
			last = len(h) - 1
		}
		s = rest
	}
	if h.get("From") == nil || len(h) < 2 {
		return nil, "", false
	}
	return h, s, true
}

// forwardLabel reads a quoted header line, "From: a@b", "*Von:* a@b" (the
// bold of an HTML forward) or "À : a@b", and returns the field it stands
// for ("" for one read but not kept) and its value.
func forwardLabel(t string) (field, value string, ok bool) {
	i := strings.IndexByte(t, ':')
	if i <= 0 || i > 24 {
		return "", "", false
	}
	label := strings.TrimSpace(strings.Trim(t[:i], "* \t"))
	value = strings.TrimSpace(strings.TrimLeft(t[i+1:], "*"))
	for _, l := range forwardLabels {
		for _, name := range l.labels {
			if strings.EqualFold(label, name) {
				return l.field, strings.Trim(value, "* \t"), true
			}
		}
	}
	return "", "", false
}

// replyVerbs end the line a mail client writes above the message a reply
// quotes, "On <date>, <writer> wrote:", in the languages of
// forwardMarkerLines; German and Dutch name the writer after the verb
// ("Am <date> schrieb <writer>:").
var replyVerbs = []string{
	" wrote:", " schrieb ", " schrieb:", " a écrit :", " a écrit:", " escribió:",
	" schreef ", " schreef:", " ha scritto:", " escreveu:",
}

var replyVerbMatcher = phrase.MustCompile(replyVerbs, phrase.Options{})

// quotedReply finds the notice a person's reply quotes with "> " below an
// attribution line, and returns it as a forwardedText whose header is
// the attribution's writer as From, the reply's subject without its
// prefixes, and the replier (h's From) as To. It reports false unless the
// writer is a mail system or the subject one of failure.
func quotedReply(text string, h header, subject string) (forwardedText, bool) {
	for off := 0; off < len(text); {
		i := replyVerbMatcher.Index(text[off:])
		if i < 0 {
			break
		}
		start := strings.LastIndexByte(text[:off+i], '\n') + 1
		line, rest := nextLine(text[start:])
		off = len(text) - len(rest)
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, ">") {
			continue
		}
		if !strings.HasSuffix(t, ":") {
			// Gmail wraps a long attribution, the writer's address going
			// to the next line.
			next, after := nextLine(rest)
			n := strings.TrimSpace(next)
			if !strings.HasSuffix(n, ":") || strings.HasPrefix(n, ">") {
				continue
			}
			t, rest = t+" "+n, after
		}
		quoted := quotedBlock(rest)
		if !quotedNotice(quoted) {
			continue
		}
		// The writer: an address on the line (Gmail wraps a long
		// attribution before it), else the name before the verb.
		from := ""
		if a := strings.IndexByte(t, '<'); a >= 0 {
			from = cleanAddress(t[a:])
		}
		if from == "" {
			from = replyWriter(t[:len(t)-1])
		}
		_, _, subj := subjectPrefixes(subject)
		if !containsAnyFold(from, textBounceSenders) && !containsAnyFold(subj, textBounceSubjects) {
			return forwardedText{}, false
		}
		fh := header{
			{name: []byte("From"), value: []byte(from)},
			{name: []byte("Subject"), value: []byte(subj)},
			{name: []byte("To"), value: h.get("From")},
		}
		return forwardedText{hdr: fh, text: unquoteText(quoted), levels: 1}, true
	}
	return forwardedText{}, false
}

// replyWriter returns the writer an attribution line without its final
// colon names: after the verb in German and Dutch, else between the last
// comma and the verb ("On 21.03.26 10:02, Mail Delivery System wrote").
func replyWriter(t string) string {
	for _, verb := range [...]string{" schrieb ", " schreef "} {
		if k := indexFoldString(t, verb); k >= 0 {
			return strings.TrimSpace(t[k+len(verb):])
		}
	}
	if j := replyVerbMatcher.Index(t + ":"); j >= 0 {
		t = t[:j]
	}
	if c := strings.LastIndexByte(t, ','); c >= 0 {
		t = t[c+1:]
	}
	return strings.TrimSpace(t)
}

// quotedBlock returns the quoted lines at the start of s: up to the first
// line that is neither quoted nor blank.
func quotedBlock(s string) string {
	end := 0
	for rest := s; rest != ""; {
		line, next := nextLine(rest)
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, ">") {
			break
		}
		rest = next
		end = len(s) - len(rest)
	}
	return s[:end]
}
