package verp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/mailaddr"
)

// memTokens is a TokenStore in memory.
type memTokens struct {
	mu   sync.Mutex
	m    map[string]string
	puts int
}

func newMemTokens() *memTokens { return &memTokens{m: map[string]string{}} }

func (t *memTokens) PutVERPToken(ctx context.Context, token, address string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.m[token]; ok && old != address {
		return fmt.Errorf("token %q already stands for another address", token)
	}
	t.m[token] = address
	t.puts++
	return nil
}

func (t *memTokens) VERPToken(ctx context.Context, token string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[token], nil
}

// brokenTokens fails every call, as a store that is down.
type brokenTokens struct{}

var errDown = errors.New("store is down")

func (brokenTokens) PutVERPToken(context.Context, string, string) error { return errDown }
func (brokenTokens) VERPToken(context.Context, string) (string, error)  { return "", errDown }

// lyingTokens returns an address for every token.
type lyingTokens struct{}

func (lyingTokens) PutVERPToken(context.Context, string, string) error { return nil }
func (lyingTokens) VERPToken(context.Context, string) (string, error) {
	return "someone@example.com", nil
}

var (
	ctx     = context.Background()
	keyOld  = Key{ID: "k1", Secret: []byte("old-secret-0123456789")}
	keyNew  = Key{ID: "k2", Secret: []byte("new-secret-9876543210")}
	testDay = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func signer(t testing.TB, keys []Key, opts Options) *Signer {
	t.Helper()
	if opts.Now == nil {
		opts.Now = at(testDay)
	}
	s, err := New(keys, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestEncodeDecode(t *testing.T) {
	long := strings.Repeat("a", 40) + "@example.com"
	longUTF8 := strings.Repeat("ü", 20) + "@example.com"
	tests := []struct {
		rcpt, domain string
		want         string // the return path, "" to check only the form
		form         string
		recipient    string // what Decode gives, when not rcpt
		rpDomain     string // the domain of the return path, when not domain
	}{
		{rcpt: "jane.doe@example.com", domain: "bounces.example.net", want: "b+k1+boki4p5b2jgf+jane.doe=example.com@bounces.example.net", form: FormPlain},
		{rcpt: "Jane.Doe@Example.COM", domain: "bounces.example.net", form: FormEncoded},
		{rcpt: "a+b=c@example.com", domain: "bounces.example.net", form: FormPlain},
		{rcpt: "x=y@example.com", domain: "bounces.example.net", form: FormPlain},
		{rcpt: "!#$%&'*+-/=?^_`{|}~@example.com", domain: "bounces.example.net", form: FormPlain},
		{rcpt: "jane@xn--bcher-kva.example", domain: "bounces.example.net", form: FormPlain},
		{rcpt: " <jane@example.com> ", domain: "bounces.example.net", form: FormPlain, recipient: "jane@example.com"},
		{rcpt: "jane@example.com", domain: "Bounces.Example.NET.", form: FormPlain, rpDomain: "bounces.example.net"},
		{rcpt: "jane@example.com", domain: "bounces.bücher.example", form: FormPlain, rpDomain: "bounces.xn--bcher-kva.example"},
		{rcpt: `"john smith"@example.com`, domain: "bounces.example.net", want: "b+k1+bopjradnqemq+xejvg62doebzw22lunareazlymfwxa3dffzrw63i@bounces.example.net", form: FormEncoded},
		{rcpt: `"a\"b"@example.com`, domain: "bounces.example.net", form: FormEncoded},
		{rcpt: "jürgen@example.com", domain: "bounces.example.net", form: FormEncoded},
		{rcpt: "jane@bücher.example", domain: "bounces.example.net", form: FormEncoded},
		{rcpt: "a..b@example.com", domain: "bounces.example.net", form: FormEncoded},
		{rcpt: "jane@[192.0.2.1]", domain: "bounces.example.net", form: FormEncoded},
		{rcpt: long, domain: "bounces.example.net", form: FormToken},
		{rcpt: longUTF8, domain: "bounces.example.net", form: FormToken},
	}
	tokens := newMemTokens()
	s := signer(t, []Key{keyOld}, Options{Tokens: tokens})
	for _, tc := range tests {
		t.Run(tc.rcpt, func(t *testing.T) {
			rp, err := s.Encode(ctx, tc.rcpt, tc.domain)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if tc.want != "" && rp != tc.want {
				t.Errorf("Encode = %q, want %q", rp, tc.want)
			}
			res, err := s.Decode(ctx, rp)
			if err != nil {
				t.Fatalf("Decode(%q): %v", rp, err)
			}
			wantRcpt := tc.recipient
			if wantRcpt == "" {
				wantRcpt = tc.rcpt
			}
			wantDomain := tc.rpDomain
			if wantDomain == "" {
				wantDomain = tc.domain
			}
			want := Result{Recipient: wantRcpt, Domain: wantDomain, KeyID: "k1", Day: time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), Form: tc.form}
			if res != want {
				t.Errorf("Decode(%q) = %+v, want %+v", rp, res, want)
			}
			checkReturnPath(t, rp)
		})
	}
	if tokens.puts != 2 {
		t.Errorf("%d tokens put, want 2", tokens.puts)
	}
	// Putting a token again is no error, and keeps one entry.
	if _, err := s.Encode(ctx, long, "bounces.example.net"); err != nil {
		t.Fatal(err)
	}
	if len(tokens.m) != 2 {
		t.Errorf("%d tokens kept, want 2", len(tokens.m))
	}
	// Angle brackets and space around a return path are allowed.
	rp, _ := s.Encode(ctx, "jane@example.com", "bounces.example.net")
	if res, err := s.Decode(ctx, "  <"+rp+">\t"); err != nil || res.Recipient != "jane@example.com" {
		t.Errorf("Decode in brackets = %+v, %v", res, err)
	}
}

// TestTag computes the tag of a return path from its definition.
func TestTag(t *testing.T) {
	const rp = "b+k1+boki4p5b2jgf+jane.doe=example.com@bounces.example.net"
	// 2026-03-14 is day 20526 since the epoch, 46 modulo 1024: "b" (1) "o" (14).
	if d := unixDay(testDay); d != 20526 || encodeDay(d) != "bo" || decodeDay("bo") != 46 {
		t.Fatalf("day %d, stamp %q", d, encodeDay(d))
	}
	m := hmac.New(sha256.New, keyOld.Secret)
	m.Write([]byte("k1+bo+jane.doe=example.com"))
	want := strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil)))[:10]
	if got := rp[7:17]; got != want {
		t.Errorf("tag %q, want %q", got, want)
	}
	s := signer(t, []Key{keyOld}, Options{})
	if got, err := s.Encode(ctx, "jane.doe@example.com", "bounces.example.net"); err != nil || got != rp {
		t.Errorf("Encode = %q, %v; want %q", got, err, rp)
	}
	sum := sha256.Sum256([]byte("jane.doe@example.com"))
	if got, want := tokenOf("jane.doe@example.com"), strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10])); got != want {
		t.Errorf("token %q, want %q", got, want)
	}
}

// checkReturnPath fails unless rp's local part is a Dot-string of at most
// 64 octets, which mailaddr keeps as it is.
func checkReturnPath(t *testing.T, rp string) {
	t.Helper()
	at := strings.LastIndexByte(rp, '@')
	local := rp[:at]
	if len(local) > mailaddr.MaxLocalPart {
		t.Errorf("local part of %q is %d octets", rp, len(local))
	}
	if !isDotAtom(local) {
		t.Errorf("local part of %q is not a dot-atom", rp)
	}
	if n, err := mailaddr.Normalize(rp); err != nil || n != rp {
		t.Errorf("mailaddr.Normalize(%q) = %q, %v; want it unchanged", rp, n, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	long := strings.Repeat("a", 40) + "@example.com"
	tests := []struct {
		name, rcpt, domain string
		tokens             TokenStore
		is                 error
		msg                string
	}{
		{"no at", "jane", "bounces.example.net", nil, nil, `verp: recipient: invalid address "jane": no @ (want local-part@domain)`},
		{"space", "ja ne@example.com", "bounces.example.net", nil, nil, "space at byte 2"},
		{"empty", "", "bounces.example.net", nil, nil, "verp: recipient: invalid address \"\": empty"},
		{"bad domain", "jane@example.com", "bounces_example.net", nil, nil, "verp: bounce domain"},
		{"empty domain", "jane@example.com", "", nil, nil, "verp: bounce domain"},
		{"too long", long, "bounces.example.net", nil, ErrTooLong,
			`verp: recipient "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com" would make a local part of 70 octets, more than the 64 of RFC 5321 section 4.5.3.1.1, and no token store is configured`},
		{"store down", long, "bounces.example.net", brokenTokens{}, errDown, "verp: keeping the token of recipient"},
		{"address too long", "jane@example.com", strings.Repeat("abcdefghi.", 22) + "example", nil, nil, "more than the 254 of RFC 5321 section 4.5.3.1.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := signer(t, []Key{keyOld}, Options{Tokens: tc.tokens})
			rp, err := s.Encode(ctx, tc.rcpt, tc.domain)
			if err == nil {
				t.Fatalf("Encode = %q, want error", rp)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want it to say %q", err, tc.msg)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tokens := newMemTokens()
	s := signer(t, []Key{keyOld}, Options{Tokens: tokens})
	enc := func(rcpt string) string {
		rp, err := s.Encode(ctx, rcpt, "bounces.example.net")
		if err != nil {
			t.Fatal(err)
		}
		return rp
	}
	plain := enc("jane@example.com")
	encoded := enc(`"john smith"@example.com`)
	token := enc(strings.Repeat("a", 40) + "@example.com")
	// A genuine token whose store entry is gone.
	orphan := enc(strings.Repeat("b", 40) + "@example.com")
	delete(tokens.m, tokenOf(strings.Repeat("b", 40)+"@example.com"))
	other := signer(t, []Key{{ID: "k9", Secret: []byte("some-other-secret-000")}}, Options{})
	unknown, _ := other.Encode(ctx, "jane@example.com", "bounces.example.net")
	forged, _ := signer(t, []Key{{ID: "k1", Secret: []byte("guessed-secret-00000")}}, Options{}).Encode(ctx, "jane@example.com", "bounces.example.net")
	old, _ := signer(t, []Key{keyOld}, Options{Now: at(testDay.Add(-41 * day))}).Encode(ctx, "jane@example.com", "bounces.example.net")
	flip := func(rp string, i int) string { // changes the character at i
		b := []byte(rp)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	changed := strings.Replace(plain, "jane=", "john=", 1)

	tests := []struct {
		name, rp string
		is       error
		msg      string // exact when it starts with "verp:", else contained
	}{
		{"no at", "b+k1+aaaaaaaaaaaa+x", ErrFormat, `verp: return path "b+k1+aaaaaaaaaaaa+x" has no @`},
		{"no domain", "b+k1+aaaaaaaaaaaa+a=b.c@", ErrFormat, "has no domain"},
		{"bad domain", "b+k1+aaaaaaaaaaaa+a=b.c@bounces_example.net", ErrFormat, `verp: bounce domain "bounces_example.net": disallowed rune U+005F`},
		{"not ours", "jane@bounces.example.net", ErrFormat, `verp: local part "jane" does not start with "b+"`},
		{"prefix only", "b+@bounces.example.net", ErrFormat, "want b+keyid+daytag+payload"},
		{"no payload part", "b+k1+aaaaaaaaaaaa@bounces.example.net", ErrFormat, "want b+keyid+daytag+payload"},
		{"long key id", "b+k123456789+aaaaaaaaaaaa+a=b.c@x.example", ErrFormat, "key id"},
		{"empty key id", "b++aaaaaaaaaaaa+a=b.c@x.example", ErrFormat, "key id"},
		{"short tag", "b+k1+aaaaaaaaaaa+a=b.c@x.example", ErrFormat, "day and tag"},
		{"tag not base32", "b+k1+aaaaaaaaaaa1+a=b.c@x.example", ErrFormat, "day and tag"},
		{"empty payload", "b+k1+aaaaaaaaaaaa+@x.example", ErrFormat, "payload"},
		{"unknown form", "b+k1+aaaaaaaaaaaa+zzz@x.example", ErrFormat, "want local=domain, x and base32, or t and a token"},
		{"plain no local", "b+k1+aaaaaaaaaaaa+=b.c@x.example", ErrFormat, "plain payload"},
		{"plain bad domain", "b+k1+aaaaaaaaaaaa+a=b..c@x.example", ErrFormat, "plain payload"},
		{"encoded not base32", "b+k1+aaaaaaaaaaaa+x0@x.example", ErrFormat, "encoded payload"},
		{"encoded bad length", "b+k1+aaaaaaaaaaaa+xaaa@x.example", ErrFormat, "encoded payload"},
		{"encoded empty", "b+k1+aaaaaaaaaaaa+x@x.example", ErrFormat, "encoded payload"},
		{"encoded not canonical", "b+k1+aaaaaaaaaaaa+xab@x.example", ErrFormat, "encoded payload"},
		{"token short", "b+k1+aaaaaaaaaaaa+taaaa@x.example", ErrFormat, "token payload"},
		{"local too long", "b+k1+aaaaaaaaaaaa+" + strings.Repeat("a", 50) + "=b.c@x.example", ErrFormat, "local part is 72 octets, more than the 64"},
		{"unknown key", unknown, ErrUnknownKey, `verp: unknown key "k9"`},
		{"forged", forged, ErrBadTag, "verp: tag does not verify"},
		{"changed recipient", changed, ErrBadTag, "verp: tag does not verify"},
		{"changed tag", flip(plain, 8), ErrBadTag, "verp: tag does not verify"},
		{"changed day", flip(plain, 5), ErrBadTag, "verp: tag does not verify"},
		{"changed encoded", flip(encoded, len("b+k1+aaaaaaaaaaaa+x")+3), ErrBadTag, "verp: tag does not verify"},
		{"changed token", flip(token, len("b+k1+aaaaaaaaaaaa+t")+3), ErrBadTag, "verp: tag does not verify"},
		{"expired", old, ErrExpired, "verp: signed 41 days ago, maximum age is 30 days"},
		{"unknown token", orphan, ErrUnknownToken, `verp: unknown token "`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Decode(ctx, tc.rp)
			if err == nil {
				t.Fatalf("Decode(%q) = %+v, want error", tc.rp, res)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("Decode(%q): error %v is not %v", tc.rp, err, tc.is)
			}
			if strings.HasPrefix(tc.msg, "verp:") && !strings.HasSuffix(tc.msg, `"`) {
				if err.Error() != tc.msg {
					t.Errorf("error %q, want %q", err, tc.msg)
				}
			} else if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want it to say %q", err, tc.msg)
			}
		})
	}

	// A failed lookup is no ErrUnknownToken: the caller answers 451.
	down := signer(t, []Key{keyOld}, Options{Tokens: brokenTokens{}})
	_, err := down.Decode(ctx, token)
	if err == nil || !errors.Is(err, errDown) || errors.Is(err, ErrUnknownToken) || errors.Is(err, ErrFormat) {
		t.Errorf("Decode with the store down: %v, want the store's error only", err)
	}
	// No store: the token is unknown.
	none := signer(t, []Key{keyOld}, Options{})
	if _, err := none.Decode(ctx, token); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("Decode without a store: %v, want ErrUnknownToken", err)
	}
	// A store that gives the address of another token is not believed.
	lying := signer(t, []Key{keyOld}, Options{Tokens: lyingTokens{}})
	if res, err := lying.Decode(ctx, token); err == nil || errors.Is(err, ErrUnknownToken) {
		t.Errorf("Decode with a lying store = %+v, %v; want a lookup error", res, err)
	}
}

func TestClaims(t *testing.T) {
	s := signer(t, []Key{keyOld}, Options{})
	p := signer(t, []Key{keyOld}, Options{Prefix: "Rb7"})
	tests := []struct {
		s     *Signer
		local string
		want  bool
	}{
		{s, "b+k1+aaaaaaaaaaaa+a=b.c", true},
		{s, "B+anything", true},
		{s, "b+", true},
		{s, "b", false},
		{s, "bb+k1", false},
		{s, "jane", false},
		{s, "", false},
		{p, "rb7+k1", true},
		{p, "RB7+k1", true},
		{p, "b+k1", false},
	}
	for _, tc := range tests {
		if got := tc.s.Claims(tc.local); got != tc.want {
			t.Errorf("Claims(%q) with prefix %q = %v, want %v", tc.local, tc.s.prefix, got, tc.want)
		}
	}
	rp, err := p.Encode(ctx, "jane@example.com", "bounces.example.net")
	if err != nil || !strings.HasPrefix(rp, "rb7+k1+") {
		t.Fatalf("Encode with prefix Rb7 = %q, %v", rp, err)
	}
	if _, err := p.Decode(ctx, rp); err != nil {
		t.Error(err)
	}
	if _, err := s.Decode(ctx, rp); !errors.Is(err, ErrFormat) {
		t.Errorf("Decode with another prefix: %v, want ErrFormat", err)
	}
}

func TestParseKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []Key
		err  string
	}{
		{in: "k1:0123456789abcdef", want: []Key{{"k1", []byte("0123456789abcdef")}}},
		{in: " K1:0123456789abcdef , k2:a:b:c:d:e:f:g:h:i ", want: []Key{{"k1", []byte("0123456789abcdef")}, {"k2", []byte("a:b:c:d:e:f:g:h:i")}}},
		{in: "", err: "verp: no keys (want id:secret, comma-separated)"},
		{in: "k1:0123456789abcdef,", err: "verp: key 2: empty entry (want id:secret)"},
		{in: "k1", err: `verp: key 1: no ":" (want id:secret)`},
		{in: ":0123456789abcdef", err: "verp: key 1: empty id"},
		{in: "k1:", err: `verp: key 1: id "k1": empty secret`},
		{in: "k1:short", err: `verp: key 1: id "k1": secret is 5 bytes, at least 16 needed`},
		{in: "k-1:0123456789abcdef", err: `verp: key 1: id "k-1": want 1 to 8 letters a-z or digits`},
		{in: "\u212a1:0123456789abcdef", err: "verp: key 1: id \"\u212a1\": want 1 to 8 letters a-z or digits"}, // Kelvin sign, not K
		{in: "abcdefghi:0123456789abcdef", err: `verp: key 1: id "abcdefghi": want 1 to 8 letters a-z or digits`},
		{in: "k1:0123456789abcdef,K1:fedcba9876543210", err: `verp: key 2: id "k1" used twice`},
	}
	for _, tc := range tests {
		keys, err := ParseKeys(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseKeys(%q) error %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("ParseKeys(%q) error shows a secret: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseKeys(%q): %v", tc.in, err)
			continue
		}
		if fmt.Sprint(keys) != fmt.Sprint(tc.want) {
			t.Errorf("ParseKeys(%q) = %v, want %v", tc.in, keys, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		keys []Key
		opts Options
		err  string
	}{
		{nil, Options{}, "verp: no keys"},
		{[]Key{{ID: "k1", Secret: []byte("short")}}, Options{}, `verp: key 1: id "k1": secret is 5 bytes, at least 16 needed`},
		{[]Key{keyOld, {ID: "K1", Secret: []byte("0123456789abcdef")}}, Options{}, `verp: key 2: id "k1" used twice`},
		{[]Key{keyOld}, Options{Prefix: "b+"}, `verp: prefix "b+": want 1 to 8 letters a-z or digits`},
		{[]Key{keyOld}, Options{Prefix: "abcdefghi"}, `verp: prefix "abcdefghi": want 1 to 8 letters a-z or digits`},
		{[]Key{keyOld}, Options{MaxAge: 1000 * day}, "verp: maximum age 24000h0m0s: must be positive and under 1000 days"},
		{[]Key{keyOld}, Options{MaxAge: -day}, "verp: maximum age -24h0m0s: must be positive and under 1000 days"},
	}
	for _, tc := range tests {
		_, err := New(tc.keys, tc.opts)
		if err == nil || err.Error() != tc.err {
			t.Errorf("New(%v, %+v) error %v, want %q", tc.keys, tc.opts, err, tc.err)
		}
	}
	// Key IDs in upper case are lowered, and the secret is copied.
	secret := []byte("0123456789abcdef")
	s := signer(t, []Key{{ID: "K7", Secret: secret}}, Options{})
	copy(secret, "changed-secret!!")
	rp, err := s.Encode(ctx, "jane@example.com", "bounces.example.net")
	if err != nil || !strings.HasPrefix(rp, "b+k7+") {
		t.Fatalf("Encode = %q, %v", rp, err)
	}
	check := signer(t, []Key{{ID: "k7", Secret: []byte("0123456789abcdef")}}, Options{})
	if _, err := check.Decode(ctx, rp); err != nil {
		t.Errorf("the signer did not keep its own copy of the secret: %v", err)
	}
}

func TestCase(t *testing.T) {
	s := signer(t, []Key{keyOld}, Options{Tokens: newMemTokens()})
	tests := []struct{ rcpt, form string }{
		{"jane.doe@example.com", FormPlain},
		{"Jane.Doe@Example.com", FormEncoded},
		{`"John Smith"@Example.com`, FormEncoded},
		{"Jürgen@example.com", FormEncoded},
		{strings.Repeat("ab", 30) + "@example.com", FormToken},
		{strings.Repeat("Ab", 30) + "@example.com", FormToken},
	}
	for _, tc := range tests {
		rp, err := s.Encode(ctx, tc.rcpt, "bounces.example.net")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{rp, strings.ToUpper(rp)} {
			res, err := s.Decode(ctx, v)
			if err != nil {
				t.Errorf("Decode(%q): %v", v, err)
				continue
			}
			if res.Recipient != tc.rcpt || res.Form != tc.form || res.KeyID != "k1" || res.Domain != "bounces.example.net" {
				t.Errorf("Decode(%q) = %+v, want recipient %q in the %s form", v, res, tc.rcpt, tc.form)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	a := signer(t, []Key{keyOld}, Options{})
	b := signer(t, []Key{keyNew, keyOld}, Options{})
	c := signer(t, []Key{keyNew}, Options{})
	rpA, err := a.Encode(ctx, "jane@example.com", "bounces.example.net")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := b.Decode(ctx, rpA); err != nil || res.KeyID != "k1" {
		t.Errorf("B decoding A's return path: %+v, %v", res, err)
	}
	if _, err := c.Decode(ctx, rpA); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("C decoding A's return path: %v, want ErrUnknownKey", err)
	}
	rpB, err := b.Encode(ctx, "jane@example.com", "bounces.example.net")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rpB, "b+k2+") {
		t.Errorf("B signed %q, want key k2", rpB)
	}
	for _, s := range []*Signer{b, c} {
		if res, err := s.Decode(ctx, rpB); err != nil || res.KeyID != "k2" {
			t.Errorf("decoding B's return path: %+v, %v", res, err)
		}
	}
	if _, err := a.Decode(ctx, rpB); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("A decoding B's return path: %v, want ErrUnknownKey", err)
	}
}

func TestExpiry(t *testing.T) {
	epochDay := func(d int64) time.Time { return time.Unix(d*86400+3600*13, 0).UTC() }
	// Day 1023 is stamp 1023, day 1024 stamp 0: the wrap.
	tests := []struct {
		name       string
		signed     int64 // day signed
		verified   int64 // day verified
		maxAge     time.Duration
		err        error
		msg        string
		signedDay  int64
		wantResult bool
	}{
		{name: "same day", signed: 20526, verified: 20526},
		{name: "30 days", signed: 20526, verified: 20556},
		{name: "31 days", signed: 20526, verified: 20557, err: ErrExpired, msg: "verp: signed 31 days ago, maximum age is 30 days"},
		{name: "wrap 10 days", signed: 20475, verified: 20485}, // 20475 = 1023 mod 1024, 20485 = 5 mod 1024
		{name: "wrap same", signed: 20479, verified: 20480},    // stamps 1023 and 0
		{name: "wrap expired", signed: 20470, verified: 20510, err: ErrExpired, msg: "verp: signed 40 days ago, maximum age is 30 days"},
		{name: "skew", signed: 20527, verified: 20526},
		{name: "skew wrap", signed: 20480, verified: 20479}, // stamp 0 read on a day of stamp 1023
		{name: "two days ahead", signed: 20528, verified: 20526, err: ErrExpired, msg: "verp: signed 1022 days ago, maximum age is 30 days"},
		{name: "1024 days old", signed: 20526 - 1024, verified: 20526, signedDay: 20526}, // cannot be told from today
		{name: "max age 1 day", signed: 20526, verified: 20528, maxAge: day, err: ErrExpired, msg: "verp: signed 2 days ago, maximum age is 1 day"},
		{name: "max age 999 days", signed: 20526, verified: 20526 + 999, maxAge: 999 * day},
		{name: "max age 36h", signed: 20526, verified: 20528, maxAge: 36 * time.Hour, err: ErrExpired, msg: "verp: signed 2 days ago, maximum age is 36h0m0s"},
		{name: "before the epoch", signed: -3, verified: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := signer(t, []Key{keyOld}, Options{Now: at(epochDay(tc.signed))})
			dec := signer(t, []Key{keyOld}, Options{Now: at(epochDay(tc.verified)), MaxAge: tc.maxAge})
			rp, err := enc.Encode(ctx, "jane@example.com", "bounces.example.net")
			if err != nil {
				t.Fatal(err)
			}
			res, err := dec.Decode(ctx, rp)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || err.Error() != tc.msg {
					t.Errorf("Decode: %v, want %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tc.signed
			if tc.signedDay != 0 {
				want = tc.signedDay
			}
			if wantDay := time.Unix(want*86400, 0).UTC(); !res.Day.Equal(wantDay) || res.Day.Location() != time.UTC {
				t.Errorf("Day = %v, want %v", res.Day, wantDay)
			}
		})
	}
}

// randAddress returns a random address, most of them valid: dot-atoms,
// quoted local parts, UTF-8, IDN domains, short and long.
func randAddress(r *rand.Rand) string {
	pick := func(s string) byte { return s[r.Intn(len(s))] }
	const atext = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
	const qtext = " ()<>[]:;@,.\"\\abcXYZ019"
	words := []string{"ü", "é", "ß", "日本", "語", "θ", "д", "ñ", "ø", "ç"}
	labels := []string{"example", "bücher", "xn--bcher-kva", "mail", "a-b", "日本", "ελ", "москва", "x1", "CAPS"}
	atom := func(n int, utf8 bool) string {
		var b strings.Builder
		for b.Len() < n {
			if utf8 && r.Intn(3) == 0 {
				b.WriteString(words[r.Intn(len(words))])
			} else {
				b.WriteByte(pick(atext))
			}
		}
		return b.String()
	}
	size := 1 + r.Intn(12)
	if r.Intn(4) == 0 {
		size = 20 + r.Intn(40) // long enough for the token form
	}
	var local string
	switch r.Intn(4) {
	case 0, 1: // dot-atom, half of them in lower case
		local = atom(size, false)
		for range r.Intn(3) {
			local += "." + atom(1+r.Intn(6), false)
		}
		if r.Intn(2) == 0 {
			local = strings.ToLower(local)
		}
	case 2: // UTF-8 dot-atom
		local = atom(size, true)
	case 3: // quoted
		var b strings.Builder
		b.WriteByte('"')
		for range size {
			c := pick(qtext)
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
		local = b.String()
	}
	if r.Intn(2) == 0 {
		return local + "@" + []string{"example.com", "mail.example.net", "xn--bcher-kva.example", "a-b.example.org"}[r.Intn(4)]
	}
	var domain []string
	for range 1 + r.Intn(2) {
		domain = append(domain, labels[r.Intn(len(labels))])
	}
	domain = append(domain, []string{"com", "net", "example", "org"}[r.Intn(4)])
	return local + "@" + strings.Join(domain, ".")
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	tokens := newMemTokens()
	signers := []*Signer{
		signer(t, []Key{keyOld}, Options{Tokens: tokens}),
		signer(t, []Key{{ID: "longkey8", Secret: []byte("0123456789abcdef")}}, Options{Tokens: tokens, Prefix: "bounce12"}),
	}
	domains := []string{"bounces.example.net", "b.example", "Bounces.Bücher.Example."}
	forms := map[string]int{}
	n := 0
	for n < 3000 {
		rcpt := randAddress(r)
		if _, err := mailaddr.Parse(rcpt); err != nil {
			continue // too long, mostly
		}
		n++
		s := signers[r.Intn(len(signers))]
		rp, err := s.Encode(ctx, rcpt, domains[r.Intn(len(domains))])
		if err != nil {
			t.Fatalf("Encode(%q): %v", rcpt, err)
		}
		checkReturnPath(t, rp)
		res, err := s.Decode(ctx, rp)
		if err != nil {
			t.Fatalf("Decode(Encode(%q) = %q): %v", rcpt, rp, err)
		}
		if res.Recipient != rcpt {
			t.Fatalf("Decode(Encode(%q) = %q) gives %q", rcpt, rp, res.Recipient)
		}
		forms[res.Form]++
	}
	for _, f := range []string{FormPlain, FormEncoded, FormToken} {
		if forms[f] < 300 {
			t.Errorf("only %d of %d addresses in the %s form: %v", forms[f], n, f, forms)
		}
	}
}

func FuzzDecode(f *testing.F) {
	tokens := newMemTokens()
	s := signer(f, []Key{keyOld, keyNew}, Options{Tokens: tokens})
	for _, rcpt := range []string{"jane@example.com", `"a b"@example.com`, "jürgen@bücher.example", strings.Repeat("a", 50) + "@example.com"} {
		rp, err := s.Encode(ctx, rcpt, "bounces.example.net")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rp)
		f.Add(strings.ToUpper(rp))
	}
	for _, g := range []string{"", "@", "b+", "b+@", "b+k1+aaaaaaaaaaaa+x@x", "b+k1+aaaaaaaaaaaa+=@x", "<b+k1+zzzzzzzzzzzz+t>", "b+k1+\xff\xfe+a=b@c", "B+K2+AAAAAAAAAAAA+A=B.C@D"} {
		f.Add(g)
	}
	f.Fuzz(func(t *testing.T, rp string) {
		res, err := s.Decode(ctx, rp)
		if err != nil {
			return
		}
		// What verified is what this signer makes for that recipient,
		// key and day.
		var k Key
		for _, key := range s.keys {
			if key.ID == res.KeyID {
				k = key
			}
		}
		again, err := s.encode(ctx, res.Recipient, res.Domain, k, unixDay(res.Day))
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, but encoding it again: %v", rp, res, err)
		}
		res2, err := s.Decode(ctx, again)
		if err != nil || res2 != res {
			t.Fatalf("Decode(%q) = %+v; encoded again %q, which decodes to %+v, %v", rp, res, again, res2, err)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	s := signer(b, []Key{keyOld}, Options{})
	for b.Loop() {
		if _, err := s.Encode(ctx, "jane.doe@example.com", "bounces.example.net"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	s := signer(b, []Key{keyOld}, Options{})
	rp, err := s.Encode(ctx, "jane.doe@example.com", "bounces.example.net")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Decode(ctx, rp); err != nil {
			b.Fatal(err)
		}
	}
}
