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

// The strings of an Amazon SES notification are JSON and may hold line
// breaks; the fields read from them are one line, as those of a report.
func TestSESFieldsOneLine(t *testing.T) {
	bounce := "From: SES Notifications <no-reply@sns.example.com>\r\nSubject: AWS Notification Message\r\n\r\n" +
		`{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[` +
		`{"emailAddress":"walter@example.net","action":"fai\r\n led","status":"5.1.1","diagnosticCode":"smtp\n; 550 5.1.1 user unknown"},` +
		`{"emailAddress":"xavier@example.net","action":"Failed\n(bad address)","diagnosticCode":"sm\u0000tp; 550 5.1.1 no"}]},` +
		`"mail":{"source":"news@example.org"}}` + "\r\n"
	rep, err := Parse([]byte(bounce))
	if err != nil {
		t.Fatal(err)
	}
	want := []wantRcpt{
		{final: "walter@example.net", action: "fai", status: "5.1.1", code: "550", diagType: "smtp", diag: "550 5.1.1 user unknown"},
		{final: "xavier@example.net", action: "failed", status: "5.1.1", code: "550", diag: "sm\x00tp; 550 5.1.1 no"},
	}
	if rep.Format != FormatAmazonSES || len(rep.Recipients) != len(want) {
		t.Fatalf("format %q, %d recipients", rep.Format, len(rep.Recipients))
	}
	for i, w := range want {
		r := rep.Recipients[i]
		got := wantRcpt{final: r.FinalRecipient, action: r.Action, status: r.Status, code: r.SMTPCode, diagType: r.DiagnosticType, diag: r.Diagnostic}
		if got != w {
			t.Errorf("recipient %d\n got %+v\nwant %+v", i+1, got, w)
		}
	}

	complaint := "From: SES Notifications <no-reply@sns.example.com>\r\nSubject: AWS Notification Message\r\n\r\n" +
		`{"notificationType":"Complaint","complaint":{"complaintFeedbackType":"Abuse\r\n","userAgent":"Example\nFBL/1",` +
		`"complainedRecipients":[{"emailAddress":"yvonne@example.net"}]},"mail":{"source":"news@example.org\n"}}` + "\r\n"
	rep, err = Parse([]byte(complaint))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Feedback == nil || len(rep.Recipients) != 1 {
		t.Fatalf("format %q, feedback %v, %d recipients", rep.Format, rep.Feedback, len(rep.Recipients))
	}
	fb := rep.Feedback
	if fb.FeedbackType != "abuse" || fb.UserAgent != "Example FBL/1" || fb.OriginalMailFrom != "news@example.org" || rep.Recipients[0].FeedbackType != "abuse" {
		t.Errorf("feedback %+v, recipient feedback type %q", fb, rep.Recipients[0].FeedbackType)
	}
}
