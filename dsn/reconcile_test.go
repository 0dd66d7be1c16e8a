package dsn

import (
	"os"
	"strings"
	"testing"
)

func TestSMTPCommandGreeting(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SMTP error from remote mail server after EHLO relay.example.org:\n 550 Rejected", "EHLO"},
		{"SMTP error from remote mail server after HELO relay.example.org: 550 go away", "EHLO"},
		{"SMTP error from remote mail server after initial connection: 554 no", "CONN"},
		{"after ehlosomething", ""},
		{"SMTP error from remote server after RCPT command: host: mx.example.jp 5.2.2", "RCPT"},
		{"bounced after mail delivery failed", ""},
	}
	for _, tt := range tests {
		if got := smtpCommand(tt.in); got != tt.want {
			t.Errorf("smtpCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReplyCommandInTranscript(t *testing.T) {
	const transcript = "... while talking to mx.example.com.:\n" +
		">>> MAIL From:<news@sender.example>\n<<< 250 ok\n" +
		">>> RCPT To:<a@example.com>\n<<< 550 5.1.1 <a@example.com>... no such user\n" +
		">>> RCPT To:<b@example.com>\n<<< 250 ok\n" +
		">>> DATA\n<<< 550 5.7.1 <b@example.org>... refused by filter\n" +
		">>> .\n<<< 554 5.6.0 <c@example.com>... message rejected\n"
	tests := []struct{ diag, want string }{
		{"550 5.1.1 <a@example.com>... no such user", "RCPT"},
		// The report may spell the domain differently from the transcript.
		{"550 5.7.1 <b@example.com>... refused by filter", "DATA"},
		{"554 5.6.0 <c@example.com>... message rejected", "DATA"},
		{"550 5.1.1 <d@example.com>... no such user", ""},
		{"no code here", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := replyCommandInTranscript(transcript, tt.diag); got != tt.want {
			t.Errorf("replyCommandInTranscript(%q) = %q, want %q", tt.diag, got, tt.want)
		}
	}
	if got := replyCommandInTranscript("<<< 550 5.1.1 <a@example.com>... no", "550 5.1.1 <a@example.com>... no"); got != "" {
		t.Errorf("reply without a command before it: got %q", got)
	}
}

func TestVerdictBefore(t *testing.T) {
	tests := []struct{ text, win, want string }{
		{"The account is disabled.\n\n\n<a@example.jp>: 550 user unknown\n", "<a@example.jp>: 550 user unknown\n", "The account is disabled."},
		{"mail.local: unknown user: a\n554 <a@example.net>... Service unavailable\n", "554 <a@example.net>... Service unavailable\n", "mail.local: unknown user: a"},
		{"   ----- Transcript of session follows -----\n554 <a@example.net>... no\n", "554 <a@example.net>... no\n", ""},
		{"<b@example.net>\n<a@example.net>... no\n", "<a@example.net>... no\n", ""},
		{">>> DATA\n<<< 554 <a@example.net>... no\n", "<<< 554 <a@example.net>... no\n", ""},
		{"The following addresses failed:\n<a@example.net>... no\n", "<a@example.net>... no\n", ""},
		{"<a@example.net>... no\n", "<a@example.net>... no\n", ""},
		{"One\n\n\n\nThe account is disabled.\n", "missing", ""},
	}
	for _, tt := range tests {
		if got := verdictBefore(tt.text, tt.win); got != tt.want {
			t.Errorf("verdictBefore(%q, %q) = %q, want %q", tt.text, tt.win, got, tt.want)
		}
	}
}

func TestStatusComment(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5.2.1 (mailbox disabled, not accepting messages)", "mailbox disabled, not accepting messages"},
		{"5.1.1", ""},
		{"5.1.1 (unclosed", "unclosed"},
	}
	for _, tt := range tests {
		if got := statusComment(tt.in); got != tt.want {
			t.Errorf("statusComment(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestParseTranscriptCommands reads a Sendmail-style report whose
// transcript shows the command each reply answered, whose Status carries
// a comment, and whose text gives a verdict above a recipient's line.
func TestParseTranscriptCommands(t *testing.T) {
	b, err := os.ReadFile("testdata/sendmail-transcript.eml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&Parser{}).Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ final, command, comment, diag string }{
		{"ann@shop.example", "DATA", "mailbox disabled, not accepting messages", "550 5.2.1 <ann@shop.example>... Mailbox refuses this message"},
		{"ben@shop.example", "DATA", "", "550 5.1.1 <ben@shop.example>... Recipient unknown here"},
		{"cy@local.example", "", "", "local.example: the mailbox was removed last week <cy@local.example>... Cannot deliver"},
	}
	if len(rep.Recipients) != len(want) {
		t.Fatalf("%d recipients, want %d", len(rep.Recipients), len(want))
	}
	for i, w := range want {
		r := rep.Recipients[i]
		if r.FinalRecipient != w.final || r.Command != w.command || r.StatusComment != w.comment || r.Diagnostic != w.diag {
			t.Errorf("recipient %d: got %q command %q comment %q diag %q, want %+v", i+1, r.FinalRecipient, r.Command, r.StatusComment, r.Diagnostic, w)
		}
	}
}

func TestUnwrapQuotedReply(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5.1.0 - Unknown address error 550-'5.7.1 <a@example.com>... Access denied' (delivery attempts: 0)",
			"550 5.7.1 <a@example.com>... Access denied"},
		{"5.3.0 - Other mail system problem 550-'Unknown user a@example.jp' (delivery attempts: 0)", "550 Unknown user a@example.jp"},
		{"550 5.1.1 <a@example.com>: user unknown", "550 5.1.1 <a@example.com>: user unknown"},
		{"5.1.0 - x-'y' (delivery attempts: 0)", "5.1.0 - x-'y' (delivery attempts: 0)"},
		{"5.1.0 - Unknown 55-'y' (delivery attempts: 0)", "5.1.0 - Unknown 55-'y' (delivery attempts: 0)"},
		{"' (delivery attempts: )", "' (delivery attempts: )"},
	}
	for _, tt := range tests {
		if got := unwrapQuotedReply(tt.in); got != tt.want {
			t.Errorf("unwrapQuotedReply(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLabelledCommand(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-------server message\n550 unknown user <a@example.com>\n\n-------smtp command\ndata\n\n-------original message\n", "DATA"},
		{"-------smtp command\r\n  rcpt to:<a@example.com>\n", "RCPT"},
		{"-------SMTP Command\nRCPT TO:<a@example.com>\n", "RCPT"},
		{"the smtp command was refused\ndata\n", ""},
		{"-------smtp command\nquit\n", ""},
		{"no label here", ""},
	}
	for _, tt := range tests {
		if got := labelledCommand(tt.in); got != tt.want {
			t.Errorf("labelledCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCompleteReply(t *testing.T) {
	human := "  a@example.com\n    SMTP error from remote mail server after end of data:\n" +
		"    550-5.7.1 This message was rejected because the sending domain\n" +
		"    550-5.7.1 publishes a DMARC policy of reject\n" +
		"    550 5.7.1 and the message failed authentication\n\n  next paragraph\n"
	tests := []struct{ diag, human, want string }{
		{"550 5.7.1 This message was rejected because the sending domain", human,
			"550 5.7.1 This message was rejected because the sending domain publishes a DMARC policy of reject and the message failed authentication"},
		// Already whole, or not quoted in the text: nothing to add.
		{"550 5.7.1 This message was rejected because the sending domain publishes a DMARC policy of reject and the message failed authentication", human, ""},
		{"550 5.1.1 No such user here at all", human, ""},
		{"550 short", human, ""},
		{"", human, ""},
		{"550 5.7.1 This message was rejected because the sending domain", "", ""},
	}
	for _, tt := range tests {
		if got := completeReply(tt.diag, tt.human); got != tt.want {
			t.Errorf("completeReply(%q) = %q, want %q", tt.diag, got, tt.want)
		}
	}
}

// A Diagnostic-Code with the first line of a multi-line reply is completed
// from the notice, so the reason comes from the whole reply.
func TestParseMultilineDiagnostic(t *testing.T) {
	raw, err := os.ReadFile("testdata/exim-multiline-diagnostic.eml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Parse(raw)
	if err != nil || len(rep.Recipients) != 1 {
		t.Fatalf("Parse: %v, %+v", err, rep)
	}
	if d := rep.Recipients[0].Diagnostic; !strings.Contains(d, "DMARC policy of reject and the message failed authentication") {
		t.Errorf("diagnostic %q", d)
	}
}

// Exim writes the bytes of a reply it will not print as \ooo escapes.
func TestUnescapeOctal(t *testing.T) {
	tests := []struct{ in, want string }{
		{`550 \345\256\233\345\205\210\344\270\215\346\230\216`, "550 宛先不明"},
		{`550 Usu\303\241rio inexistente`, "550 Usuário inexistente"},
		// Not UTF-8, an ASCII escape, a path: left as they are.
		{`550 \377\376 odd`, `550 \377\376 odd`},
		{`550 \101 not an escape we decode`, `550 \101 not an escape we decode`},
		{`C:\temp\123`, `C:\temp\123`},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := unescapeOctal(tt.in); got != tt.want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
