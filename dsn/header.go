package dsn

import (
	"bytes"
	"slices"
	"strings"
)

// A field is one header field as it appears in the input: value still
// folded and encoded. Both slices point into the message.
type field struct {
	name  []byte
	value []byte
}

// A header is a header section in input order.
type header []field

// get returns the raw value of the first field called name, or nil.
func (h header) get(name string) []byte {
	for i := range h {
		if equalFoldASCII(h[i].name, name) {
			return h[i].value
		}
	}
	return nil
}

// text returns the unfolded value of the first field called name, without
// decoding RFC 2047 encoded words.
func (h header) text(name string) string {
	return unfold(h.get(name))
}

// readHeader reads the header section at the start of b (RFC 5322 section
// 2.2) and returns it with the body that follows the empty line. It is
// lenient where real bounces are broken: a line that is neither a field nor
// a continuation ends the header (the body starts there), and input that
// ends inside the header yields the fields read so far and an empty body.
// max bounds the size of the section: beyond it readHeader returns the
// fields read so far with ErrHeaderTooBig.
func readHeader(b []byte, max int, h header) (header, []byte, error) {
	pos := 0
	grown := false
	for pos < len(b) {
		if pos > max {
			return h, nil, ErrHeaderTooBig
		}
		line, next := lineAt(b, pos)
		end := pos + len(line)
		if len(line) == 0 {
			return h, b[next:], nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) > 0 {
				// Continuation line (folding, RFC 5322 section 2.2.3):
				// extend the value of the last field over it.
				f := &h[len(h)-1]
				start := cap(b) - cap(f.value)
				f.value = b[start:end]
			}
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		var name []byte
		if colon > 0 {
			name = trimBlankRight(line[:colon])
		}
		if !isFieldName(name) {
			if len(h) == 0 && (bytes.HasPrefix(line, []byte("From ")) || bytes.HasPrefix(line, []byte(">From "))) {
				// An mbox separator line before the first field.
				pos = next
				continue
			}
			return h, b[pos:], nil
		}
		if len(h) == cap(h) && !grown {
			// Out of room: make room for every field left at once. A
			// hostile header repeats fields by the ten thousand, and
			// growing step by step would allocate several times their
			// final size.
			h, grown = slices.Grow(h, fieldLines(b[pos:], max-pos)), true
		}
		h = append(h, field{name: name, value: b[pos+colon+1 : end]})
		pos = next
	}
	if pos > max {
		return h, nil, ErrHeaderTooBig
	}
	return h, nil, nil
}

// fieldLines counts the lines of the header section at the start of b,
// up to its empty line and within max bytes, that may start a field: those
// not starting with white space. It is what readHeader appends at most.
func fieldLines(b []byte, max int) int {
	n := 0
	for pos := 0; pos < len(b) && pos <= max; {
		line, next := lineAt(b, pos)
		if len(line) == 0 {
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			n++
		}
		pos = next
	}
	return n
}

// isFieldName reports whether b is a field name of RFC 5322 section 3.6.8:
// printable US-ASCII except colon.
func isFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// unfold returns a field value on one line: folding line breaks and the
// white space around them become one space, and the ends are trimmed.
func unfold(v []byte) string {
	v = trimSpace(v)
	if len(v) == 0 {
		return ""
	}
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return string(v)
	}
	var sb strings.Builder
	sb.Grow(len(v))
	for len(v) > 0 {
		i := bytes.IndexAny(v, "\r\n")
		if i < 0 {
			sb.Write(v)
			break
		}
		sb.Write(bytes.TrimRight(v[:i], " \t"))
		v = bytes.TrimLeft(v[i:], "\r\n \t")
		if len(v) > 0 {
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// trimBlankRight drops the spaces and tabs that end b.
func trimBlankRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

// equalFoldASCII compares b and s ignoring ASCII case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFoldASCII(b[:len(prefix)], prefix)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// mediaTypes are the media types the decoder tells apart; mediaType
// returns one of them, or a stand-in for the others, without allocating.
var mediaTypes = []string{
	"multipart/report", "multipart/mixed", "multipart/alternative", "multipart/related",
	"message/delivery-status", "message/global-delivery-status", "message/feedback-report",
	"message/rfc822", "message/global", "text/rfc822-headers", "text/rfc822-header",
	"message/global-headers", "message/rfc822-headers", "text/plain", "text/html", "text",
}

// mediaType returns the lower-case type/subtype of a Content-Type value:
// one of mediaTypes, "multipart/other" for the other multiparts, "" when
// ct is empty and "other" for everything else.
func mediaType(ct []byte) string {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = trimSpace(ct)
	// A type/subtype token has no white space: what follows it without a
	// ";" (a parameter folded onto the next line) is not part of it.
	if i := bytes.IndexAny(ct, " \t\r\n"); i >= 0 {
		ct = ct[:i]
	}
	if len(ct) == 0 {
		return ""
	}
	for _, mt := range mediaTypes {
		if equalFoldASCII(ct, mt) {
			return mt
		}
	}
	if hasPrefixFold(ct, "multipart/") {
		return "multipart/other"
	}
	return "other"
}

// param returns the value of parameter name (lower case) of a Content-Type
// value (RFC 2045 section 5.1), unquoted; "" when absent. It is lenient with
// the broken syntax of real messages: stray spaces, missing semicolons
// before a parameter are not forgiven, but unbalanced quotes are.
func param(ct []byte, name string) string {
	i := bytes.IndexByte(ct, ';')
	if i < 0 {
		return ""
	}
	s := ct[i+1:]
	for len(s) > 0 {
		s = bytes.TrimLeft(s, " \t\r\n;")
		eq := bytes.IndexByte(s, '=')
		if eq < 0 {
			return ""
		}
		key := trimSpace(s[:eq])
		s = bytes.TrimLeft(s[eq+1:], " \t\r\n")
		var val []byte
		if len(s) > 0 && s[0] == '"' {
			s = s[1:]
			var sb []byte
			j := 0
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				if s[j] == '\r' || s[j] == '\n' {
					continue
				}
				sb = append(sb, s[j])
			}
			val = sb
			if j < len(s) {
				j++
			}
			s = s[j:]
		} else {
			j := bytes.IndexByte(s, ';')
			if j < 0 {
				j = len(s)
			}
			val = trimSpace(s[:j])
			s = s[j:]
		}
		if equalFoldASCII(key, name) {
			return string(val)
		}
	}
	return ""
}

// lineAt returns the line of b that starts at pos, without its line end
// (LF or CRLF), and the position after its line end.
func lineAt(b []byte, pos int) (line []byte, next int) {
	end := bytes.IndexByte(b[pos:], '\n')
	if end < 0 {
		line, next = b[pos:], len(b)
	} else {
		line, next = b[pos:pos+end], pos+end+1
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, next
}
