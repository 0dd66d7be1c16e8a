package smtp

import (
	"testing"
)

func TestParser(t *testing.T) {
	validReversePaths := []struct {
		raw, path, after string
	}{
		{"<>", "", ""},
		{"<root@nsa.gov>", "root@nsa.gov", ""},
		{"root@nsa.gov", "root@nsa.gov", ""},
		{"<root@nsa.gov> AUTH=asdf@example.org", "root@nsa.gov", " AUTH=asdf@example.org"},
		{"root@nsa.gov AUTH=asdf@example.org", "root@nsa.gov", " AUTH=asdf@example.org"},
	}
	for _, tc := range validReversePaths {
		p := parser{tc.raw}
		path, err := p.parseReversePath()
		if err != nil {
			t.Errorf("parser.parseReversePath(%q) = %v", tc.raw, err)
		} else if path != tc.path {
			t.Errorf("parser.parseReversePath(%q) = %q, want %q", tc.raw, path, tc.path)
		} else if p.s != tc.after {
			t.Errorf("parser.parseReversePath(%q): got after = %q, want %q", tc.raw, p.s, tc.after)
		}
	}

	invalidReversePaths := []string{
		"",
		" ",
		"asdf",
		"<Foo Bar <root@nsa.gov>>",
		" BODY=8BITMIME SIZE=12345",
		"a:b:c@example.org",
		"<root@nsa.gov",
	}
	for _, tc := range invalidReversePaths {
		p := parser{tc}
		if path, err := p.parseReversePath(); err == nil {
			t.Errorf("parser.parseReversePath(%q) = %q, want error", tc, path)
		}
	}
}

func TestParseForwardPath(t *testing.T) {
	valid := []struct {
		raw, path, after string
	}{
		{"<root@nsa.gov>", "root@nsa.gov", ""},
		// RFC 5321 section 4.1.1.3: postmaster needs no domain.
		{"<postmaster>", "postmaster", ""},
		{"<Postmaster> NOTIFY=NEVER", "Postmaster", " NOTIFY=NEVER"},
		{"<Postmaster@example.org>", "Postmaster@example.org", ""},
	}
	for _, tc := range valid {
		p := parser{tc.raw}
		path, err := p.parseForwardPath()
		if err != nil {
			t.Errorf("parser.parseForwardPath(%q) = %v", tc.raw, err)
		} else if path != tc.path || p.s != tc.after {
			t.Errorf("parser.parseForwardPath(%q) = %q, after %q; want %q, after %q", tc.raw, path, p.s, tc.path, tc.after)
		}
	}

	for _, raw := range []string{"<root>", "<>", "<postmasterx>", "<postmaster"} {
		p := parser{raw}
		if path, err := p.parseForwardPath(); err == nil {
			t.Errorf("parser.parseForwardPath(%q) = %q, want error", raw, path)
		}
	}
}
