package dsn

import (
	"bytes"
	"strings"
)

// forEachGroup calls fn for every group of fields in b, groups being
// separated by empty lines as in the body of a message/delivery-status
// part (RFC 3464 section 2.1) or a message/feedback-report part (RFC 5965
// section 3.1). Real reports fold badly: a line that is not a field right
// after a field continues it (multi-line SMTP replies pasted into a
// Diagnostic-Code); other lines that are not fields are skipped. max bounds
// the size of one group.
func forEachGroup(b []byte, max int, fn func(header)) error {
	h := make(header, 0, 16)
	size := 0
	pos := 0
	lastEnd := -1 // end of the last field's value, -1 when no field is open
	for pos < len(b) {
		line, next := lineAt(b, pos)
		size += next - pos
		if size > max {
			return ErrHeaderTooBig
		}
		if len(trimSpace(line)) == 0 {
			if len(h) > 0 {
				fn(h)
				h = h[:0]
			}
			size, lastEnd = 0, -1
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		isField := line[0] != ' ' && line[0] != '\t' && colon > 0 && isFieldName(trimBlankRight(line[:colon]))
		if !isField && lastEnd >= 0 {
			f := &h[len(h)-1]
			start := cap(b) - cap(f.value)
			f.value = b[start : pos+len(line)]
			pos = next
			continue
		}
		if isField {
			h = append(h, field{name: trimBlankRight(line[:colon]), value: b[pos+colon+1 : pos+len(line)]})
			lastEnd = pos + len(line)
		}
		pos = next
	}
	if len(h) > 0 {
		fn(h)
	}
	return nil
}

// parseStatus reads the body of a delivery-status part: the per-message
// fields of RFC 3464 section 2.2 and one Recipient per group of
// per-recipient fields (section 2.3). RFC 6533 global reports have the
// same layout in UTF-8, with addresses that may use the utf-8 type.
// Beyond maxRcpt recipients (0: no bound) a group is only counted, in
// rep.TruncatedRecipients, not decoded.
func parseStatus(rep *Report, b []byte, max, maxRcpt int) error {
	return forEachGroup(b, max, func(h header) {
		if maxRcpt > 0 && len(rep.Recipients) >= maxRcpt && !hasMessageField(h) {
			rep.TruncatedRecipients += recipientsIn(h)
			return
		}
		cur := -1 // index in rep.Recipients of the recipient being read
		for _, f := range h {
			name, v := f.name, f.value
			switch {
			case equalFoldASCII(name, "Reporting-MTA"):
				if rep.ReportingMTA == "" {
					rep.ReportingMTA = hostValue(v)
				}
			case equalFoldASCII(name, "Received-From-MTA"):
				if rep.ReceivedFromMTA == "" {
					rep.ReceivedFromMTA = hostValue(v)
				}
			case equalFoldASCII(name, "Arrival-Date"):
				if rep.ArrivalDate == "" {
					rep.ArrivalDate = unfold(v)
				}
			case equalFoldASCII(name, "Original-Envelope-Id"):
				if rep.OriginalEnvelopeID == "" {
					rep.OriginalEnvelopeID = unfold(v)
				}
			case equalFoldASCII(name, "Original-Recipient"):
				if cur < 0 || rep.Recipients[cur].OriginalRecipient != "" ||
					rep.Recipients[cur].FinalRecipient != "" && rep.Recipients[cur].Action != "" && rep.Recipients[cur].Status != "" {
					cur = newRecipient(rep)
				}
				rep.Recipients[cur].OriginalRecipient = cleanAddress(unfold(v))
			case equalFoldASCII(name, "Final-Recipient"):
				if cur < 0 || rep.Recipients[cur].FinalRecipient != "" {
					cur = newRecipient(rep)
				}
				rep.Recipients[cur].FinalRecipient = cleanAddress(unfold(v))
			case equalFoldASCII(name, "Action"):
				if cur < 0 || rep.Recipients[cur].Action != "" {
					cur = newRecipient(rep)
				}
				rep.Recipients[cur].Action = cleanAction(v)
			case equalFoldASCII(name, "Status"):
				if cur < 0 {
					cur = newRecipient(rep)
				}
				if rep.Recipients[cur].Status == "" {
					sv := unfold(v)
					st := leadingStatus(sv)
					if st == "" {
						// "Status: 550 5.1.1": a reply pasted in.
						_, st = leadingReply(sv)
					}
					rep.Recipients[cur].Status = st
					rep.Recipients[cur].StatusComment = statusComment(sv)
				}
			case equalFoldASCII(name, "Remote-MTA"):
				if cur < 0 {
					cur = newRecipient(rep)
				}
				rep.Recipients[cur].RemoteMTA = hostValue(v)
			case equalFoldASCII(name, "Diagnostic-Code"):
				if cur < 0 {
					cur = newRecipient(rep)
				}
				r := &rep.Recipients[cur]
				if r.Diagnostic == "" {
					r.DiagnosticType, r.Diagnostic = cleanDiagnostic(v)
				}
			case equalFoldASCII(name, "Last-Attempt-Date"):
				if cur >= 0 {
					rep.Recipients[cur].LastAttemptDate = unfold(v)
				}
			case equalFoldASCII(name, "Will-Retry-Until"):
				if cur >= 0 {
					rep.Recipients[cur].WillRetryUntil = unfold(v)
				}
			}
		}
	})
}

// hasMessageField reports whether a group of delivery-status fields holds
// a per-message field (RFC 3464 section 2.2).
func hasMessageField(h header) bool {
	for _, f := range h {
		if equalFoldASCII(f.name, "Reporting-MTA") || equalFoldASCII(f.name, "Received-From-MTA") ||
			equalFoldASCII(f.name, "Arrival-Date") || equalFoldASCII(f.name, "Original-Envelope-Id") {
			return true
		}
	}
	return false
}

// recipientsIn counts the recipients a group of per-recipient fields
// names, without decoding them: one per Final-Recipient field, and one for
// a group of other per-recipient fields without any (parseStatus makes a
// recipient of those too).
func recipientsIn(h header) int {
	n, other := 0, false
	for _, f := range h {
		switch {
		case equalFoldASCII(f.name, "Final-Recipient"):
			n++
		case equalFoldASCII(f.name, "Original-Recipient"), equalFoldASCII(f.name, "Action"),
			equalFoldASCII(f.name, "Status"), equalFoldASCII(f.name, "Remote-MTA"),
			equalFoldASCII(f.name, "Diagnostic-Code"):
			other = true
		}
	}
	if n == 0 && other {
		n = 1
	}
	return n
}

func newRecipient(rep *Report) int {
	if rep.Recipients == nil {
		rep.Recipients = make([]Recipient, 0, 1)
	}
	rep.Recipients = append(rep.Recipients, Recipient{})
	return len(rep.Recipients) - 1
}

// typedValue returns the value of a "type; value" field (RFC 3464
// section 2.1.2, e.g. "dns; mx.example.com") without its type.
func typedValue(v []byte) string {
	s := unfold(v)
	if i := strings.IndexByte(s, ';'); i >= 0 && isAtom(s[:i]) {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// hostValue returns the host name of an MTA field ("dns; mx.example.com
// (comment)" → "mx.example.com"): a host name has no spaces, so what
// follows the first is a comment.
func hostValue(v []byte) string {
	s := typedValue(v)
	if i := strings.IndexAny(s, " \t"); i > 0 {
		s = s[:i]
	}
	return s
}

// isAtom reports whether s is a plausible address or MTA type name such as
// "rfc822", "dns", "utf-8" or "x-local-hostname".
func isAtom(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// cleanAddress returns the bare address of a recipient field or text:
// without the address type ("rfc822;"), angle brackets, quotes, a
// display name or a trailing comment; with the domain in lower case.
// RFC 6533 utf-8 addresses have their \x{HHHH} escapes decoded.
func cleanAddress(s string) string {
	if i := strings.IndexByte(s, ';'); i >= 0 && isAtom(s[:i]) {
		typ := strings.ToLower(strings.TrimSpace(s[:i]))
		s = s[i+1:]
		if typ == "utf-8" {
			// RFC 6533 section 3: the value is the address itself, no
			// comment, no display name. Whatever its escapes decode to
			// stays in it, so that what is not an address is refused
			// as a whole, never read as another address inside it.
			s = strings.TrimSpace(decodeUnitext(s))
			if len(s) > 1 && s[0] == '<' && s[len(s)-1] == '>' {
				s = s[1 : len(s)-1]
			}
			return lowerDomain(s)
		}
	}
	s = strings.TrimSpace(s)
	if q := quotedLocal(s); q != "" {
		// "john doe"@example.com: the space is inside the quotes.
		s = q
	} else if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i+1:], '>'); j >= 0 {
			s = s[i+1 : i+1+j]
		} else {
			s = s[i+1:]
		}
	} else if strings.ContainsAny(s, " \t(") {
		// "user@example.com (comment)" or "Name user@example.com".
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '(' || r == ')' }) {
			if strings.IndexByte(w, '@') > 0 {
				s = w
				break
			}
		}
	}
	s = strings.Trim(s, " \t'<>[],;:.")
	if strings.HasPrefix(strings.ToLower(s), "mailto:") {
		s = s[len("mailto:"):]
	}
	if strings.HasPrefix(s, "@") {
		// An obsolete source route, "@relay.example:user@example.com"
		// (RFC 5321 section 4.1.2): keep the mailbox.
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			s = s[i+1:]
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at > 1 && s[0] == '"' && s[at-1] == '"' && !strings.ContainsAny(s[1:at-1], " \t\"\\(),:;<>@[]") {
		// A quoted local part that needs no quotes: they are syntax, not
		// part of it. One that does ("john doe") keeps them (RFC 5321
		// section 4.1.2).
		s = s[1:at-1] + s[at:]
		at -= 2
	} else if at < 0 {
		s = strings.Trim(s, `"`)
	}
	return lowerDomain(s)
}

// lowerDomain returns the address with its domain in lower case (domains
// are case-insensitive, RFC 5321 section 2.4); the local part is kept.
func lowerDomain(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	dom := s[at+1:]
	for i := 0; i < len(dom); i++ {
		if 'A' <= dom[i] && dom[i] <= 'Z' || dom[i] >= 0x80 {
			return s[:at+1] + strings.ToLower(dom)
		}
	}
	return s
}

// decodeUnitext decodes the \x{HHHH} escapes of the embedded-unicode
// form of RFC 6533 section 3.
// quotedLocal returns the address s starts with when its local part is
// quoted ("john doe"@example.com), up to the end of its domain; "" when s
// does not start with a quoted local part.
func quotedLocal(s string) string {
	if !strings.HasPrefix(s, `"`) {
		return ""
	}
	j := strings.Index(s[1:], `"@`)
	if j < 0 {
		return ""
	}
	end := j + 3
	for end < len(s) && s[end] != ' ' && s[end] != '\t' && s[end] != '>' && s[end] != ')' && s[end] != ',' && s[end] != ';' {
		end++
	}
	return s[:end]
}

// hexPoint reports whether the code point of an RFC 6533 \x{...} escape
// may be decoded. Section 3's HEXPOINT has no form for NUL, CR or LF; no C0
// control is decoded, nor a surrogate or what lies beyond Unicode, so
// that an escape never puts a line break or a NUL into an address. (Real
// MTAs write leading zeros, "\x{00FC}", which are accepted.)
func hexPoint(r rune) bool {
	return r >= 0x20 && r <= 0x10FFFF && (r < 0xD800 || r > 0xDFFF)
}

func decodeUnitext(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var sb strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			sb.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			sb.WriteString(s)
			break
		}
		sb.WriteString(s[:i])
		var r rune
		hex := s[i+3 : i+j]
		ok := len(hex) > 0 && len(hex) <= 6
		for k := 0; ok && k < len(hex); k++ {
			if !isHex(hex[k]) {
				ok = false
				break
			}
			r = r<<4 | rune(unhex(hex[k]))
		}
		ok = ok && hexPoint(r)
		if ok {
			sb.WriteRune(r)
		} else {
			sb.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
	return sb.String()
}

// cleanAction returns the action value in lower case, without comments
// some servers append ("failed (bad address)").
func cleanAction(v []byte) string {
	v = trimSpace(v)
	if i := bytes.IndexAny(v, " \t\r\n(;"); i >= 0 {
		v = v[:i]
	}
	for _, c := range v {
		if 'A' <= c && c <= 'Z' {
			return strings.ToLower(string(v))
		}
	}
	switch string(v) {
	case "failed":
		return "failed"
	case "delayed":
		return "delayed"
	case "delivered":
		return "delivered"
	case "relayed":
		return "relayed"
	case "expanded":
		return "expanded"
	}
	return string(v)
}

// leadingStatus returns the enhanced status code (RFC 3463 section 2,
// class.subject.detail) that starts s after optional white space, or "".
func leadingStatus(s string) string {
	s = strings.TrimLeft(s, " \t#'\"")
	n := statusLen(s)
	if n == 0 {
		return ""
	}
	return s[:n]
}

// statusComment returns the parenthesised comment after the code of a
// Status field ("5.2.1 (mailbox disabled)" → "mailbox disabled"), or "".
func statusComment(v string) string {
	open := strings.IndexByte(v, '(')
	if open < 0 {
		return ""
	}
	c := v[open+1:]
	if end := strings.LastIndexByte(c, ')'); end >= 0 {
		c = c[:end]
	}
	return strings.TrimSpace(c)
}

// statusLen returns the length of the enhanced status code at the start
// of s, or 0. The code must not run on into more digits or dots.
func statusLen(s string) int {
	if len(s) < 5 || s[0] < '2' || s[0] > '5' || s[0] == '3' || s[1] != '.' {
		return 0
	}
	i := 2
	j := i
	for j < len(s) && j-i < 3 && '0' <= s[j] && s[j] <= '9' {
		j++
	}
	if j == i || j >= len(s) || s[j] != '.' {
		return 0
	}
	i = j + 1
	j = i
	for j < len(s) && j-i < 3 && '0' <= s[j] && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0
	}
	if j < len(s) && ('0' <= s[j] && s[j] <= '9' || s[j] == '.' && j+1 < len(s) && '0' <= s[j+1] && s[j+1] <= '9') {
		return 0
	}
	return j
}

// leadingReply returns the SMTP reply code (RFC 5321 section 4.2) that
// starts s, followed by a space, a hyphen or the end, and the enhanced
// status code that follows it, if any.
func leadingReply(s string) (code, status string) {
	s = strings.TrimLeft(s, " \t")
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' || s[2] < '0' || s[2] > '9' {
		return "", ""
	}
	if len(s) > 3 && s[3] != ' ' && s[3] != '-' && s[3] != '\t' {
		return "", ""
	}
	code = s[:3]
	if len(s) > 4 {
		status = leadingStatus(s[4:])
	}
	return code, status
}

// cleanDiagnostic splits a Diagnostic-Code value (RFC 3464 section
// 2.3.6) into its type and text. Continuation lines are joined with a
// space; the reply code a multi-line SMTP reply repeats on each line
// ("550-5.1.1 ...") is kept once, the server's words are kept as they are.
func cleanDiagnostic(v []byte) (typ, text string) {
	s := unfold(v)
	if i := strings.IndexByte(s, ';'); i >= 0 && isAtom(s[:i]) {
		typ = strings.ToLower(strings.TrimSpace(s[:i]))
		s = strings.TrimSpace(s[i+1:])
	}
	return typ, collapseReply(unwrapQuotedReply(s))
}

// unwrapQuotedReply returns the remote server's reply from a diagnostic
// that wraps it in the reporting system's own summary, as Amazon SES
// does: "5.1.0 - Unknown address error 550-'5.7.1 <a@b>... Access
// denied' (delivery attempts: 0)" becomes "550 5.7.1 <a@b>... Access
// denied". The summary is the sender's guess; the reply is the evidence.
// Other text is returned as it is.
func unwrapQuotedReply(s string) string {
	const tail = "' (delivery attempts: "
	end := strings.LastIndex(s, tail)
	if end < 0 || !strings.HasSuffix(s, ")") || statusLen(s) == 0 {
		return s
	}
	start := strings.Index(s[:end], "-'")
	if start < 4 || s[start-4] != ' ' {
		return s
	}
	code := s[start-3 : start]
	if code[0] < '2' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return s
	}
	return code + " " + s[start+2:end]
}

// collapseReply removes the repetitions of the reply code of a multi-line
// SMTP reply joined into one line: "550-5.1.1 A 550-5.1.1 B 550 5.1.1 C"
// becomes "550 5.1.1 A B C".
func collapseReply(s string) string {
	code, status := leadingReply(s)
	if code == "" {
		return s
	}
	rest := strings.TrimLeft(s, " \t")[3:]
	if strings.Count(s, code) < 2 && (len(rest) == 0 || rest[0] != '-') {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	sb.WriteString(code)
	first := true
	for len(rest) > 0 {
		// rest starts with the separator after a reply code.
		if rest[0] == '-' || rest[0] == ' ' {
			rest = rest[1:]
		}
		if status != "" && strings.HasPrefix(rest, status) {
			if first {
				sb.WriteByte(' ')
				sb.WriteString(status)
			}
			rest = rest[len(status):]
		}
		first = false
		// The text up to the next repetition of the code.
		next := -1
		for off := 0; ; {
			i := strings.Index(rest[off:], code)
			if i < 0 {
				break
			}
			at := off + i
			after := at + len(code)
			if at > 0 && rest[at-1] == ' ' && after < len(rest) && (rest[after] == '-' || rest[after] == ' ') {
				if status == "" || strings.HasPrefix(rest[after+1:], status) {
					next = at
					break
				}
			}
			off = at + 1
		}
		seg := rest
		if next >= 0 {
			seg = rest[:next]
			rest = rest[next+len(code):]
		} else {
			rest = ""
		}
		seg = strings.TrimSpace(seg)
		if seg != "" {
			sb.WriteByte(' ')
			sb.WriteString(seg)
		}
	}
	return sb.String()
}

// dsnFields are the field names of RFC 3464 sections 2.2 and 2.3.
var dsnFields = []string{
	"reporting-mta", "received-from-mta", "arrival-date", "original-envelope-id",
	"dsn-gateway", "original-recipient", "final-recipient", "action", "status",
	"remote-mta", "diagnostic-code", "last-attempt-date", "will-retry-until", "final-log-id",
}

func isDSNField(name []byte) bool {
	if hasPrefixFold(name, "x-") {
		return true
	}
	for _, f := range dsnFields {
		if equalFoldASCII(name, f) {
			return true
		}
	}
	return false
}

// inlineStatus returns the delivery-status fields pasted into the text of
// a bounce that is not MIME (a forwarded report, a gateway that flattened
// the report): from the first line starting with Reporting-MTA or
// Final-Recipient to the first line that is not a delivery-status field,
// a continuation or empty. It returns nil when there is none or when it
// names no Final-Recipient with an Action or Status.
func inlineStatus(text []byte) []byte {
	start := -1
	for _, name := range []string{"reporting-mta:", "final-recipient:"} {
		if i := indexLineFold(text, name); i >= 0 && (start < 0 || i < start) {
			start = i
		}
	}
	if start < 0 {
		return nil
	}
	b := text[start:]
	pos := 0
	for pos < len(b) {
		end := bytes.IndexByte(b[pos:], '\n')
		next := len(b)
		if end >= 0 {
			next = pos + end + 1
		}
		line := trimSpace(b[pos:next])
		if len(line) > 0 && b[pos] != ' ' && b[pos] != '\t' {
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 || !isDSNField(line[:colon]) {
				break
			}
		}
		pos = next
	}
	b = b[:pos]
	if indexLineFold(b, "final-recipient:") < 0 || indexLineFold(b, "action:") < 0 && indexLineFold(b, "status:") < 0 {
		return nil
	}
	return b
}

// indexLineFold returns the offset of the first line of b that starts with
// the lower-case prefix, ignoring ASCII case, or -1.
func indexLineFold(b []byte, prefix string) int {
	for pos := 0; pos < len(b); {
		if hasPrefixFold(b[pos:], prefix) {
			return pos
		}
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			break
		}
		pos += i + 1
	}
	return -1
}

// isAddress reports whether s looks like an Internet mail address: a local
// part, "@" and a domain with a dot.
func isAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-3 && strings.IndexByte(s[at+1:], '.') > 0 && !strings.ContainsAny(s, " \t/")
}
