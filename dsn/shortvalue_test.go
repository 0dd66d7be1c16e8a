package dsn

import (
	"strings"
	"testing"
)

// A Diagnostic-Code that is a bare number (a local delivery agent's exit
// status, "X-Unix; 255") starts like a reply code and has nothing after
// it: finishRecipient must not read past it, and must not take it for a
// reply code of RFC 5321.
func TestBareNumberDiagnostic(t *testing.T) {
	rep, err := Parse(loadFixture(t, "xunix-exit-code.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != FormatRFC3464 || len(rep.Recipients) != 1 {
		t.Fatalf("format %q, %d recipients, want rfc3464 and 1", rep.Format, len(rep.Recipients))
	}
	r := rep.Recipients[0]
	want := Recipient{
		FinalRecipient: "support@gw.example.net", Action: "failed", Status: "5.0.0",
		DiagnosticType: "x-unix", Diagnostic: "255", LastAttemptDate: "Wed, 4 Mar 2026 08:02:11 +0000",
	}
	if r != want {
		t.Errorf("recipient\n got %+v\nwant %+v", r, want)
	}
}

func TestFinishRecipientShortDiagnostic(t *testing.T) {
	tests := []struct {
		status, diag     string
		wantStatus, code string
	}{
		{"5.0.0", "255", "5.0.0", ""},
		{"5.0.0", "550", "5.0.0", "550"},
		{"4.0.0", "550", "4.0.0", "550"},
		{"", "550", "", "550"},
		{"5.0.0", "550 ", "5.0.0", "550"},
		{"5.0.0", " 550", "5.0.0", "550"},
		{"4.0.0", "550-", "4.0.0", "550"},
		{"4.0.0", "550 5", "4.0.0", "550"},
		{"", "421 4.4.2", "4.4.2", "421"},
		// A relay's reply wrapping the remote server's, with a blank
		// before it: the wrapped reply is still found.
		{"", " 554 4.4.7 expired <421 4.4.2 timed out>", "4.4.2", "421"},
		{"5.0.0", "2", "5.0.0", ""},
		{"5.0.0", "", "5.0.0", ""},
	}
	for _, tt := range tests {
		r := Recipient{FinalRecipient: "a@example.com", Status: tt.status, Diagnostic: tt.diag}
		finishRecipient(&r)
		if r.Status != tt.wantStatus || r.SMTPCode != tt.code {
			t.Errorf("status %q, diagnostic %q: got status %q code %q, want %q %q",
				tt.status, tt.diag, r.Status, r.SMTPCode, tt.wantStatus, tt.code)
		}
	}
}

// TestShortValues runs the field and text helpers of the decoder over
// every string of up to four bytes from an alphabet of the bytes they
// look at, and over short values that start their constructs: none may
// panic on a value that ends early.
func TestShortValues(t *testing.T) {
	const alphabet = "0245 -.;:@<>'\"(\n#"
	values := []string{
		`\x{`, `\x{}`, `\x{0`, `utf-8;\x{`, `utf-8;\x{41}`, `"@`, `""@a`, `"a"@b.c`, `@`, `@a:`, "mailto:",
		"rfc822;", ";", "dns;", "<", "<>", "smtp;550", "x-unix; 255", "550-'", " -'", "550-' (delivery attempts: 0)",
		"5.1.0 x 550-'5.7.1 a' (delivery attempts: 0)", "5.1.0 -'x' (delivery attempts: 0)",
		"<<< ", ">>> ", ">>> .", "<<< 550 5.1.1 a@", "smtp command\n", "in reply to ", "after ", "<", "<b", "&", "&lt",
	}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		values = append(values, prefix)
		if n == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			gen(prefix+alphabet[i:i+1], n-1)
		}
	}
	gen("", 4)
	for _, s := range values {
		for _, st := range []string{"", "5.0.0", "2.0.0", "4.4.1"} {
			r := Recipient{Status: st, Diagnostic: s, FinalRecipient: s, OriginalRecipient: s}
			finishRecipient(&r)
		}
		cleanDiagnostic([]byte(s))
		collapseReply(s)
		unwrapQuotedReply(s)
		laterReply(s)
		leadingReply(s)
		leadingStatus(s)
		statusComment(s)
		cleanAddress(s)
		cleanAction([]byte(s))
		hostValue([]byte(s))
		decodeUnitext(s)
		firstAddress(s)
		isAddress(s)
		findStatus(s)
		findSMTPCode(s)
		smtpCommand(s)
		labelledCommand(s)
		replyCommandInTranscript(s, s)
		replyCommandInTranscript("<<< "+s, s)
		appendHTMLText(nil, []byte(s))
		for k := 0; k <= len(s); k++ {
			verdictBefore(s, s[k:])
		}
		lower := func() string { return strings.ToLower(s) }
		textAbout(s, lower, "a@b.c")
		textAbout(s+"\na@b.c", lower, "a@b.c")
		untilOther(s+"\n"+s, "a@b.c", map[string]bool{"a@b.c": true, "d@e.f": true})
	}
}
