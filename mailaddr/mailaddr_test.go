package mailaddr

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"user@example.com", "user@example.com"},
		// The domain is lower-cased, the local part keeps its case
		// (RFC 5321 section 2.4).
		{"User.Name@Example.COM", "User.Name@example.com"},
		{"  <user@example.com>\t", "user@example.com"},
		{"first.last+tag@sub.example.org", "first.last+tag@sub.example.org"},
		{"!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com"},
		{"=cmd@example.com", "=cmd@example.com"},
		{"user@localhost", "user@localhost"},
		{"user@1.example", "user@1.example"},
		{"user@ab--c.example", "user@ab--c.example"},
		// Quotes only where the local part needs them.
		{`"user"@example.com`, "user@example.com"},
		{`"u\s\e\r"@example.com`, "user@example.com"},
		{`"john doe"@example.com`, `"john doe"@example.com`},
		// Dots out of place, as in Japanese mobile carriers' addresses,
		// are read as they are, quoted or not.
		{"neko..nyaan.@example.jp", "neko..nyaan.@example.jp"},
		{`"neko..nyaan."@example.jp`, "neko..nyaan.@example.jp"},
		{".a@example.com", ".a@example.com"},
		{`"..."@example.com`, `"..."@example.com`},
		{`"a b."@example.com`, `"a b."@example.com`},
		{`"a\"b\\c"@example.com`, `"a\"b\\c"@example.com`},
		{`"a@b"@example.com`, `"a@b"@example.com`},
		{`"a;b,c"@example.com`, `"a;b,c"@example.com`},
		// RFC 6531: UTF-8 local parts, in NFC.
		{"用户@example.com", "用户@example.com"},
		{"jos\u0065\u0301@example.com", "jos\u00e9@example.com"},
		{"Ünïcødé@example.com", "Ünïcødé@example.com"},
		{`"ü ö"@example.com`, `"ü ö"@example.com`},
		{"\u0915\u094d\u200d\u0937@example.com", "\u0915\u094d\u200d\u0937@example.com"}, // a joiner inside a word
		// NFC turns the Greek question mark into ';', which must be quoted.
		{"a\u037eb@example.com", `"a;b"@example.com`},
		// Internationalized domains become A-labels, whatever their case
		// and form.
		{"user@bücher.example", "user@xn--bcher-kva.example"},
		{"user@BÜCHER.example", "user@xn--bcher-kva.example"},
		{"user@XN--BCHER-KVA.example", "user@xn--bcher-kva.example"},
		{"user@b\u0075\u0308cher.example", "user@xn--bcher-kva.example"},
		{"用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"},
		{"user@faß.de", "user@xn--fa-hia.de"}, // not the transitional "fass.de"
		{"user@ＥＸＡＭＰＬＥ.com", "user@example.com"},
		// Address literals, RFC 5321 section 4.1.3.
		{"user@[192.0.2.1]", "user@[192.0.2.1]"},
		{"user@[IPv6:2001:DB8:0:0::1]", "user@[IPv6:2001:db8::1]"},
		{"user@[ipv6:::ffff:192.0.2.1]", "user@[IPv6:::ffff:192.0.2.1]"},
	} {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeInvalid(t *testing.T) {
	for _, tt := range []struct{ in, reason string }{
		{"", "empty"},
		{"   ", "empty"},
		{"<>", "empty"},
		{"@", "empty local part"},
		{"user@", "empty domain"},
		{"@example.com", "empty local part"},
		{"user", "no @"},
		{"user.example.com", "no @"},
		{"a@b@example.com", "character '@' at byte 1 not allowed in an unquoted local part"},
		// Control characters, wherever they are, named first.
		{"a\r\nb@example.com", "control character U+000D at byte 1"},
		{"a\nb@example.com", "control character U+000A at byte 1"},
		{"a\x00b@example.com", "control character U+0000 at byte 1"},
		{"a\tb@example.com", "control character U+0009 at byte 1"},
		{"ab\x7f@example.com", "control character U+007F at byte 2"},
		{"a\u0085b@example.com", "control character U+0085 at byte 1"},
		{"a\u009bb@example.com", "control character U+009B at byte 1"},
		{`"a` + "\x00" + `b"@example.com`, "control character U+0000"},
		{"user@exa\rmple.com", "control character U+000D at byte 8"},
		{"a\u2028b@example.com", "line separator U+2028"},
		{"a\u00a0b@example.com", "non-ASCII space U+00A0"},
		{`"a` + "\u3000" + `b"@example.com`, "non-ASCII space U+3000"},
		{"admin\u202egro.example@example.com", "invisible formatting character U+202E"},
		{"\ufeffuser@example.com", "invisible formatting character U+FEFF"},
		{"a\u200bb@example.com", "invisible formatting character U+200B"},
		{"a\ufffdb@example.com", "replacement character U+FFFD"},
		{"a\ufdd0@example.com", "noncharacter U+FDD0"},
		{"a\xffb@example.com", "invalid UTF-8 at byte 1"},
		// Dot-strings.
		{"...@example.com", "only dots"},
		{".@example.com", "only dots"},
		{"john doe@example.com", "space at byte 4 (allowed only in a quoted local part)"},
		{"a(b)@example.com", "character '(' at byte 1"},
		{"a,b@example.com", "character ','"},
		{`a"b"@example.com`, "quote at byte 1 inside an unquoted local part"},
		// Quoted strings.
		{`""@example.com`, "empty quoted local part"},
		{`"abc@example.com`, "no closing quote"},
		{`"a"b@example.com`, "text after the closing quote"},
		{`"a".b@example.com`, "text after the closing quote"},
		{`"a\"@example.com`, "backslash before the closing quote"},
		{`"\ü"@example.com`, "backslash before a non-ASCII character"},
		// Domains.
		{"user@example.com.", "ends with a dot"},
		{"user@.example.com", "empty label"},
		{"user@example..com", "empty label"},
		{"user@exa_mple.com", "character '_' not allowed in a domain"},
		{"user@exa mple.com", "character ' ' not allowed in a domain"},
		{"user@-example.com", `label "-example" starts or ends with a hyphen`},
		{"user@example-.com", "starts or ends with a hyphen"},
		{"user@xn--zz.example", "not a valid internationalized domain name"},
		{"user@xn--a.example", "not a valid internationalized domain name"},
		{"user@a\u200db.example", "not a valid internationalized domain name"},
		{"user@exa!mple.com", "character '!' not allowed in a domain"},
		{"user@[192.0.2.1", "no closing bracket"},
		{"user@[192.0.2]", "address literal"},
		{"user@[IPv6:192.0.2.1]", "not an IPv6 address"},
		{"user@[IPv6:fe80::1%eth0]", "not an IPv6 address"},
		{"user@[2001:db8::1]", `or "IPv6:" and an IPv6 address`},
		{"user@[x-tag:foo]", "address literal"},
	} {
		got, err := Normalize(tt.in)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Reason, tt.reason) {
			t.Errorf("Normalize(%q) = %q, %v; want an error saying %q", tt.in, got, err, tt.reason)
			continue
		}
		if e.Input != tt.in {
			t.Errorf("Normalize(%q): error input %q, want the text given", tt.in, e.Input)
		}
		if got != "" {
			t.Errorf("Normalize(%q) = %q with an error, want \"\"", tt.in, got)
		}
	}
}

func TestLengths(t *testing.T) {
	label := func(n int) string { return strings.Repeat("d", n) }
	// A domain of 4 labels of 63 octets and dots: 255 octets.
	domain255 := label(63) + "." + label(63) + "." + label(63) + "." + label(63)
	for _, tt := range []struct {
		name, in string
		reason   string // "" when valid
	}{
		{"local part of 64", strings.Repeat("a", 64) + "@example.com", ""},
		{"local part of 65", strings.Repeat("a", 65) + "@example.com", "local part is 65 octets, more than the 64"},
		{"local part of 5000", strings.Repeat("x", 5000) + "@example.com", "local part is 5000 octets"},
		{"quoted local part of 64 with its quotes", `"` + strings.Repeat("a", 61) + ` "@example.com`, ""},
		{"quoted local part of 65 with its quotes", `"` + strings.Repeat("a", 62) + ` "@example.com`, "local part is 65 octets"},
		// Quotes that need not be there do not count.
		{"needless quotes", `"` + strings.Repeat("a", 64) + `"@example.com`, ""},
		// Octets, not characters: 22 × 3 = 66.
		{"UTF-8 local part of 66 octets", strings.Repeat("用", 22) + "@example.com", "local part is 66 octets"},
		{"label of 63", "u@" + label(63) + ".example", ""},
		{"label of 64", "u@" + label(64) + ".example", "domain label of 64 octets"},
		{"domain of 255 in an address of 257", "u@" + domain255, "address is 257 octets, more than the 254"},
		{"domain of 256", "u@" + domain255 + "d", "domain label of 64 octets"},
		{"domain of 257", "u@d." + domain255, "domain is 257 octets"},
		{"address of 254", strings.Repeat("a", 64) + "@" + label(63) + "." + label(63) + "." + label(61), ""},
		{"address of 255", strings.Repeat("a", 64) + "@" + label(63) + "." + label(63) + "." + label(62), "address is 255 octets"},
		// The limit holds for the A-label form.
		{"IDN label over 63 as an A-label", "u@" + strings.Repeat("ü", 60) + ".example", "domain label of"},
		{"huge domain", "u@" + strings.Repeat("d.", 100000) + "com", "domain is 200003 octets"},
	} {
		_, err := Normalize(tt.in)
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("%s: %v, want valid", tt.name, err)
		case tt.reason != "" && (err == nil || !strings.Contains(err.Error(), tt.reason)):
			t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.reason)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Normalize("a\r\nb@example.com")
	if got, want := err.Error(), `invalid address "a\r\nb@example.com": control character U+000D at byte 1`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	// A long input is cut in the message, never repeated whole.
	_, err = Normalize(strings.Repeat("x", 5000) + "@example.com")
	if msg := err.Error(); len(msg) > 200 || !strings.Contains(msg, "… (5012 bytes)") {
		t.Errorf("error for a 5012-byte input: %q", msg)
	}
}

func TestNormalizeDomain(t *testing.T) {
	for _, tt := range []struct{ in, want, reason string }{
		{"Example.COM", "example.com", ""},
		{" bücher.example ", "xn--bcher-kva.example", ""},
		{"[IPv6:2001:DB8::1]", "[IPv6:2001:db8::1]", ""},
		{"", "", `invalid domain "": empty`},
		{"exa_mple.com", "", "character '_'"},
		{"example.com\n", "example.com", ""}, // surrounding space, trimmed
		{"exa\nmple.com", "", "control character U+000A"},
	} {
		got, err := NormalizeDomain(tt.in)
		if tt.reason == "" && (err != nil || got != tt.want) ||
			tt.reason != "" && (err == nil || !strings.Contains(err.Error(), tt.reason)) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q or an error saying %q", tt.in, got, err, tt.want, tt.reason)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"a\r\nb\x00", 10, `"a\r\nb\x00"`},
		{"admin\u202e", 10, `"admin\u202e"`},
		{"ünï", 10, `"ünï"`},
		{"abcdef", 3, `"abc"… (6 bytes)`},
		{"aüb", 2, `"a"… (4 bytes)`}, // not inside the ü
	} {
		if got := Quote(tt.in, tt.max); got != tt.want {
			t.Errorf("Quote(%q, %d) = %s, want %s", tt.in, tt.max, got, tt.want)
		}
	}
}

// FuzzNormalize checks that whatever Normalize accepts comes out in a
// form that is its own normal form, within the limits, and free of what
// no address may hold.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"user@example.com", `"john doe"@example.com`, `"a\"b"@x`, "a\r\nb@example.com",
		"用户@例子.广告", "user@bücher.example", "user@[IPv6:2001:db8::1]", "a\u037eb@x.org",
		"x@xn--bcher-kva.example", "@", "<a@b>", "=cmd@example.com", "e\u0301@x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			if n != "" {
				t.Fatalf("Normalize(%q) = %q and error %v", s, n, err)
			}
			return
		}
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q: not UTF-8", s, n)
		}
		for _, r := range n {
			if unicode.IsControl(r) || forbidden(r) != "" {
				t.Fatalf("Normalize(%q) = %q holds %U", s, n, r)
			}
		}
		if len(n) > MaxAddress {
			t.Fatalf("Normalize(%q) = %q: %d octets", s, n, len(n))
		}
		again, err := Normalize(n)
		if err != nil || again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", s, n, n, again, err)
		}
		a, err := Parse(n)
		if err != nil || a.String() != n {
			t.Fatalf("Parse(%q) = %+v, %v", n, a, err)
		}
		if len(localString(a.Local)) > MaxLocalPart || len(a.Domain) > MaxDomain {
			t.Fatalf("Parse(%q) = %+v: over the limits", n, a)
		}
	})
}

// What the fast path takes is what the full parse would give.
func TestPlainAgreesWithParse(t *testing.T) {
	for _, s := range []string{
		"a@example.com", "first.last@example.co.uk", "a+tag@mx-1.example.org",
		"x@xn--bcher-kva.example", "Mixed@example.com", "a@Example.com",
		".a@example.com", "a..b@example.com", "a.@example.com", "a@-x.example",
		"a@x-.example", "a@example.", "a@.example", "a b@example.com",
		"\"q\"@example.com", "a@[192.0.2.1]", "ü@example.com", "a@b@example.com",
		strings.Repeat("l", 65) + "@example.com", "a@" + strings.Repeat("d", 64) + ".example",
	} {
		if !plain(s) {
			continue
		}
		a, err := Parse(s)
		if err != nil || a.String() != s {
			t.Errorf("plain(%q) but Parse gives %q, %v", s, a.String(), err)
		}
	}
	for _, s := range []string{"a@xn--bcher-kva.example", "Mixed@Example.com", "a..b@example.com"} {
		if plain(s) {
			t.Errorf("plain(%q) = true", s)
		}
	}
}

func FuzzPlain(f *testing.F) {
	f.Add("a@example.com")
	f.Add("a.b-c@x1.example")
	f.Fuzz(func(t *testing.T, s string) {
		if !plain(s) {
			return
		}
		if got, err := Normalize(s); err != nil || got != s {
			t.Fatalf("plain(%q) but Normalize gives %q, %v", s, got, err)
		}
		a, err := Parse(s)
		if err != nil || a.String() != s {
			t.Fatalf("plain(%q) but Parse gives %q, %v", s, a.String(), err)
		}
	})
}
