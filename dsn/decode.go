package dsn

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// decodeTransfer undoes a Content-Transfer-Encoding (RFC 2045 section 6).
// Broken encodings decode as far as they can: a bounce with a damaged
// base64 tail still has a readable head. Identity encodings return body
// itself.
func decodeTransfer(cte []byte, body []byte) []byte {
	cte = trimSpace(cte)
	if i := bytes.IndexAny(cte, " \t\r\n(;"); i >= 0 {
		// "base64 (comment)", or junk after the mechanism.
		cte = cte[:i]
	}
	switch {
	case equalFoldASCII(cte, "base64"):
		return decodeBase64(body)
	case equalFoldASCII(cte, "quoted-printable"):
		return decodeQP(body)
	}
	return body
}

// decodeBase64 decodes base64 text, skipping white space and any other
// byte outside the alphabet, and stopping at padding.
func decodeBase64(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			goto done
		}
	}
done:
	if len(clean)%4 == 1 {
		// A lone trailing character carries less than a byte.
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// decodeQP decodes quoted-printable text (RFC 2045 section 6.7). An "="
// not followed by two hex digits or a line break is kept as it is.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			// Copy the run up to the next escape at once.
			j := bytes.IndexByte(b[i:], '=')
			if j < 0 {
				out = append(out, b[i:]...)
				break
			}
			out = append(out, b[i:i+j]...)
			i += j - 1
			continue
		}
		if i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
			continue
		}
		// Soft line break: "=" then optional white space then a line end.
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j < len(b) && b[j] == '\r' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			i = j
			continue
		}
		if j == len(b) {
			break
		}
		out = append(out, c)
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// toUTF8 converts text in the named charset to UTF-8. Unknown charsets
// and invalid bytes fall back to a Latin-1 reading of the non-UTF-8 parts,
// so the ASCII codes and addresses a bounce is read for survive.
func toUTF8(cs string, b []byte) []byte {
	cs = strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`))
	switch cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unknown-8bit", "x-unknown", "8bit":
		if bytes.Contains(b, []byte("\x1b$B")) && isASCII(b) {
			// ISO-2022-JP text (RFC 1468) under a wrong or missing
			// charset: its escape sequences say what it is.
			cs = "iso-2022-jp"
			break
		}
		return validUTF8(b)
	case "utf-7", "unicode-1-1-utf-7", "csunicode11utf7":
		return decodeUTF7(b)
	}
	if isASCII(b) && bytes.IndexByte(b, 0x1b) < 0 {
		// ASCII reads the same in every charset but the 7-bit ones
		// that switch with escape sequences (ISO-2022).
		return b
	}
	// The registries go-message's charset package reads, used directly:
	// decoding a []byte at once spares the buffers of a Reader.
	enc, err := htmlindex.Get(cs)
	if err != nil || enc == nil {
		enc, err = ianaindex.MIME.Encoding(cs)
	}
	if err == nil && enc != nil {
		if out, err := enc.NewDecoder().Bytes(b); err == nil {
			return out
		}
		return validUTF8(b)
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return validUTF8(b)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return validUTF8(b)
	}
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// validUTF8 returns b when it is valid UTF-8, else a copy in which every
// byte that does not start a valid sequence is read as Latin-1.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			out = utf8.AppendRune(out, rune(b[0]))
			b = b[1:]
			continue
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return out
}

// decodeUTF7 decodes UTF-7 (RFC 2152), which some Exchange servers still
// use for their reports: "+" starts a run of modified base64 holding
// UTF-16 code units, ended by "-" (dropped) or any byte outside the
// alphabet; "+-" is a plus sign.
func decodeUTF7(b []byte) []byte {
	if bytes.IndexByte(b, '+') < 0 {
		return validUTF8(b)
	}
	out := make([]byte, 0, len(b))
	var units []uint16
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '+' {
			out = append(out, c)
			continue
		}
		j := i + 1
		if j < len(b) && b[j] == '-' {
			out = append(out, '+')
			i = j
			continue
		}
		var acc uint32
		var bits uint
		units = units[:0]
		for ; j < len(b); j++ {
			v := b64val(b[j])
			if v < 0 {
				break
			}
			acc = acc<<6 | uint32(v)
			bits += 6
			if bits >= 16 {
				bits -= 16
				units = append(units, uint16(acc>>bits))
				acc &= 1<<bits - 1
			}
		}
		for _, r := range utf16.Decode(units) {
			out = utf8.AppendRune(out, r)
		}
		if j < len(b) && b[j] == '-' {
			i = j
		} else {
			i = j - 1
		}
	}
	return validUTF8(out)
}

func b64val(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

// wordDecoder decodes RFC 2047 encoded words in header values. It holds
// no state between calls and is safe for concurrent use.
var wordDecoder = &mime.WordDecoder{
	CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(toUTF8(cs, b)), nil
	},
}

// decodeWords returns s with its RFC 2047 encoded words decoded; s itself
// when it has none or they are broken.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		if !utf8.ValidString(s) {
			return string(validUTF8([]byte(s)))
		}
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}
