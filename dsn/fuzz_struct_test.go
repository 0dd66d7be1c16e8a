package dsn

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Structure-aware fuzzers. FuzzParse mutates whole messages, and a
// mutation that shortens a field value inside a report mostly breaks the
// report around it. These fuzzers build well-formed messages instead —
// delivery-status reports, the text bounces of the common MTA families,
// feedback reports — and put the fuzzed values in their fields, shaped
// into what real reports carry: empty, a byte or three, a bare number,
// about 100 KB, folded, Latin-1, with control characters. Every fuzzer
// checks the invariants of checkInvariants, and those of what it built.

// Shapes a fuzzed value is given before it goes into a field.
const (
	shapeAsIs       = iota
	shapeEmpty      // ""
	shapeOneByte    // its first byte
	shapeThreeBytes // its first three bytes
	shapeNumber     // its digits, "255" when it has none: an exit status, a bare code
	shapeHuge       // repeated to a few KB, or to about 100 KB (once per message)
	shapeFolded     // folded after its spaces, or in its middle
	shapeLatin1     // with bytes that are not UTF-8
	shapeControl    // with NUL, ESC, DEL and a bare CR in its middle
	shapeBlanks     // between runs of white space
	numShapes
)

// hugeValue is the size of a shapeHuge value.
const hugeValue = 100 << 10

// A shaper draws the choices of a built message from the fuzzed bytes;
// with no bytes left it starts over, and with none at all every choice is
// 0 (each value as it is).
type shaper struct {
	b    []byte
	i    int
	huge bool // a huge value was made; one per message keeps runs fast
}

func (s *shaper) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[s.i%len(s.b)]
	s.i++
	return c
}

// value returns v in the next shape.
func (s *shaper) value(v string) string {
	c := s.next()
	switch c % numShapes {
	case shapeEmpty:
		return ""
	case shapeOneByte:
		return v[:min(1, len(v))]
	case shapeThreeBytes:
		return v[:min(3, len(v))]
	case shapeNumber:
		var digits []byte
		for i := 0; i < len(v) && len(digits) < 3; i++ {
			if digitByte(v[i]) {
				digits = append(digits, v[i])
			}
		}
		if len(digits) == 0 {
			return "255"
		}
		return string(digits)
	case shapeHuge:
		// Mostly long (about 1 to 3.5 KB: past the bounds on kept
		// text), now and then huge.
		n := 600 + int(c)*12
		if c < 64 && !s.huge {
			n, s.huge = hugeValue, true
		}
		unit := v
		if unit == "" {
			unit = "x"
		}
		return strings.Repeat(unit, n/len(unit)+1)[:n]
	case shapeFolded:
		if strings.Contains(v, " ") {
			return strings.ReplaceAll(v, " ", " \r\n\t")
		}
		return v[:len(v)/2] + "\r\n " + v[len(v)/2:]
	case shapeLatin1:
		return strings.ReplaceAll(v, "e", "\xe9") + " \xff\xfe\xc3"
	case shapeControl:
		return v[:len(v)/2] + "\x00\x01\x1b\x7f\r\x0b" + v[len(v)/2:]
	case shapeBlanks:
		return " \t " + v + " \t"
	}
	return v
}

// fuzzBoundary delimits the parts of the built messages; values have it
// taken out, so that no value ends a part.
const fuzzBoundary = "=_rebound-fuzz-0b"

// A fieldWriter writes header fields whose values stay one field: a line
// break in a value becomes a fold, a line of white space alone (which
// would end the header or the group; isSpace says what white space is)
// is dropped, and the boundary is taken out.
type fieldWriter struct{ strings.Builder }

func (w *fieldWriter) field(name, v string) {
	v = strings.ReplaceAll(v, fuzzBoundary, "b")
	w.WriteString(name)
	w.WriteString(":")
	for i, piece := range strings.Split(v, "\n") {
		piece = strings.TrimSuffix(piece, "\r")
		if i > 0 {
			if len(trimSpace([]byte(piece))) == 0 {
				continue
			}
			w.WriteString("\r\n")
			if piece[0] != ' ' && piece[0] != '\t' {
				w.WriteString(" ")
			}
		} else {
			w.WriteString(" ")
		}
		w.WriteString(piece)
	}
	w.WriteString("\r\n")
}

// text writes s as part of a body, without the boundary.
func (w *fieldWriter) text(s string) {
	w.WriteString(strings.ReplaceAll(s, fuzzBoundary, "b"))
}

// multipart writes the Content-Type field of a multipart entity whose
// parts fuzzBoundary delimits.
func (w *fieldWriter) multipart(mediaType string) {
	w.WriteString("Content-Type: " + mediaType + "; boundary=\"" + fuzzBoundary + "\"\r\n")
}

func (w *fieldWriter) startPart(contentType string) {
	w.WriteString("\r\n--" + fuzzBoundary + "\r\n")
	w.WriteString("Content-Type: " + contentType + "\r\n\r\n")
}

func (w *fieldWriter) endParts() { w.WriteString("\r\n--" + fuzzBoundary + "--\r\n") }

// fuzzParser bounds the work as a listener would, with room for huge
// values.
var fuzzParser = Parser{Limits: Limits{MaxMessageSize: 8 << 20, MaxHeaderSize: 1 << 20, MaxParts: 100, MaxDepth: 10}}

// parseChecked parses msg and checks the invariants of checkInvariants.
func parseChecked(t *testing.T, msg []byte) (*Report, error) {
	t.Helper()
	start := time.Now()
	rep, err := fuzzParser.Parse(msg)
	elapsed := time.Since(start)
	checkInvariants(t, &fuzzParser, msg, rep, err, elapsed)
	if t.Failed() {
		t.Logf("message (%d bytes):\n%s", len(msg), clipForLog(msg))
	}
	return rep, err
}

func clipForLog(msg []byte) string {
	if len(msg) > 4000 {
		return fmt.Sprintf("%q ... (%d bytes)", msg[:4000], len(msg))
	}
	return fmt.Sprintf("%q", msg)
}

// parseBudget is the time Parse may take on msg: it is linear in the
// size of its input, and this leaves room for a loaded machine.
func parseBudget(msg []byte) time.Duration {
	return 2*time.Second + time.Duration(len(msg))*time.Microsecond
}

// checkInvariants checks what p.Parse promises for every input msg: a report or an
// error, never both or neither; recipients only with a format, a known
// format, at most Limits.MaxRecipients recipients; recipient
// fields in UTF-8 (the decoder converts every text it reads), on one line
// (unfolded) except the diagnostic, codes in the syntax of RFC 3463 and RFC 5321,
// commands and actions as Recipient documents them; Feedback only on
// a complaint (ARF, or an Amazon SES notification); decoding deterministic and in bounded time.
func checkInvariants(t *testing.T, p *Parser, msg []byte, rep *Report, err error, elapsed time.Duration) {
	t.Helper()
	if budget := parseBudget(msg); elapsed > budget {
		t.Errorf("Parse took %v on %d bytes, more than %v", elapsed, len(msg), budget)
	}
	if err != nil {
		if rep != nil {
			t.Errorf("Parse returned a report and the error %v", err)
		}
		return
	}
	if rep == nil {
		t.Fatal("Parse returned neither report nor error")
	}
	switch rep.Format {
	case "", FormatRFC3464, FormatRFC6533, FormatARF, FormatRFC3834, FormatExchange, FormatQmail,
		FormatExim, FormatSendmail, FormatPostfix, FormatNotes, FormatText, FormatAmazonSES:
	default:
		t.Errorf("unknown format %q", rep.Format)
	}
	if rep.Format == "" && len(rep.Recipients) > 0 {
		t.Errorf("%d recipients without a format", len(rep.Recipients))
	}
	if rep.Feedback != nil && rep.Format != FormatARF && rep.Format != FormatAmazonSES {
		t.Errorf("feedback fields in a %q report", rep.Format)
	}
	// Limits.MaxRecipients bounds the recipients decoded; the others
	// are only counted.
	if max := p.limits().MaxRecipients; len(rep.Recipients) > max {
		t.Errorf("%d recipients, more than the limit of %d", len(rep.Recipients), max)
	} else if rep.TruncatedRecipients < 0 || rep.TruncatedRecipients > 0 && len(rep.Recipients) != max {
		t.Errorf("%d recipients truncated after %d, the limit being %d", rep.TruncatedRecipients, len(rep.Recipients), max)
	}
	for i := range rep.Recipients {
		checkRecipient(t, i, &rep.Recipients[i])
	}
	if rep.Feedback != nil {
		fb := rep.Feedback
		for name, v := range map[string]string{"FeedbackType": fb.FeedbackType, "UserAgent": fb.UserAgent,
			"Version": fb.Version, "SourceIP": fb.SourceIP, "ArrivalDate": fb.ArrivalDate, "ReportingMTA": fb.ReportingMTA,
			"OriginalMailFrom": fb.OriginalMailFrom, "AuthFailure": fb.AuthFailure} {
			checkLine(t, "feedback "+name, v)
		}
		for _, a := range fb.OriginalRcptTo {
			checkLine(t, "feedback OriginalRcptTo", a)
		}
	}
	again, err := p.Parse(msg)
	if err != nil || !reflect.DeepEqual(rep, again) {
		t.Errorf("Parse is not deterministic (second error %v)", err)
	}
}

// checkRecipient checks the fields of the i-th recipient.
func checkRecipient(t *testing.T, i int, r *Recipient) {
	t.Helper()
	for name, v := range map[string]string{"FinalRecipient": r.FinalRecipient, "OriginalRecipient": r.OriginalRecipient,
		"Action": r.Action, "Status": r.Status, "SMTPCode": r.SMTPCode, "RemoteMTA": r.RemoteMTA,
		"DiagnosticType": r.DiagnosticType, "LastAttemptDate": r.LastAttemptDate, "WillRetryUntil": r.WillRetryUntil,
		"FeedbackType": r.FeedbackType, "Command": r.Command, "StatusComment": r.StatusComment} {
		checkLine(t, fmt.Sprintf("recipient %d %s", i+1, name), v)
	}
	// The diagnostic read from a notice keeps the notice's line breaks.
	if !utf8.ValidString(r.Diagnostic) {
		t.Errorf("recipient %d Diagnostic is not UTF-8: %q", i+1, clipString(r.Diagnostic))
	}
	if r.Status != "" && !validStatusSyntax(r.Status) {
		t.Errorf("recipient %d Status %q is not an enhanced status code (RFC 3463 section 2)", i+1, r.Status)
	}
	if r.SMTPCode != "" && !validReplySyntax(r.SMTPCode) {
		t.Errorf("recipient %d SMTPCode %q is not a reply code (RFC 5321 section 4.2)", i+1, r.SMTPCode)
	}
	switch r.Command {
	case "", "MAIL", "RCPT", "DATA", "EHLO", "CONN":
	default:
		t.Errorf("recipient %d Command %q", i+1, r.Command)
	}
	if r.Action != toLowerASCII(r.Action) || strings.ContainsAny(r.Action, " \t(;") {
		t.Errorf("recipient %d Action %q is not a lower-case word", i+1, r.Action)
	}
	if r.DiagnosticType != toLowerASCII(r.DiagnosticType) {
		t.Errorf("recipient %d DiagnosticType %q is not lower case", i+1, r.DiagnosticType)
	}
}

// checkLine checks a field that holds one line of UTF-8 text. Control
// characters the input carried (NUL, ESC, a CR that ends no line) are
// kept as data: the decoder does not promise to drop them.
func checkLine(t *testing.T, name, v string) {
	t.Helper()
	if !utf8.ValidString(v) {
		t.Errorf("%s is not UTF-8: %q", name, clipString(v))
	}
	if strings.IndexByte(v, '\n') >= 0 {
		t.Errorf("%s holds a line break: %q", name, clipString(v))
	}
}

func clipString(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// validStatusSyntax reports whether s is class "." subject "." detail of
// RFC 3463 section 2: class 2, 4 or 5, subject and detail of one to three
// digits.
func validStatusSyntax(s string) bool {
	if len(s) < 5 || s[0] != '2' && s[0] != '4' && s[0] != '5' || s[1] != '.' {
		return false
	}
	sub, detail, ok := strings.Cut(s[2:], ".")
	return ok && digitsOnly(sub, 3) && digitsOnly(detail, 3)
}

func digitsOnly(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !digitByte(s[i]) {
			return false
		}
	}
	return true
}

// validReplySyntax reports whether s is a reply code of RFC 5321 section
// 4.2: three digits, the first 2 to 5, the second 0 to 5.
func validReplySyntax(s string) bool {
	return len(s) == 3 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '5' && digitByte(s[2])
}

// diagnosticTypes are the Diagnostic-Code types a built report uses
// (RFC 3464 section 2.3.6): the registered one, those of real MTAs, none,
// and a malformed one.
var diagnosticTypes = []string{"smtp; ", "X-Unix; ", "X-Postfix; ", "x-local;", "", "X-Notes; ", "smtp;", ";"}

// utf8Local makes an address of RFC 6531 from addr: a non-ASCII local
// part and domain.
func utf8Local(addr string) string {
	return "ü" + strings.Replace(addr, "@", "@bü", 1)
}

// unitext escapes the non-ASCII characters of s as RFC 6533 section 3
// embedded-unicode ("\x{HHHH}").
func unitext(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if r < 0x80 {
			sb.WriteRune(r)
		} else {
			fmt.Fprintf(&sb, `\x{%04X}`, r)
		}
	}
	return sb.String()
}

// buildReport returns a multipart/report of nrcpt recipients built from
// the fuzzed values, whether it is an RFC 6533 global report, and the
// Action value written for each recipient.
func buildReport(sh *shaper, mta, rcpt, action, status, diag, date, extra string) (msg []byte, nrcpt int, global bool, actions []string) {
	ctl := sh.next()
	nrcpt = 1 + int(ctl%6)
	global = ctl&0x80 != 0
	reportType, statusType, headersType := "delivery-status", "message/delivery-status", "text/rfc822-headers"
	if global {
		reportType, statusType, headersType = "global-delivery-status", "message/global-delivery-status", "message/global-headers"
	}
	rcptOf := func(i int) string {
		if i == 0 {
			return rcpt
		}
		return fmt.Sprintf("r%d.%s", i, rcpt)
	}

	var w fieldWriter
	w.field("Return-Path", "<>")
	w.field("From", "Mail Delivery System <MAILER-DAEMON@"+sh.value(mta)+">")
	w.field("To", "news@example.org")
	w.field("Subject", "Undelivered Mail Returned to Sender")
	w.field("Date", sh.value(date))
	w.field("MIME-Version", "1.0")
	w.multipart("multipart/report; report-type=" + reportType)
	w.WriteString("\r\nThis is a MIME-encapsulated message.\r\n")

	// The human-readable part, in one of the charsets reports use.
	charsets := []string{"us-ascii", "utf-8", "iso-8859-1", "", "utf-7", "x-unknown-fuzz"}
	cs := charsets[int(sh.next())%len(charsets)]
	ct := "text/plain"
	if cs != "" {
		ct += "; charset=" + cs
	}
	w.startPart(ct)
	w.text("This is the mail system at host " + mta + ".\r\n\r\n")
	for i := range nrcpt {
		w.text("<" + rcptOf(i) + ">: host " + mta + " said: " + sh.value(diag) + "\r\n\r\n")
	}

	w.startPart(statusType)
	w.field("Reporting-MTA", "dns; "+sh.value(mta))
	if sh.next()&1 != 0 {
		w.field("Received-From-MTA", "dns; "+sh.value(mta))
	}
	w.field("Arrival-Date", sh.value(date))
	w.field("X-Postfix-Queue-ID", sh.value(extra))
	for i := range nrcpt {
		w.WriteString("\r\n")
		a := rcptOf(i)
		present := sh.next()
		typ := "rfc822; "
		if global {
			switch sh.next() % 4 {
			case 0:
				typ, a = "utf-8; ", utf8Local(a)
			case 1:
				typ, a = "utf-8; ", unitext(utf8Local(a))
			case 2:
				// A broken escape: unterminated, or not hex.
				typ, a = "utf-8; ", `\x{`+a[:min(3, len(a))]+"} "+a+`\x{`
			}
		}
		if present&1 != 0 {
			w.field("Original-Recipient", typ+sh.value(a))
		}
		w.field("Final-Recipient", typ+sh.value(a))
		act := sh.value(action)
		actions = append(actions, act)
		w.field("Action", act)
		if present&2 == 0 {
			w.field("Status", sh.value(status))
		}
		if present&4 != 0 {
			w.field("Remote-MTA", "dns; "+sh.value(mta))
		}
		if present&8 == 0 {
			dt := diagnosticTypes[int(sh.next())%len(diagnosticTypes)]
			w.field("Diagnostic-Code", dt+sh.value(diag))
		}
		if present&16 != 0 {
			w.field("Last-Attempt-Date", sh.value(date))
		}
		if present&32 != 0 {
			w.field("Will-Retry-Until", sh.value(date))
		}
		if present&64 != 0 {
			w.field("X-Actual-Recipient", typ+sh.value(a))
			w.field("X-Display-Name", sh.value(extra))
		}
	}

	w.startPart(headersType)
	w.field("From", "News <news@example.org>")
	w.field("To", sh.value(rcpt))
	w.field("Subject", sh.value(extra))
	w.field("Message-ID", "<"+sh.value(extra)+"@example.org>")
	w.field("X-Campaign-Id", sh.value(extra))
	w.endParts()
	return []byte(w.String()), nrcpt, global, actions
}

// FuzzReportFields builds delivery-status reports (RFC 3464, and RFC 6533
// global ones with UTF-8 addresses) of one to six recipients from fuzzed
// field values. Besides checkInvariants, the report must be read as the
// report it is: one recipient per group of per-recipient fields, whatever
// the values, and the action as written when it is one of RFC 3464's.
func FuzzReportFields(f *testing.F) {
	seeds := []struct {
		mta, rcpt, action, status, diag, date, extra string
		shapes                                       []byte
	}{
		{"mx.example.net", "alice@example.com", "failed", "5.1.1", "550 5.1.1 <alice@example.com>: no such user",
			"Thu, 5 Mar 2026 12:00:00 +0000", "q-1", nil},
		// The exit status of a local delivery agent.
		{"gw.example.net", "support@gw.example.net", "failed", "5.0.0", "255", "Thu, 5 Mar 2026 12:00:00 +0000", "x", []byte{0, 0, 0, shapeNumber}},
		{"relay.example.org", "bob@example.org", "delayed", "4.4.7",
			"554 4.4.7 Message expired <421 4.4.2 Connection timed out>", "", "", []byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"mx.example.jp", "müller@bücher.example", "failed", "5.1.1", "550 5.1.1 Unbekannter Empfänger", "", "", []byte{0x80, 0, 1, 2}},
		{"", "", "", "", "", "", "", []byte{5, 1, 1, 1, 1, 1, 1, 1}},
		{"mx", "a@b.c", "FAILED (permanent)", "550 5.7.1", "550-5.7.1 first 550-5.7.1 second 550 5.7.1 last", "",
			"", []byte{2, shapeFolded, shapeBlanks, shapeControl, shapeLatin1, shapeHuge}},
	}
	for _, s := range seeds {
		f.Add(s.mta, s.rcpt, s.action, s.status, s.diag, s.date, s.extra, s.shapes)
	}
	f.Fuzz(func(t *testing.T, mta, rcpt, action, status, diag, date, extra string, shapes []byte) {
		sh := &shaper{b: shapes}
		msg, nrcpt, global, actions := buildReport(sh, mta, rcpt, action, status, diag, date, extra)
		rep, err := parseChecked(t, msg)
		if err != nil {
			// Within the limits, a well-formed report is read.
			t.Fatalf("built report refused: %v", err)
		}
		want := FormatRFC3464
		if global {
			want = FormatRFC6533
		}
		if rep.Format != want || len(rep.Recipients) != nrcpt {
			t.Fatalf("format %q with %d recipients, want %q with %d\n%s", rep.Format, len(rep.Recipients), want, nrcpt, clipForLog(msg))
		}
		for i, act := range actions {
			switch kw := strings.ToLower(strings.TrimSpace(act)); kw {
			case "failed", "delayed", "delivered", "relayed", "expanded":
				if rep.Recipients[i].Action != kw {
					t.Errorf("recipient %d: Action %q read as %q", i+1, act, rep.Recipients[i].Action)
				}
			}
		}
	})
}

// A textFamily writes the notice one family of MTAs sends when it has no
// delivery-status part to send: the header fields and the body, for the
// recipients rcpts, each refused with the reply "code status reply".
type textFamily struct {
	name   string
	header func(w *fieldWriter, host string, rcpts []string)
	body   func(w *fieldWriter, host string, rcpts []string, code, status, reply string)
}

var textFamilies = []textFamily{
	{
		name: "postfix",
		header: func(w *fieldWriter, host string, rcpts []string) {
			w.field("From", "MAILER-DAEMON@"+host+" (Mail Delivery System)")
			w.field("Subject", "Undelivered Mail Returned to Sender")
		},
		body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
			w.text("This is the mail system at host " + host + ".\r\n\r\n" +
				"I'm sorry to have to inform you that your message could not\r\n" +
				"be delivered to one or more recipients. It's attached below.\r\n\r\n" +
				"                   The mail system\r\n\r\n")
			for _, r := range rcpts {
				w.text("<" + r + ">: host mx." + host + "[192.0.2.25] said: " + code + " " + status + " " + reply +
					" (in reply to RCPT TO command)\r\n\r\n")
			}
		},
	},
	{
		name: "exim",
		header: func(w *fieldWriter, host string, rcpts []string) {
			w.field("From", "Mail Delivery System <Mailer-Daemon@"+host+">")
			w.field("Subject", "Mail delivery failed: returning message to sender")
			w.field("X-Failed-Recipients", strings.Join(rcpts, ", "))
		},
		body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
			w.text("This message was created automatically by mail delivery software.\r\n\r\n" +
				"A message that you sent could not be delivered to one or more of its\r\n" +
				"recipients. This is a permanent error. The following address(es) failed:\r\n\r\n")
			for _, r := range rcpts {
				w.text("  " + r + "\r\n    host mx." + host + " [192.0.2.26]\r\n" +
					"    SMTP error from remote mail server after RCPT TO:<" + r + ">:\r\n    " +
					code + " " + status + " " + reply + "\r\n\r\n")
			}
			w.text("------ This is a copy of the message, including all the headers. ------\r\n\r\n" +
				"From: news@example.org\r\nSubject: spring\r\n\r\nhello\r\n")
		},
	},
	{
		name: "sendmail",
		header: func(w *fieldWriter, host string, rcpts []string) {
			w.field("From", "Mail Delivery Subsystem <MAILER-DAEMON@"+host+">")
			w.field("Subject", "Returned mail: see transcript for details")
		},
		body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
			w.text("The original message was received at Thu, 5 Mar 2026 12:00:00 GMT\r\n" +
				"from localhost [127.0.0.1]\r\n\r\n" +
				"   ----- The following addresses had permanent fatal errors -----\r\n")
			for _, r := range rcpts {
				w.text("<" + r + ">\r\n    (reason: " + code + " " + status + " " + reply + ")\r\n")
			}
			w.text("\r\n   ----- Transcript of session follows -----\r\n... while talking to mx." + host + ".:\r\n" +
				">>> MAIL From:<news@example.org>\r\n<<< 250 2.1.0 ok\r\n")
			for _, r := range rcpts {
				w.text(">>> RCPT To:<" + r + ">\r\n<<< " + code + " " + status + " " + reply + "\r\n")
			}
			w.text(code + " " + status + " <" + rcpts[0] + ">... " + reply + "\r\n")
		},
	},
	{
		name: "qmail",
		header: func(w *fieldWriter, host string, rcpts []string) {
			w.field("From", "MAILER-DAEMON@"+host)
			w.field("Subject", "failure notice")
		},
		body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
			w.text("Hi. This is the qmail-send program at " + host + ".\r\n" +
				"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n" +
				"This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n")
			for _, r := range rcpts {
				w.text("<" + r + ">:\r\n192.0.2.27 does not like recipient.\r\nRemote host said: " +
					code + " " + status + " " + reply + "\r\nGiving up on 192.0.2.27.\r\n\r\n")
			}
			w.text("--- Below this line is a copy of the message.\r\n\r\nFrom: news@example.org\r\nSubject: x\r\n\r\nbody\r\n")
		},
	},
	{
		name: "office365",
		header: func(w *fieldWriter, host string, rcpts []string) {
			w.field("From", "Microsoft Outlook <postmaster@"+host+">")
			w.field("Subject", "Undeliverable: spring news")
		},
		body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
			w.text("Delivery has failed to these recipients or groups:\r\n\r\n")
			for _, r := range rcpts {
				w.text(r + "<mailto:" + r + ">\r\nThe email address you entered couldn't be found.\r\n\r\n")
			}
			w.text("Diagnostic information for administrators:\r\n\r\nGenerating server: " + host + "\r\n\r\n")
			for _, r := range rcpts {
				w.text(r + "\r\nRemote Server returned '" + code + " " + status + " " + reply + "'\r\n\r\n")
			}
			w.text("Original message headers:\r\n\r\nFrom: news@example.org\r\nSubject: spring news\r\n")
		},
	},
	{
		name: "exchange2003",
		header: func(w *fieldWriter, host string, rcpts []string) {
			w.field("From", "System Administrator <postmaster@"+host+">")
			w.field("Subject", "Undeliverable: spring news")
		},
		body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
			w.text("Your message did not reach some or all of the intended recipients.\r\n\r\n" +
				"      Subject:\tspring news\r\n      Sent:\t3/5/2026 12:00 PM\r\n\r\n" +
				"The following recipient(s) cannot be reached:\r\n\r\n")
			for _, r := range rcpts {
				w.text("      " + r + " on 3/5/2026 12:01 PM\r\n            " + reply + "\r\n" +
					"            <" + host + " #" + status + " smtp;" + code + " " + status + " " + reply + ">\r\n\r\n")
			}
		},
	},
}

// sesFamily writes an Amazon SES notification (bounce or complaint, bare
// or in an SNS envelope), JSON with the fuzzed values in its strings.
func sesFamily(sh *shaper) textFamily {
	ctl := sh.next()
	return textFamily{
		name: "amazonses",
		header: func(w *fieldWriter, host string, rcpts []string) {
			w.field("From", "SES Notifications <no-reply@sns."+host+">")
			w.field("Subject", "AWS Notification Message")
		},
		body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
			type addr struct {
				EmailAddress   string `json:"emailAddress"`
				Action         string `json:"action,omitempty"`
				Status         string `json:"status,omitempty"`
				DiagnosticCode string `json:"diagnosticCode,omitempty"`
			}
			var list []addr
			for _, r := range rcpts {
				list = append(list, addr{r, sh.value("failed"), status, sh.value("smtp") + "; " + code + " " + status + " " + reply})
			}
			n := map[string]any{
				"mail": map[string]any{"source": "news@example.org", "messageId": sh.value(reply),
					"commonHeaders": map[string]any{"subject": sh.value(reply), "to": rcpts, "from": []string{sh.value(host)}}},
			}
			if ctl&1 == 0 {
				n["notificationType"] = "Bounce"
				n["bounce"] = map[string]any{"bounceType": sh.value("Permanent"), "reportingMTA": "dns; " + host, "bouncedRecipients": list}
			} else {
				n["notificationType"] = "Complaint"
				n["complaint"] = map[string]any{"complaintFeedbackType": sh.value("abuse"), "userAgent": sh.value(host), "complainedRecipients": list}
			}
			b, _ := json.Marshal(n)
			if ctl&2 != 0 {
				b, _ = json.Marshal(map[string]string{"Type": "Notification", "Message": string(b)})
			}
			w.text(string(b) + "\r\n")
		},
	}
}

// inlineFamily writes a report that a gateway or a person flattened into
// text: the delivery-status fields pasted in a forwarded notice.
var inlineFamily = textFamily{
	name: "inline-fields",
	header: func(w *fieldWriter, host string, rcpts []string) {
		w.field("From", "helpdesk@"+host)
		w.field("Subject", "FW: Undelivered Mail Returned to Sender")
	},
	body: func(w *fieldWriter, host string, rcpts []string, code, status, reply string) {
		w.text("Forwarding the report below as we received it.\r\n\r\nReporting-MTA: dns; " + host + "\r\n\r\n")
		for _, r := range rcpts {
			w.text("Final-Recipient: rfc822; " + r + "\r\nAction: failed\r\nStatus: " + status +
				"\r\nDiagnostic-Code: smtp; " + code + " " + status + " " + reply + "\r\n\r\n")
		}
	},
}

// FuzzTextBounce builds the human-readable bounces of the common MTA
// families (Postfix, Exim, Sendmail transcripts, qmail, Office 365 and
// Exchange NDRs), flattened reports and Amazon SES notifications from
// fuzzed addresses, hosts, codes and reply text, as
// plain text, as an HTML part or without MIME. Besides checkInvariants: a
// notice whose values are plain (lower-case ASCII addresses and host, a
// reply code, a status code, a reply of words) is read for every
// recipient it names.
func FuzzTextBounce(f *testing.F) {
	seeds := []struct {
		host, rcpt, code, status, reply string
		shapes                          []byte
	}{
		// The first byte picks the family (low four bits), the number of
		// recipients (next two) and the MIME form (top two); the
		// others shape the values, 0 keeping them as they are.
		{"mx.example.net", "alice@example.com", "550", "5.1.1", "User unknown", []byte{0x00, 0}},
		{"mail.example.org", "bob@example.org", "552", "5.2.2", "Mailbox full", []byte{0x11, 0}},
		{"relay.example.jp", "carol@example.jp", "550", "5.7.1", "Relaying denied", []byte{0x62, 0}},
		{"example.com", "dave@example.com", "511", "5.1.1", "sorry, no mailbox here by that name", []byte{0x83, 0}},
		{"outlook.example", "erin@example.net", "550", "5.1.10", "RESOLVER.ADR.RecipientNotFound; not found", []byte{0xc4, 0}},
		{"exch.example", "frank@example.net", "550", "5.0.0", "User unknown", []byte{0x25, 0}},
		{"h", "a@b.c", "255", "5.0", "", []byte{0x32, shapeNumber, shapeEmpty, shapeOneByte, shapeThreeBytes, shapeControl}},
		{"mx.example.net", "oscar@example.com", "452", "4.2.2", "Mailbox full", []byte{0x06, 0}},
		{"example.com", "walter@example.net", "550", "5.1.1", "user unknown", []byte{0x07, 0}},
		{"example.com", "walter@example.net", "550", "5.1.1", "user unknown", []byte{0x07, 3, 0}},
	}
	for _, s := range seeds {
		f.Add(s.host, s.rcpt, s.code, s.status, s.reply, s.shapes)
	}
	f.Fuzz(func(t *testing.T, host, rcpt, code, status, reply string, shapes []byte) {
		sh := &shaper{b: shapes}
		ctl := sh.next()
		var fam textFamily
		switch k := int(ctl % 16); {
		case k < len(textFamilies):
			fam = textFamilies[k]
		case k == len(textFamilies):
			fam = inlineFamily
		default:
			fam = sesFamily(sh)
		}
		rcpts := []string{sh.value(rcpt)}
		for i := 1; i < 1+int(ctl>>4)%3; i++ {
			rcpts = append(rcpts, fmt.Sprintf("r%d.%s", i, sh.value(rcpt)))
		}
		host, code, status, reply = sh.value(host), sh.value(code), sh.value(status), sh.value(reply)

		var body fieldWriter
		fam.body(&body, host, rcpts, code, status, reply)
		var w fieldWriter
		fam.header(&w, host, rcpts)
		w.field("To", "news@example.org")
		w.field("Date", "Thu, 5 Mar 2026 12:00:01 +0000")
		switch ctl >> 6 {
		case 0: // not MIME
			w.WriteString("\r\n" + body.String())
		case 1:
			w.field("MIME-Version", "1.0")
			w.field("Content-Type", "text/plain; charset=utf-8")
			w.WriteString("\r\n" + body.String())
		case 2:
			w.field("MIME-Version", "1.0")
			w.field("Content-Type", "text/plain; charset=iso-8859-1")
			w.field("Content-Transfer-Encoding", "8bit")
			w.WriteString("\r\n" + body.String())
		case 3: // an HTML part beside an empty text part
			w.field("MIME-Version", "1.0")
			w.multipart("multipart/alternative")
			w.startPart("text/html; charset=utf-8")
			html := strings.ReplaceAll(strings.ReplaceAll(body.String(), "<", "&lt;"), "\r\n", "<br>\r\n")
			w.text("<html><body><p>" + html + "</p></body></html>")
			w.endParts()
		}
		rep, err := parseChecked(t, []byte(w.String()))
		if err != nil {
			t.Fatalf("built notice refused: %v", err)
		}
		// A notice with plain values is read for every recipient it
		// names.
		if !plainDomain(host) || !validReplySyntax(code) || !validStatusSyntax(status) || !plainText(reply) {
			return
		}
		for _, r := range rcpts {
			if !plainAddress(r) {
				return
			}
		}
		found := make(map[string]bool)
		for _, r := range rep.Recipients {
			found[strings.ToLower(r.FinalRecipient)] = true
		}
		for _, r := range rcpts {
			if !found[r] {
				t.Errorf("%s notice: recipient %q not read; got format %q and %+v\n%s", fam.name, r, rep.Format, rep.Recipients, clipForLog([]byte(w.String())))
			}
		}
	})
}

// plainDomain reports whether s is a lower-case ASCII domain name of a
// few labels.
func plainDomain(s string) bool {
	if len(s) < 3 || len(s) > 60 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// plainAddress reports whether s is a lower-case ASCII address whose
// local part is letters, digits and inner dots, and whose domain is plain.
func plainAddress(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 40 || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.') {
			return false
		}
	}
	return plainDomain(domain)
}

// plainText reports whether s is a short reply text of ASCII letters,
// digits and spaces.
func plainText(s string) bool {
	if len(s) > 80 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(letterByte(c) || digitByte(c) || c == ' ') {
			return false
		}
	}
	return true
}

// FuzzARF builds feedback reports (RFC 5965) from fuzzed field values,
// with zero to three Original-Rcpt-To fields and the original attached.
// Besides checkInvariants: a report whose Feedback-Type has a value is read as
// a complaint about at least one recipient, and at most one per
// Original-Rcpt-To field, or per address of the original's To field.
func FuzzARF(f *testing.F) {
	seeds := []struct {
		feedbackType, userAgent, mailFrom, rcptTo, sourceIP, date, extra string
		shapes                                                           []byte
	}{
		{"abuse", "ExampleFBL/1.0", "<bounces@example.org>", "<ivan@example.net>", "192.0.2.77", "Thu, 5 Mar 2026 13:58:00 +0000", "march-sale", []byte{2}},
		{"opt-out", "", "bounces@example.org", "judy@example.net", "2001:db8::1", "", "", []byte{0}},
		{"Fraud", "x/1", "", "", "", "", "", []byte{0x41, shapeEmpty, shapeEmpty}},
		{"", "", "", "a@b.c", "", "", "", []byte{1, shapeOneByte, shapeHuge, shapeFolded, shapeLatin1, shapeControl}},
	}
	for _, s := range seeds {
		f.Add(s.feedbackType, s.userAgent, s.mailFrom, s.rcptTo, s.sourceIP, s.date, s.extra, s.shapes)
	}
	f.Fuzz(func(t *testing.T, feedbackType, userAgent, mailFrom, rcptTo, sourceIP, date, extra string, shapes []byte) {
		sh := &shaper{b: shapes}
		ctl := sh.next()
		nrcpt := int(ctl % 4)
		to := sh.value(rcptTo)

		var w fieldWriter
		w.field("From", "<feedback@fbl.example.net>")
		w.field("To", "<abuse@example.org>")
		w.field("Subject", "FW: "+sh.value(extra))
		w.field("Date", sh.value(date))
		w.field("MIME-Version", "1.0")
		w.multipart("multipart/report; report-type=feedback-report")
		w.startPart("text/plain; charset=us-ascii")
		w.text("This is an email abuse report for a message received from IP " + sourceIP + ".\r\n")

		// Some reporters label the machine-readable part as text.
		partType := "message/feedback-report"
		if ctl&0x40 != 0 {
			partType = "text/plain"
		}
		w.startPart(partType)
		ft := sh.value(feedbackType)
		w.field("Feedback-Type", ft)
		w.field("User-Agent", sh.value(userAgent))
		w.field("Version", sh.value("1"))
		w.field("Original-Mail-From", sh.value(mailFrom))
		for i := range nrcpt {
			if i == 0 {
				w.field("Original-Rcpt-To", to)
			} else {
				w.field("Original-Rcpt-To", fmt.Sprintf("r%d.%s", i, sh.value(rcptTo)))
			}
		}
		w.field("Arrival-Date", sh.value(date))
		w.field("Reporting-MTA", "dns; "+sh.value(extra))
		w.field("Source-IP", sh.value(sourceIP))
		w.field("Authentication-Results", "mx.example.net; spf=pass smtp.mailfrom="+sh.value(mailFrom))
		if ctl&0x80 != 0 {
			w.field("Auth-Failure", sh.value(extra))
		}
		w.field("Reported-Domain", sh.value(extra))

		w.startPart("message/rfc822")
		w.field("From", "<promo@example.org>")
		w.field("To", to)
		w.field("Subject", sh.value(extra))
		w.field("Message-ID", "<"+sh.value(extra)+"@example.org>")
		w.field("X-Campaign-Id", sh.value(extra))
		w.text("\r\nEverything must go.\r\n")
		w.endParts()
		msg := []byte(w.String())

		rep, err := parseChecked(t, msg)
		if err != nil {
			t.Fatalf("built report refused: %v", err)
		}
		if strings.TrimSpace(unfold([]byte(ft))) != "" && partType == "message/feedback-report" {
			if rep.Format != FormatARF || len(rep.Recipients) == 0 {
				t.Fatalf("a feedback report of type %q read as %q with %d recipients\n%s", ft, rep.Format, len(rep.Recipients), clipForLog(msg))
			}
		}
		if rep.Format == FormatARF {
			if limit := max(nrcpt, strings.Count(rep.Original.To, ",")+1); len(rep.Recipients) > limit {
				t.Errorf("%d recipients from %d Original-Rcpt-To fields and To %q", len(rep.Recipients), nrcpt, clipString(rep.Original.To))
			}
		}
	})
}
