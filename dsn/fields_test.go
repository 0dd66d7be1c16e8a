package dsn

import (
	"testing"
)

func TestCleanAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rfc822; alice@example.com", "alice@example.com"},
		{"RFC822;<Alice@Example.COM>", "Alice@example.com"},
		{"  <bob@example.net> (Bob)", "bob@example.net"},
		{"Carol <carol@example.org>", "carol@example.org"},
		{"dave@example.org (deferred)", "dave@example.org"},
		{`rfc822; "first.last."@example.com`, "first.last.@example.com"},
		{"rfc822; @relay.example.net:erin@example.com", "erin@example.com"},
		{"utf-8; j\\x{00F6}rg@example.de", "jörg@example.de"},
		{"mailto:frank@example.com", "frank@example.com"},
		{"rfc822;", ""},
		// A quoted local part that needs its quotes keeps them.
		{`rfc822; "john doe"@example.com`, `"john doe"@example.com`},
		{`rfc822; "john"@example.com`, "john@example.com"},
		// A utf-8 value is the address as a whole: escapes of CR, LF or
		// NUL are not decoded (RFC 6533 section 3 has no such forms), and
		// no address is picked out of what is not one.
		{`utf-8; kai\x{0D}\x{0A}Bcc: all@example.com`, `kai\x{0D}\x{0A}Bcc: all@example.com`},
		{`utf-8; nul\x{00}@example.com`, `nul\x{00}@example.com`},
		{`utf-8; plus\x{2B}tag@example.com`, "plus+tag@example.com"},
		{`utf-8; <m\x{FC}ller@example.de>`, "müller@example.de"},
		{`utf-8; bad\x{D800}@example.com`, `bad\x{D800}@example.com`},
	}
	for _, tt := range tests {
		if got := cleanAddress(tt.in); got != tt.want {
			t.Errorf("cleanAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanDiagnostic(t *testing.T) {
	tests := []struct{ in, typ, text string }{
		{"smtp; 550 5.1.1 No such user", "smtp", "550 5.1.1 No such user"},
		{"SMTP;550-5.1.1 The account does not exist.\r\n    550-5.1.1 Please check the address\r\n    550 5.1.1 and try again.", "smtp",
			"550 5.1.1 The account does not exist. Please check the address and try again."},
		{"smtp; 550-5.7.1 first 550-5.7.1 second 550 5.7.1 third", "smtp", "550 5.7.1 first second third"},
		{"smtp; 554-host says no\n 554 go away", "smtp", "554 host says no go away"},
		{"X-Postfix; host not found", "x-postfix", "host not found"},
		{"no type here: 550 rejected", "", "no type here: 550 rejected"},
		{"smtp; 550 5.1.1 user 550 is a number", "smtp", "550 5.1.1 user 550 is a number"},
	}
	for _, tt := range tests {
		typ, text := cleanDiagnostic([]byte(tt.in))
		if typ != tt.typ || text != tt.text {
			t.Errorf("cleanDiagnostic(%q) = %q, %q; want %q, %q", tt.in, typ, text, tt.typ, tt.text)
		}
	}
}

func TestLeadingCodes(t *testing.T) {
	tests := []struct{ in, code, status string }{
		{"550 5.1.1 user unknown", "550", "5.1.1"},
		{"550-5.1.1 user unknown", "550", "5.1.1"},
		{"452 4.2.2 over quota", "452", "4.2.2"},
		{"550 user unknown", "550", ""},
		{"5501 not a code", "", ""},
		{"650 5.1.1 bad class", "", ""},
		{"550 5.1.1234 too long", "550", ""},
		{"550 5.1.10 RESOLVER", "550", "5.1.10"},
		{"", "", ""},
	}
	for _, tt := range tests {
		code, status := leadingReply(tt.in)
		if code != tt.code || status != tt.status {
			t.Errorf("leadingReply(%q) = %q, %q; want %q, %q", tt.in, code, status, tt.code, tt.status)
		}
	}
}

func TestFinishRecipient(t *testing.T) {
	tests := []struct {
		name         string
		in           Recipient
		status, code string
	}{
		{"generic status gives way", Recipient{Status: "5.0.0", Diagnostic: "550 5.7.1 blocked"}, "5.7.1", "550"},
		{"specific status stays", Recipient{Status: "5.1.1", Diagnostic: "550 5.0.0 no"}, "5.1.1", "550"},
		{"server's consistent reply wins", Recipient{Status: "5.1.1", Diagnostic: "552 5.2.2 over quota"}, "5.2.2", "552"},
		{"missing status filled", Recipient{Diagnostic: "450 4.2.0 try later"}, "4.2.0", "450"},
		{"wrapped reply", Recipient{Status: "4.4.7", Diagnostic: "554 4.4.7 expired <421 4.4.2 Connection timed out>"}, "4.4.2", "421"},
		{"quoted reply", Recipient{Status: "5.0.0", Diagnostic: "5.1.0 - Unknown address error 550-'5.7.1 denied'"}, "5.7.1", "550"},
		// A code RFC 5321 does not list is still the reply when it leads
		// the diagnostic.
		{"unlisted reply code that leads", Recipient{Status: "5.2.0", Diagnostic: "522 5.2.0 over quota"}, "5.2.0", "522"},
		{"unlisted number inside the text", Recipient{Status: "5.2.0", Diagnostic: "over quota, see 522 for more"}, "5.2.0", ""},
		// A placeholder status says nothing against the server's reply.
		{"placeholder status keeps the reply", Recipient{Status: "4.0.0", Diagnostic: "554 service not available"}, "4.0.0", "554"},
		{"specific status of another class drops the reply", Recipient{Status: "4.4.7", Diagnostic: "550 4.4.7 QUEUE.Expired"}, "4.4.7", ""},
		{"no diagnostic", Recipient{Status: "5.1.1"}, "5.1.1", ""},
	}
	for _, tt := range tests {
		r := tt.in
		finishRecipient(&r)
		if r.Status != tt.status || r.SMTPCode != tt.code {
			t.Errorf("%s: status %q code %q, want %q %q", tt.name, r.Status, r.SMTPCode, tt.status, tt.code)
		}
	}
}

func TestFinishRecipientAddress(t *testing.T) {
	r := Recipient{FinalRecipient: "/var/spool/mail/x", OriginalRecipient: "x@example.com"}
	finishRecipient(&r)
	if r.FinalRecipient != "x@example.com" {
		t.Errorf("FinalRecipient = %q, want the original recipient", r.FinalRecipient)
	}
}

func TestDecoders(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"base64", decodeTransfer([]byte("base64"), []byte("aGVs\r\nbG8g\nd29y bGQ=\n")), "hello world"},
		{"base64 damaged tail", decodeTransfer([]byte("Base64"), []byte("aGVsbG8gd29ybGQ*!")), "hello world"},
		{"quoted-printable", decodeTransfer([]byte("quoted-printable"), []byte("caf=C3=A9 =\r\nau lait=3D=ZZ")), "café au lait==ZZ"},
		{"mechanism with comment", decodeTransfer([]byte(" BASE64 (encoded)"), []byte("aGk=")), "hi"},
		{"identity", decodeTransfer([]byte("7bit"), []byte("as is")), "as is"},
		{"utf-7", decodeUTF7([]byte("Hi Mom -+Jjo--! 1 +- 1 = 2, caf+AOk-")), "Hi Mom -☺-! 1 + 1 = 2, café"},
		{"latin-1", toUTF8("iso-8859-1", []byte("caf\xe9")), "café"},
		{"unknown charset", toUTF8("x-nonsense", []byte("caf\xe9")), "café"},
		{"iso-2022-jp", toUTF8("iso-2022-jp", []byte("\x1b$B%F%9%H\x1b(B ok")), "テスト ok"},
		{"iso-2022-jp undeclared", toUTF8("us-ascii", []byte("\x1b$B%F%9%H\x1b(B ok")), "テスト ok"},
		{"utf-8 invalid", toUTF8("utf-8", []byte("caf\xe9 ok")), "café ok"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestParam(t *testing.T) {
	ct := []byte(`multipart/report; report-type="delivery-status";` + "\r\n\t" + `boundary="a\"b;c"; charset=UTF-8`)
	tests := []struct{ name, want string }{
		{"report-type", "delivery-status"},
		{"boundary", `a"b;c`},
		{"charset", "UTF-8"},
		{"missing", ""},
	}
	for _, tt := range tests {
		if got := param(ct, tt.name); got != tt.want {
			t.Errorf("param(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := mediaType(ct); got != "multipart/report" {
		t.Errorf("mediaType = %q", got)
	}
}

func TestSMTPCommand(t *testing.T) {
	tests := []struct{ in, want string }{
		{"said: 550 5.1.1 unknown (in reply to RCPT TO command)", "RCPT"},
		{"said: 554 rejected (in reply to\n    end of DATA command)", "DATA"},
		{"SMTP error from remote mail server after MAIL FROM:<a@example.org>", "MAIL"},
		{">>> DATA\n<<< 554 no", "DATA"},
		{"550 user unknown", ""},
		{"rejected after database lookup", ""},
	}
	for _, tt := range tests {
		if got := smtpCommand(tt.in); got != tt.want {
			t.Errorf("smtpCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWalkEntity reads a message with the go-message fallback and checks
// that it finds the same parts as the single-pass scan.
func TestWalkEntity(t *testing.T) {
	for _, name := range []string{"plain-3464.eml", "base64-report.eml", "arf.eml", "global-6533.eml"} {
		msg := loadFixture(t, name)
		fast := scan{lim: DefaultLimits}
		h, body, err := readHeader(msg, DefaultLimits.MaxHeaderSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := fast.walk(h, body, 0); err != nil {
			t.Fatal(err)
		}
		slow := scan{lim: DefaultLimits}
		if err := slow.walkEntity(msg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fast.hasStatus != slow.hasStatus || fast.hasFeed != slow.hasFeed || fast.hasOrig != slow.hasOrig ||
			len(fast.texts) != len(slow.texts) || fast.reportType != slow.reportType {
			t.Errorf("%s: fallback found status %v feedback %v original %v texts %d type %q; scan %v %v %v %d %q", name,
				slow.hasStatus, slow.hasFeed, slow.hasOrig, len(slow.texts), slow.reportType,
				fast.hasStatus, fast.hasFeed, fast.hasOrig, len(fast.texts), fast.reportType)
		}
		if fast.hasStatus && string(fast.status.text()) != string(slow.status.text()) {
			t.Errorf("%s: status parts differ:\n%q\n%q", name, fast.status.text(), slow.status.text())
		}
		if fast.original.text("Message-Id") != slow.original.text("Message-Id") {
			t.Errorf("%s: originals differ", name)
		}
	}
}

func TestIsAutoReply(t *testing.T) {
	tests := []struct {
		name, header, subject, from string
		want                        bool
	}{
		{"auto-submitted", "Auto-Submitted: auto-replied\n", "Re: hello", "a@example.com", true},
		{"auto-generated is not a reply", "Auto-Submitted: auto-generated\n", "Report", "a@example.com", false},
		{"x-autoreply", "X-Autoreply: yes\n", "hello", "a@example.com", true},
		{"precedence", "Precedence: auto_reply\n", "hello", "a@example.com", true},
		{"subject out of office", "", "Out of Office: hello", "a@example.com", true},
		{"subject prefix", "", "Auto: hello", "a@example.com", true},
		{"german", "", "Abwesenheitsnotiz: hello", "a@example.com", true},
		{"vacation inside a subject", "", "Your vacation booking", "a@example.com", false},
		{"bounce with auto-submitted", "Auto-Submitted: auto-replied\n", "Mail delivery failed", "Mailer-Daemon@example.net", false},
		{"bounce subject", "Auto-Submitted: auto-replied\n", "Undeliverable: hello", "a@example.com", false},
		{"plain mail", "", "Re: hello", "a@example.com", false},
	}
	for _, tt := range tests {
		h, _, err := readHeader([]byte(tt.header+"\n"), 1000, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := isAutoReply(h, tt.subject, tt.from); got != tt.want {
			t.Errorf("%s: isAutoReply = %v, want %v", tt.name, got, tt.want)
		}
	}
}
