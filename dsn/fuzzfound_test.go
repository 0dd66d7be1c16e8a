package dsn

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Regressions found by the structure-aware fuzzers of fuzz_struct_test.go.

// An Action field folded inside or after its word is read up to the fold:
// the line break is not part of the action.
func TestCleanActionFolded(t *testing.T) {
	tests := []struct{ in, want string }{
		{"del\r\n ayed", "del"},
		{"failed\r\n (permanent)", "failed"},
		{"\r\n failed", "failed"},
		{"Failed\n\t(bad address)", "failed"},
		{"delayed", "delayed"},
	}
	for _, tt := range tests {
		if got := cleanAction([]byte(tt.in)); got != tt.want {
			t.Errorf("cleanAction(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A diagnostic completed from the human-readable part is bounded at a
// character boundary, so that it stays UTF-8.
func TestReconciledDiagnosticUTF8(t *testing.T) {
	msg := "From: MAILER-DAEMON@mx.example.net\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"<a@example.com>: host mx.example.com said: 550 5.1.1 " + strings.Repeat("é", 400) + "\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; a@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
	rep, err := Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 1 {
		t.Fatalf("%d recipients", len(rep.Recipients))
	}
	d := rep.Recipients[0].Diagnostic
	if !utf8.ValidString(d) || len(d) > 500 || !strings.HasPrefix(d, "<a@example.com>: host mx.example.com said: 550 5.1.1 éé") {
		t.Errorf("diagnostic of %d bytes, UTF-8 %v: %q", len(d), utf8.ValidString(d), d)
	}
}
