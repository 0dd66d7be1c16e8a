package dsn

import (
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readTextFixture reads a text bounce fixture into what scanText receives: a
// header lookup and the body.
func readTextFixture(t testing.TB, name string) (func(string) string, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header.Get, body
}

type wantRecipient struct {
	addr, action, status, code string
	diagContains               string
}

func TestScanText(t *testing.T) {
	tests := []struct {
		file   string
		format string
		want   []wantRecipient
	}{
		{"text-qmail.eml", FormatQmail, []wantRecipient{
			{"alice@example.net", "failed", "5.1.1", "550", "Recipient address rejected"},
			{"bob@example.net", "failed", "5.1.2", "", "couldn't find any host"},
		}},
		{"text-exim.eml", FormatExim, []wantRecipient{
			{"carol@example.net", "failed", "5.2.2", "552", "over quota"},
		}},
		// The text names a local part only: X-Failed-Recipients says who.
		{"text-exim-localpart.eml", FormatExim, []wantRecipient{
			{"dave@example.net", "failed", "5.7.1", "550", "Sender rejected"},
		}},
		{"text-exim-delay.eml", FormatExim, []wantRecipient{
			{"erin@example.net", "delayed", "4.7.1", "451", "Greylisted"},
		}},
		{"text-sendmail-transcript.eml", FormatSendmail, []wantRecipient{
			{"frank@example.net", "failed", "5.1.1", "550", "No such user here"},
			{"grace@example.net", "failed", "", "550", "Host unknown"},
			{"heidi@example.net", "failed", "4.2.2", "452", "Mailbox full"},
		}},
		// No recipient in the transcript: the inline original says who.
		{"text-sendmail-hostonly.eml", FormatSendmail, []wantRecipient{
			{"ivan@example.net", "failed", "", "421", "Connection timed out"},
		}},
		{"text-postfix.eml", FormatPostfix, []wantRecipient{
			{"judy@example.net", "failed", "5.7.1", "550", "block list"},
		}},
		// The human-readable part alone: its boilerplate mentions the
		// "attached returned message" in a sentence, which starts no
		// copy; a wrapped line starting with an address continues the
		// reply.
		{"text-postfix-bare.eml", FormatPostfix, []wantRecipient{
			{"nina@remote.example.net", "failed", "5.1.1", "550", "virtual mailbox table"},
			{"oscar@remote.example.net", "failed", "5.7.1", "550", "takes no mail from you"},
		}},
		// A delay warning is never a failure.
		{"text-gmail-delay.eml", FormatText, []wantRecipient{
			{"tia@example.net", "delayed", "", "", "temporary problem"},
		}},
		// The recipient after a label of its own, or after a verdict
		// and a colon, or on a line that looks like a separator.
		{"text-shape-intended.eml", FormatText, []wantRecipient{
			{"intended@dest.example", "failed", "", "", "does not exist"},
		}},
		{"text-shape-mboxfull.eml", FormatText, []wantRecipient{
			{"mboxfull@dest.example", "failed", "", "", "mailbox is full"},
		}},
		{"text-shape-compuserve.eml", FormatText, []wantRecipient{
			{"compuserve@dest.example", "failed", "", "", ""},
		}},
		// The verdict stands in the paragraph above the address.
		{"text-verdict-above.eml", FormatText, []wantRecipient{
			{"rory@example.com", "failed", "", "", "does not exist on this server"},
		}},
		{"text-exchange2003.eml", FormatExchange, []wantRecipient{
			{"karl@example.net", "failed", "", "", "recipient name is not recognized"},
		}},
		{"text-office365.eml", FormatExchange, []wantRecipient{
			{"laura@example.net", "failed", "5.1.10", "550", "RecipientNotFound"},
			{"mallory@example.net", "failed", "5.4.1", "550", "Relay Access Denied"},
		}},
		{"text-exchange-names.eml", FormatExchange, []wantRecipient{
			{"zoe@example.net", "failed", "5.1.1", "550", "couldn't be found"},
			{"adam@example.net", "failed", "5.2.2", "552", "mailbox is full"},
		}},
		{"text-gmx.eml", FormatExim, []wantRecipient{
			{"amy@example.net", "failed", "5.2.2", "", "Mailbox Full"},
		}},
		// The group address comes from X-Failed-Recipients, the reason from
		// the text.
		{"text-googlegroups.eml", FormatText, []wantRecipient{
			{"team-list@groups.example.com", "failed", "", "", "may not exist"},
		}},
		// The reason comes in the section after the recipient list.
		{"text-sections.eml", FormatText, []wantRecipient{
			{"brian@example.jp", "failed", "", "", "exceeded the local limit"},
		}},
		{"text-bracketed.eml", FormatText, []wantRecipient{
			{"cathy@example.jp", "delayed", "", "421", "Host not reachable"},
		}},
		{"text-carrier.eml", FormatText, []wantRecipient{
			{"dora@mail.example.ne.jp", "failed", "", "", "mailbox is full"},
		}},
		{"text-mailto.eml", FormatText, []wantRecipient{
			{"ed@example.net", "failed", "5.1.1", "550", "Mailbox unavailable"},
			{"fay@example.net", "failed", "", "", "unknown user"},
		}},
		{"text-courier.eml", FormatText, []wantRecipient{
			{"gus@example.net", "failed", "5.1.1", "550", "User unknown"},
		}},
		// RFC 3464 fields quoted as text: one recipient per
		// Final-Recipient, the Original-Recipient is not another one.
		{"text-inline-fields.eml", FormatText, []wantRecipient{
			{"hank@example.net", "delayed", "4.4.1", "", "Connection timed out"},
			{"iris@example.net", "failed", "5.1.1", "550", "Recipient address rejected"},
		}},
		{"text-exchange-hops.eml", FormatExchange, []wantRecipient{
			{"kim@example.net", "failed", "5.7.1", "530", "Client was not authenticated"},
		}},
		{"text-office365-new.eml", FormatExchange, []wantRecipient{
			{"lee@example.net", "failed", "5.1.10", "550", "Status code: 550 5.1.10"},
		}},
		// A refusal of the sender: Sendmail's code after a syntax reply,
		// the server's after a verdict.
		{"text-sendmail-protocol.eml", FormatSendmail, []wantRecipient{
			{"pat@example.net", "failed", "", "554", "no MX record"},
			{"quinn@example.org", "failed", "", "550", "Relaying"},
		}},
		// A reply code of another class than the status code is dropped.
		{"text-exchange-expired.eml", FormatExchange, []wantRecipient{
			{"tomas@example.net", "failed", "4.4.7", "", "QUEUE.Expired"},
		}},
		// The section for administrators as one field a line: the bare
		// status is joined by the reply that follows it.
		{"text-exchange-fields.eml", FormatExchange, []wantRecipient{
			{"rosa@example.net", "failed", "5.7.509", "550", "5.7.509 550 5.7.509 Access denied, sending domain [example.com] does not pass DMARC"},
		}},
		// Office 365's new layout: the recipient named in its first sentence, the
		// code under a heading, the title in between kept as the reason.
		{"text-office365-title.eml", FormatExchange, []wantRecipient{
			{"omar@example.net", "failed", "5.7.13", "550", "not authenticated for public folder"},
		}},
		// No recipient in the notice: a mail system's "Undeliverable"
		// about a message with one recipient names it.
		{"text-mms.eml", FormatText, []wantRecipient{
			{"5550100@mms.example.com", "failed", "", "", "No valid recipients"},
		}},
		{"text-notes.eml", FormatNotes, []wantRecipient{
			{"niaj@example.net", "failed", "", "", "not listed in Domino Directory"},
		}},
		{"text-yahoo.eml", FormatText, []wantRecipient{
			{"olivia@example.net", "failed", "5.2.2", "550", "Mailbox full"},
		}},
		{"text-gmail.eml", FormatText, []wantRecipient{
			{"peggy@example.net", "failed", "5.1.1", "550", "does not exist"},
		}},
		{"text-dragonfly.eml", FormatText, []wantRecipient{
			{"quentin@example.net", "failed", "5.7.9", "554", "policy reasons"},
		}},
		{"text-imail.eml", FormatText, []wantRecipient{
			{"rupert@example.net", "failed", "", "", "Invalid final delivery userid"},
		}},
		{"text-opensmtpd.eml", FormatText, []wantRecipient{
			{"sybil@example.net", "failed", "5.1.1", "550", "User Unknown"},
			{"trent@example.net", "failed", "", "", "Domain does not exist"},
		}},
		// A Postfix transcript of "In:"/"Out:" lines: the failure, not the
		// successes before it.
		{"text-transcript-inout.eml", FormatSendmail, []wantRecipient{
			{"ursula@example.org", "failed", "4.3.0", "451", "queue file write error"},
		}},
		{"text-quoted-forward.eml", FormatSendmail, []wantRecipient{
			{"victor@example.net", "failed", "5.1.1", "550", "User unknown"},
		}},
		{"text-ses-bounce.eml", FormatAmazonSES, []wantRecipient{
			{"walter@example.net", "failed", "5.1.1", "550", "user unknown"},
		}},
		{"text-ses-complaint.eml", FormatAmazonSES, []wantRecipient{
			{"xavier@example.net", "", "", "", ""},
		}},
		{"text-mailinglist-jp.eml", FormatText, []wantRecipient{
			{"yolanda@example.co.jp", "failed", "5.1.1", "550", "User unknown"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			hdr, body := readTextFixture(t, tt.file)
			var rep Report
			if !scanText(&rep, hdr, string(body)) {
				t.Fatal("not recognized as a bounce")
			}
			if rep.Format != tt.format {
				t.Errorf("format %q, want %q", rep.Format, tt.format)
			}
			if len(rep.Recipients) != len(tt.want) {
				for _, r := range rep.Recipients {
					t.Logf("got %+v", r)
				}
				t.Fatalf("%d recipients, want %d", len(rep.Recipients), len(tt.want))
			}
			for i, w := range tt.want {
				r := rep.Recipients[i]
				if r.FinalRecipient != w.addr || r.Action != w.action || r.Status != w.status || r.SMTPCode != w.code {
					t.Errorf("recipient %d: got %q %q %q %q, want %q %q %q %q", i+1,
						r.FinalRecipient, r.Action, r.Status, r.SMTPCode, w.addr, w.action, w.status, w.code)
				}
				if !strings.Contains(r.Diagnostic, w.diagContains) {
					t.Errorf("recipient %d: diagnostic %q does not contain %q", i+1, r.Diagnostic, w.diagContains)
				}
			}
		})
	}
}

// Exchange names the server that wrote the notice, on the line of its
// label or on the next, and the remote server before its reply or on a
// line of its own.
func TestScanTextExchangeServers(t *testing.T) {
	tests := []struct{ file, reporting, remote string }{
		{"text-exchange-hops.eml", "relay.example.com", "mail.example.net"},
		{"text-office365.eml", "AB1CD23.eurprd00.prod.outlook.example", ""},
		{"text-office365-title.eml", "DB8PR04MB7012.eurprd04.prod.outlook.example", ""},
		{"text-exchange-fields.eml", "BN8PR12MB3301.namprd12.prod.outlook.example", "mx2.example.net"},
		{"text-postfix.eml", "", "mx.example.net"},
	}
	for _, tt := range tests {
		hdr, body := readTextFixture(t, tt.file)
		var rep Report
		if !scanText(&rep, hdr, string(body)) || len(rep.Recipients) == 0 {
			t.Fatalf("%s: not recognized", tt.file)
		}
		if rep.ReportingMTA != tt.reporting {
			t.Errorf("%s: reporting MTA %q, want %q", tt.file, rep.ReportingMTA, tt.reporting)
		}
		if r := rep.Recipients[0]; r.RemoteMTA != tt.remote {
			t.Errorf("%s: remote MTA %q, want %q", tt.file, r.RemoteMTA, tt.remote)
		}
	}
}

// The original message quoted as text after the notice.
func TestScanTextInlineOriginal(t *testing.T) {
	hdr, body := readTextFixture(t, "text-qmail.eml")
	var rep Report
	if !scanText(&rep, hdr, string(body)) {
		t.Fatal("not recognized")
	}
	o := rep.Original
	if o.To != "alice@example.net, bob@example.net" || o.Subject != "hello" ||
		o.MessageID != "<m1@example.com>" || o.Headers["X-Campaign-Id"] != "42" {
		t.Errorf("original %+v", o)
	}
}

// Transcripts tell which command a reply answered.
func TestScanTextCommand(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"text-sendmail-transcript.eml", []string{"RCPT", "", "RCPT"}},
		{"text-transcript-inout.eml", []string{"DATA"}},
	}
	for _, tt := range tests {
		hdr, body := readTextFixture(t, tt.file)
		var rep Report
		if !scanText(&rep, hdr, string(body)) || len(rep.Recipients) != len(tt.want) {
			t.Fatalf("%s: %d recipients, want %d", tt.file, len(rep.Recipients), len(tt.want))
		}
		for i, w := range tt.want {
			if got := rep.Recipients[i].Command; got != w {
				t.Errorf("%s: recipient %d command %q, want %q", tt.file, i+1, got, w)
			}
		}
	}
}

func TestScanTextNotBounces(t *testing.T) {
	for _, file := range []string{
		"text-not-personal.eml",
		"text-not-newsletter.eml",
		"text-not-autoreply.eml",
		// Words of failure from a shop, with an address on a line of its
		// own, but no server's code.
		"text-not-shop.eml",
		// A notice that names no recipient in a recipient list and carries
		// no reply or status code gives nothing reliable to act on.
		"text-not-notice.eml",
	} {
		t.Run(file, func(t *testing.T) {
			hdr, body := readTextFixture(t, file)
			var rep Report
			if scanText(&rep, hdr, string(body)) {
				t.Errorf("read as a bounce: %+v", rep.Recipients)
			}
		})
	}
}

func TestLeadingAddress(t *testing.T) {
	tests := []struct{ in, addr, rest string }{
		{"a@example.org", "a@example.org", ""},
		{"<a@example.org>: said", "a@example.org", ": said"},
		{`"a@example.org"`, "a@example.org", ""},
		{"mailto:a@example.org.", "a@example.org", "."},
		{"<mailto:a@example.org>", "a@example.org", ""},
		{"a@example.org... User unknown", "a@example.org", "... User unknown"},
		{"kijitora", "", ""},
		{"<a@example.org", "", ""},
		{"a@b@example.org", "", ""},
		{"@example.org", "", ""},
		{"a@", "", ""},
		{"a@nodot", "", ""},
		{"root@localhost", "root@localhost", ""},
		{"用户@example.cn: unknown", "用户@example.cn", ": unknown"},
		{"a@example.jp様", "a@example.jp", "様"},
	}
	for _, tt := range tests {
		addr, rest := leadingAddress(tt.in)
		if addr != tt.addr || (addr != "" && rest != tt.rest) {
			t.Errorf("leadingAddress(%q) = %q, %q; want %q, %q", tt.in, addr, rest, tt.addr, tt.rest)
		}
	}
}

func TestLineAddress(t *testing.T) {
	tests := []struct{ in, addr string }{
		{"  a@example.org", "a@example.org"},
		{"* a@example.org", "a@example.org"},
		{"1) a@example.org", "a@example.org"},
		{"Recipient: <a@example.org>", "a@example.org"},
		{"Final-Recipient: rfc822; a@example.org", "a@example.org"},
		{"name@example.org <a@example.org>: malformed address", "a@example.org"},
		{"Display Name <a@example.org>", ""},
		{"To: a@example.org", ""},
		{"To: a@example.org (unknown user)", "a@example.org"},
		{"From: a@example.org", ""},
		{"Please write to a@example.org", ""},
	}
	for _, tt := range tests {
		if addr, _ := lineAddress(tt.in); addr != tt.addr {
			t.Errorf("lineAddress(%q) = %q, want %q", tt.in, addr, tt.addr)
		}
	}
	// The address repeated as a link is no part of what follows it.
	if addr, rest := lineAddress("uma@example.org<mailto:uma@example.org> not found"); addr != "uma@example.org" || rest != " not found" {
		t.Errorf("lineAddress with a mailto link = %q, %q", addr, rest)
	}
}

func TestNamedAddress(t *testing.T) {
	tests := []struct{ in, addr string }{
		{"Display Name <a@example.org>", "a@example.org"},
		{"Name (a@example.org)<mailto:a@example.org>", "a@example.org"},
		{"Please contact your help desk <h@example.org> if it continues", ""},
		{"Subject: <a@example.org>", ""},
		{"no address here", ""},
	}
	for _, tt := range tests {
		if addr, _ := namedAddress(tt.in); addr != tt.addr {
			t.Errorf("namedAddress(%q) = %q, want %q", tt.in, addr, tt.addr)
		}
	}
}

func TestRemoteHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"host mx.example.net [198.51.100.20]: 550 unknown", "mx.example.net"},
		{"host mx.example.net[198.51.100.30] said: 550", "mx.example.net"},
		{"mx.example.net [198.51.100.50] did not like our RCPT TO:", "mx.example.net"},
		{"Server mx22.example.org[192.0.2.222] failed with: 550", "mx22.example.org"},
		{"remote host 192.0.2.32 said: 550", ""},
		{"kim@example.net mail.example.net #<relay.example.com #5.7.1 smtp;530 5.7.1 denied> #SMTP#", "mail.example.net"},
		{"Remote Server returned '550 #5.1.1'", ""},
		{"The provider rejected it. #550 5.7.606 Access denied ##", ""},
		{"mx.example.net. #550 5.1.1 not found ##", "mx.example.net"},
		{"ghost town", ""},
		{"blocked [C14] by policy", ""},
	}
	for _, tt := range tests {
		if got := remoteHost(tt.in); got != tt.want {
			t.Errorf("remoteHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkScanText(b *testing.B) {
	hdr, body := readTextFixture(b, "text-office365.eml")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var rep Report
		scanText(&rep, hdr, string(body))
	}
}

func FuzzScanText(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "text-*.eml"))
	for _, fn := range files {
		_, body := readTextFixture(f, filepath.Base(fn))
		f.Add("failure notice", "MAILER-DAEMON@example.org", body)
	}
	f.Fuzz(func(t *testing.T, subject, from string, body []byte) {
		hdr := func(name string) string {
			switch name {
			case "Subject":
				return subject
			case "From":
				return from
			}
			return ""
		}
		var rep Report
		if !scanText(&rep, hdr, string(body)) {
			if len(rep.Recipients) != 0 {
				t.Errorf("not a bounce, yet %d recipients", len(rep.Recipients))
			}
			return
		}
		if len(rep.Recipients) == 0 || rep.Format == "" {
			t.Errorf("a bounce without recipients or format: %+v", rep)
		}
		seen := make(map[string]bool)
		for _, r := range rep.Recipients {
			if k := strings.ToLower(r.FinalRecipient); seen[k] {
				t.Errorf("recipient %q twice", r.FinalRecipient)
			} else {
				seen[k] = true
			}
			if !strings.Contains(r.FinalRecipient, "@") {
				t.Errorf("recipient %q is not an address", r.FinalRecipient)
			}
			if r.Status != "" && findStatus(r.Status) != r.Status {
				t.Errorf("status %q is not a status code", r.Status)
			}
			if r.SMTPCode != "" && len(r.SMTPCode) != 3 {
				t.Errorf("reply code %q is not a reply code", r.SMTPCode)
			}
		}
	})
}

// An SNS envelope carries the SES notification as a JSON string.
func TestScanSESEnvelope(t *testing.T) {
	body := `{"Type":"Notification","MessageId":"1","Message":"{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Transient\",\"bouncedRecipients\":[{\"emailAddress\":\"jo@example.net\",\"diagnosticCode\":\"smtp; 452 4.2.2 mailbox full\"}]},\"mail\":{\"messageId\":\"m2\"}}"}`
	var rep Report
	if !scanSES(&rep, []byte(body)) {
		t.Fatal("not recognized")
	}
	if len(rep.Recipients) != 1 {
		t.Fatalf("%d recipients", len(rep.Recipients))
	}
	r := rep.Recipients[0]
	if r.FinalRecipient != "jo@example.net" || r.Action != "delayed" || r.Status != "4.2.2" || r.SMTPCode != "452" || r.DiagnosticType != "smtp" {
		t.Errorf("got %+v", r)
	}
	for _, bad := range []string{"", "{", `{"notificationType":"Delivery"}`, `{"notificationType":"Bounce","bounce":{}}`, "not json notificationType"} {
		var rep Report
		if scanSES(&rep, []byte(bad)) {
			t.Errorf("scanSES(%q) read a notification", bad)
		}
	}
}

// The phrase tables are matched against lower-cased text.
func TestTextPhrasesLowerCase(t *testing.T) {
	for name, list := range map[string][]string{
		"textBouncePhrases": textBouncePhrases, "textIntroPhrases": textIntroPhrases,
		"textFailureWords": textFailureWords,
	} {
		for _, p := range list {
			if p != strings.ToLower(p) {
				t.Errorf("%s: %q is not lower case", name, p)
			}
		}
	}
}

func TestSenderIntro(t *testing.T) {
	tests := []struct {
		prev string
		want bool
	}{
		{"A message sent by", true},
		{"could not be delivered. It was sent from:", true},
		{"please send mail to the address", true},
		{"Sorry, we were unable to deliver your message to the following address.", false},
		{"The following address(es) failed:", false},
		{"did not reach the following recipient(s):", false},
	}
	for _, tt := range tests {
		if got := senderIntro(tt.prev); got != tt.want {
			t.Errorf("senderIntro(%q) = %v, want %v", tt.prev, got, tt.want)
		}
	}
}

func TestCutOriginal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Delivery failed\n\n--- Below this line is a copy of the message.\nTo: a@b\n", "Delivery failed\n\n"},
		{"Delivery failed\nOriginal message headers:\nTo: a@b\n", "Delivery failed\n"},
		// Office 365's heading has no colon; its "Original Message
		// Details" sum the original up inside the notice.
		{"Status code: 550 5.1.1\n\nOriginal Message Details\nSubject: x\n\nOriginal Message Headers\nTo: a@b\n",
			"Status code: 550 5.1.1\n\nOriginal Message Details\nSubject: x\n\n"},
		// The heading run on after the server's reply.
		{"a@b\nmx.example.net #<gw #5.0.0 smtp;550 5.7.606 Access denied> #SMTP#Original message headers:\nTo: a@b\n",
			"a@b\nmx.example.net #<gw #5.0.0 smtp;550 5.7.606 Access denied> #SMTP#"},
		{"nothing of the original here\n", "nothing of the original here\n"},
		// A sentence that names the copy is no heading.
		{"Report\nYou can delete your own text from the attached returned message.\n\n<a@b>: 550 x\n",
			"Report\nYou can delete your own text from the attached returned message.\n\n<a@b>: 550 x\n"},
		{"Report\nOriginal message follows.\nTo: a@b\n", "Report\n"},
		{"Report\n------ This is a copy of the message, including all the headers. ------\nTo: a@b\n", "Report\n"},
	}
	for _, tt := range tests {
		if got := cutOriginal(tt.in); got != tt.want {
			t.Errorf("cutOriginal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A notice naming more recipients than are read counts the rest.
func TestScanTextCountsTheRest(t *testing.T) {
	var b strings.Builder
	b.WriteString("This message was created automatically by mail delivery software.\n\nThe following address(es) failed:\n\n")
	for i := range maxTextRecipients + 25 {
		fmt.Fprintf(&b, "  user%d@example.net\n    550 5.1.1 no such user\n", i)
	}
	var rep Report
	hdr := func(name string) string {
		return map[string]string{"From": "Mail Delivery System <Mailer-Daemon@mx.example.org>", "Subject": "Mail delivery failed"}[name]
	}
	if !scanText(&rep, hdr, b.String()) {
		t.Fatal("not read as a bounce")
	}
	if len(rep.Recipients) != maxTextRecipients || rep.TruncatedRecipients != 25 {
		t.Errorf("%d recipients, %d counted beyond; want %d and 25", len(rep.Recipients), rep.TruncatedRecipients, maxTextRecipients)
	}
}
