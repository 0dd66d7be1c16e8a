package dsn

import (
	"strings"

	"github.com/rebound-mail/rebound/internal/phrase"
)

// The phrases and line shapes the text state machine recognises. Phrases
// are matched case-insensitively as substrings.

// textBouncePhrases say in the notice itself that mail was not delivered.
var textBouncePhrases = []string{
	"qmail-send program",
	"could not be delivered",
	"couldn't be delivered",
	"could not deliver",
	"couldn't deliver",
	"can not be delivered",
	"cannot be delivered",
	"can't be delivered",
	"was not delivered",
	"wasn't delivered",
	"not be delivered",
	"unable to deliver",
	"wasn't able to deliver",
	"was unable to deliver",
	"delivery has failed",
	"delivery failed",
	"delivery to the following",
	"address(es) failed",
	"addresses failed",
	"address failed",
	"permanent fatal error",
	"transcript of session follows",
	"did not reach the following",
	"could not be reached",
	"undeliverable",
	"undelivered mail",
	"message not delivered",
	"failed permanently",
	"delivery status notification",
	"has not yet been delivered",
	"not yet been delivered",
	"delivery is delayed",
	"delivery has been delayed",
	"this is the mail system at host",
	"mail delivery software",
	"delivery attempt",
	"returned to the sender",
	"returned to you",
	"failed to deliver",
	"delivery failure",
	"non-delivery",
	"nondelivery",
	"was rejected by",
	"rejected your message",
	"message was rejected",
	"permanent error",
	"temporary error",
	"error occurred while",
	"could not send",
}

// textBounceSenders are the usual senders of bounces.
var textBounceSenders = []string{
	"mailer-daemon", "mailer daemon", "mail-daemon", "postmaster",
	"mail delivery", "maildelivery", "mail administrator", "mailadmin",
	"post_master", "mmsc", "ndr administrator",
	"system administrator", "mdaemon", "bounce",
}

// textBounceSubjects are the usual subjects of bounces.
var textBounceSubjects = []string{
	"undeliver", "undelivered", "delivery fail", "delivery status",
	"failure notice", "failure", "returned mail", "mail delivery",
	"not delivered", "delivery problem", "failed", "could not",
	"delayed", "warning", "rejected", "bounce", "nondeliver",
	"non-deliver", "non remis", "unzustellbar", "error", "returned",
	"nicht zustellbar", "non recapitabile", "no entregado", "onbestelbaar",
	"niedostarczalna", "no se puede entregar",
}

// textAutoReplySubjects mark replies of people (or their vacation programs),
// never bounces.
var textAutoReplySubjects = []string{
	"out of office", "out of the office", "automatic reply", "auto:",
	"autoreply", "auto-reply", "auto reply", "vacation", "abwesenheit",
	"absence", "away from",
}

// textStrongSubjects name a bounce whoever sends it.
var textStrongSubjects = []string{
	"failure notice", "undeliverable", "undelivered mail", "returned mail",
	"delivery status notification", "mail delivery failed",
	"delivery failure", "non remis", "unzustellbar", "mail delivery failure",
	"returning message to sender", "delivery has failed",
}

// textIntroPhrases introduce the recipient inside a sentence, as in "There
// was an error delivering your mail to <a@b>." or "Could not be delivered
// to: <a@b>".
var textIntroPhrases = []string{
	"delivering your mail to", "delivering your message to",
	"delivering mail to", "delivery to", "delivered to", "deliver to",
	"delivering to", "failed for", "sending to", "undeliverable to",
	"deliver message to", "rcpt to:", "unknown user", "no such user",
	"this mailing list", "your message to", "originally addressed to",
}

// Degrees of certainty that a message is a bounce.
const (
	notBounce   = iota
	maybeBounce // a person's mail may say as much: ask for a code
	bounce
)

// bounceLike decides whether the notice is a bounce at all: a known MTA's
// wording or a bounce subject, a mail system as the sender, or words of
// failure under a subject of failure.
func bounceLike(hdr func(string) string, notice string, said *phrase.Set) int {
	from, subject := hdr("From"), hdr("Subject")
	daemon := containsAnyFold(from, textBounceSenders)
	strong := noticeTable.mta.in(said) || containsAnyFold(subject, textStrongSubjects)
	if !daemon && !strong && autoReplied(hdr, subject) {
		return notBounce
	}
	if strong {
		return bounce
	}
	bounceSubject := containsAnyFold(subject, textBounceSubjects)
	if noticeTable.bounce.in(said) {
		switch {
		case daemon:
			return bounce
		case bounceSubject:
			return maybeBounce
		}
		return notBounce
	}
	if daemon && (bounceSubject || findStatus(notice) != "" || findSMTPCode(notice) != "") {
		return bounce
	}
	return notBounce
}

// autoReplied reports whether the message says it is a reply of a person
// or of a vacation program (RFC 3834 section 5; the X- fields of common
// responders).
func autoReplied(hdr func(string) string, subject string) bool {
	if containsAnyFold(subject, textAutoReplySubjects) {
		return true
	}
	if v := hdr("Auto-Submitted"); v != "" && hasPrefixFoldString(strings.TrimSpace(v), "auto-replied") {
		return true
	}
	return hdr("X-Autoreply") != "" || hdr("X-Autorespond") != "" ||
		strings.EqualFold(strings.TrimSpace(hdr("Precedence")), "auto_reply")
}

// delayedNotice reports whether the notice only warns of a delay; said
// holds the notice's phrases.
func delayedNotice(subject string, said *phrase.Set) bool {
	if noticeTable.delay.in(said) {
		return true
	}
	return indexFoldString(subject, "delay") >= 0 && indexFoldString(subject, "fail") < 0
}

// textFormat names the MTA family the notice comes from; said holds the
// notice's phrases.
func textFormat(said *phrase.Set) string {
	g := noticeTable.format
	if id := said.Next(g.lo); id >= 0 && id < g.hi {
		return families.families[families.formatFamily[id-g.lo]].Format
	}
	return FormatText
}

// phraseGroup is the range of ids one phrase list has in a matcher
// compiled from several lists.
type phraseGroup struct{ lo, hi int32 }

// in reports whether set holds a phrase of the group.
func (g phraseGroup) in(set *phrase.Set) bool {
	id := set.Next(g.lo)
	return id >= 0 && id < g.hi
}

// noticePhrases finds, in one pass over a notice, the phrases of every list
// that judges the notice as a whole.
type noticePhrases struct {
	matcher                    *phrase.Matcher
	mta, bounce, delay, format phraseGroup
}

var noticeTable = compileNoticePhrases()

func compileNoticePhrases() noticePhrases {
	var all []string
	group := func(list []string) phraseGroup {
		g := phraseGroup{lo: int32(len(all))}
		all = append(all, list...)
		g.hi = int32(len(all))
		return g
	}
	var n noticePhrases
	n.mta = group(families.detectPhrases())
	n.bounce = group(textBouncePhrases)
	n.delay = group(families.delayPhrases())
	n.format = group(families.formatPhrases())
	n.matcher = phrase.MustCompile(all, phrase.Options{})
	return n
}

// Matchers of the phrase lists read line by line.
var (
	markerMatcher  = phrase.MustCompile(families.markers(), phrase.Options{})
	introMatcher   = phrase.MustCompile(textIntroPhrases, phrase.Options{})
	failureMatcher = phrase.MustCompile(textFailureWords, phrase.Options{})
	listMarkers    = phrase.MustCompile([]string{"following", "these recipients"}, phrase.Options{})
	listWords      = phrase.MustCompile([]string{"recipient", "address", "following", "failed", "not reach", "undeliverable"}, phrase.Options{})
)

// cutOriginal returns the notice: text up to where the copy of the original
// message starts, marked by a separator line or a header block.
func cutOriginal(text string) string {
	pos := 0
	for rest := text; rest != ""; {
		var line string
		start := pos
		line, rest = nextLine(rest)
		pos = len(text) - len(rest)
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if start == 0 {
			continue
		}
		// The server's reply with a heading run on after it, as Exchange
		// writes "...> #SMTP#Original message headers:": the reply
		// belongs to the notice.
		i := markerIndex(line)
		starts := originalStarts(t, i >= 0)
		if i > 0 && (findStatus(line[:i]) != "" || findSMTPCode(line[:i]) != "") {
			if h := strings.TrimSpace(line[i:]); starts || len(h) < 40 && strings.HasSuffix(h, ":") {
				return text[:start+i]
			}
		}
		if starts {
			return text[:start]
		}
	}
	return text
}

// markerIndex returns where the first of the profiles' markers starts in
// line, -1 when none is in it.
func markerIndex(line string) int { return markerMatcher.Index(line) }

// originalStarts reports whether the trimmed line t starts the copy of the
// original message; marked tells whether it holds one of the profiles'
// markers. Only a heading or a separator cuts the notice, never a
// sentence: Postfix's "You can delete your own text from the attached
// returned message." names the copy but is part of the notice, and the
// recipients follow it.
func originalStarts(t string, marked bool) bool {
	if hasPrefixFoldString(t, "Return-Path:") || hasPrefixFoldString(t, "Received: from") ||
		hasPrefixFoldString(t, "Received: (") {
		return true
	}
	if families.originalHeading(t) {
		return true
	}
	if !marked || families.boilerplate(t) {
		return false
	}
	if t[0] == '-' || t[0] == '=' || t[0] == '*' || t[0] == '[' || t[0] == '_' {
		return true
	}
	return headingLine(t)
}

// headingLine reports whether t reads as a heading of its own ("Original
// Message:", "Original Message Headers", "The original message follows",
// "Unsent message below") rather than a sentence: short, not closed by a
// full stop, and ending in a colon, "headers", or a word that points at
// what comes next ("Original message follows."). Office 365's "Original
// Message Details" sums the original up inside the notice and is no
// heading of the copy.
func headingLine(t string) bool {
	if len(t) >= 60 || strings.Contains(t, ". ") {
		return false
	}
	t = strings.TrimRight(t, " -=*#")
	if strings.HasSuffix(t, ".") {
		// One short sentence that points at what follows is a heading;
		// anything else closed by a full stop is a sentence.
		t = t[:len(t)-1]
		return hasSuffixFold(t, "follows") || hasSuffixFold(t, "below")
	}
	return strings.HasSuffix(t, ":") || hasSuffixFold(t, "headers") ||
		hasSuffixFold(t, "follows") || hasSuffixFold(t, "follow") || hasSuffixFold(t, "below") ||
		hasSuffixFold(t, "enclosed") || hasSuffixFold(t, "attached")
}

// isSeparatorLine reports whether t is a section separator such as
// "----- Transcript of session follows -----".
func isSeparatorLine(t string) bool {
	return len(t) >= 3 && (strings.HasPrefix(t, "---") || strings.HasPrefix(t, "===") ||
		strings.HasPrefix(t, "***") || strings.HasPrefix(t, "###"))
}

// talkingTo reads Sendmail's "... while talking to mx.example.org.:".
func talkingTo(t string) (string, bool) {
	i := indexFoldString(t, "while talking to ")
	if i < 0 {
		return "", false
	}
	h := strings.TrimSpace(t[i+len("while talking to "):])
	h = strings.TrimRight(h, ":.")
	return h, true
}

// remoteHost finds the server named in a diagnostic: "host mx.example.org
// [192.0.2.1]", "mx.example.org[192.0.2.1] said", Exchange's
// "mx.example.org #550 5.1.1".
func remoteHost(diag string) string {
	for off := 0; off < len(diag); {
		i := indexFoldString(diag[off:], "host ")
		if i < 0 {
			break
		}
		i += off
		off = i + len("host ")
		if i > 0 && letterByte(diag[i-1]) {
			continue
		}
		if name := hostToken(diag[off:]); name != "" {
			return name
		}
	}
	// Exchange: "mx.example.org #<relay.example.com #5.7.1 smtp;530 ...>"
	// or "mx.example.org #550 5.1.1 ...".
	for off := 0; off < len(diag); {
		i := strings.Index(diag[off:], " #")
		if i < 0 {
			break
		}
		i += off
		off = i + 2
		if off >= len(diag) || diag[off] != '<' && !digitByte(diag[off]) {
			continue
		}
		k := i
		for k > 0 && domainByte(diag[k-1]) {
			k--
		}
		// A sentence's full stop is no root label: "...rejected it. #550".
		if name := strings.TrimRight(diag[k:i], "."); hostName(name) {
			return name
		}
	}
	// A name right before a bracketed address: "mx.example.org [192.0.2.1]".
	for off := 0; off < len(diag); {
		i := strings.IndexByte(diag[off:], '[')
		if i < 0 {
			break
		}
		i += off
		off = i + 1
		if off >= len(diag) || !digitByte(diag[off]) {
			continue
		}
		j := i
		if j > 0 && diag[j-1] == ' ' {
			j--
		}
		k := j
		for k > 0 && (domainByte(diag[k-1])) {
			k--
		}
		if name := strings.TrimRight(diag[k:j], "."); hostName(name) {
			return name
		}
	}
	return ""
}

// hostToken returns the host name s starts with, or "".
func hostToken(s string) string {
	name := s
	if j := strings.IndexAny(name, " \t[(:,;'\""); j >= 0 {
		name = name[:j]
	}
	name = strings.TrimRight(name, ".")
	if hostName(name) {
		return name
	}
	return ""
}

// hostName reports whether s looks like a domain name (not an IP address).
func hostName(s string) bool {
	if len(s) < 3 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	letters := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case letterByte(c):
			letters = true
		case digitByte(c), c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return letters
}

// quotedNotice reports whether the notice is a forwarded bounce quoted
// with "> ".
func quotedNotice(notice string) bool {
	quoted, lines := 0, 0
	for rest := notice; rest != ""; {
		var line string
		line, rest = nextLine(rest)
		if strings.TrimSpace(line) == "" {
			continue
		}
		lines++
		if strings.HasPrefix(line, ">") && !strings.HasPrefix(line, ">>> ") {
			quoted++
		}
	}
	return quoted > 3 && quoted*2 > lines
}

func unquoteLine(line string) string {
	if strings.HasPrefix(line, "> ") {
		return line[2:]
	}
	if strings.HasPrefix(line, ">") {
		return line[1:]
	}
	return line
}

// nextLine splits off the first line of s, without its line ending.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		line, rest = s, ""
	} else {
		line, rest = s[:i], s[i+1:]
	}
	return strings.TrimSuffix(line, "\r"), rest
}

// textRecipientLabels may precede the address on a recipient line.
var textRecipientLabels = []string{
	"final-recipient:", "failed recipient:",
	"recipient address:", "recipient:", "recipients:", "rcpt to:", "address:",
	"e-mail address:", "email address:", "invalid recipient:",
	"unknown recipient:", "unknown user:", "user:", "mailbox:",
	"failed address:", "intended recipient:", "undeliverable address:",
	"invalid receiver address:", "bad address:", "error-for:", "to:",
}

// lineAddress returns the address a line starts with, skipping list
// bullets and a label such as "Recipient:", and the text after it. "To:"
// counts only when the rest of the line says something about it.
func lineAddress(t string) (addr, rest string) {
	s := strings.TrimLeft(t, " \t*-•·")
	if s != "" && digitByte(s[0]) {
		// "1) a@b" or "1. a@b"
		j := 0
		for j < len(s) && j < 3 && digitByte(s[j]) {
			j++
		}
		if j < len(s) && (s[j] == ')' || s[j] == '.') && j+1 < len(s) && s[j+1] == ' ' {
			s = s[j+2:]
		}
	}
	labelTo := false
	for _, l := range textRecipientLabels {
		if hasPrefixFoldString(s, l) {
			labelTo = l == "to:"
			s = strings.TrimSpace(s[len(l):])
			if hasPrefixFoldString(s, "rfc822;") {
				s = strings.TrimSpace(s[len("rfc822;"):])
			}
			break
		}
	}
	addr, rest = leadingAddress(s)
	if addr != "" && strings.HasPrefix(rest, " <") {
		// "name@example.com <a@b>": the bracketed address is the one.
		if a2, r2 := leadingAddress(rest[1:]); a2 != "" {
			addr, rest = a2, r2
		}
	}
	if r := strings.TrimLeft(rest, " "); hasPrefixFoldString(r, "<mailto:") {
		// Outlook: "a@b<mailto:a@b>", the address repeated as a link.
		if a2, r2 := leadingAddress(r); strings.EqualFold(a2, addr) {
			rest = r2
		}
	}
	if labelTo && strings.TrimSpace(cleanAfterAddress(rest)) == "" {
		return "", ""
	}
	return addr, rest
}

// leadingAddress reads the address s starts with: a@b, <a@b>, "a@b",
// 'a@b', mailto:a@b. It returns "" when s starts with something else.
func leadingAddress(s string) (addr, rest string) {
	close := byte(0)
	if hasPrefixFoldString(s, "mailto:") {
		s = s[len("mailto:"):]
	}
	if s != "" {
		switch s[0] {
		case '<':
			close = '>'
		case '"':
			close = '"'
		case '\'':
			close = '\''
		case '(':
			close = ')'
		case '[':
			close = ']'
		}
		if close != 0 {
			s = s[1:]
			if hasPrefixFoldString(s, "mailto:") {
				s = s[len("mailto:"):]
			}
		}
	}
	at := -1
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '@' {
			if at >= 0 {
				return "", ""
			}
			at = i
			continue
		}
		if at < 0 && localByte(c) || at >= 0 && domainByte(c) {
			continue
		}
		break
	}
	end := i
	for end > at+1 && s[end-1] == '.' {
		end--
	}
	if at <= 0 || end-at < 2 {
		return "", ""
	}
	addr, rest = s[:end], s[end:]
	if close != 0 {
		if rest == "" || rest[0] != close {
			if !(close == '>' && strings.HasPrefix(rest, ".>")) {
				return "", ""
			}
			rest = rest[1:]
		}
		rest = rest[1:]
	}
	if !strings.Contains(addr[at+1:], ".") && !strings.EqualFold(addr[at+1:], "localhost") {
		return "", ""
	}
	return addr, rest
}

// localByte accepts UTF-8 (RFC 6531 local parts) besides the atext of RFC
// 5322 section 3.2.3. domainByte does not: domains appear as A-labels in
// bounces, and text in other scripts often runs on right after an address.
func localByte(c byte) bool {
	return letterByte(c) || digitByte(c) || c >= 0x80 || strings.IndexByte("!#$%&'*+/=?^_`{|}~.-", c) >= 0
}

func domainByte(c byte) bool {
	return letterByte(c) || digitByte(c) || c == '.' || c == '-' || c == '_'
}

// addressOf returns the address in a header field value such as
// "Name <a@b>" or "a@b (Name)".
func addressOf(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i : i+j+1]
		}
	}
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// cleanAfterAddress trims what follows an address on its line: ":",
// "...", " on <date>" (Exchange) and the like.
func cleanAfterAddress(rest string) string {
	rest = strings.TrimLeft(rest, " \t:,.>;")
	if hasPrefixFoldString(rest, "on ") && len(rest) > 8 && (digitByte(rest[3]) || letterByte(rest[3])) {
		// Exchange: "a@b on 4/29/01 11:34:45 PM" or "on Thu, 29 Apr ...".
		if strings.Count(rest, ":") >= 1 && !strings.Contains(rest, "said") {
			return ""
		}
	}
	return strings.TrimSpace(rest)
}

// containsAnyFold reports whether s contains any of the phrases, ignoring
// ASCII case.
func containsAnyFold(s string, phrases []string) bool {
	for _, p := range phrases {
		if indexFoldString(s, p) >= 0 {
			return true
		}
	}
	return false
}

// indexFoldString is strings.Index ignoring ASCII case. It jumps from one
// occurrence of the first byte (in either case) to the next with
// strings.IndexByte, which is fast on long texts.
func indexFoldString(s, sub string) int {
	n := len(sub)
	if n == 0 {
		return 0
	}
	c := sub[0]
	lo, up := c, c
	if letterByte(c) {
		lo, up = c|0x20, c&^0x20
	}
	nextLo, nextUp := -2, -2 // -2: not searched yet
	for off := 0; off+n <= len(s); {
		if nextLo != -1 && nextLo < off {
			if nextLo = strings.IndexByte(s[off:], lo); nextLo >= 0 {
				nextLo += off
			}
		}
		if up != lo && nextUp != -1 && nextUp < off {
			if nextUp = strings.IndexByte(s[off:], up); nextUp >= 0 {
				nextUp += off
			}
		}
		j := nextLo
		if up != lo && nextUp >= 0 && (j < 0 || nextUp < j) {
			j = nextUp
		}
		if j < 0 || j+n > len(s) {
			return -1
		}
		if foldPrefix(s[j:], sub) {
			return j
		}
		off = j + 1
	}
	return -1
}

func hasPrefixFoldString(s, prefix string) bool {
	return len(s) >= len(prefix) && foldPrefix(s, prefix)
}

// foldPrefix compares the first len(p) bytes of s with p ignoring ASCII
// case; len(s) >= len(p).
func foldPrefix(s, p string) bool {
	for j := 0; j < len(p); j++ {
		a, b := s[j], p[j]
		if a == b {
			continue
		}
		if !letterByte(a) || a|0x20 != b|0x20 {
			return false
		}
	}
	return true
}

// introducedAddress finds a recipient named inside a sentence: an address
// right after one of textIntroPhrases, or after a colon on a line that
// speaks of a failure ("Invalid final delivery userid: a@b").
func introducedAddress(t string) string {
	var found phrase.Set
	introMatcher.Match(t, &found)
	for id := found.Next(0); id >= 0; id = found.Next(id + 1) {
		if a := addressAfter(t, textIntroPhrases[id]); a != "" {
			return a
		}
	}
	if failureMatcher.Contains(t) {
		return addressAfter(t, ":")
	}
	return ""
}

// textFailureWords mark a line that speaks of a failure.
var textFailureWords = []string{
	"error", "fail", "undeliver", "reject", "unknown", "invalid",
	"could not", "couldn't", "unable", "not found", "no such", "denied",
	"refused", "exceed", "mailbox is full",
}

// addressAfter returns the address right after an occurrence of p in t
// (spaces and one ":" between them allowed).
func addressAfter(t, p string) string {
	for off := 0; off < len(t); {
		i := indexFoldString(t[off:], p)
		if i < 0 {
			break
		}
		off += i + len(p)
		s := strings.TrimLeft(t[off:], " \t")
		if strings.HasPrefix(s, ":") {
			s = strings.TrimLeft(s[1:], " \t")
		}
		if a, _ := leadingAddress(s); a != "" {
			return a
		}
	}
	return ""
}

// senderIntro reports whether the line before an address introduces it as
// someone else than a failed recipient: the sender, as in Exim's "A message
// sent by\n  <a@b>\ncould not be delivered", or an address to write to
// ("please send mail to the address\n  list-ctl@example.org").
func senderIntro(prev string) bool {
	p := strings.TrimRight(prev, " \t:")
	for _, s := range []string{"sent by", " from", "to the address", "contact", "write to", "mail to", "reply to", "send to"} {
		if hasSuffixFold(p, s) {
			return true
		}
	}
	return false
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && foldPrefix(s[len(s)-len(suffix):], suffix)
}

// Kinds of lines in an SMTP transcript.
const (
	transcriptNone = iota
	transcriptCommand
	transcriptReply
)

// transcriptLine recognises the lines of an SMTP transcript: commands sent
// (Sendmail ">>> RCPT To:<a@b>", Postfix " In:  RCPT TO:<a@b>", "Sent <<<
// RCPT TO:") and replies received ("<<< 550 ...", "Out: 550 ...",
// "Received >>> 550 ..."), and returns the command or reply.
func transcriptLine(t string) (kind int, rest string) {
	switch {
	case strings.HasPrefix(t, ">>>"):
		return transcriptCommand, strings.TrimSpace(t[3:])
	case strings.HasPrefix(t, "<<<"):
		return transcriptReply, strings.TrimSpace(t[3:])
	case strings.HasPrefix(t, "In:"):
		return transcriptCommand, strings.TrimSpace(t[3:])
	case strings.HasPrefix(t, "Out:"):
		return transcriptReply, strings.TrimSpace(t[4:])
	case hasPrefixFoldString(t, "Sent <<<"):
		return transcriptCommand, strings.TrimSpace(t[8:])
	case hasPrefixFoldString(t, "Received >>>"):
		return transcriptReply, strings.TrimSpace(t[12:])
	}
	return transcriptNone, t
}

// inlineHeader returns the value of the first name field ("To:") of the
// original message's header when it follows the notice as text, not as
// an attachment.
func inlineHeader(original, name string) string {
	for n, rest := 0, original; rest != "" && n < 200; n++ {
		var line string
		line, rest = nextLine(rest)
		if hasPrefixFoldString(line, name) {
			return strings.TrimSpace(line[len(name):])
		}
	}
	return ""
}

// listIntro reports whether t introduces a list of failed recipients:
// "Delivery has failed to these recipients or groups:", "The following
// addresses had permanent fatal errors", "did not reach the following
// recipient(s):".
func listIntro(t string) bool {
	t = strings.TrimRight(t, " -=*")
	if !strings.HasSuffix(t, ":") && !listMarkers.Contains(t) {
		return false
	}
	return listWords.Contains(t)
}

// namedAddress reads a line that names a recipient with a display name:
// "Display Name <a@b>", "Display Name (a@b)", "Name <mailto:a@b>".
func namedAddress(t string) (addr, rest string) {
	i := strings.IndexAny(t, "<(")
	if i <= 0 || i > 100 || strings.ContainsAny(t[:i], ":;@<>") {
		return "", ""
	}
	addr, rest = leadingAddress(t[i:])
	// Only a name and the address, perhaps repeated as a link: not a
	// sentence that mentions an address.
	if r := strings.TrimSpace(rest); r != "" {
		if a, after := leadingAddress(r); a == "" || strings.TrimSpace(after) != "" {
			return "", ""
		}
	}
	return addr, rest
}

// commandVerb returns the SMTP command verb a transcript line sent, upper
// case ("RCPT", "DATA"), or "" when it is not one of the mail transaction
// commands of RFC 5321 section 3.3.
func commandVerb(cmd string) string {
	for _, v := range []string{"MAIL", "RCPT", "DATA", "BDAT", "EHLO", "HELO", "STARTTLS", "AUTH", "QUIT", "RSET"} {
		if hasPrefixFoldString(cmd, v) && (len(cmd) == len(v) || cmd[len(v)] == ' ' || cmd[len(v)] == '\t') {
			return v
		}
	}
	return ""
}

// headerLine reports whether line looks like the first line of a header
// field: a field name (RFC 5322 section 3.6.8) and a colon.
func headerLine(line string) bool {
	i := strings.IndexByte(line, ':')
	if i <= 0 || i > 76 {
		return false
	}
	for j := 0; j < i; j++ {
		if c := line[j]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
