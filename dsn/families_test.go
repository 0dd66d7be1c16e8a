package dsn

import (
	"strings"
	"testing"
)

func TestFamiliesLoad(t *testing.T) {
	if len(families.families) == 0 {
		t.Fatal("no family profiles")
	}
	bad := []struct{ src, want string }{
		{"[[family]]\nname = \"x\"\ndetect = [\"Upper Case\"]\n", "not lower case"},
		{"[[family]]\nname = \"x\"\nboilerplate = [\"two  spaces\"]\n", "extra white space"},
		{"[[family]]\nname = \"x\"\ncommands = [{phrase = \"does not like it\", command = \"VRFY\"}]\n", "VRFY"},
		{"[[family]]\nname = \"x\"\n[[family]]\nname = \"x\"\n", "repeated name"},
		{"[[family]]\nname = \"x\"\nsubject = [\"y\"]\n", "unknown key"},
	}
	for _, tt := range bad {
		if _, err := loadFamilies(tt.src); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadFamilies(%q) = %v, want an error with %q", tt.src, err, tt.want)
		}
	}
}

func TestFamiliesBoilerplate(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"I'm sorry to have to inform you that your message could not", true},
		{"The mail system", true},
		// "$" entries match the whole line only.
		{"The mail system at example.net said: 550 user unknown", false},
		{"<a@example.net>: host mx.example.net said: 550 5.1.1 unknown", false},
		{"This message was created automatically by mail delivery software.", true},
	}
	for _, tt := range tests {
		if got := families.boilerplate(tt.line); got != tt.want {
			t.Errorf("boilerplate(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestFamiliesCommand(t *testing.T) {
	tests := []struct{ text, want string }{
		{"192.0.2.1 does not like recipient. Remote host said: 550 no", "RCPT"},
		{"550 5.1.1 RESOLVER.ADR.RecipNotFound; not found [RCPT_TO]", "RCPT"},
		{"550 no such user", ""},
	}
	for _, tt := range tests {
		if got := families.command(tt.text); got != tt.want {
			t.Errorf("command(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// A scanner's footer is no part of what the server said: "scanned for
// viruses" must not make a recipient's reply read as virusdetected.
func TestScanTextFooter(t *testing.T) {
	hdr, body := readTextFixture(t, "text-footer-virus.eml")
	var rep Report
	if !scanText(&rep, hdr, string(body)) || len(rep.Recipients) != 1 {
		t.Fatalf("got %+v", rep.Recipients)
	}
	r := rep.Recipients[0]
	if r.FinalRecipient != "quinn@example.com" || !strings.Contains(r.Diagnostic, "mailbox unavailable") || strings.Contains(r.Diagnostic, "virus") {
		t.Errorf("got %q: %q", r.FinalRecipient, r.Diagnostic)
	}
}
