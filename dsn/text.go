package dsn

import (
	"strings"

	"github.com/rebound-mail/rebound/internal/phrase"
)

// Reading the human-readable bounces MTAs send without a machine-readable
// delivery-status part (RFC 3464 section 2 is optional in practice): qmail,
// older Exim and Sendmail, Postfix without a report, Exchange and Office 365
// text NDRs, Lotus Notes, Yahoo, Gmail and the many MTAs that imitate them.
//
// Rather than one reader per MTA, one line-oriented state machine reads them
// all; what differs between MTA families is data, in families.toml: the
// phrases that name a family, the lines of its template (skipped: never a
// recipient's diagnostic), the headings with which it starts the copy of
// the original, its delay warnings and the idioms with which it names the
// SMTP command a reply answered. The notice is cut where the copy of the
// original message starts, at a heading or separator, never at a sentence.
// A line that starts with an address (optionally labelled, quoted,
// bracketed or after a display name right below "...failed to these
// recipients:") opens a recipient, and so does an address right after a
// phrase such as "error delivering your mail to"; the lines after it, up to
// the next recipient or section separator, are what the remote server said
// about it. A line indented below the one that named the recipient
// continues it, even when it starts with an address (a wrapped reply), and
// a verdict in the paragraph above the address explains it when its own
// lines name no cause. SMTP transcripts (">>> RCPT TO:<a>", "<<< 550 ...",
// "550 <a>... User unknown", Postfix's "In:"/"Out:") are read on their own.
// Codes are then found in the recipient's text with findStatus and
// findSMTPCode, never invented. When the text names nobody,
// X-Failed-Recipients (Exim), the RCPT TO of a transcript or the single To
// of the original says who.
// Amazon SES notifications (JSON) are read in text_ses.go.

// addressLines counts the lines of s that start with an address.
func addressLines(s string) int {
	n := 0
	for s != "" {
		var line string
		line, s = nextLine(s)
		if a, _ := lineAddress(strings.TrimSpace(line)); a != "" {
			n++
		}
	}
	return n
}

// maxTextRecipients bounds the recipients read from one text notice; the
// ones beyond are counted in Report.TruncatedRecipients.
const maxTextRecipients = 1000

// maxTextDiagnostic bounds the diagnostic text kept per recipient.
const maxTextDiagnostic = 2000

// scanText reads a human-readable bounce. text is the decoded text of the
// message's human-readable part(s), or its whole decoded body when it is not
// MIME; hdr returns a decoded top-level header field ("" when absent). When
// it recognizes a bounce it fills rep.Recipients (and rep.Format when empty)
// and returns true. rep.Original is already filled when the original
// message was attached.
func scanText(rep *Report, hdr func(name string) string, text string) bool {
	if sesLike(text) && scanSES(rep, []byte(text)) {
		return true
	}
	notice := cutOriginal(text)
	subject := hdr("Subject")
	var said phrase.Set // the phrases of noticeTable in the notice
	noticeTable.matcher.Match(notice, &said)
	certainty := bounceLike(hdr, notice, &said)
	if certainty == notBounce {
		return false
	}

	sc := textScanner{cur: -1}
	if addr, _ := leadingAddress(strings.TrimSpace(addressOf(hdr("To")))); addr != "" {
		sc.exclude = addr
	}
	quoted := quotedNotice(notice)
	for rest := notice; rest != ""; {
		var line string
		line, rest = nextLine(rest)
		if quoted {
			line = unquoteLine(line)
		}
		sc.line(line)
		if len(sc.rcpts) >= maxTextRecipients {
			// The rest is counted, not read: the lines that start
			// with an address, each a recipient the notice names.
			rep.TruncatedRecipients += addressLines(rest)
			break
		}
	}
	sc.closeBlock()

	rcpts := sc.recipients()
	if len(rcpts) == 0 || len(rcpts) == 1 && strings.EqualFold(rcpts[0].addr, sc.exclude) {
		if xfr := failedRecipients(hdr("X-Failed-Recipients"), notice); len(xfr) > 0 {
			rcpts = xfr
		}
	}
	if len(rcpts) == 0 {
		sure := containsAnyFold(hdr("From"), textBounceSenders) && containsAnyFold(subject, textStrongSubjects)
		rcpts = sc.fallback(rep, notice, text[len(notice):], sure)
	}
	if len(rcpts) == 0 {
		return false
	}
	if len(rcpts) == 1 && !rcpts[0].hasCode() {
		// The reply may stand apart from the recipient list, before it
		// ("Could not be delivered because of 550 ...") or after it.
		if diag := noticeDiagnostic(notice); diag != nil {
			// It is the server's text: it goes first.
			rcpts[0].context = rcpts[0].lines
			rcpts[0].lines, rcpts[0].lead = diag, 0
		}
	}

	if certainty == maybeBounce {
		// Words of failure in a message not from a mail system: only a
		// server's code makes it a bounce.
		coded := rcpts[:0:0]
		for _, r := range rcpts {
			if r.hasCode() {
				coded = append(coded, r)
			}
		}
		if rcpts = coded; len(rcpts) == 0 {
			return false
		}
	}
	action := "failed"
	if delayedNotice(subject, &said) {
		action = "delayed"
	}
	for i := range rcpts {
		r := &rcpts[i]
		diag := unescapeOctal(r.diagnostic())
		status, code := r.codes()
		if status != "" && code != "" && status[0] != code[0] && !genericStatus(status) {
			// "550 4.4.7 QUEUE.Expired": the codes disagree on whether
			// the failure is permanent; the status code, being the more
			// specific, is kept, as for a delivery-status part.
			code = ""
		}
		remote := r.remote
		if remote == "" {
			remote = remoteHost(diag)
		}
		if remote == "" {
			remote = r.hostField(sc.generating)
		}
		if remote == "" {
			remote = sc.host
		}
		act := action
		if r.action != "" {
			act = r.action
		}
		rep.Recipients = append(rep.Recipients, Recipient{
			FinalRecipient: r.addr,
			Action:         act,
			Status:         status,
			SMTPCode:       code,
			RemoteMTA:      remote,
			Diagnostic:     diag,
			Command:        r.command,
		})
	}
	if rep.Format == "" {
		rep.Format = textFormat(&said)
	}
	if rep.ReportingMTA == "" {
		rep.ReportingMTA = sc.generating
	}
	if o := rep.Original; o.MessageID == "" && o.From == "" && o.To == "" && o.Subject == "" {
		inlineOriginal(rep, text[len(notice):])
	}
	return true
}

// inlineOriginal fills rep.Original from the header of the original
// message when the notice quotes it as text after a marker line ("---
// Below this line is a copy of the message.") rather than attaching it.
func inlineOriginal(rep *Report, after string) {
	// Skip the marker line and what separates it from the header: blank
	// lines, a second marker, an mbox "From " line.
	for n := 0; after != "" && n < 4; n++ {
		line, rest := nextLine(after)
		if n > 0 && headerLine(line) {
			break
		}
		after = rest
	}
	// Only the header is read: copy no more of the original than up to
	// its first empty line.
	end := len(after)
	if i := strings.Index(after, "\n\n"); i >= 0 {
		end = i + 2
	}
	if i := strings.Index(after[:end], "\n\r\n"); i >= 0 {
		end = i + 3
	}
	var buf [32]field
	h, _, _ := readHeader([]byte(after[:end]), 256<<10, buf[:0])
	f := originalFieldsOf(h)
	if f.from == "" && f.to == "" && f.subject == "" && f.messageID == "" {
		return
	}
	rep.Original = originalFrom(h, f)
}

// textRecipient is one failed recipient and the lines said about it.
type textRecipient struct {
	addr         string
	lines        []string // the block of text after the address, "" between paragraphs
	code, status string   // set by Sendmail transcript lines
	reply        string   // the server reply of a Sendmail transcript
	remote       string
	before       string // the line before the address
	listed       bool   // named right after a list introduction
	command      string // the SMTP command a transcript reply answered
	lead         int    // lines that only name the recipient ("error delivering to <a>")
	action       string // from an "Action:" field quoted in the text
	// above is a verdict said in the paragraph above the address, when
	// the block itself holds no code ("The following recipient does not
	// exist on this server:").
	above string
	// context is the recipient's own block when the server's text stood
	// apart from it: said after that text, it explains a bare "Status
	// code: 550 5.4.1" (Office 365).
	context []string
}

// said reports whether anything was read about r yet.
func (r *textRecipient) said() bool {
	return r.reply != "" || r.code != "" || len(r.lines) > 0
}

// textScanner is the state machine that reads a notice line by line.
type textScanner struct {
	rcpts  []textRecipient
	byAddr map[string]int // index in rcpts by lower-case address
	cur    int            // the recipient whose block is being read, -1 for none
	// curIndent is the indentation of the line that opened the current
	// recipient; deeper lines right below it continue its reply.
	curIndent int
	// inBlock is set while the lines below the current recipient's
	// opening line follow it with no empty line between.
	inBlock bool
	exclude string // the bounce's own recipient: the sender, never a failed recipient

	// Sendmail transcripts.
	host         string   // "... while talking to host:"
	pendingRcpt  string   // ">>> RCPT To:<addr>"
	pendingReply string   // "<<< 550 ..."
	pendingCmd   string   // the verb of the last command: "RCPT", "DATA"
	lastCmd      string   // the command lastReply answered
	hostLine     string   // "421 example.com (smtp)... Deferred"
	lastRcpt     string   // the last RCPT TO of a transcript
	lastReply    string   // the first error reply after it
	prev         string   // the previous non-empty line
	para         []string // the last lines read, at most a few
	// paraLines are the lines of the paragraph being read, lastPara those
	// of the one before the last empty line; a few of each.
	paraLines, lastPara []string
	listing             bool // the last line introduced a list of recipients
	// generating is the host Exchange names as "Generating server:" or
	// "DSN generated by:", the reporting MTA of the notice;
	// wantGenerating is set while its value is awaited on the next line.
	generating     string
	wantGenerating bool
	prevListing    bool
}

func (sc *textScanner) line(raw string) {
	t := strings.TrimSpace(raw)
	if t != "" {
		sc.prevListing = sc.listing
		sc.listing = listIntro(t)
		if families.boilerplate(t) {
			// A line of the MTA's template says nothing about any
			// recipient (families.toml).
			sc.prev = t
			return
		}
		defer func() {
			sc.prev = t
			if !isSeparatorLine(t) {
				// Keep the last lines: those right before an address.
				if len(sc.para) == 4 {
					copy(sc.para, sc.para[1:])
					sc.para = sc.para[:3]
				}
				sc.para = append(sc.para, t)
				if len(sc.paraLines) < 4 {
					sc.paraLines = append(sc.paraLines, t)
				}
			}
		}()
	}
	if t != "" && sc.generating == "" {
		sc.generatingServer(t)
	}
	if t == "" {
		sc.inBlock = false
		if len(sc.paraLines) > 0 {
			sc.lastPara = append(sc.lastPara[:0], sc.paraLines...)
			sc.paraLines = sc.paraLines[:0]
		}
		if sc.cur >= 0 {
			r := &sc.rcpts[sc.cur]
			if n := len(r.lines); n > 0 && r.lines[n-1] != "" {
				r.lines = append(r.lines, "")
			}
		}
		return
	}
	kind, rest := transcriptLine(t)
	switch kind {
	case transcriptCommand:
		if a, _ := leadingAddress(rest); a != "" {
			// Not a command: ">>> a@b <a@b>" lists a recipient.
			t = rest
			break
		}
		// The command the replies that follow answer.
		sc.pendingReply = ""
		sc.pendingRcpt = ""
		sc.pendingCmd = commandVerb(rest)
		if i := indexFoldString(rest, "RCPT TO:"); i >= 0 {
			sc.pendingRcpt, _ = leadingAddress(strings.TrimSpace(rest[i+len("RCPT TO:"):]))
			sc.lastRcpt = sc.pendingRcpt
			sc.lastReply = ""
		}
		return
	case transcriptReply:
		if rest == "" || (rest[0] != '4' && rest[0] != '5') {
			return
		}
		if sc.pendingReply == "" {
			sc.pendingReply = rest
		}
		if sc.lastReply == "" {
			sc.lastReply = rest
			sc.lastCmd = sc.pendingCmd
		}
		if sc.pendingRcpt != "" {
			if i, ok := sc.byAddr[strings.ToLower(sc.pendingRcpt)]; ok && sc.rcpts[i].reply == "" {
				sc.rcpts[i].reply = rest
				sc.rcpts[i].command = sc.pendingCmd
			}
		}
		return
	}
	switch {
	case isSeparatorLine(t) && !labelsAddress(t):
		// A separator ends a block, unless nothing was said yet about its
		// recipient: then the reason comes in the next section.
		if sc.cur >= 0 && !sc.rcpts[sc.cur].said() {
			return
		}
		sc.closeBlock()
		return
	}
	if adminHeading(t) {
		// Exchange's section for administrators names each recipient
		// again, with what the server said: the user's part ends here.
		sc.closeBlock()
		return
	}
	if host, ok := talkingTo(t); ok {
		sc.closeBlock()
		sc.host = host
		return
	}
	if sc.sendmailLine(t) {
		return
	}
	if sc.cur >= 0 && sc.inBlock && indentOf(raw) > sc.curIndent && len(sc.rcpts[sc.cur].lines) > 0 {
		// A wrapped line of the reply, indented below the line that
		// named the recipient, continues that reply even when it starts
		// with an address (Postfix: "<a@b>: host ... said: 550\n    5.1.1
		// <a@b>... rejected").
		if r := &sc.rcpts[sc.cur]; len(r.lines) < 200 {
			r.lines = append(r.lines, t)
		}
		return
	}
	addr, rest := lineAddress(t)
	if addr == "" && (sc.prevListing || sc.cur >= 0 && sc.rcpts[sc.cur].listed) {
		// Right after "...failed to these recipients:", or after another
		// recipient so listed: "Display Name <a@b>" or "Name (a@b)".
		addr, rest = namedAddress(t)
	}
	if addr != "" && !senderIntro(sc.prev) {
		if sc.cur >= 0 && strings.EqualFold(sc.rcpts[sc.cur].addr, addr) {
			// The address repeated inside its own diagnostic.
			sc.rcpts[sc.cur].lines = append(sc.rcpts[sc.cur].lines, t)
			return
		}
		listed := sc.prevListing || sc.cur >= 0 && sc.rcpts[sc.cur].listed
		above := ""
		if sc.cur < 0 {
			// The paragraph above, when no other recipient's block
			// was being read: a verdict said before the address
			// ("The following recipient does not exist:").
			above = joinLines(sc.paraLines)
			if above == "" {
				above = joinLines(sc.lastPara)
			}
		}
		sc.closeBlock()
		sc.cur = sc.add(addr)
		sc.curIndent, sc.inBlock = indentOf(raw), true
		r := &sc.rcpts[sc.cur]
		r.listed = r.listed || listed
		if r.before == "" && len(sc.para) > 0 && !isSeparatorLine(sc.prev) {
			// Some MTAs give the reason first (Notes, ezweb).
			r.before = joinLines(sc.para)
		}
		if r.above == "" && families.namesCause(above) {
			r.above = above
		}
		switch rest = cleanAfterAddress(rest); {
		case rest != "":
			r.lines = append(r.lines, rest)
		case failureMatcher.Contains(t):
			// "Unknown user: a@b"
			r.lines = append(r.lines, t)
		}
		return
	}
	if sc.cur < 0 {
		if addr := introducedAddress(t); addr != "" {
			sc.cur = sc.add(addr)
			r := &sc.rcpts[sc.cur]
			if len(r.lines) == 0 {
				r.lead = 1
			}
			r.lines = append(r.lines, t)
			return
		}
	}
	if sc.cur >= 0 {
		r := &sc.rcpts[sc.cur]
		if hasPrefixFoldString(t, "Action:") {
			// RFC 3464 fields quoted in the text.
			switch a := strings.ToLower(strings.TrimSpace(t[len("Action:"):])); a {
			case "failed", "delayed":
				r.action = a
			}
		}
		if len(r.lines) < 200 {
			r.lines = append(r.lines, t)
		}
	}
}

// labelsAddress reports whether a line that starts like a separator names
// a recipient after a label ("--- Invalid receiver address: a@b").
func labelsAddress(t string) bool {
	if strings.IndexByte(t, '@') < 0 {
		return false
	}
	a, _ := lineAddress(strings.TrimLeft(t, "-=*# "))
	return a != ""
}

// adminHeadings head the part of an Exchange notice meant for
// administrators, in the languages it writes notices in.
var adminHeadings = []string{
	"Diagnostic information for administrators", "More Info for Email Admins",
	"Diagnostische gegevens voor beheerders", "Diagnoseinformationen für Administratoren",
	"Informations de diagnostic pour les administrateurs",
}

// adminHeading reports whether t is the heading of the part of an
// Exchange notice meant for administrators.
func adminHeading(t string) bool {
	t = strings.TrimSpace(strings.TrimSuffix(t, ":"))
	for _, h := range adminHeadings {
		if strings.EqualFold(t, h) {
			return true
		}
	}
	return false
}

// exchangeServerLabels name the server that wrote an Exchange notice, in
// the languages it writes notices in (followed by a colon).
var exchangeServerLabels = []string{
	"Generating server", "DSN generated by", "Genererende server",
	"Generierender Server", "Serveur de génération", "Servidor de generación",
}

// generatingServer reads the server that wrote an Exchange notice:
// "Generating server: host", the host possibly on the next line, or "DSN
// generated by: host" of the Office 365 layout.
func (sc *textScanner) generatingServer(t string) {
	if sc.wantGenerating {
		sc.wantGenerating = false
		sc.generating = hostToken(t)
		return
	}
	for _, label := range exchangeServerLabels {
		if !hasPrefixFoldString(t, label) {
			continue
		}
		// French puts a space before the colon.
		v := strings.TrimLeft(t[len(label):], " \t")
		if !strings.HasPrefix(v, ":") {
			continue
		}
		if v = strings.TrimSpace(v[1:]); v != "" {
			sc.generating = hostToken(v)
		} else {
			sc.wantGenerating = true
		}
		return
	}
}

// sendmailLine reads a Sendmail transcript result, "550 <a@b>... User
// unknown" or "554 <a@b>... 550 Host unknown", and remembers a host-level
// one, "421 example.com (smtp)... Deferred: ...".
func (sc *textScanner) sendmailLine(t string) bool {
	if len(t) < 5 || t[3] != ' ' || (t[0] != '4' && t[0] != '5' && t[0] != '2') || !digitByte(t[1]) || !digitByte(t[2]) {
		return false
	}
	rest := strings.TrimSpace(t[4:])
	lineStatus := ""
	if st := findStatus(rest); st != "" && strings.HasPrefix(rest, st) {
		// "550 5.1.1 <a@b>... User unknown"
		lineStatus = st
		rest = strings.TrimSpace(rest[len(st):])
	}
	addr, after := leadingAddress(rest)
	if !strings.HasPrefix(after, "...") {
		if i := strings.Index(rest, "... "); i > 0 && strings.Contains(rest[:i], "(") && !strings.Contains(rest[:i], "@") {
			if t[0] != '2' && sc.hostLine == "" {
				sc.hostLine = t
			}
			return true
		}
		return false
	}
	if addr == "" {
		return false
	}
	sc.closeBlock()
	text := strings.TrimSpace(after[3:])
	i := sc.add(addr)
	r := &sc.rcpts[i]
	if r.reply == "" && (sc.pendingRcpt == "" || strings.EqualFold(sc.pendingRcpt, addr)) {
		// The reply to the command before, unless that named another
		// recipient.
		r.reply = sc.pendingReply
		if r.reply != "" {
			r.command = sc.pendingCmd
		}
	}
	if len(r.lines) == 0 {
		r.lines = append(r.lines, text)
	}
	if r.code == "" {
		switch {
		case findSMTPCode(text) != "":
			r.code = findSMTPCode(text)
		case syntaxReply(findSMTPCode(r.reply)):
			// The server complained about the protocol (RFC 5321
			// section 4.2.3, 500-504) rather than judged the mail;
			// Sendmail's line gives its own verdict on the recipient
			// ("554 <a>... Remote protocol error" after a 501).
			r.code = t[:3]
		case findSMTPCode(r.reply) != "":
			r.code = findSMTPCode(r.reply)
		default:
			r.code = t[:3]
		}
	}
	if r.status == "" {
		if s := findStatus(text); s != "" {
			r.status = s
		} else if s := findStatus(r.reply); s != "" {
			r.status = s
		} else {
			r.status = lineStatus
		}
	}
	if r.remote == "" {
		r.remote = sc.host
	}
	sc.pendingReply = ""
	sc.pendingRcpt = ""
	return true
}

// syntaxReply reports whether code is a reply about the syntax of a
// command (500 to 504), not about the mail.
func syntaxReply(code string) bool {
	return len(code) == 3 && code[0] == '5' && code[1] == '0' && code[2] <= '4'
}

// add returns the index of the recipient addr, adding it when new.
func (sc *textScanner) add(addr string) int {
	key := strings.ToLower(addr)
	if i, ok := sc.byAddr[key]; ok {
		return i
	}
	if sc.byAddr == nil {
		sc.byAddr = make(map[string]int)
	}
	sc.rcpts = append(sc.rcpts, textRecipient{addr: addr})
	sc.byAddr[key] = len(sc.rcpts) - 1
	return len(sc.rcpts) - 1
}

func (sc *textScanner) closeBlock() { sc.cur, sc.inBlock = -1, false }

// indentOf returns the width of the white space line starts with, a tab
// counting as eight.
func indentOf(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ':
			n++
		case '\t':
			n += 8
		default:
			return n
		}
	}
	return n
}

// recipients returns the recipients read, without the bounce's own
// recipient (the sender) unless it is the only one: a sender can mail
// itself.
func (sc *textScanner) recipients() []textRecipient {
	if sc.exclude == "" || len(sc.rcpts) < 2 {
		return sc.rcpts
	}
	out := sc.rcpts[:0:0]
	for _, r := range sc.rcpts {
		if !strings.EqualFold(r.addr, sc.exclude) {
			out = append(out, r)
		}
	}
	return out
}

// codes returns the first status and reply codes said about r, looking
// at one line at a time so that a line's start is known.
func (r *textRecipient) codes() (status, code string) {
	status, code = r.status, r.code
	if status == "" {
		status = failure(findStatus(r.reply))
	}
	if code == "" {
		code = failure(findSMTPCode(r.reply))
	}
	for _, l := range r.lines {
		if status != "" && !genericStatus(status) && code != "" {
			break
		}
		if status == "" {
			status = failure(findStatus(l))
		} else if genericStatus(status) {
			// A generic code on one line, the remote server's own on a
			// later one: the latter explains.
			if st := failure(findStatus(l)); st != "" && st[0] == status[0] && !genericStatus(st) {
				status = st
			}
		}
		if code == "" {
			code = failure(findSMTPCode(l))
		}
	}
	return status, code
}

// hostField returns a host name said on a line of its own before the
// server's reply, as Exchange lists the remote server under the recipient
// for administrators; the generating server is not it.
func (r *textRecipient) hostField(generating string) string {
	for _, l := range r.lines {
		if failure(findSMTPCode(l)) != "" || failure(findStatus(l)) != "" {
			break
		}
		if h := hostToken(l); h != "" && h == l && !strings.EqualFold(h, generating) {
			return h
		}
	}
	return ""
}

// hasCode reports whether what was read about r holds a reply or status
// code.
func (r *textRecipient) hasCode() bool {
	st, c := r.codes()
	return st != "" || c != ""
}

// failure returns a status or reply code that reports a failure (class 4
// or 5), "" for a success: a bounce never fails with a 2xx, which in its
// text only quotes a transcript or a size.
func failure(code string) string {
	if code == "" || code[0] == '2' {
		return ""
	}
	return code
}

// failedRecipients reads the X-Failed-Recipients field (set by Exim) when
// the text names no recipient as an address of its own (a local part
// alone, a pipe): what the text says goes for all of them.
func failedRecipients(field, notice string) []textRecipient {
	var out []textRecipient
	var diag []string
	for _, f := range strings.Split(field, ",") {
		if a, _ := leadingAddress(strings.TrimSpace(f)); a != "" && !hasRecipient(out, a) {
			if diag == nil {
				if diag = noticeDiagnostic(notice); diag == nil {
					diag = noticeSummary(notice)
				}
			}
			out = append(out, textRecipient{addr: a, lines: diag})
			if len(out) >= maxTextRecipients {
				break
			}
		}
	}
	return out
}

func hasRecipient(rs []textRecipient, addr string) bool {
	for _, r := range rs {
		if strings.EqualFold(r.addr, addr) {
			return true
		}
	}
	return false
}

// fallback finds the recipient of a notice that names no recipient on a
// line of its own, when the text carries a reply or status code: the
// address of a Sendmail "RCPT TO" or the To of the attached original.
//
// Without a code, only a notice a mail system calls undeliverable (sure
// is true) about a message that had a single recipient names it.
func (sc *textScanner) fallback(rep *Report, notice, original string, sure bool) []textRecipient {
	diag := noticeDiagnostic(notice)
	if sc.hostLine != "" {
		diag = []string{sc.hostLine}
	}
	if diag == nil {
		if !sure {
			return nil
		}
		to := rep.Original.To
		if to == "" {
			to = inlineHeader(original, "To:")
		}
		addr, _ := leadingAddress(strings.TrimSpace(addressOf(to)))
		if addr == "" || strings.Count(to, "@") != 1 || strings.EqualFold(addr, sc.exclude) {
			return nil
		}
		return []textRecipient{{addr: addr, lines: noticeSummary(notice)}}
	}
	addr := sc.lastRcpt
	if addr != "" && sc.lastReply != "" {
		return []textRecipient{{addr: addr, reply: sc.lastReply, command: sc.lastCmd, remote: sc.host}}
	}
	to := rep.Original.To
	if to == "" {
		to = inlineHeader(original, "To:")
	}
	if addr == "" {
		addr, _ = leadingAddress(strings.TrimSpace(addressOf(to)))
	}
	if addr == "" || strings.EqualFold(addr, sc.exclude) {
		return nil
	}
	r := textRecipient{addr: addr, lines: diag, remote: sc.host}
	if sc.hostLine != "" {
		r.code = sc.hostLine[:3]
		if c := findSMTPCode(sc.hostLine[4:]); c != "" {
			r.code = c
		}
	}
	return []textRecipient{r}
}

// diagnostic returns what the server said about r: the paragraphs of its
// block up to the first that holds a reply or status code, or the first
// paragraph when none does.
func (r *textRecipient) diagnostic() string {
	if r.reply != "" {
		return clip(r.reply)
	}
	if d := joinParagraphs(r.lines, r.lead); d != "" {
		if c := joinLines(r.context); c != "" {
			d += " " + c
		}
		if r.above != "" && !r.hasCode() && !families.namesCause(d) {
			d = r.above + " " + d
		}
		return clip(d)
	}
	if r.above != "" {
		return clip(r.above)
	}
	return clip(r.before)
}

// joinParagraphs joins lines, "" separating paragraphs, up to and including
// the first paragraph that holds a code; without codes, up to the first
// paragraph after the first lead lines that says something rather than
// introducing the next one ("because:").
func joinParagraphs(lines []string, lead int) string {
	start := 0
	firstEnd := -1
	bare := false
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && lines[i] != "" {
			continue
		}
		if firstEnd < 0 && i > lead && i > start && !strings.HasSuffix(lines[i-1], ":") {
			firstEnd = i
		}
		coded, words := false, false
		for _, l := range lines[start:i] {
			if st := failure(findStatus(l)); st != "" && st == l {
				// A status code on a line of its own, as a field
				// (Exchange's "     5.7.606"): the reply follows.
				coded = true
				continue
			}
			if failure(findSMTPCode(l)) != "" || failure(findStatus(l)) != "" {
				coded, words = true, true
			}
		}
		switch {
		case coded && words:
			return joinLines(lines[:i])
		case coded && !bare:
			bare = true
			firstEnd = i
		}
		start = i + 1
	}
	if firstEnd < 0 {
		return joinLines(lines)
	}
	return joinLines(lines[:firstEnd])
}

func joinLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

// clip bounds a diagnostic, cutting at a character boundary.
func clip(s string) string {
	if len(s) > maxTextDiagnostic {
		n := maxTextDiagnostic
		for n > 0 && s[n]&0xC0 == 0x80 {
			n--
		}
		s = s[:n]
	}
	return strings.TrimSpace(s)
}

// noticeDiagnostic returns the paragraph of the notice that holds the first
// reply or status code, as lines.
func noticeDiagnostic(notice string) []string {
	var para []string
	found := false
	for rest := notice; rest != ""; {
		var line string
		line, rest = nextLine(rest)
		t := strings.TrimSpace(line)
		if t == "" {
			if found {
				break
			}
			para = para[:0]
			continue
		}
		if strings.HasPrefix(t, ">>>") || families.boilerplate(t) {
			continue
		}
		coded := !found && (failure(findSMTPCode(t)) != "" || failure(findStatus(t)) != "")
		if len(para) < 50 || coded {
			para = append(para, t)
		}
		found = found || coded
	}
	if !found {
		return nil
	}
	return para
}

// noticeSummary returns the first lines of the notice, for a recipient the
// text says nothing about on its own (Google Groups, a pipe).
func noticeSummary(notice string) []string {
	var lines []string
	n := 0
	for rest := notice; rest != "" && n < 600; {
		var line string
		line, rest = nextLine(rest)
		t := strings.TrimSpace(line)
		if t == "" || isSeparatorLine(t) && len(strings.Trim(t, "-=*# ")) == 0 || families.boilerplate(t) {
			continue
		}
		lines = append(lines, t)
		n += len(t)
	}
	return lines
}
