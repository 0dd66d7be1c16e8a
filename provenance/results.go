package provenance

import (
	"strings"
)

// results collects the resinfo entries of an Authentication-Results value
// (RFC 8601 section 2.2).
type results struct{ entries []string }

// add adds method=result with an optional reason (RFC 8601 section
// 2.2, reasonspec), the properties given as ptype.property, value pairs
// (empty values left out), and a comment.
func (r *results) add(method, result, reason, comment string, props ...string) {
	var b strings.Builder
	b.WriteString(method + "=" + result)
	if reason != "" {
		b.WriteString(" reason=" + quoted(reason))
	}
	for i := 0; i+1 < len(props); i += 2 {
		if props[i+1] != "" {
			b.WriteString(" " + props[i] + "=" + pvalue(props[i+1]))
		}
	}
	if comment != "" {
		b.WriteString(" (" + commentText(comment) + ")")
	}
	r.entries = append(r.entries, b.String())
}

// String returns the field value: the authserv-id and the entries, or
// "none" when there are none (RFC 8601 section 2.2, no-result).
func (r *results) String(authservID string) string {
	if authservID == "" {
		authservID = "localhost"
	}
	if len(r.entries) == 0 {
		return authservID + "; none"
	}
	return authservID + "; " + strings.Join(r.entries, "; ")
}

// pvalue returns s as a property value (RFC 8601 section 2.2): a token
// (RFC 2045 section 5.1), an address local-part@domain of token
// characters, or else a quoted string.
func pvalue(s string) string {
	if i := strings.LastIndexByte(s, '@'); i > 0 && isDotAtom(s[:i]) && isToken(s[i+1:]) {
		return s
	}
	if isToken(s) {
		return s
	}
	return quoted(s)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// isDotAtom reports whether s is a dot-atom (RFC 5322 section 3.2.3), as
// an unquoted local part is.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) < 0 {
			return false
		}
	}
	return true
}

// quoted returns s as a quoted-string (RFC 5322 section 3.2.4), with
// control characters as spaces.
func quoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < ' ' || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// commentText makes s fit in a comment (RFC 5322 section 3.2.2).
func commentText(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c == '(' || c == ')' || c == '\\':
			return '_'
		case c < ' ' || c == 0x7f:
			return ' '
		}
		return c
	}, s)
}
