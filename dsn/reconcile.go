package dsn

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// finishRecipient fills the codes of r from its diagnostic text, the
// remote server's own words. Its enhanced status code replaces the Status
// field when the field is missing or generic (an Exim "5.0.0" beside
// "550 5.7.1 ...") or when the server's reply code and status agree with
// each other and not with the field (the reporting MTA mapped the reply
// on its own). The SMTP reply code is kept only when it is a reply code of
// RFC 5321 section 4.2.3 whose class agrees with the final status. A
// missing Final-Recipient is taken from Original-Recipient.
func finishRecipient(r *Recipient) {
	if !isAddress(r.FinalRecipient) && isAddress(r.OriginalRecipient) {
		r.FinalRecipient = r.OriginalRecipient
	}
	diag := r.Diagnostic
	if diag == "" {
		return
	}
	code, status := leadingReply(diag)
	if code != "" && (status != "" && status[0] != code[0] || status == "" && r.Status != "" && r.Status[0] != code[0]) {
		// The reply does not agree with itself or with the report, as when
		// a relay wraps the reply it got ("554 4.4.7 Message expired ...
		// <421 4.4.2 Connection timed out>"): the wrapped reply is the
		// remote server's.
		if c, st := laterReply(afterReplyCode(diag)); c != "" {
			code, status = c, st
		}
	}
	if code == "" {
		// A reply quoted inside the text ("5.1.0 - Unknown address error
		// 550-'5.7.1 ...'") is the remote server's own.
		code, status = laterReply(diag)
	}
	if code == "" {
		code = findSMTPCode(diag)
	}
	if status == "" {
		status = findStatus(diag)
	}
	r.Status = preferStatus(r.Status, status, code)
	// The remote server's reply code, when it agrees with the status on
	// whether the failure is permanent; a placeholder status (X.0.0,
	// Exim's 5.0.0 after a 451 timed out) says nothing against it. A code
	// that leads the diagnostic is the reply, even when RFC 5321 does not
	// list it ("511 sorry, no mailbox here by that name").
	known := knownReplyCode(code) || code != "" && strings.HasPrefix(strings.TrimLeft(diag, " \t"), code) && plausibleReplyCode(code)
	if r.SMTPCode == "" && known && (r.Status == "" || r.Status[0] == code[0] || genericStatus(r.Status)) {
		r.SMTPCode = code
	}
	r.Diagnostic = unescapeOctal(r.Diagnostic)
}

// plausibleReplyCode reports whether code has the shape of a failure reply
// (RFC 5321 section 4.2.1: 4yz or 5yz, y from 0 to 5).
func plausibleReplyCode(code string) bool {
	return len(code) == 3 && (code[0] == '4' || code[0] == '5') && code[1] >= '0' && code[1] <= '5' && digitByte(code[2])
}

// unescapeOctal decodes the \ooo escapes with which Exim writes the bytes of
// a reply it will not print ("550 \345\256\233..."), when they spell UTF-8;
// other text is returned as it is.
func unescapeOctal(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 || !hasOctalEscape(s[i:]) {
		return s
	}
	b := make([]byte, 0, len(s))
	for j := 0; j < len(s); j++ {
		if s[j] == '\\' && hasOctalEscape(s[j:]) {
			v := (s[j+1]-'0')<<6 | (s[j+2]-'0')<<3 | (s[j+3] - '0')
			if v >= 0x80 {
				b = append(b, v)
				j += 3
				continue
			}
		}
		b = append(b, s[j])
	}
	if !utf8.Valid(b) {
		return s
	}
	return string(b)
}

// hasOctalEscape reports whether s starts with a backslash and three octal
// digits of a byte value.
func hasOctalEscape(s string) bool {
	return len(s) >= 4 && s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7'
}

// afterReplyCode returns what follows the reply code that leadingReply
// found at the start of s and the separator after it: "" for a
// diagnostic that is the code alone ("Diagnostic-Code: X-Unix; 255").
func afterReplyCode(s string) string {
	s = strings.TrimLeft(s, " \t")
	if len(s) <= 4 {
		return ""
	}
	return s[4:]
}

// laterReply returns the first reply code in s that starts a word and is
// followed by an enhanced status code of the same class.
func laterReply(s string) (code, status string) {
	for i := 0; i+3 <= len(s); i++ {
		if i > 0 && !(s[i-1] == ' ' || s[i-1] == '<' || s[i-1] == '(' || s[i-1] == '\'' || s[i-1] == '"' || s[i-1] == ':' || s[i-1] == '[') {
			continue
		}
		if c, st := leadingReply(s[i:]); c != "" && st != "" && c[0] == st[0] {
			return c, st
		}
	}
	return "", ""
}

// preferStatus chooses between the Status field have and the code found
// in the diagnostic text, which came with the reply code reply.
func preferStatus(have, found, reply string) string {
	switch {
	case found == "" || found == have:
		return have
	case have == "":
		return found
	case strings.HasSuffix(found, ".0.0") && !strings.HasSuffix(have, ".0.0"):
		return have
	case strings.HasSuffix(have, ".0.0") && have[0] == found[0]:
		return found
	case reply != "" && reply[0] == found[0]:
		return found
	}
	return have
}

// betterStatus returns found when have is missing or a generic code
// (X.0.0) of the same class.
func betterStatus(have, found string) string {
	switch {
	case found == "":
		return have
	case have == "":
		return found
	case have[0] == found[0] && strings.HasSuffix(have, ".0.0") && found != have:
		return found
	}
	return have
}

// knownReplyCode reports whether code is a reply code RFC 5321 (section
// 4.2.3) and its extensions define; other three-digit numbers in a
// diagnostic are not taken for one.
func knownReplyCode(code string) bool {
	switch code {
	case "211", "214", "220", "221", "235", "250", "251", "252", "334", "354",
		"421", "432", "450", "451", "452", "453", "454", "455", "458", "459",
		"500", "501", "502", "503", "504", "521", "523", "525", "530", "534", "535", "538",
		"550", "551", "552", "553", "554", "555", "556":
		return true
	}
	return false
}

// maxTextReconcile bounds the recipients of one report completed from the
// human-readable part.
const maxTextReconcile = 50

// reconcile completes the recipients of a report part from its diagnostic
// texts and, where they leave a gap, from the human-readable part.
func (d *decoder) reconcile(rep *Report) {
	var others map[string]bool // the recipients, lower case, when needed
	for i := range rep.Recipients {
		r := &rep.Recipients[i]
		finishRecipient(r)
		if i >= maxTextReconcile {
			// Reading the text about each recipient costs the length of
			// the text per recipient: bound it.
			continue
		}
		if full := completeReply(r.Diagnostic, d.humanString()); full != "" {
			r.Diagnostic = full
		}
		if r.Command == "" && r.Diagnostic != "" {
			r.Command = replyCommand(r.Diagnostic)
		}
		if r.Command == "" && r.Diagnostic != "" {
			r.Command = replyCommandInTranscript(d.humanString(), r.Diagnostic)
		}
		if r.Command == "" && (strings.HasPrefix(r.Status, "5") || strings.HasPrefix(r.Status, "4")) {
			// What the human part says about this recipient, else
			// about the only one.
			text := d.humanString()
			win := textAbout(text, d.lowerString, r.FinalRecipient)
			if win == "" && len(rep.Recipients) == 1 {
				win = text
			}
			r.Command = smtpCommand(win)
		}
		if isAddress(r.FinalRecipient) && r.SMTPCode != "" && r.Status != "" && !strings.HasSuffix(r.Status, ".0.0") {
			continue
		}
		text := d.humanString()
		if len(text) == 0 {
			continue
		}
		if !isAddress(r.FinalRecipient) {
			// With one recipient the text's first address is its address.
			if len(rep.Recipients) == 1 {
				if a := firstAddress(text); a != "" {
					r.FinalRecipient = a
				}
			}
			if !isAddress(r.FinalRecipient) {
				continue
			}
		}
		win := textAbout(text, d.lowerString, r.FinalRecipient)
		if win == "" {
			if len(rep.Recipients) > 1 {
				continue
			}
			win = text
		}
		r.Status = betterStatus(r.Status, findStatus(win))
		if code := findSMTPCode(win); r.SMTPCode == "" && code != "" && knownReplyCode(code) && (r.Status == "" || r.Status[0] == code[0]) {
			r.SMTPCode = code
		}
		if r.Diagnostic == "" {
			if others == nil && len(rep.Recipients) > 1 {
				others = make(map[string]bool, len(rep.Recipients))
				for i := range rep.Recipients {
					others[strings.ToLower(rep.Recipients[i].FinalRecipient)] = true
				}
			}
			r.Diagnostic = strings.TrimSpace(untilOther(win, r.FinalRecipient, others))
			if v := verdictBefore(text, win); v != "" && r.Diagnostic != "" {
				r.Diagnostic = v + " " + r.Diagnostic
			}
			if n := 500; len(r.Diagnostic) > n {
				// Cut at a character boundary: the text is UTF-8.
				for n > 0 && r.Diagnostic[n]&0xC0 == 0x80 {
					n--
				}
				r.Diagnostic = r.Diagnostic[:n]
			}
		}
	}
}

// verdictBefore returns the line above win in text (across at most two
// blank lines) when it reads as
// the reporting system's own verdict on the recipient rather than a
// heading: "The user(s) account is disabled." above "<a@b>: 550 user
// unknown", or a local mailer's "mail.local: unknown user: a" above the
// reply it caused. It returns "" for a blank line, a separator or
// heading ("----- Transcript of session follows -----"), a transcript
// line (">>> ", "<<< "), a line that names an address, and when win is
// not a part of text.
func verdictBefore(text, win string) string {
	at := strings.Index(text, win)
	if at <= 0 || text[at-1] != '\n' {
		return ""
	}
	// Skip up to two blank lines.
	rest, prev := text[:at-1], ""
	for blank := 0; blank <= 2 && prev == ""; blank++ {
		nl := strings.LastIndexByte(rest, '\n')
		prev = strings.TrimSpace(rest[nl+1:])
		if nl < 0 {
			break
		}
		rest = rest[:nl]
	}
	if len(prev) < 8 || len(prev) > 200 || strings.ContainsAny(prev, "@<>") ||
		strings.HasPrefix(prev, "-") || strings.HasPrefix(prev, "=") || strings.HasPrefix(prev, "*") ||
		strings.HasSuffix(prev, ":") {
		return ""
	}
	return prev
}

// textAbout returns what text says about addr (lower returns text in ASCII
// lower case, for searching): the line naming it and
// the lines after it up to a blank line (at most a few). Of the lines
// naming it, the first whose passage holds a reply or status code wins
// (a Sendmail transcript names the address in a list first, then in the
// reply); "" when text does not name addr.
func textAbout(text string, lower func() string, addr string) string {
	if addr == "" {
		return ""
	}
	// Most texts spell the address as the report does: search for it as
	// it is, and ignoring case only when that fails.
	hay, needle := text, addr
	if !strings.Contains(text, addr) {
		hay, needle = lower(), toLowerASCII(addr)
	}
	first := ""
	for off := 0; off < len(text); {
		i := strings.Index(hay[off:], needle)
		if i < 0 {
			break
		}
		i += off
		start := strings.LastIndexByte(text[:i], '\n') + 1
		if addressField(text[start:i]) {
			// A header or report field naming the address ("To:",
			// "Final-Recipient:"), not what the server said about it.
			off = i + len(needle)
			continue
		}
		end := start
		for lines := 0; end < len(text) && lines < 4; lines++ {
			j := strings.IndexByte(text[end:], '\n')
			if j < 0 {
				end = len(text)
				break
			}
			line := strings.TrimSpace(text[end : end+j])
			if line == "" && lines > 0 {
				break
			}
			end += j + 1
		}
		win := text[start:end]
		if findSMTPCode(win) != "" || findStatus(win) != "" {
			return win
		}
		if first == "" && saysMore(win, needle) {
			first = win
		}
		off = end
		if off <= i {
			off = i + len(needle)
		}
	}
	return first
}

// addressFields name the header and report fields that list addresses,
// lower case with the colon.
var addressFields = []string{
	"to:", "cc:", "bcc:", "from:", "reply-to:", "sender:", "return-path:", "delivered-to:",
	"x-original-to:", "envelope-to:", "final-recipient:", "original-recipient:",
	"x-actual-recipient:", "x-failed-recipients:", "original-rcpt-to:",
}

// addressField reports whether prefix, the start of a line up to an
// address, is the name of an address field.
func addressField(prefix string) bool {
	p := strings.TrimLeft(prefix, " \t>")
	for _, f := range addressFields {
		if len(p) >= len(f) && strings.EqualFold(p[:len(f)], f) {
			return true
		}
	}
	return false
}

// saysMore reports whether win holds more than the address needle and
// punctuation: a bare list of addresses explains nothing.
func saysMore(win, needle string) bool {
	rest := strings.Replace(toLowerASCII(win), needle, "", 1)
	for i := 0; i < len(rest); i++ {
		if isWordByte(rest[i]) {
			return true
		}
	}
	return false
}

// untilOther cuts win before the first line after its first that names
// another recipient of the report than addr (in others, lower case): that
// line is about the other.
func untilOther(win, addr string, others map[string]bool) string {
	nl := strings.IndexByte(win, '\n')
	if nl < 0 || len(others) < 2 {
		return win
	}
	for pos := nl + 1; pos < len(win); {
		end := strings.IndexByte(win[pos:], '\n')
		if end < 0 {
			end = len(win)
		} else {
			end += pos + 1
		}
		if a := firstAddress(win[pos:end]); a != "" && !strings.EqualFold(a, addr) && others[strings.ToLower(a)] {
			return win[:pos]
		}
		pos = end
	}
	return win
}

// firstAddress returns the first thing that looks like an email address
// in s, or "".
func firstAddress(s string) string {
	for {
		at := strings.IndexByte(s, '@')
		if at < 0 {
			return ""
		}
		start := at
		for start > 0 && isAddrChar(s[start-1]) {
			start--
		}
		end := at + 1
		for end < len(s) && (isAddrChar(s[end]) && s[end] != '@') {
			end++
		}
		if start < at && end > at+1 && strings.IndexByte(s[at+1:end], '.') >= 0 {
			return cleanAddress(s[start:end])
		}
		s = s[at+1:]
	}
}

func isAddrChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~.@", c) >= 0
}

// originalOf returns what a header section says about the original message.
func originalOf(h header) Original {
	return originalFrom(h, originalFieldsOf(h))
}

// originalFields are the unfolded values of the fields of the original's
// header a report keeps, each from the first field of its name.
type originalFields struct{ messageID, from, to, subject, date string }

// originalFieldsOf reads the fields of originalFields in one pass over h.
func originalFieldsOf(h header) originalFields {
	var v [5][]byte
	var seen [5]bool
	for i := range h {
		n := h[i].name
		for k, name := range [5]string{"Message-Id", "From", "To", "Subject", "Date"} {
			if !seen[k] && equalFoldASCII(n, name) {
				v[k], seen[k] = h[i].value, true
				break
			}
		}
	}
	return originalFields{messageID: unfold(v[0]), from: unfold(v[1]), to: unfold(v[2]), subject: unfold(v[3]), date: unfold(v[4])}
}

// originalFrom is originalOf with the fields of h already read.
func originalFrom(h header, f originalFields) Original {
	o := Original{
		MessageID: f.messageID,
		From:      decodeWords(f.from),
		To:        decodeWords(f.to),
		Subject:   decodeWords(f.subject),
		Date:      f.date,
	}
	for _, f := range h {
		if !keepHeader(f.name) {
			continue
		}
		if o.Headers == nil {
			o.Headers = make(map[string]string)
		}
		k := canonicalKey(f.name)
		if _, dup := o.Headers[k]; !dup {
			o.Headers[k] = decodeWords(unfold(f.value))
		}
	}
	return o
}

// transitPrefixes are X- headers that mail servers and filters add on the
// way; they say nothing about the sender's application.
var transitPrefixes = []string{
	"x-received", "x-google-", "x-gm-", "x-ms-", "x-microsoft-", "x-forefront-",
	"x-spam", "x-virus", "x-originating", "x-original-", "x-envelope-",
	"x-yahoo-", "x-ymail-", "x-apparently-to", "x-aol-", "x-proofpoint",
	"x-barracuda", "x-ironport", "x-sophos", "x-mimecast", "x-exchange",
	"x-authenticated", "x-auth", "x-sender-id", "x-senderid", "x-sid-",
	"x-cmae-", "x-cm-", "x-eop", "x-incomingheadercount", "x-incomingtopheadermarker",
	"x-ses-", "x-postfix", "x-mda", "x-rcpt", "x-delivered", "x-source", "x-antiabuse",
	"x-mailer-daemon", "x-failed-recipients", "x-sg-eid", "x-host", "x-session",
}

// keepHeader reports whether a header field of the original was put there
// by the sender's application: X- fields except transit ones, and the
// list and feedback fields bulk senders set.
func keepHeader(name []byte) bool {
	if hasPrefixFold(name, "list-") || equalFoldASCII(name, "Feedback-ID") {
		return true
	}
	if !hasPrefixFold(name, "x-") {
		return false
	}
	for _, p := range transitPrefixes {
		if hasPrefixFold(name, p) {
			return false
		}
	}
	return true
}

// canonicalKey returns the MIME canonical form of a field name
// ("x-campaign-id" → "X-Campaign-Id").
func canonicalKey(name []byte) string {
	b := []byte(string(name))
	up := true
	for i, c := range b {
		switch {
		case up && 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		case !up && 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
		up = c == '-'
	}
	return string(b)
}

// appendHTMLText appends the text of an HTML document to out: tags
// dropped, block ends as line breaks, common entities decoded.
func appendHTMLText(out, html []byte) []byte {
	out = slices.Grow(out, len(html))
	for i := 0; i < len(html); i++ {
		c := html[i]
		switch c {
		case '<':
			j := i + 1
			for j < len(html) && html[j] != '>' {
				j++
			}
			tag := strings.ToLower(string(html[i+1 : min(j, i+4)]))
			if strings.HasPrefix(tag, "br") || strings.HasPrefix(tag, "p") || strings.HasPrefix(tag, "/p") ||
				strings.HasPrefix(tag, "div") || strings.HasPrefix(tag, "/di") || strings.HasPrefix(tag, "tr") || strings.HasPrefix(tag, "li") {
				out = append(out, '\n')
			}
			i = j
		case '&':
			done := false
			for _, e := range htmlEntities {
				if i+len(e.name) <= len(html) && string(html[i:i+len(e.name)]) == e.name {
					out = append(out, e.char)
					i += len(e.name) - 1
					done = true
					break
				}
			}
			if !done {
				out = append(out, c)
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

var htmlEntities = []struct {
	name string
	char byte
}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&nbsp;", ' '}, {"&#39;", '\''}}

// commandAnchors introduce the SMTP command a reply answered, as MTAs
// write it beside the reply: Postfix "(in reply to RCPT TO command)", Exim
// "SMTP error from remote mail server after RCPT TO:", Sendmail
// transcripts ">>> DATA". Lower case.
var commandAnchors = []string{"in reply to ", "after ", ">>> "}

// anchorStart marks the bytes that start one of commandAnchors, in either
// case.
var anchorStart = func() (t [256]bool) {
	for _, a := range commandAnchors {
		t[a[0]] = true
		t[upperASCII(a[0])] = true
	}
	return t
}()

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// commandNames are what may follow an anchor, longer first.
var commandNames = []struct{ phrase, command string }{
	{"end of data", "DATA"},
	{"data", "DATA"},
	{"rcpt to", "RCPT"},
	{"rcpt", "RCPT"},
	{"mail from", "MAIL"},
	{"ehlo", "EHLO"},
	{"helo", "EHLO"},
	{"initial connection", "CONN"},
}

// smtpCommand returns the SMTP command ("MAIL", "RCPT", "DATA", "EHLO" for
// EHLO or HELO, "CONN" for the server's greeting) that text
// says a reply answered, the first mention winning, or "". It reads text
// once, trying the anchors where their first letter occurs.
func smtpCommand(text string) string {
	for i := 0; i < len(text); i++ {
		if !anchorStart[text[i]] {
			continue
		}
		for _, a := range commandAnchors {
			if lowerASCII(text[i]) != a[0] {
				continue
			}
			n := phraseLen(text[i:], a)
			if n < 0 {
				continue
			}
			rest := text[i+n:]
			for _, c := range commandNames {
				if l := phraseLen(rest, c.phrase); l >= 0 && (l == len(rest) || !isWordByte(rest[l])) {
					return c.command
				}
			}
		}
	}
	return ""
}

// replyCommand is smtpCommand for a recipient's diagnostic, which may also
// name the command in an MTA family's own idiom (qmail's "does not like
// recipient", Exchange's "[RCPT_TO]"; families.toml).
func replyCommand(diag string) string {
	if c := smtpCommand(diag); c != "" {
		return c
	}
	return families.command(diag)
}

// maxReplyLines bounds the lines of a multi-line reply read from the text.
const maxReplyLines = 30

// completeReply returns the whole multi-line reply (RFC 5321 section
// 4.2.1: "550-..." lines up to the last "550 ...") that the human-readable
// text quotes, when diag holds only its first line, as some MTAs put in
// the Diagnostic-Code; "" when the text has nothing more.
func completeReply(diag, human string) string {
	code, status := leadingReply(diag)
	if code == "" || human == "" {
		return ""
	}
	body := strings.TrimLeft(strings.TrimLeft(diag, " \t")[3:], " -")
	body = strings.TrimLeft(strings.TrimPrefix(body, status), " ")
	key := body
	if len(key) > 40 {
		key = key[:40]
	}
	if len(key) < 12 {
		return ""
	}
	at := strings.Index(human, key)
	if at < 0 {
		return ""
	}
	start := strings.LastIndexByte(human[:at], '\n') + 1
	var lines []string
	for rest := human[start:]; rest != "" && len(lines) < maxReplyLines; {
		var line string
		line, rest = nextLine(rest)
		t := strings.TrimSpace(line)
		if len(t) < 4 || t[:3] != code || t[3] != '-' && t[3] != ' ' {
			break
		}
		lines = append(lines, t)
		if t[3] == ' ' {
			break
		}
	}
	if len(lines) < 2 || lines[0][3] != '-' {
		return ""
	}
	full := collapseReply(strings.Join(lines, " "))
	if len(full) <= len(diag) {
		return ""
	}
	return full
}

// textCommands completes the Command of the recipients a plain-text
// bounce names: from the reply text ("SMTP error from remote mail server
// after RCPT TO:"), else, for a notice about one recipient, from a label
// of the notice's own ("-------SMTP command" with the command on the next
// line).
func (d *decoder) textCommands(rep *Report) {
	for i := range rep.Recipients {
		if i >= maxTextReconcile {
			break
		}
		r := &rep.Recipients[i]
		if r.Command == "" {
			r.Command = replyCommand(r.Diagnostic)
		}
		if r.Command == "" && len(rep.Recipients) == 1 {
			r.Command = labelledCommand(d.humanString())
		}
	}
}

// labelledCommand returns the SMTP command that text (a notice) names on
// the line after a line ending in "smtp command" (in any case), or "".
func labelledCommand(text string) string {
	const label = "smtp command"
	for off := 0; off < len(text); {
		i := indexFoldString(text[off:], label)
		if i < 0 {
			return ""
		}
		end := off + i + len(label)
		off = end
		rest := strings.TrimLeft(text[end:], " \t\r")
		if !strings.HasPrefix(rest, "\n") {
			continue
		}
		rest = strings.TrimLeft(rest, " \t\r\n")
		for _, c := range commandNames {
			if l := phraseLen(rest, c.phrase); l >= 0 && (l == len(rest) || !isWordByte(rest[l])) {
				return c.command
			}
		}
		return ""
	}
	return ""
}

// replyCommandInTranscript returns the SMTP command that the reply diag answered
// in a session transcript of text, as Sendmail writes it: the client's
// commands after ">>> ", the server's replies after "<<< " (RFC 5321
// section 4.1 commands; a lone "." ends the message data). It finds the
// reply by its beginning, up to the "@" of the address it names, since a
// report may spell the address differently from the transcript, and
// returns the command of the last ">>> " line before it; "" when the text
// holds no such transcript.
func replyCommandInTranscript(text, diag string) string {
	key := strings.TrimSpace(diag)
	if i := strings.IndexByte(key, '\n'); i >= 0 {
		key = key[:i]
	}
	if i := strings.IndexByte(key, '@'); i >= 0 && i < 80 {
		key = key[:i+1]
	} else if len(key) > 60 {
		key = key[:60]
	}
	if len(key) < 5 || (key[0] < '2' || key[0] > '5') {
		return ""
	}
	at := strings.Index(text, "<<< "+key)
	if at < 0 {
		return ""
	}
	sent := strings.LastIndex(text[:at], ">>> ")
	if sent < 0 {
		return ""
	}
	if rest := strings.TrimLeft(text[sent+4:at], " \t"); strings.HasPrefix(rest, ".") {
		return "DATA"
	}
	return smtpCommand(text[sent:at])
}

// phraseLen returns the length of the text the lower-case phrase matches
// at the start of s, or -1. Case is ignored and a space in phrase matches
// any run of white space, line breaks included (wrapped text).
func phraseLen(s, phrase string) int {
	j := 0
	for k := 0; k < len(phrase); k++ {
		if phrase[k] == ' ' {
			if j >= len(s) || !isSpace(s[j]) {
				return -1
			}
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			continue
		}
		if j >= len(s) || lowerASCII(s[j]) != phrase[k] {
			return -1
		}
		j++
	}
	return j
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// toLowerASCII returns s with ASCII letters in lower case; other bytes,
// and so byte offsets, are kept.
func toLowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			// One copy: the Builder's buffer becomes the string.
			var b strings.Builder
			b.Grow(len(s))
			b.WriteString(s[:i])
			for j := i; j < len(s); j++ {
				b.WriteByte(lowerASCII(s[j]))
			}
			return b.String()
		}
	}
	return s
}
