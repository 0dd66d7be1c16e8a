package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// lineEndVariants returns msg with LF, CRLF and bare CR line ends.
func lineEndVariants(msg []byte) map[string][]byte {
	lf := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	return map[string][]byte{
		"lf":   lf,
		"crlf": bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")),
		"cr":   bytes.ReplaceAll(lf, []byte("\n"), []byte("\r")),
	}
}

// A forwarded bounce yields the recipients of the bounce it carries, never
// the addresses of the forward itself.
func TestParseForwarded(t *testing.T) {
	tests := []struct {
		file       string
		format     string
		reporting  string
		from       string // of the report: the forwarded notice's sender
		rcpts      []wantRcpt
		origSubj   string
		forwarders []string
	}{
		{
			// A helpdesk forwards a Postfix DSN as an attachment; its
			// own text mentions a code, which once made the notice's own
			// To the failed recipient.
			file: "forward-attached-postfix.eml", format: FormatRFC3464, reporting: "mx.shop.example",
			from: "Mail Delivery System <MAILER-DAEMON@mx.shop.example>",
			rcpts: []wantRcpt{{final: "tomas.kral@mail.example.cz", orig: "tomas.kral@mail.example.cz", action: "failed",
				status: "5.1.1", code: "550", remote: "mx1.mail.example.cz", diagType: "smtp",
				diag:    "550 5.1.1 <tomas.kral@mail.example.cz>: Recipient address rejected: User unknown in virtual mailbox table",
				command: "RCPT"}},
			origSubj:   "Your order 20931 is confirmed",
			forwarders: []string{"helpdesk@shop.example", "ops@shop.example", "lena.berg@shop.example", "orders@shop.example"},
		},
		{
			// A ticket system attaches a qmail text bounce under a
			// subject of its own.
			file: "forward-attached-qmail.eml", format: FormatQmail,
			from: "MAILER-DAEMON@mail.shop.example",
			rcpts: []wantRcpt{{final: "h.jensen@kunde.example", action: "failed", status: "5.1.1", code: "550",
				diag:    "198.51.100.9 does not like recipient. Remote host said: 550 5.1.1 <h.jensen@kunde.example>... User unknown Giving up on 198.51.100.9.",
				command: "RCPT"}},
			origSubj:   "Your quote",
			forwarders: []string{"desk@tickets.shop.example", "mailadmins@shop.example", "peter.holm@shop.example"},
		},
		{
			// Gmail forwards an Exim bounce inline.
			file: "forward-gmail-exim.eml", format: FormatExim,
			from: "Mail Delivery System <Mailer-Daemon@mx.gmail.example>",
			rcpts: []wantRcpt{{final: "anna.k@example.org", action: "failed", status: "5.1.1", code: "550", remote: "mx.example.org",
				diag:    "host mx.example.org [203.0.113.7] SMTP error from remote mail server after RCPT TO:<anna.k@example.org>: 550 5.1.1 <anna.k@example.org>: Recipient address rejected: User unknown",
				command: "RCPT"}},
			origSubj:   "Invitation: spring meetup",
			forwarders: []string{"maria.lopez@gmail.example", "newsletter@shop.example"},
		},
		{
			// Outlook's "-----Original Message-----" used to cut the
			// notice off before it began.
			file: "forward-outlook-o365.eml", format: FormatExchange, reporting: "AM0PR01MB6601.eurprd01.prod.outlook.example",
			from: "Microsoft Outlook <postmaster@contoso.example>",
			rcpts: []wantRcpt{{final: "piet.bakker@fabrikam.example", action: "failed", status: "5.1.10", code: "550",
				diag: "The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message. If the problem continues, please contact your helpdesk. " +
					"Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'"}},
			origSubj:   "Quarterly report Q1",
			forwarders: []string{"jan.devries@contoso.example", "it-support@contoso.example"},
		},
		{
			// Thunderbird in German, under a subject the forwarder
			// rewrote, with the forwarder's address alone on a line of
			// the signature.
			file: "forward-thunderbird-de.eml", format: FormatPostfix,
			from: "Mail Delivery System <MAILER-DAEMON@mail.firma.example>",
			rcpts: []wantRcpt{{final: "einkauf@kunde-gmbh.example", action: "failed", status: "5.2.2", code: "552",
				remote: "mx01.kunde-gmbh.example", command: "RCPT",
				diag: "host mx01.kunde-gmbh.example[192.0.2.44] said: 552 5.2.2 <einkauf@kunde-gmbh.example>: Mailbox voll / mailbox full (in reply to RCPT TO command)"}},
			forwarders: []string{"k.weber@firma.example", "vertrieb@firma.example", "s.roth@firma.example"},
		},
		{
			// Apple Mail in French quotes the forwarded qmail notice.
			file: "forward-apple-fr.eml", format: FormatQmail,
			from: "MAILER-DAEMON@mail.exemple.example",
			rcpts: []wantRcpt{{final: "luc.bernard@exemple.example", action: "failed", status: "5.1.1", code: "550", command: "RCPT",
				diag: "192.0.2.61 does not like recipient. Remote host said: 550 5.1.1 <luc.bernard@exemple.example>: Recipient address rejected: User unknown Giving up on 192.0.2.61."}},
			origSubj:   "Rendez-vous",
			forwarders: []string{"renee.martin@exemple.example", "support@boutique.example"},
		},
		{
			// A reply quotes the notice below Gmail's attribution, which
			// it wraps before the writer's address; the replier's
			// signature names the replier.
			file: "forward-reply-quoted.eml", format: FormatPostfix,
			from: "MAILER-DAEMON@mx.loja.example",
			rcpts: []wantRcpt{{final: "paulo.r@cliente.example", action: "failed", status: "4.2.2", code: "452", remote: "mx.cliente.example",
				command: "RCPT", diag: "host mx.cliente.example[198.51.100.71] said: 452 4.2.2 <paulo.r@cliente.example>: Mailbox full (in reply to RCPT TO command)"}},
			forwarders: []string{"ines.costa@loja.example", "suporte@loja.example", "MAILER-DAEMON@mx.loja.example"},
		},
		{
			// Outlook forwards a Gmail forward of a Postfix notice: the
			// innermost notice counts, and neither forward's addresses.
			file: "forward-nested.eml", format: FormatPostfix,
			from: "Mail Delivery System <MAILER-DAEMON@smtp.client.example>",
			rcpts: []wantRcpt{{final: "olga.s@retail.example", action: "failed", status: "5.7.1", code: "554", remote: "mx.retail.example",
				command: "RCPT", diag: "host mx.retail.example[203.0.113.80] said: 554 5.7.1 <olga.s@retail.example>: Relay access denied (in reply to RCPT TO command)"}},
			forwarders: []string{"eva.novak@agency.example", "deliverability@agency.example", "tom.berg@client.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			for name, msg := range lineEndVariants(loadFixture(t, tt.file)) {
				rep, err := Parse(msg)
				if err != nil {
					t.Fatalf("%s: Parse: %v", name, err)
				}
				checkReport(t, name, rep, tt.format, tt.reporting, tt.rcpts)
				if rep.From != tt.from {
					t.Errorf("%s: From = %q, want %q", name, rep.From, tt.from)
				}
				if tt.origSubj != "" && rep.Original.Subject != tt.origSubj {
					t.Errorf("%s: Original.Subject = %q, want %q", name, rep.Original.Subject, tt.origSubj)
				}
				for _, r := range rep.Recipients {
					if hasAddress(tt.forwarders, r.FinalRecipient) {
						t.Errorf("%s: the forward's own address %s reported", name, r.FinalRecipient)
					}
				}
			}
		})
	}
}

// Forwards of what is no bounce stay no bounce, and reports keep what
// they attach out of their reading: the original of a DSN, the bounce a
// mail system returns.
func TestParseForwardedNot(t *testing.T) {
	tests := []struct {
		file      string
		format    string
		reporting string
		rcpts     []wantRcpt
		origSubj  string
	}{
		{file: "forward-not-bounce.eml"},
		{file: "forward-attached-not-bounce.eml"},
		{
			file: "plain-3464.eml", format: FormatRFC3464, reporting: "mx1.example.net",
			rcpts: []wantRcpt{{final: "alice@example.com", orig: "alice@example.com", action: "failed", status: "5.1.1", code: "550",
				remote: "mail.example.com", diagType: "smtp",
				diag: "550 5.1.1 <alice@example.com>: Recipient address rejected: no such mailbox", command: "RCPT"}},
			origSubj: "March news—spring",
		},
		{
			// The outer report is about delivering the attached one.
			file: "bounce-of-bounce.eml", format: FormatRFC3464, reporting: "outer.example.net",
			rcpts:    []wantRcpt{{final: "mike@example.com", action: "failed", status: "5.1.1"}},
			origSubj: "inner report",
		},
		{
			// The same in text: a mail system returns a bounce.
			file: "forward-mailsystem-returns-bounce.eml", format: FormatExim,
			rcpts: []wantRcpt{{final: "noreply@origin.example", action: "failed", status: "5.1.1", code: "550", remote: "mx.origin.example",
				command: "RCPT", diag: "host mx.origin.example [192.0.2.5] SMTP error from remote mail server after RCPT TO:<noreply@origin.example>: 550 5.1.1 <noreply@origin.example>: mailbox unavailable"}},
			origSubj: "Undelivered Mail Returned to Sender",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			for name, msg := range lineEndVariants(loadFixture(t, tt.file)) {
				rep, err := Parse(msg)
				if err != nil {
					t.Fatalf("%s: Parse: %v", name, err)
				}
				checkReport(t, name, rep, tt.format, tt.reporting, tt.rcpts)
				if tt.origSubj != "" && rep.Original.Subject != tt.origSubj {
					t.Errorf("%s: Original.Subject = %q, want %q", name, rep.Original.Subject, tt.origSubj)
				}
			}
		})
	}
}

// The forward's own addresses are dropped even when the forwarded bounce
// names them; a bounce that names nobody else is no bounce of the
// forward's.
func TestParseForwardedDropsForwarders(t *testing.T) {
	msg := string(loadFixture(t, "forward-attached-postfix.eml"))
	second := "Final-Recipient: rfc822; lena.berg@shop.example\nAction: failed\nStatus: 5.2.2\n\n"
	both := strings.Replace(msg, "Final-Recipient: rfc822; tomas.kral", second+"Final-Recipient: rfc822; tomas.kral", 1)
	rep, err := Parse([]byte(both))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 1 || rep.Recipients[0].FinalRecipient != "tomas.kral@mail.example.cz" {
		t.Errorf("recipients %+v, want only tomas.kral@mail.example.cz", rep.Recipients)
	}

	only := strings.ReplaceAll(msg, "tomas.kral@mail.example.cz", "lena.berg@shop.example")
	rep, err = Parse([]byte(only))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "" || len(rep.Recipients) != 0 {
		t.Errorf("format %q, recipients %+v; want no bounce", rep.Format, rep.Recipients)
	}
}

// forwardChain returns a bounce forwarded as an attachment n times over.
func forwardChain(n int) []byte {
	msg := "From: MAILER-DAEMON@mx.example.net\nTo: a0@example.org\nSubject: Undelivered Mail Returned to Sender\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\n\n" +
		"--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n" +
		"Final-Recipient: rfc822; gone@example.com\nAction: failed\nStatus: 5.1.1\n\n--r--\n"
	for i := 1; i <= n; i++ {
		b := fmt.Sprintf("f%d", i)
		msg = fmt.Sprintf("From: a%d@example.org\nTo: a%d@example.org\nSubject: Fwd: Undelivered Mail Returned to Sender\n"+
			"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=%s\n\n--%s\nContent-Type: text/plain\n\nsee attached\n\n"+
			"--%s\nContent-Type: message/rfc822\n\n%s\n--%s--\n", i, i+1, b, b, b, msg, b)
	}
	return []byte(msg)
}

func TestParseForwardLimits(t *testing.T) {
	// A field past the header limit in the forwarded bounce, after the
	// fields that say it is one.
	bigInner := strings.Replace(string(loadFixture(t, "forward-attached-postfix.eml")),
		"Message-ID: <20260309085841", "X-Long: "+strings.Repeat("x", 3000)+"\nMessage-ID: <20260309085841", 1)
	tests := []struct {
		name   string
		limits Limits
		msg    []byte
		want   error
	}{
		{"three forwards", Limits{}, forwardChain(3), nil},
		{"four forwards", Limits{}, forwardChain(4), ErrForwardDepth},
		{"one forward allowed", Limits{MaxForwardDepth: 1}, forwardChain(1), nil},
		{"two forwards", Limits{MaxForwardDepth: 1}, forwardChain(2), ErrForwardDepth},
		{"inline forwards", Limits{MaxForwardDepth: 1}, loadFixture(t, "forward-nested.eml"), ErrForwardDepth},
		// The parts of the forward and those of the bounce it carries
		// count together: three and four.
		{"parts within", Limits{MaxParts: 7}, loadFixture(t, "forward-attached-postfix.eml"), nil},
		{"parts", Limits{MaxParts: 6}, loadFixture(t, "forward-attached-postfix.eml"), ErrTooManyParts},
		{"forwarded header", Limits{MaxHeaderSize: 2000}, []byte(bigInner), ErrHeaderTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Limits: tt.limits}
			rep, err := p.Parse(tt.msg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			if err == nil && (len(rep.Recipients) == 0 || rep.Recipients[0].FinalRecipient == "") {
				t.Errorf("no recipient: %+v", rep)
			}
		})
	}
	rep, err := Parse(forwardChain(3))
	if err != nil || len(rep.Recipients) != 1 || rep.Recipients[0].FinalRecipient != "gone@example.com" {
		t.Errorf("three forwards: %v %+v", err, rep)
	}
}

func TestSubjectPrefixes(t *testing.T) {
	tests := []struct {
		subject        string
		forward, reply bool
	}{
		{"Fwd: Undelivered Mail Returned to Sender", true, false},
		{"FW: Undeliverable: report", true, false},
		{"WG: Unzustellbar: Angebot", true, false},
		{"TR\u00a0: failure notice", true, false},
		{"TR : failure notice", true, false},
		{"RV: Mensaje no entregado", true, false},
		{"I: Messaggio non recapitabile", true, false},
		{"Enc: Mensagem não entregue", true, false},
		{"Doorst: Onbestelbaar", true, false},
		{"RE: FW: Undeliverable", true, true},
		{"AW: WG: Unzustellbar", true, true},
		{"[Ticket #88] Fwd: failure notice", true, false},
		{"Re: Undelivered Mail Returned to Sender", false, true},
		{"Undelivered Mail Returned to Sender", false, false},
		{"Forward planning: Q3", false, false},
		{"Warning: could not send message for past 4 hours", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if fwd, re, _ := subjectPrefixes(tt.subject); fwd != tt.forward || re != tt.reply {
			t.Errorf("subjectPrefixes(%q) = %v, %v, want %v, %v", tt.subject, fwd, re, tt.forward, tt.reply)
		}
	}
}

// The markers and header labels mail clients write, in the languages
// they write them in.
func TestUnwrapForward(t *testing.T) {
	const notice = "\nThis is the mail system at host mx.example.net.\n"
	tests := []struct {
		name, text    string
		from, subject string // "" when no forward is found
	}{
		{"gmail", "hi\n\n---------- Forwarded message ---------\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nDate: Mon, 9 Mar 2026 at 10:00\nSubject: Undelivered Mail Returned to Sender\nTo: <a@example.org>\n\n" + notice,
			"Mail Delivery System <MAILER-DAEMON@mx.example.net>", "Undelivered Mail Returned to Sender"},
		{"gmail de", "---------- Weitergeleitete Nachricht ---------\nVon: MAILER-DAEMON@mx.example.net\nDate: Mo., 9. März 2026\nSubject: Unzustellbar\nTo: a@example.org\n" + notice,
			"MAILER-DAEMON@mx.example.net", "Unzustellbar"},
		{"outlook de", "-----Ursprüngliche Nachricht-----\nVon: Microsoft Outlook <postmaster@example.de>\nGesendet: Montag, 9. März 2026 10:00\nAn: Anna <a@example.de>\nBetreff: Unzustellbar: Angebot\n" + notice,
			"Microsoft Outlook <postmaster@example.de>", "Unzustellbar: Angebot"},
		{"outlook fr", "-----Message d'origine-----\nDe : Microsoft Outlook <postmaster@example.fr>\nEnvoyé : lundi 9 mars 2026 10:00\nÀ : Luc <l@example.fr>\nObjet : Non remis : Devis\n" + notice,
			"Microsoft Outlook <postmaster@example.fr>", "Non remis : Devis"},
		{"thunderbird fr", "-------- Message transféré --------\nSujet : \tfailure notice\nDate : \tMon, 9 Mar 2026\nDe : \tMAILER-DAEMON@mx.example.fr\nPour : \tl@example.fr\n" + notice,
			"MAILER-DAEMON@mx.example.fr", "failure notice"},
		{"gmail es", "---------- Mensaje reenviado ---------\nDe: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\nDate: lun, 9 mar 2026\nSubject: Delivery Status Notification (Failure)\nTo: <j@example.es>\n" + notice,
			"Mail Delivery Subsystem <mailer-daemon@googlemail.example>", "Delivery Status Notification (Failure)"},
		{"outlook es", "-----Mensaje original-----\nDe: Postmaster <postmaster@example.es>\nEnviado el: lunes, 9 de marzo de 2026 10:00\nPara: j@example.es\nAsunto: No se puede entregar: Pedido\n" + notice,
			"Postmaster <postmaster@example.es>", "No se puede entregar: Pedido"},
		{"thunderbird nl", "-------- Doorgestuurd bericht --------\nOnderwerp: \tOnbestelbaar: Offerte\nDatum: \tMon, 9 Mar 2026\nVan: \tMAILER-DAEMON@mx.example.nl\nAan: \tp@example.nl\n" + notice,
			"MAILER-DAEMON@mx.example.nl", "Onbestelbaar: Offerte"},
		{"outlook nl", "-----Oorspronkelijk bericht-----\nVan: Microsoft Outlook <postmaster@example.nl>\nVerzonden: maandag 9 maart 2026 10:00\nAan: p@example.nl\nOnderwerp: Onbestelbaar: Offerte\n" + notice,
			"Microsoft Outlook <postmaster@example.nl>", "Onbestelbaar: Offerte"},
		{"gmail it", "---------- Messaggio inoltrato ---------\nDa: Mail Delivery System <MAILER-DAEMON@mx.example.it>\nDate: lun 9 mar 2026\nSubject: Undelivered Mail Returned to Sender\nTo: <m@example.it>\n" + notice,
			"Mail Delivery System <MAILER-DAEMON@mx.example.it>", "Undelivered Mail Returned to Sender"},
		{"outlook it", "-----Messaggio originale-----\nDa: Microsoft Outlook <postmaster@example.it>\nInviato: lunedì 9 marzo 2026 10:00\nA: m@example.it\nOggetto: Non recapitabile: Offerta\n" + notice,
			"Microsoft Outlook <postmaster@example.it>", "Non recapitabile: Offerta"},
		{"gmail pt", "---------- Mensagem encaminhada ---------\nDe: Mail Delivery System <MAILER-DAEMON@mx.example.pt>\nDate: seg., 9 de mar. de 2026\nSubject: Undelivered Mail Returned to Sender\nTo: <r@example.pt>\n" + notice,
			"Mail Delivery System <MAILER-DAEMON@mx.example.pt>", "Undelivered Mail Returned to Sender"},
		{"outlook pt", "-----Mensagem original-----\nDe: Microsoft Outlook <postmaster@example.pt>\nEnviado: segunda-feira, 9 de março de 2026 10:00\nPara: r@example.pt\nAssunto: Não é possível entregar: Proposta\n" + notice,
			"Microsoft Outlook <postmaster@example.pt>", "Não é possível entregar: Proposta"},
		{"apple de quoted", "\nAnfang der weitergeleiteten Nachricht:\n\n> Von: MAILER-DAEMON@mx.example.de\n> Betreff: Unzustellbar\n> Datum: 9. März 2026 um 10:00:00 MEZ\n> An: a@example.de\n>\n> This is the mail system at host mx.example.de.\n> more\n> and more\n",
			"MAILER-DAEMON@mx.example.de", "Unzustellbar"},
		{"outlook rule", "see below\n\n________________________________\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nSent: Monday, March 9, 2026 10:00 AM\nTo: Someone <a@example.org>;\n  Other <b@example.org>\nSubject: Undelivered Mail Returned to Sender\n" + notice,
			"Mail Delivery System <MAILER-DAEMON@mx.example.net>", "Undelivered Mail Returned to Sender"},
		// Not forwards of a bounce.
		{"forward of a letter", "---------- Forwarded message ---------\nFrom: Anna <anna@example.org>\nDate: Mon, 9 Mar 2026\nSubject: Lunch\nTo: me@example.org\n\nSee you at noon.\n", "", ""},
		{"marker in a sentence", "This is the forwarded message you asked about.\nFrom: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n", "", ""},
		{"marker without header", "-----Original Message-----\nThis is the mail system at host mx.example.net.\n", "", ""},
		{"signature rule", "Thanks\n________________________________\nThis e-mail is confidential.\nFrom: the legal team\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw, ok, err := unwrapForward(tt.text, 3)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.from != "") {
				t.Fatalf("found %v, want %v", ok, tt.from != "")
			}
			if !ok {
				return
			}
			if got := fw.hdr.text("From"); got != tt.from {
				t.Errorf("From %q, want %q", got, tt.from)
			}
			if got := fw.hdr.text("Subject"); got != tt.subject {
				t.Errorf("Subject %q, want %q", got, tt.subject)
			}
			if !strings.Contains(fw.text, "This is the mail system at host") || strings.Contains(fw.text, "Subject:") {
				t.Errorf("forwarded text %q", fw.text)
			}
		})
	}
}

// The attribution lines above the notice a reply quotes.
func TestQuotedReply(t *testing.T) {
	const quoted = "> This is the mail system at host mx.example.net.\n>\n> <a@example.com>: host mx.example.com said:\n>     550 5.1.1 user unknown\n>\n> more\n"
	tests := []struct {
		name, subject, text string
		from                string // "" when no quoted notice is found
	}{
		{"gmail", "Re: Undelivered Mail Returned to Sender",
			"Why?\n\nOn Mon, Mar 9, 2026 at 10:00 AM Mail Delivery System <MAILER-DAEMON@mx.example.net> wrote:\n" + quoted,
			"MAILER-DAEMON@mx.example.net"},
		{"gmail de", "AW: Unzustellbar",
			"Warum?\n\nAm Mo., 9. März 2026 um 10:00 Uhr schrieb Mail Delivery System <\nMAILER-DAEMON@mx.example.net>:\n" + quoted,
			"MAILER-DAEMON@mx.example.net"},
		{"thunderbird de", "AW: Unzustellbar", "Warum?\n\nAm 09.03.26 um 10:00 schrieb Mail Delivery System:\n" + quoted,
			"Mail Delivery System"},
		{"thunderbird", "Re: failure notice", "Why?\n\nOn 09/03/2026 10:00, Mail Delivery System wrote:\n" + quoted,
			"Mail Delivery System"},
		{"french", "Re: Non remis", "Pourquoi ?\n\nLe lun. 9 mars 2026 à 10:00, <postmaster@example.fr> a écrit :\n" + quoted,
			"postmaster@example.fr"},
		// Not a reply to a bounce.
		{"person", "Re: lunch", "Sure.\n\nOn Mon, Mar 9, 2026 at 10:00 AM Anna <anna@example.org> wrote:\n" + quoted, ""},
		{"two quoted lines", "Re: Undelivered Mail Returned to Sender",
			"Why?\n\nOn Mon, Mail Delivery System <MAILER-DAEMON@mx.example.net> wrote:\n> one\n> two\n", ""},
		{"verb in a sentence", "Re: Undelivered Mail Returned to Sender", "As the system wrote: it failed.\n" + quoted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := header{{name: []byte("From"), value: []byte("Replier <r@example.org>")}}
			fw, ok := quotedReply(tt.text, h, tt.subject)
			if ok != (tt.from != "") {
				t.Fatalf("found %v, want %v", ok, tt.from != "")
			}
			if !ok {
				return
			}
			if got := fw.hdr.text("From"); got != tt.from {
				t.Errorf("From %q, want %q", got, tt.from)
			}
			if got := fw.hdr.text("To"); got != "Replier <r@example.org>" {
				t.Errorf("To %q", got)
			}
			if !strings.HasPrefix(fw.text, "This is the mail system") || strings.Contains(fw.text, "> ") {
				t.Errorf("quoted text %q", fw.text)
			}
		})
	}
}

// A text of many marker or attribution lines costs its length, not its
// length for each line: read quadratically, these took most of a minute.
func TestParseForwardManyMarkers(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, body := range []string{
		strings.Repeat("-----Original Message-----\n> x\n> y\n> z\n> w\n", 20000),
		strings.Repeat("Begin forwarded message:\n", 40000),
		strings.Repeat("> Begin forwarded message:\n", 40000),
		strings.Repeat("On Mon, a <mailer-daemon@x.example> wrote:\n> a\n", 20000),
	} {
		msg := "From: p@example.org\nSubject: Fwd: Undelivered Mail\n\n" + body
		start := time.Now()
		if _, err := Parse([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%.30q...: %v", body, d)
		}
	}
}
