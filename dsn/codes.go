package dsn

import "strings"

// Finding status and reply codes in free text. Both scanners walk the
// string once, byte by byte, and return a substring of their input, so they
// allocate nothing and are safe for concurrent use.

// findStatus returns the first enhanced status code (RFC 3463 section 2:
// class "." subject "." detail, class 2, 4 or 5, subject and detail of one
// to three digits) in s, or "". A code must stand on its own: a candidate
// that continues or is continued by digits, dots or letters (an IP address
// such as 10.5.1.2, a version such as v5.1.1, a date such as 5.11.2023) is
// not a status.
func findStatus(s string) string {
	return specificStatus(s, failureStatus(s))
}

// specificStatus returns a code of the same class as st that follows it in
// s and says more, when st is a generic "X.0.0": Exchange writes its own
// "#5.0.0" before the remote server's "550 5.7.606 ...", and the remote
// server's code is the one that explains.
func specificStatus(s, st string) string {
	if !genericStatus(st) {
		return st
	}
	i := strings.Index(s, st)
	if i < 0 {
		return st
	}
	for rest := s[i+len(st):]; ; {
		f := firstStatus(rest)
		if f == "" {
			return st
		}
		if f[0] == st[0] && !genericStatus(f) {
			return f
		}
		rest = rest[strings.Index(rest, f)+len(f):]
	}
}

// genericStatus reports whether st is an enhanced status code that says no
// more than its class (RFC 3463 section 3.1, "X.0.0 Other undefined
// status").
func genericStatus(st string) bool {
	return len(st) == 5 && st[1:] == ".0.0"
}

// failureStatus is findStatus without the preference for a specific code.
func failureStatus(s string) string {
	first := firstStatus(s)
	if first == "" || first[0] != '2' {
		return first
	}
	// A bounce's text may quote a success before the failure ("250 2.1.5
	// Ok ... 451 4.3.0 Error"): the failure is what the text is about.
	for rest := s; ; {
		i := strings.Index(rest, first)
		if i < 0 {
			return first
		}
		rest = rest[i+len(first):]
		if f := firstStatus(rest); f == "" {
			return first
		} else if f[0] != '2' {
			return f
		} else {
			first = f
		}
	}
}

// firstStatus returns the first enhanced status code in s, of any class.
func firstStatus(s string) string {
	for i := 0; i+5 <= len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		if i > 0 && !statusLeftBoundary(s[i-1]) && !labelColon(s, i-1) {
			continue
		}
		if end := matchStatusAt(s, i); end > 0 {
			return s[i:end]
		}
	}
	return ""
}

// matchStatusAt returns the end of the enhanced status code starting at
// s[i], or 0 when none starts there. s[i] is known to be a class digit.
func matchStatusAt(s string, i int) int {
	j := i + 1
	if j >= len(s) || s[j] != '.' {
		return 0
	}
	j = skipDigits(s, j+1, 3)
	if j < 0 || j >= len(s) || s[j] != '.' {
		return 0
	}
	j = skipDigits(s, j+1, 3)
	if j < 0 {
		return 0
	}
	if j < len(s) {
		c := s[j]
		if digitByte(c) || letterByte(c) || c == '_' {
			return 0
		}
		// "5.1.1.2" is a dotted number, "5.1.1." ends a sentence.
		if (c == '.' || c == '-') && j+1 < len(s) && digitByte(s[j+1]) {
			return 0
		}
	}
	return j
}

// skipDigits returns the index after 1 to max digits starting at s[j], or
// -1 when there are none or more than max.
func skipDigits(s string, j, max int) int {
	k := j
	for k < len(s) && digitByte(s[k]) {
		k++
		if k-j > max {
			return -1
		}
	}
	if k == j {
		return -1
	}
	return k
}

// labelColon reports whether s[i] is a colon that ends a label rather
// than a number: "ERROR_CODE :5.1.1", "status:5.1.1", but not the "10:" of
// "10:5.1.1" in a time or a port.
func labelColon(s string, i int) bool {
	return s[i] == ':' && (i == 0 || !digitByte(s[i-1]))
}

func statusLeftBoundary(c byte) bool {
	return !digitByte(c) && !letterByte(c) && c != '.' && c != '_' && c != '/' && c != ':'
}

// findSMTPCode returns the first SMTP reply code (RFC 5321 section 4.2: a
// three-digit code, first digit 2, 4 or 5) that starts a reply in s, or "".
// Any three-digit number is not a reply: the code must be followed by a
// space, a hyphen (a multiline reply) or the end of the text, and either be
// followed by an enhanced status code, start the text or a line, or come
// right after a marker that introduces a reply: "said:", "smtp;", "#550",
// "<<< 550", a quote or bracket, or a word such as "code" or "error".
func findSMTPCode(s string) string {
	off := 0
	first := ""
	for off < len(s) {
		i, c := firstSMTPCode(s[off:])
		if c == "" {
			break
		}
		if c[0] != '2' {
			return c
		}
		// A failure after a success ("220-greeting 421 4.2.1 ...") is
		// what a bounce is about; keep the success only when alone.
		if first == "" {
			first = c
		}
		off += i + len(c)
	}
	return first
}

// firstSMTPCode returns the first reply code in s and its index.
func firstSMTPCode(s string) (int, string) {
	for i := 0; i+3 <= len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		// RFC 5321 section 4.2.1: the second digit is 0 to 5.
		if s[i+1] < '0' || s[i+1] > '5' || !digitByte(s[i+2]) {
			continue
		}
		if i > 0 && (digitByte(s[i-1]) || letterByte(s[i-1]) || s[i-1] == '.' || s[i-1] == '-' || s[i-1] == '_' || s[i-1] == '/') {
			// Skip the rest of this number or word.
			continue
		}
		end := i + 3
		if end < len(s) && s[end] == ':' {
			// "550: 5.1.1 ..." or a line starting "550: ..."
			if replyCodeFollowedByStatus(s, end) || lineStart(s, i) {
				return i, s[i:end]
			}
			continue
		}
		if end+1 < len(s) && s[end] == '-' && !digitByte(s[end+1]) && !(s[end+1] >= 'a' && s[end+1] <= 'z') {
			// A multiline reply, "550-Mailbox unavailable" or "550-'...'".
			return i, s[i:end]
		}
		if end < len(s) && !replyCodeEnd(s[end]) {
			continue
		}
		if replyCodeFollowedByStatus(s, end) || replyCodeIntroduced(s, i) {
			return i, s[i:end]
		}
	}
	return -1, ""
}

// replyCodeEnd reports whether c may follow a reply code.
func replyCodeEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '-', ')', ']', '\'', '"', ',', ';', '>':
		return true
	}
	return false
}

// replyCodeFollowedByStatus reports whether the reply code ending at s[end]
// is followed by an enhanced status code, as in "550 5.1.1" or "550-5.1.1".
func replyCodeFollowedByStatus(s string, end int) bool {
	j := end
	if j < len(s) && s[j] == ':' {
		j++
	}
	if j >= len(s) || (s[j] != ' ' && s[j] != '-' && s[j] != '\t') {
		return false
	}
	j++
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j < len(s) && s[j] == '#' {
		j++
	}
	if j >= len(s) || (s[j] != '2' && s[j] != '4' && s[j] != '5') {
		return false
	}
	return matchStatusAt(s, j) > 0
}

// replyCodeIntroduced reports whether the code at s[i] starts the text or a
// line, or comes after a marker that introduces a server reply.
func replyCodeIntroduced(s string, i int) bool {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	if j == 0 {
		return true
	}
	switch s[j-1] {
	case '\n', '\r', ':', ';', '#', '\'', '"', '(', '[', '<', '>', '=', '`':
		return true
	}
	if j == i {
		// A word needs a space before the code.
		return false
	}
	k := j
	for k > 0 && letterByte(s[k-1]) {
		k--
	}
	switch w := s[k:j]; {
	case sameWordFold(w, "code"), sameWordFold(w, "error"),
		sameWordFold(w, "reply"), sameWordFold(w, "replied"),
		sameWordFold(w, "returned"), sameWordFold(w, "said"),
		sameWordFold(w, "smtp"), sameWordFold(w, "response"),
		sameWordFold(w, "responded"), sameWordFold(w, "responsecode"):
		return true
	}
	return false
}

func digitByte(c byte) bool  { return c >= '0' && c <= '9' }
func letterByte(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// sameWordFold compares ASCII strings without regard to case.
func sameWordFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i]|0x20 != b[i]|0x20 {
			return false
		}
		if !letterByte(a[i]) && a[i] != b[i] {
			return false
		}
	}
	return true
}

// lineStart reports whether only blanks precede s[i] on its line.
func lineStart(s string, i int) bool {
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
		i--
	}
	return i == 0 || s[i-1] == '\n' || s[i-1] == '\r'
}
