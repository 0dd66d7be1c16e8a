package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      string // substring of the error; "" for none
	}{
		{"bounces.example.com", "bounces.example.com", ""},
		{"bounces.example.com.", "bounces.example.com", ""},
		{"BOUNCES.Example.COM.", "bounces.example.com", ""},
		{"bücher.de", "xn--bcher-kva.de", ""},
		{"BÜCHER.de.", "xn--bcher-kva.de", ""},
		{"xn--bcher-kva.de", "xn--bcher-kva.de", ""},
		{"3com.example", "3com.example", ""},
		{"localhost", "localhost", ""},
		{"", "", "empty"},
		{".", "", "empty"},
		{"a..b", "", ""},
		{"-a.example", "", "-a"},
		{"a_b.example", "", ""},
		{"xn--zz.example", "", "internationalized"},
		{"bad name.example", "", ""},
		{strings.Repeat("a", 64) + ".example", "", "63"},
		{"[192.0.2.1]", "", ""},
	} {
		got, err := NormalizeDomain(tc.in)
		if tc.want != "" {
			if err != nil || got != tc.want {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("NormalizeDomain(%q) = %q, want an error", tc.in, got)
		} else if !strings.Contains(err.Error(), tc.err) {
			t.Errorf("NormalizeDomain(%q): error %q, want it to say %q", tc.in, err, tc.err)
		}
	}
}

func TestParseIDNDomains(t *testing.T) {
	c, err := Parse([]byte(`domains = ["bücher.de", "bounces.example.com."]`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if want := []string{"xn--bcher-kva.de", "bounces.example.com"}; !reflect.DeepEqual(c.Domains, want) {
		t.Errorf("domains %q, want %q", c.Domains, want)
	}

	_, err = Parse([]byte(`domains = ["xn--zz.example"]`))
	if err == nil || !strings.Contains(err.Error(), `domains: "xn--zz.example" is not a domain name`) {
		t.Errorf("Parse of a bad A-label: %v, want an error naming it", err)
	}
}
