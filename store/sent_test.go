package store

import (
	"strings"
	"testing"
)

func TestMessageID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<a@b.example>", "a@b.example"},
		{"a@b.example", "a@b.example"},
		{"  <a@b.example>\r\n", "a@b.example"},
		{"< a@b.example >", "a@b.example"},
		{"<A@B.example>", "A@B.example"}, // case is kept
		{"<a@b.example", "<a@b.example"}, // a bracket alone is part of the text
		{"a@b.example>", "a@b.example>"},
		{"<<a@b.example>>", "<a@b.example>"}, // one pair only
		{"<>", ""},
		{" ", ""},
		{"", ""},
	} {
		if got := MessageID(tc.in); got != tc.want {
			t.Errorf("MessageID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckVERPToken(t *testing.T) {
	for _, tc := range []struct {
		token, address string
		err            string // "" for none; else part of the error
	}{
		{"k1.abcDEF-123_x", "someone@example.org", ""},
		{strings.Repeat("t", MaxVERPToken), "someone@example.org", ""},
		{"tok", "Ünïcode@example.org", ""},
		{"", "someone@example.org", "empty"},
		{strings.Repeat("t", MaxVERPToken+1), "someone@example.org", "at most"},
		{"a b", "someone@example.org", "byte 2"},
		{"tök", "someone@example.org", "byte 2"},
		{"tok\x7f", "someone@example.org", "byte 4"},
		{"tok", "", "address is empty"},
		{"tok", "a\x00@example.org", "control"},
		{"tok", "a\n@example.org", "control"},
		{"tok", "a\xff@example.org", "UTF-8"},
	} {
		err := CheckVERPToken(tc.token, tc.address)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("CheckVERPToken(%q, %q): %v", tc.token, tc.address, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("CheckVERPToken(%q, %q): %v, want an error about %q", tc.token, tc.address, err, tc.err)
		}
		if ValidVERPToken(tc.token) != (checkVERPToken(tc.token) == nil) {
			t.Errorf("ValidVERPToken(%q) disagrees with the check", tc.token)
		}
	}
}
