// Package mailaddr parses and normalizes mail addresses: the mailboxes of
// RFC 5321 section 4.1.2, with the UTF-8 local parts and internationalized
// domains of RFC 6531 section 3.3.
//
// Every address Rebound keeps (a bounce record's recipient, a suppression)
// passes through Normalize on the way in, so that one mailbox has one
// spelling in every store, and text that is no address (control
// characters, 5,000-octet local parts, a lone "@") is refused with an error
// that says what is wrong with it.
//
// The normal form:
//   - the local part unquoted when it is a Dot-string, else quoted with
//     only '"' and '\' escaped; its case kept (RFC 5321 section 2.4) and its
//     non-ASCII characters in Unicode normalization form C. One exception
//     to the grammar: dots out of place (two in a row, or at the start or
//     end) in a local part of atext, as in the addresses Japanese mobile
//     carriers gave out for years and that are still in use, are read as
//     they are and kept unquoted, the way such mailboxes are written
//     everywhere (quoted, they read the same);
//   - the domain in lower case, internationalized labels as A-labels
//     ("xn--", RFC 5890 section 2.3.2.1): an address that was ASCII stays
//     ASCII, a bounce for mail sent without SMTPUTF8 (which must name IDN
//     domains so) keeps the spelling it came with, the length limits of
//     RFC 5321 and the DNS are those of A-labels, and a look-alike domain
//     shows as the xn-- label it is;
//   - address literals ("[192.0.2.1]", "[IPv6:2001:db8::1]") in their
//     shortest form.
package mailaddr

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Length limits of RFC 5321 section 4.5.3.1, in octets of the normal form.
const (
	MaxLocalPart = 64  // section 4.5.3.1.1
	MaxDomain    = 255 // section 4.5.3.1.2
	// MaxAddress is the longest address: a path (section 4.5.3.1.3) is
	// at most 256 octets with its angle brackets.
	MaxAddress = 254
	maxLabel   = 63 // RFC 1035 section 2.3.4
)

// Address is a parsed mail address.
type Address struct {
	// Local is the local part as the characters it stands for: without
	// the quotes and backslashes of a quoted local part, in NFC.
	Local string
	// Domain is the domain in lower case with A-labels, or an address
	// literal in square brackets.
	Domain string
}

// String is the address in normal form: Local as a Dot-string when it is
// one, else as a Quoted-string (RFC 5321 section 4.1.2), "@", Domain.
func (a Address) String() string {
	return localString(a.Local) + "@" + a.Domain
}

// An Error says why a text is not a mail address (or domain).
type Error struct {
	Input  string // the text given
	Reason string // what is wrong with it
	Domain bool   // the text was to be a domain, not an address
}

// maxShown bounds the octets of the input an error message repeats.
const maxShown = 64

func (e *Error) Error() string {
	what := "address"
	if e.Domain {
		what = "domain"
	}
	return "invalid " + what + " " + Quote(e.Input, maxShown) + ": " + e.Reason
}

// Quote is s as a Go string literal, with control, formatting and other
// invisible characters escaped, cut at a character boundary to at most max
// octets of s; a cut one is followed by "…" and the size of the whole.
// It makes text that failed to be an address safe to print and to store.
func Quote(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// Normalize returns the normal form of the address s. Space around s and
// one pair of angle brackets (as in "<user@example.com>") are dropped;
// the rest must be an address (see Parse).
func Normalize(s string) (string, error) {
	if plain(s) {
		// Most addresses in bounces are already in normal form.
		return s, nil
	}
	t := strings.TrimSpace(s)
	if len(t) >= 2 && t[0] == '<' && t[len(t)-1] == '>' {
		t = t[1 : len(t)-1]
	}
	a, err := Parse(t)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Input = s
		}
		return "", err
	}
	return a.String(), nil
}

// plain reports whether s is an address in normal form that needs no
// closer look: ASCII, a Dot-string local part of at most 64 octets with no
// dot out of place, one "@", and a domain of lower-case letter-digit-hyphen
// labels of 1 to 63 octets, none of them an A-label, the whole at most 254
// octets. What plain accepts, Parse accepts and String writes unchanged.
func plain(s string) bool {
	if len(s) > MaxAddress {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at > MaxLocalPart || at == len(s)-1 {
		return false
	}
	prev := byte('.')
	for i := 0; i < at; i++ {
		c := s[i]
		if c == '.' {
			if prev == '.' {
				return false
			}
		} else if c >= 0x80 || !isAtext(c) {
			return false
		}
		prev = c
	}
	if prev == '.' {
		return false
	}
	label := 0
	for i := at + 1; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if label == 0 || label > maxLabel || s[i-1] == '-' || s[i-label] == '-' ||
				label >= 4 && s[i-label:i-label+4] == "xn--" {
				return false
			}
			label = 0
			continue
		}
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
		label++
	}
	return true
}

// Parse parses s, which must be exactly a Mailbox of RFC 5321 section
// 4.1.2 as extended by RFC 6531 section 3.3: Local-part "@" (Domain /
// address-literal). The local part is a Dot-string or a Quoted-string; the
// obsolete forms of RFC 5322 section 4.4 (comments, folding, quoted words
// between dots) are refused. No part may hold a control character (C0,
// DEL, C1), a line or paragraph separator, a non-ASCII space, an invisible
// formatting character (bidirectional controls, byte order mark; the
// joiners U+200C and U+200D are letters of some scripts and allowed), a
// noncharacter or U+FFFD, the mark of text damaged in decoding; spaces
// only in a quoted local part. The limits of RFC 5321 section 4.5.3.1 hold
// for the normal form.
func Parse(s string) (Address, error) {
	fail := func(format string, args ...any) (Address, error) {
		return Address{}, &Error{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return fail("empty")
	}
	// What no part of an address may hold is named first: it is what
	// the message should say, whatever else is wrong.
	if reason := checkRunes(s); reason != "" {
		return fail("%s", reason)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return fail("no @ (want local-part@domain)")
	}
	rawLocal, rawDomain := s[:at], s[at+1:]
	if rawLocal == "" {
		return fail("empty local part")
	}
	if rawDomain == "" {
		return fail("empty domain")
	}
	local, reason := parseLocal(rawLocal)
	if reason != "" {
		return fail("%s", reason)
	}
	domain, reason := parseDomain(rawDomain)
	if reason != "" {
		return fail("%s", reason)
	}
	if !isASCII(local) {
		local = norm.NFC.String(local)
	}
	a := Address{Local: local, Domain: domain}
	if n := len(localString(local)); n > MaxLocalPart {
		return fail("local part is %d octets, more than the %d of RFC 5321 section 4.5.3.1.1", n, MaxLocalPart)
	}
	if n := len(a.String()); n > MaxAddress {
		return fail("address is %d octets, more than the %d of RFC 5321 section 4.5.3.1.3", n, MaxAddress)
	}
	return a, nil
}

// NormalizeDomain returns the normal form of a domain (lower case,
// A-labels) or of an address literal; see Parse for what a domain is.
func NormalizeDomain(s string) (string, error) {
	d := strings.TrimSpace(s)
	if d == "" {
		return "", &Error{Input: s, Reason: "empty", Domain: true}
	}
	if reason := checkRunes(d); reason != "" {
		return "", &Error{Input: s, Reason: reason, Domain: true}
	}
	domain, reason := parseDomain(d)
	if reason != "" {
		return "", &Error{Input: s, Reason: reason, Domain: true}
	}
	return domain, nil
}

// checkRunes returns why s cannot be (part of) an address whatever its
// syntax: invalid UTF-8 or a forbidden character; "" when it can.
func checkRunes(s string) string {
	for i := 0; i < len(s); {
		c := s[i]
		if 0x20 <= c && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("invalid UTF-8 at byte %d", i)
		}
		if what := forbidden(r); what != "" {
			if r == utf8.RuneError {
				return fmt.Sprintf("%s %U at byte %d (the text was damaged in decoding)", what, r, i)
			}
			return fmt.Sprintf("%s %U at byte %d", what, r, i)
		}
		i += size
	}
	return ""
}

// forbidden names the kind of r when no address may hold it, else "".
func forbidden(r rune) string {
	switch {
	case r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f:
		return "control character"
	case r < 0x80:
		return ""
	case r == 0x2028 || r == 0x2029:
		return "line separator"
	case r == utf8.RuneError:
		return "replacement character"
	case 0xfdd0 <= r && r <= 0xfdef || r&0xfffe == 0xfffe:
		return "noncharacter"
	case unicode.Is(unicode.Zs, r):
		return "non-ASCII space"
	case unicode.Is(unicode.Cf, r) && r != 0x200c && r != 0x200d:
		return "invisible formatting character"
	}
	return ""
}

// isAtext reports whether c, an ASCII character, is atext (RFC 5322
// section 3.2.3); RFC 6531 adds every non-ASCII character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// parseLocal reads a Local-part (RFC 5321 section 4.1.2) and returns what
// it stands for, or the reason it is none. Dots out of place are allowed
// (see the package comment) as long as there is more than dots.
func parseLocal(s string) (local, reason string) {
	if s[0] == '"' {
		return parseQuoted(s)
	}
	if strings.Trim(s, ".") == "" {
		return "", "the local part is only dots (quote it to allow that)"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80 || isAtext(c), c == '.':
		case c == ' ':
			return "", fmt.Sprintf("space at byte %d (allowed only in a quoted local part)", i)
		case c == '"':
			return "", fmt.Sprintf("quote at byte %d inside an unquoted local part", i)
		default:
			return "", fmt.Sprintf("character %q at byte %d not allowed in an unquoted local part", c, i)
		}
	}
	return s, ""
}

// parseQuoted reads a Quoted-string: DQUOTE *(qtextSMTP / quoted-pairSMTP)
// DQUOTE, qtextSMTP holding the non-ASCII characters of RFC 6531.
func parseQuoted(s string) (local, reason string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			if i != len(s)-1 {
				return "", fmt.Sprintf("text after the closing quote of the local part at byte %d", i+1)
			}
			if b.Len() == 0 {
				return "", "empty quoted local part"
			}
			return b.String(), ""
		case '\\':
			// quoted-pairSMTP is a backslash and printable ASCII or space.
			if i+1 == len(s)-1 || i+1 >= len(s) {
				return "", "backslash before the closing quote of the local part"
			}
			i++
			if s[i] >= 0x80 {
				return "", fmt.Sprintf("backslash before a non-ASCII character at byte %d", i)
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "the quoted local part has no closing quote"
}

// isDotString reports whether the local part l can be written unquoted:
// atext (RFC 6531: non-ASCII too) and dots, not only dots. It is a
// Dot-string when its dots are in place.
func isDotString(l string) bool {
	if strings.Trim(l, ".") == "" {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; c < 0x80 && c != '.' && !isAtext(c) {
			return false
		}
	}
	return true
}

// localString writes the local part l as RFC 5321 wants it sent: a
// Dot-string when it is one (section 4.1.2 asks not to quote what needs
// no quotes; dots out of place stay unquoted too, see the package
// comment), else a Quoted-string escaping only '"' and '\'.
func localString(l string) string {
	if isDotString(l) {
		return l
	}
	var b strings.Builder
	b.Grow(len(l) + 2)
	b.WriteByte('"')
	for i := 0; i < len(l); i++ {
		if l[i] == '"' || l[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(l[i])
	}
	b.WriteByte('"')
	return b.String()
}

// idnaProfile converts internationalized domains (RFC 5891, with the
// mapping of UTS #46 for lookup: width and case folded). The ASCII rules
// of host names apply to every label (STD3), as RFC 5321 wants.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.CheckHyphens(true),
	idna.CheckJoiners(true),
	idna.StrictDomainName(true),
	idna.ValidateLabels(true),
)

// parseDomain reads a Domain or address-literal (RFC 5321 section 4.1.2)
// and returns its normal form, or the reason it is none.
func parseDomain(s string) (domain, reason string) {
	if s[0] == '[' {
		return parseLiteral(s)
	}
	if len(s) > 4*MaxDomain {
		return "", fmt.Sprintf("domain is %d octets, more than the %d of RFC 5321 section 4.5.3.1.2", len(s), MaxDomain)
	}
	if s[len(s)-1] == '.' {
		return "", "the domain ends with a dot"
	}
	idn := !isASCII(s)
	for label := range strings.SplitSeq(s, ".") {
		if len(label) >= 4 && strings.EqualFold(label[:4], "xn--") {
			idn = true
		}
	}
	if idn {
		a, err := idnaProfile.ToASCII(s)
		if err != nil {
			return "", fmt.Sprintf("the domain is not a valid internationalized domain name: %v", strings.TrimPrefix(err.Error(), "idna: "))
		}
		s = a
	}
	for label := range strings.SplitSeq(s, ".") {
		if reason := checkLabel(label); reason != "" {
			return "", reason
		}
	}
	if len(s) > MaxDomain {
		return "", fmt.Sprintf("domain is %d octets, more than the %d of RFC 5321 section 4.5.3.1.2", len(s), MaxDomain)
	}
	return toLowerASCII(s), ""
}

// checkLabel checks an ASCII label against sub-domain of RFC 5321
// section 4.1.2: Let-dig [Ldh-str], at most 63 octets.
func checkLabel(l string) string {
	if l == "" {
		return "empty label in the domain (a dot at its start or end, or two in a row)"
	}
	if len(l) > maxLabel {
		return fmt.Sprintf("domain label of %d octets, more than the %d of RFC 1035 section 2.3.4", len(l), maxLabel)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-':
			if i == 0 || i == len(l)-1 {
				return fmt.Sprintf("domain label %q starts or ends with a hyphen", l)
			}
		default:
			return fmt.Sprintf("character %q not allowed in a domain (letters, digits and hyphens only)", c)
		}
	}
	return ""
}

// parseLiteral reads an address-literal of RFC 5321 section 4.1.3: an
// IPv4 address or "IPv6:" and an IPv6 address, in square brackets.
func parseLiteral(s string) (domain, reason string) {
	if len(s) < 2 || s[len(s)-1] != ']' {
		return "", "the address literal has no closing bracket"
	}
	in := s[1 : len(s)-1]
	if len(in) >= 5 && strings.EqualFold(in[:5], "IPv6:") {
		ip, err := netip.ParseAddr(in[5:])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", fmt.Sprintf("address literal %q: not an IPv6 address", in)
		}
		return "[IPv6:" + ip.String() + "]", ""
	}
	ip, err := netip.ParseAddr(in)
	if err != nil || !ip.Is4() {
		return "", fmt.Sprintf(`address literal %q: want an IPv4 address, or "IPv6:" and an IPv6 address`, in)
	}
	return "[" + ip.String() + "]", ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// toLowerASCII lower-cases ASCII letters, allocating only when there are
// some.
func toLowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
