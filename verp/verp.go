// Package verp signs and verifies the return paths (envelope senders) of
// the mail a sender sends, so that a bounce that comes back to one names
// its original recipient for certain and proves that the bounced message
// was the sender's: variable envelope return paths (VERP) carrying a key
// ID, a day stamp and an HMAC tag, in the spirit of BATV and of the
// timestamps of SRS.
//
// # Format
//
// The local part of a signed return path is
//
//	<prefix>+<keyid>+<day><tag>+<payload>
//
// at the bounce domain given to Encode (lower case, no trailing dot,
// A-labels), for example
//
//	b+k1+boki4p5b2jgf+jane.doe=example.com@bounces.example.net
//
// All of it is letters, digits, "+", "=", "." and the atext of the
// recipient's local part, so that it is a Dot-string (RFC 5321 section
// 4.1.2) that no MTA quotes, and it is at most 64 octets (RFC 5321 section
// 4.5.3.1.1).
//
//   - prefix: 1 to 8 characters a–z, 0–9; "b" by default. An address
//     whose local part starts with the prefix and "+" (in any case) claims
//     to be signed (Signer.Claims).
//   - keyid: 1 to 8 characters a–z, 0–9, naming the key that signed.
//   - day: 2 characters of lower-case base32 (RFC 4648 section 6, alphabet
//     a–z, 2–7): the days since 1970-01-01 UTC, modulo 1024, as in SRS.
//     The age of a return path is today minus day, modulo 1024; the day
//     after today (a clock running ahead) is age 0. Return paths older
//     than the maximum age (30 days by default, under 1000) are refused.
//   - tag: 10 characters of lower-case base32: the first 50 bits of
//     HMAC-SHA256(secret, keyid + "+" + day + "+" + lower-case payload)
//     (RFC 2104).
//   - payload: a payload with "=" is plain, else its first character
//     says its form.
//
// The three forms of the payload:
//
//   - plain, "<local>=<domain>", when the recipient's local part is an
//     ASCII Dot-string (atext of RFC 5321 section 4.1.2, dots in place)
//     and its domain ASCII letters, digits, hyphens and dots, all of it
//     in lower case. It is split at its last "=", as a local part may
//     hold "=" and "+".
//   - encoded, "x" and the lower-case unpadded base32 of the recipient's
//     exact bytes, for every other recipient (upper-case letters, quoted
//     local parts, UTF-8, address literals).
//   - token, "t" and 16 characters of lower-case base32 of the first 80
//     bits of SHA-256 of the recipient's exact bytes, when the local part
//     of the other form would be longer than 64 octets. The recipient is
//     kept in a TokenStore under the 16 characters.
//
// Mail systems may change the case of a local part, so every part is read
// in any case: the tag covers the lower-case payload, base32 is decoded
// in either case, a plain payload is read in lower case. As only
// recipients in lower case take the plain form, every form gives the
// recipient exactly as it was given to Encode, whatever the case it came
// back in.
//
// The tag has 50 bits: forging a return path for any recipient needs the
// key (or about 2^49 tries at the bounce server). A genuine return path can
// be replayed, but only ever for the recipient it was made for, and only
// within the maximum age.
package verp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/rebound-mail/rebound/mailaddr"
)

// Errors that Decode (and Encode) wrap with what was wrong; test with
// errors.Is. An error that wraps none of them from Decode is a failed
// token lookup: the return path may be good, try again later.
var (
	// ErrFormat: the text is no signed return path of this format.
	ErrFormat = errors.New("verp: not a signed return path")
	// ErrUnknownKey: signed with a key ID the signer does not have.
	ErrUnknownKey = errors.New("verp: unknown key")
	// ErrBadTag: the tag is not the one the key gives.
	ErrBadTag = errors.New("verp: tag does not verify")
	// ErrExpired: signed longer ago than the maximum age.
	ErrExpired = errors.New("verp: expired")
	// ErrUnknownToken: a token form whose token the TokenStore does not
	// know.
	ErrUnknownToken = errors.New("verp: unknown token")
	// ErrTooLong: the recipient does not fit in a local part, and there is
	// no TokenStore to keep it.
	ErrTooLong = errors.New("verp: recipient too long")
)

// wrapped is an error with its own message that wraps a sentinel.
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }

func fail(sentinel error, format string, args ...any) error {
	return &wrapped{msg: "verp: " + fmt.Sprintf(format, args...), err: sentinel}
}

const (
	// DefaultPrefix starts the local part of a signed return path.
	DefaultPrefix = "b"
	// DefaultMaxAge is how long a return path verifies.
	DefaultMaxAge = 30 * 24 * time.Hour
	// MinSecret is the shortest secret a key may have, in bytes.
	MinSecret = 16

	maxID      = 8    // octets of a prefix or key ID
	dayPeriod  = 1024 // day stamps repeat after this many days
	maxAgeDays = 1000 // MaxAge must be less, leaving room for the wrap
	dayLen     = 2    // base32 characters of the day
	tagLen     = 10   // base32 characters of the tag: 50 bits
	tokenLen   = 16   // base32 characters of a token: 80 bits
	day        = 24 * time.Hour
)

// b32 is base32 of RFC 4648 section 6 in lower case, without padding.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is a signing key. The first key given to a Signer signs, all of
// them verify: rotation adds a new key in front, and drops the old one
// after the maximum age.
type Key struct {
	ID     string // 1 to 8 characters a–z, 0–9 (other case is lowered)
	Secret []byte // at least MinSecret bytes
}

// ParseKeys reads keys written "id1:secret1,id2:secret2", the form of the
// REBOUND_VERP_KEYS environment variable: the first signs, all verify.
// Space around an entry is ignored; a secret is the text after the first
// ":" and may hold ":". Errors name the bad entry by position and ID, never
// showing a secret.
func ParseKeys(s string) ([]Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("verp: no keys (want id:secret, comma-separated)")
	}
	var keys []Key
	seen := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		n := i + 1
		id, secret, ok := strings.Cut(entry, ":")
		switch {
		case entry == "":
			return nil, fmt.Errorf("verp: key %d: empty entry (want id:secret)", n)
		case !ok:
			return nil, fmt.Errorf("verp: key %d: no \":\" (want id:secret)", n)
		}
		k := Key{ID: id, Secret: []byte(secret)}
		if err := checkKey(&k); err != nil {
			return nil, fmt.Errorf("verp: key %d: %s", n, err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("verp: key %d: id %q used twice", n, k.ID)
		}
		seen[k.ID] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// checkKey lowers k.ID and says what is wrong with k, if anything.
func checkKey(k *Key) error {
	if k.ID == "" {
		return errors.New("empty id")
	}
	id := lowerASCII(k.ID)
	if !isID(id) {
		return fmt.Errorf("id %s: want 1 to %d letters a-z or digits", mailaddr.Quote(k.ID, 32), maxID)
	}
	k.ID = id
	if len(k.Secret) == 0 {
		return fmt.Errorf("id %q: empty secret", id)
	}
	if len(k.Secret) < MinSecret {
		return fmt.Errorf("id %q: secret is %d bytes, at least %d needed", id, len(k.Secret), MinSecret)
	}
	return nil
}

// isID reports whether s is 1 to 8 characters a–z, 0–9.
func isID(s string) bool {
	if s == "" || len(s) > maxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// TokenStore keeps the recipients of token-form return paths. The token is
// the 16 lower-case base32 characters after the "t" of the payload; the
// address is the recipient exactly as given to Encode.
type TokenStore interface {
	// PutVERPToken keeps address under token; putting the same pair
	// again is no error.
	PutVERPToken(ctx context.Context, token, address string) error
	// VERPToken returns the address kept under token, or "" and a nil
	// error when the token is unknown. An error is a failed lookup: the
	// token may be known.
	VERPToken(ctx context.Context, token string) (address string, err error)
}

// Options configure a Signer; the zero value is the defaults.
type Options struct {
	Prefix string           // DefaultPrefix when empty
	MaxAge time.Duration    // DefaultMaxAge when 0; under 1000 days
	Tokens TokenStore       // for recipients too long for the local part; optional
	Now    func() time.Time // time.Now when nil
}

// Signer makes and verifies signed return paths. It is safe for
// concurrent use.
type Signer struct {
	keys   []Key // keys[0] signs
	byID   map[string][]byte
	prefix string
	maxAge time.Duration
	tokens TokenStore
	now    func() time.Time
}

// New returns a Signer with keys, of which there must be at least one; the
// first signs.
func New(keys []Key, opts Options) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("verp: no keys")
	}
	s := &Signer{byID: map[string][]byte{}, prefix: DefaultPrefix, maxAge: DefaultMaxAge, tokens: opts.Tokens, now: time.Now}
	for i, k := range keys {
		k.Secret = append([]byte(nil), k.Secret...)
		if err := checkKey(&k); err != nil {
			return nil, fmt.Errorf("verp: key %d: %s", i+1, err)
		}
		if s.byID[k.ID] != nil {
			return nil, fmt.Errorf("verp: key %d: id %q used twice", i+1, k.ID)
		}
		s.byID[k.ID] = k.Secret
		s.keys = append(s.keys, k)
	}
	if opts.Prefix != "" {
		p := lowerASCII(opts.Prefix)
		if !isID(p) {
			return nil, fmt.Errorf("verp: prefix %s: want 1 to %d letters a-z or digits", mailaddr.Quote(opts.Prefix, 32), maxID)
		}
		s.prefix = p
	}
	if opts.MaxAge != 0 {
		if opts.MaxAge < 0 || opts.MaxAge >= maxAgeDays*day {
			return nil, fmt.Errorf("verp: maximum age %s: must be positive and under %d days", opts.MaxAge, maxAgeDays)
		}
		s.maxAge = opts.MaxAge
	}
	if opts.Now != nil {
		s.now = opts.Now
	}
	return s, nil
}

// Claims reports whether the local part local claims to be a signed return
// path: it starts with the prefix and "+", in any case. Such an address at
// a bounce domain is either verified by Decode or not the sender's.
func (s *Signer) Claims(local string) bool {
	n := len(s.prefix)
	return len(local) > n && local[n] == '+' && strings.EqualFold(local[:n], s.prefix)
}

// Form names of Result.Form.
const (
	FormPlain   = "plain"
	FormEncoded = "encoded"
	FormToken   = "token"
)

// Result is what a verified return path says.
type Result struct {
	Recipient string    // the original recipient
	Domain    string    // the bounce domain of the return path, lower case
	KeyID     string    // the key that signed, lower case
	Day       time.Time // UTC midnight of the day it was signed
	Form      string    // FormPlain, FormEncoded or FormToken
}

// Encode returns the signed return path for mail to recipient, at the
// bounce domain domain, signed with the first key today. The recipient
// must be a valid address (package mailaddr); space around it and one pair
// of angle brackets are dropped, the rest is kept byte for byte. The
// domain is normalized: lower case, no trailing dot, A-labels.
func (s *Signer) Encode(ctx context.Context, recipient, domain string) (string, error) {
	return s.encode(ctx, recipient, domain, s.keys[0], unixDay(s.now()))
}

// encode is Encode with key k on day d (days since the epoch).
func (s *Signer) encode(ctx context.Context, recipient, domain string, k Key, d int64) (string, error) {
	rcpt := trimPath(recipient)
	if _, err := mailaddr.Parse(rcpt); err != nil {
		return "", fmt.Errorf("verp: recipient: %w", err)
	}
	dom, err := bounceDomain(domain)
	if err != nil {
		return "", err
	}
	dayStr := encodeDay(d)
	head := s.prefix + "+" + k.ID + "+" + dayStr // + tag + "+" + payload
	room := mailaddr.MaxLocalPart - len(head) - tagLen - 1

	var payload string
	form, ok := plainPayload(rcpt)
	if !ok {
		form = "x" + b32.EncodeToString([]byte(rcpt))
	}
	if len(form) <= room {
		payload = form
	} else {
		if s.tokens == nil {
			return "", fail(ErrTooLong, "recipient %s would make a local part of %d octets, more than the %d of RFC 5321 section 4.5.3.1.1, and no token store is configured",
				mailaddr.Quote(rcpt, 64), len(head)+tagLen+1+len(form), mailaddr.MaxLocalPart)
		}
		token := tokenOf(rcpt)
		if err := s.tokens.PutVERPToken(ctx, token, rcpt); err != nil {
			return "", fmt.Errorf("verp: keeping the token of recipient %s: %w", mailaddr.Quote(rcpt, 64), err)
		}
		payload = "t" + token
	}
	local := head + tag(k, dayStr, payload) + "+" + payload
	rp := local + "@" + dom
	if len(rp) > mailaddr.MaxAddress {
		return "", fmt.Errorf("verp: return path of %d octets at %q, more than the %d of RFC 5321 section 4.5.3.1.3", len(rp), dom, mailaddr.MaxAddress)
	}
	return rp, nil
}

// Decode parses the signed return path returnPath (space around it and
// one pair of angle brackets are allowed) and verifies it: its form, its
// key, its tag, its age, in that order, and then looks up a token. The
// domain must be a domain name, and is returned normalized as Encode
// makes it; the tag does not cover it: the caller checks that it is one of
// its bounce domains.
func (s *Signer) Decode(ctx context.Context, returnPath string) (Result, error) {
	rp := trimPath(returnPath)
	at := strings.LastIndexByte(rp, '@')
	if at < 0 {
		return Result{}, fail(ErrFormat, "return path %s has no @", mailaddr.Quote(rp, 64))
	}
	local := rp[:at]
	if strings.TrimSpace(rp[at+1:]) == "" {
		return Result{}, fail(ErrFormat, "return path %s has no domain", mailaddr.Quote(rp, 64))
	}
	dom, err := bounceDomain(rp[at+1:])
	if err != nil {
		return Result{}, &wrapped{msg: err.Error(), err: ErrFormat}
	}
	if len(local) > mailaddr.MaxLocalPart {
		return Result{}, fail(ErrFormat, "local part is %d octets, more than the %d of RFC 5321 section 4.5.3.1.1", len(local), mailaddr.MaxLocalPart)
	}
	if !s.Claims(local) {
		return Result{}, fail(ErrFormat, "local part %s does not start with %q", mailaddr.Quote(local, 64), s.prefix+"+")
	}
	parts := strings.SplitN(lowerASCII(local[len(s.prefix)+1:]), "+", 3)
	if len(parts) != 3 {
		return Result{}, fail(ErrFormat, "local part %s: want %s+keyid+daytag+payload", mailaddr.Quote(local, 64), s.prefix)
	}
	id, dayTag, lpayload := parts[0], parts[1], parts[2]
	if !isID(id) {
		return Result{}, fail(ErrFormat, "key id %s: want 1 to %d letters a-z or digits", mailaddr.Quote(id, 32), maxID)
	}
	if len(dayTag) != dayLen+tagLen || !isBase32(dayTag) {
		return Result{}, fail(ErrFormat, "day and tag %s: want %d characters a-z, 2-7", mailaddr.Quote(dayTag, 32), dayLen+tagLen)
	}
	// The payload as it came, for messages.
	payload := local[len(local)-len(lpayload):]

	res := Result{Domain: dom, KeyID: id}
	var raw []byte // the recipient of the encoded form
	switch {
	case strings.IndexByte(lpayload, '=') >= 0:
		res.Form = FormPlain
		eq := strings.LastIndexByte(payload, '=')
		l, d := payload[:eq], payload[eq+1:]
		if !isDotAtom(l) || !isLDHDomain(d) {
			return Result{}, fail(ErrFormat, "plain payload %s: want local=domain", mailaddr.Quote(payload, 64))
		}
		res.Recipient = lowerASCII(l + "@" + d)
	case lpayload != "" && lpayload[0] == 'x':
		res.Form = FormEncoded
		raw, err = b32.DecodeString(lpayload[1:])
		// Only the canonical encoding: one recipient, one payload.
		if err != nil || len(raw) == 0 || b32.EncodeToString(raw) != lpayload[1:] {
			return Result{}, fail(ErrFormat, "encoded payload %s is not base32 of an address", mailaddr.Quote(payload, 64))
		}
	case lpayload != "" && lpayload[0] == 't':
		res.Form = FormToken
		if len(lpayload) != 1+tokenLen || !isBase32(lpayload[1:]) {
			return Result{}, fail(ErrFormat, "token payload %s: want t and %d characters a-z, 2-7", mailaddr.Quote(payload, 64), tokenLen)
		}
		if _, err := b32.DecodeString(lpayload[1:]); err != nil {
			return Result{}, fail(ErrFormat, "token payload %s is not base32", mailaddr.Quote(payload, 64))
		}
	default:
		return Result{}, fail(ErrFormat, "payload %s: want local=domain, x and base32, or t and a token", mailaddr.Quote(payload, 64))
	}

	secret := s.byID[id]
	if secret == nil {
		return Result{}, fail(ErrUnknownKey, "unknown key %q", id)
	}
	dayStr := dayTag[:dayLen]
	want := tag(Key{ID: id, Secret: secret}, dayStr, lpayload)
	if !hmac.Equal([]byte(want), []byte(dayTag[dayLen:])) {
		return Result{}, fail(ErrBadTag, "tag does not verify")
	}

	today := unixDay(s.now())
	stamp := decodeDay(dayStr)
	age := ((today-stamp)%dayPeriod + dayPeriod) % dayPeriod
	signed := today - age
	if age == dayPeriod-1 {
		// Signed "tomorrow": a clock ahead of ours.
		age, signed = 0, today+1
	}
	if time.Duration(age)*day > s.maxAge {
		return Result{}, fail(ErrExpired, "signed %s ago, maximum age is %s", days(age), formatAge(s.maxAge))
	}
	res.Day = time.Unix(signed*86400, 0).UTC()

	switch res.Form {
	case FormEncoded:
		res.Recipient = string(raw)
	case FormToken:
		token := lpayload[1:]
		if s.tokens == nil {
			return Result{}, fail(ErrUnknownToken, "token %q: no token store is configured", token)
		}
		addr, err := s.tokens.VERPToken(ctx, token)
		if err != nil {
			return Result{}, fmt.Errorf("verp: looking up token %q: %w", token, err)
		}
		if addr == "" {
			return Result{}, fail(ErrUnknownToken, "unknown token %q", token)
		}
		if tokenOf(addr) != token {
			// The key signed this token, so the store gave a wrong address.
			return Result{}, fmt.Errorf("verp: token %q: the token store gave an address of another token", token)
		}
		res.Recipient = addr
	}
	return res, nil
}

// tag is the tag of a return path: the first 50 bits of the HMAC-SHA256
// of keyid, day and the lower-case payload, as base32.
func tag(k Key, dayStr, payload string) string {
	m := hmac.New(sha256.New, k.Secret)
	m.Write([]byte(k.ID + "+" + dayStr + "+" + lowerASCII(payload)))
	sum := m.Sum(nil)
	return b32.EncodeToString(sum[:7])[:tagLen]
}

// tokenOf is the token of an address: the first 80 bits of its SHA-256.
func tokenOf(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return b32.EncodeToString(sum[:10])
}

// plainPayload returns the plain payload of rcpt and true when rcpt has an
// ASCII Dot-string local part and an ASCII domain name, in lower case: a
// plain payload may come back in any case, and is read in lower case.
func plainPayload(rcpt string) (string, bool) {
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 || !isDotAtom(rcpt[:at]) || !isLDHDomain(rcpt[at+1:]) || lowerASCII(rcpt) != rcpt {
		return "", false
	}
	return rcpt[:at] + "=" + rcpt[at+1:], true
}

// isDotAtom reports whether s is an ASCII Dot-string of RFC 5321 section
// 4.1.2: atext in dot-separated non-empty atoms.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && !isAtext(c) {
			return false
		}
	}
	return true
}

// isAtext reports whether c is ASCII atext (RFC 5322 section 3.2.3).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c < 0x80 && strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// isLDHDomain reports whether s is ASCII letters, digits and hyphens in
// dot-separated non-empty labels.
func isLDHDomain(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isBase32 reports whether s is characters of lower-case base32.
func isBase32(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// trimPath drops space around s and one pair of angle brackets.
func trimPath(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// bounceDomain normalizes and checks the bounce domain for Encode.
func bounceDomain(domain string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("verp: bounce domain %s: %s", mailaddr.Quote(domain, 64), strings.TrimPrefix(err.Error(), "idna: "))
	}
	n, err := mailaddr.NormalizeDomain(a)
	if err != nil {
		return "", fmt.Errorf("verp: bounce domain: %w", err)
	}
	return n, nil
}

// unixDay is the day of t, in days since 1970-01-01 UTC.
func unixDay(t time.Time) int64 {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return d
}

// encodeDay is the day stamp of day d: d modulo 1024 in two base32
// characters.
func encodeDay(d int64) string {
	v := ((d % dayPeriod) + dayPeriod) % dayPeriod
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	return string([]byte{alphabet[v>>5], alphabet[v&31]})
}

// decodeDay reads a day stamp, lower-case base32 checked by the caller.
func decodeDay(s string) int64 {
	val := func(c byte) int64 {
		if c >= 'a' {
			return int64(c - 'a')
		}
		return int64(c-'2') + 26
	}
	return val(s[0])<<5 | val(s[1])
}

func days(n int64) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.FormatInt(n, 10) + " days"
}

// formatAge writes a maximum age in days when it is whole days.
func formatAge(d time.Duration) string {
	if d%day == 0 {
		return days(int64(d / day))
	}
	return d.String()
}

// lowerASCII lower-cases the ASCII letters of s and keeps every other
// byte, so that lengths and offsets stay as they were.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
