package bounce

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
)

// An o365Code is one row of the Office 365 / Exchange Online NDR code
// table: the enhanced status codes it covers (a few picked inside a range),
// the SMTP reply code and the text the server sends, and the classes the
// design allows for it.
type o365Code struct {
	codes   []string
	smtp    string
	text    string // the server's text after the codes; %s is the recipient, %d its domain
	classes []string
	human   string // the sentence for people; a generic one by class when empty
}

var (
	hardOnly  = []string{record.ClassHard}
	softOnly  = []string{record.ClassSoft}
	blockOnly = []string{record.ClassBlock}
)

// o365Codes covers every code of the Office 365 NDR table, plus the
// recipient lookups of Exchange (5.1.10, RESOLVER.ADR.*) and the directory
// edge block variant of 5.4.1. A 5.7.x refusal of the sender, its IP or
// its message is a block, never a hard bounce; a temporary refusal of the
// sender's infrastructure is a block too.
var o365Codes = []o365Code{
	{[]string{"4.4.316"}, "451", "Connection refused [Message=Socket error code 10061] [LastAttemptedServerName=mx.%d] [LastAttemptedIP=198.51.100.25:25]", softOnly,
		"The recipient's mail server refused every connection attempt, and delivery was given up."},
	{[]string{"4.4.7"}, "550", "QUEUE.Expired; message expired", softOnly,
		"The message stayed in the queue too long: the recipient's server couldn't be reached before it expired."},
	{[]string{"4.5.3"}, "452", "Too many recipients", []string{record.ClassSoft, record.ClassBlock}, ""},
	{[]string{"4.7.26"}, "451", "Access denied, a message sent over IPv6 [2001:db8:44::9] must pass either SPF or DKIM validation, this message is not signed", blockOnly, ""},
	{[]string{"4.7.500", "4.7.550", "4.7.699"}, "451", "Access denied, please try again later. For more information please go to https://aka.example/postmaster. (AS8440000)", blockOnly, ""},
	{[]string{"4.7.850", "4.7.877", "4.7.899"}, "451", "Access denied, please try again later. For more information please go to https://aka.example/postmaster. (S3150)", blockOnly, ""},
	{[]string{"5.1.0"}, "550", "Sender denied", []string{record.ClassBlock, record.ClassHard}, ""},
	{[]string{"5.1.1"}, "550", "RESOLVER.ADR.RecipNotFound; not found", hardOnly, ""},
	{[]string{"5.1.1"}, "550", "Bad destination mailbox address", hardOnly, ""},
	{[]string{"5.1.10"}, "550", "RESOLVER.ADR.RecipientNotFound; Recipient %s not found by SMTP address lookup", hardOnly, ""},
	{[]string{"5.1.8"}, "550", "Access denied, bad outbound sender. AS(42004)", blockOnly, ""},
	{[]string{"5.2.121"}, "550", "RecipientThrottling; The recipient's hourly limit for messages from one sender has been reached", []string{record.ClassSoft, record.ClassBlock}, ""},
	{[]string{"5.2.122"}, "550", "RecipientThrottling; The recipient has exceeded its hourly limit of messages received from all senders", []string{record.ClassSoft, record.ClassBlock}, ""},
	{[]string{"5.3.190"}, "550", "Journaling on-premises messages to Office 365 not supported when Journaling Archive is disabled", blockOnly, ""},
	{[]string{"5.4.1"}, "550", "Relay Access Denied", []string{record.ClassHard, record.ClassBlock}, ""},
	{[]string{"5.4.1"}, "550", "Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT010.eop-EUR03.prod.protection.outlook.example]", hardOnly, ""},
	{[]string{"5.4.6"}, "554", "Routing loop detected", []string{record.ClassSoft, record.ClassBlock}, ""},
	{[]string{"5.6.11"}, "554", "SMTPSEND.BareLinefeedsAreIllegal; message contains bare linefeeds, which cannot be sent via DATA and receiving system does not support BDAT (Invalid characters)", blockOnly, ""},
	{[]string{"5.7.1"}, "550", "Delivery not authorized, message refused", blockOnly,
		"Your message wasn't delivered due to a permission or security issue. The address may only accept email from certain senders."},
	{[]string{"5.7.1"}, "550", "Unable to relay", blockOnly, ""},
	{[]string{"5.7.1"}, "530", "Client was not authenticated", blockOnly, ""},
	{[]string{"5.7.12"}, "550", "RESOLVER.RST.SenderNotAuthenticatedForOrg; Sender was not authenticated by organization", blockOnly, ""},
	{[]string{"5.7.124"}, "550", "RESOLVER.RST.NotAuthorizedToSend; Sender not in allowed-senders list", blockOnly, ""},
	{[]string{"5.7.133"}, "550", "RESOLVER.RST.SenderNotAuthenticatedForGroup; Sender not authenticated for group", blockOnly, ""},
	{[]string{"5.7.134"}, "550", "RESOLVER.RST.SenderNotAuthenticatedForMailbox; Sender was not authenticated for mailbox", blockOnly, ""},
	{[]string{"5.7.13", "5.7.135"}, "550", "RESOLVER.RST.AuthRequired; Sender was not authenticated for public folder", blockOnly, ""},
	{[]string{"5.7.136"}, "550", "RESOLVER.RST.AuthRequired; Sender was not authenticated", blockOnly, ""},
	{[]string{"5.7.25"}, "550", "Access denied, the sending IPv6 address [2001:db8:44::9] must have a reverse DNS record", blockOnly, ""},
	{[]string{"5.7.501"}, "550", "Access denied, spam abuse detected. AS(4500)", blockOnly, ""},
	{[]string{"5.7.502", "5.7.503"}, "550", "Access denied, banned sender. AS(4510)", blockOnly, ""},
	{[]string{"5.7.504"}, "550", "<%s>: Recipient address rejected: Access denied", []string{record.ClassHard, record.ClassBlock}, ""},
	{[]string{"5.7.504"}, "550", "[%s]: Recipient address rejected: Access denied", []string{record.ClassHard, record.ClassBlock}, ""},
	{[]string{"5.7.505"}, "550", "Access denied, banned recipient", []string{record.ClassHard, record.ClassBlock}, ""},
	{[]string{"5.7.506"}, "550", "Access Denied, Bad HELO", blockOnly, ""},
	{[]string{"5.7.507"}, "550", "Access denied, rejected by recipient", blockOnly, ""},
	{[]string{"5.7.508"}, "550", "Access denied, [2001:db8:44::9] has exceeded permitted limits within 2001:db8:44::/64 range", blockOnly, ""},
	{[]string{"5.7.509"}, "550", "Access denied, sending domain [shop.example] does not pass DMARC verification and has a DMARC policy of reject", blockOnly, ""},
	{[]string{"5.7.510"}, "550", "Access denied, [%d] does not accept email over IPv6", blockOnly, ""},
	{[]string{"5.7.511"}, "550", "Access denied, banned sender [198.51.100.77]", blockOnly, ""},
	{[]string{"5.7.512"}, "550", "Access denied, message must be RFC 5322 section 3.6.2 compliant", blockOnly, ""},
	{[]string{"5.7.513"}, "550", "Service unavailable, Client host [198.51.100.77] blocked by %d using Customer Block list (AS16012607)", blockOnly, ""},
	{[]string{"5.7.606", "5.7.620", "5.7.649"}, "550", "Access denied, banned sending IP [198.51.100.77]. To request removal from this list please visit https://sender.example/ and follow the directions. For more information please go to https://aka.example/rbl (AS130)", blockOnly, ""},
	// The table's wording, its placeholders left in.
	{[]string{"5.7.606"}, "550", "Access denied, banned sending IP [IP1.IP2.IP3.IP4]", blockOnly, ""},
	{[]string{"5.7.508"}, "550", "Access denied, [$SenderIPAddress] has exceeded permitted limits within $range range", blockOnly, ""},
	{[]string{"5.7.700", "5.7.720", "5.7.749"}, "550", "Access denied, tenant has exceeded threshold", blockOnly, ""},
}

// o365Layouts are the NDR layouts of testdata/o365: the new Office 365
// layout with a delivery-status part, the same notice as text only (as a
// relay that dropped the report part forwards it), the older Exchange
// 2007-2013 text NDR for its own recipients, the Exchange NDR for a
// refusal by a remote server ("host #<gw #5.0.0 smtp;550 ...> #SMTP#"),
// a notice whose only human part is HTML, the new layout as text with
// only its "Status code:" line (no diagnostic section), the remote
// refusal with the original's heading run on after "#SMTP#", the
// administrators' section with one field a line (server, recipient,
// remote server, status code, reply), and the text layout in Dutch around
// the server's English reply.
// A "+crlf" suffix sends the layout with CRLF line ends, as it comes off
// the wire; "+base64" and "+quoted-printable" encode the body of a
// single-part layout so.
var o365Layouts = []string{
	"modern-dsn", "modern-text", "legacy-text", "legacy-remote", "html-only",
	"modern-short", "legacy-joined", "admin-fields", "dutch-text",
	"modern-dsn+crlf", "legacy-text+crlf", "modern-text+base64", "legacy-text+quoted-printable"}

// o365Gaps are the rows known to fail for a cause outside the text
// decoder, keyed "layout/code/n" (n the table row; any variant of the
// layout): they are logged, not failed, until the decoder or classifier
// that owns them is fixed.
var o365Gaps = map[string]string{}

// o365Fields is what a template is filled with.
type o365Fields struct {
	N                               int
	Sec, Boundary                   string
	Sender, SenderDomain            string
	Recipient, Local, Domain        string
	Status, SMTP, Reply, Generic    string
	Remote                          string
	Human, Title, Fix, Admin, Owner string
}

func o365Fill(n int, status string, c o365Code) o365Fields {
	locals := []string{"ana.silva", "bram", "chloe.m", "dario", "eun-ji", "farah.k", "gus", "hana.o", "ivo.p", "jules"}
	domains := []string{"fabrikam.example", "northwind.example", "tailspin.example", "woodgrove.example", "adatum.example"}
	local := fmt.Sprintf("%s%d", locals[n%len(locals)], n)
	domain := domains[n%len(domains)]
	rcpt := local + "@" + domain
	text := strings.ReplaceAll(strings.ReplaceAll(c.text, "%s", rcpt), "%d", domain)
	f := o365Fields{
		N:            n,
		Sec:          fmt.Sprintf("%02d", n%60),
		Boundary:     fmt.Sprintf("b%04dPR3P192MB0731", n),
		Sender:       "news@shop.example",
		SenderDomain: "shop.example",
		Recipient:    rcpt,
		Local:        local,
		Domain:       domain,
		Status:       status,
		SMTP:         c.smtp,
		Reply:        c.smtp + " " + status + " " + text,
		Generic:      status[:1] + ".0.0",
		Remote:       "mx1." + domain,
		Title:        text,
		Human:        c.human,
	}
	switch c.classes[0] {
	case record.ClassHard:
		f.Owner = "Recipient"
		if f.Human == "" {
			f.Human = local + " wasn't found at " + domain + "."
		}
		f.Fix = "The address may be misspelled or may not exist. Check it and send the message again."
		f.Admin = "The recipient's email system reported that the address does not exist."
	case record.ClassSoft:
		f.Owner = "Recipient"
		if f.Human == "" {
			f.Human = "The recipient's email system is temporarily unable to accept your message."
		}
		f.Fix = "Try sending the message again later."
		f.Admin = "The receiving server reported a temporary condition. Delivery was retried until it expired."
	default:
		f.Owner = "Sender"
		if f.Human == "" {
			f.Human = "Your message wasn't delivered because the recipient's email provider rejected it."
		}
		f.Fix = "Ask your email admin to look at the reported error below; the address itself is not at fault."
		f.Admin = "The receiving server refused the message because of the sender, its IP address or its content."
	}
	return f
}

// o365Message is one generated NDR.
type o365Message struct {
	name       string // layout/status/row
	gapKey     string // name without the variant of the layout
	raw        []byte
	recipient  string
	status     string
	smtp       string
	classes    []string
	structured bool
	remote     string // the remote MTA, for layouts that name it
}

func o365Messages(t *testing.T) []o365Message {
	t.Helper()
	var msgs []o365Message
	n := 0
	for _, layout := range o365Layouts {
		file, variant, _ := strings.Cut(layout, "+")
		path := filepath.Join("testdata", "o365", file+".tmpl")
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := template.New(file).Parse(string(src))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for row, c := range o365Codes {
			for _, status := range c.codes {
				n++
				f := o365Fill(n, status, c)
				if file == "html-only" {
					// Text in HTML, sent quoted-printable.
					htmlQP := func(s string) string {
						return strings.ReplaceAll(template.HTMLEscapeString(s), "=", "=3D")
					}
					f.Reply, f.Human, f.Title = htmlQP(f.Reply), htmlQP(f.Human), htmlQP(f.Title)
				}
				var buf bytes.Buffer
				if err := tmpl.Execute(&buf, f); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				raw := buf.Bytes()
				switch variant {
				case "crlf":
					raw = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
				case "base64", "quoted-printable":
					raw = o365Encode(t, raw, variant)
				}
				msgs = append(msgs, o365Message{
					name:       fmt.Sprintf("%s/%s/%d", layout, status, row),
					raw:        raw,
					gapKey:     fmt.Sprintf("%s/%s/%d", file, status, row),
					recipient:  f.Recipient,
					status:     status,
					smtp:       o365ReplyCode(c.smtp, status),
					classes:    c.classes,
					structured: file == "modern-dsn",
					remote:     o365Remote(file, f),
				})
			}
		}
	}
	return msgs
}

// o365ReplyCode is the reply code a record keeps: none when it disagrees
// with the status code on the class of the failure ("550 4.4.7
// QUEUE.Expired"), the status code being the more specific.
func o365ReplyCode(smtp, status string) string {
	if smtp[0] != status[0] {
		return ""
	}
	return smtp
}

// o365Remote returns the remote MTA a layout names: in its Remote-MTA
// field, before Exchange's "#<gw #5.0.0 smtp;...>" or on a line of its own
// for administrators.
func o365Remote(layout string, f o365Fields) string {
	switch layout {
	case "modern-dsn", "legacy-remote", "legacy-joined", "admin-fields":
		return f.Remote
	}
	return ""
}

// o365Encode encodes the body of a single-part message with the content
// transfer encoding enc (RFC 2045 section 6).
func o365Encode(t *testing.T, msg []byte, enc string) []byte {
	t.Helper()
	hdr, body, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok || !bytes.Contains(hdr, []byte("Content-Transfer-Encoding: 7bit")) {
		t.Fatalf("not a single-part 7bit message:\n%s", hdr)
	}
	hdr = bytes.Replace(hdr, []byte("Content-Transfer-Encoding: 7bit"), []byte("Content-Transfer-Encoding: "+enc), 1)
	var out bytes.Buffer
	out.Write(hdr)
	out.WriteString("\n\n")
	if enc == "base64" {
		b := base64.StdEncoding.EncodeToString(bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n")))
		for len(b) > 76 {
			out.WriteString(b[:76] + "\n")
			b = b[76:]
		}
		out.WriteString(b + "\n")
		return out.Bytes()
	}
	w := quotedprintable.NewWriter(&out)
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestOffice365 decodes and classifies an Office 365 or Exchange NDR for
// every code of the table, in every layout: the recipient, the specific
// status code (never the generic 5.0.0 Exchange adds), the reply code and
// the class must come out right.
func TestOffice365(t *testing.T) {
	a := newAnalyzer(t)
	gaps := 0
	for _, m := range o365Messages(t) {
		t.Run(m.name, func(t *testing.T) {
			recs, _, err := a.Analyze(m.raw, m.name)
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			if len(recs) != 1 {
				problems = append(problems, fmt.Sprintf("%d records, want 1", len(recs)))
			} else {
				r := recs[0]
				if r.Recipient != m.recipient {
					problems = append(problems, fmt.Sprintf("recipient %q, want %q", r.Recipient, m.recipient))
				}
				if r.Status != m.status {
					problems = append(problems, fmt.Sprintf("status %q, want %q", r.Status, m.status))
				}
				if r.SMTPCode != m.smtp {
					problems = append(problems, fmt.Sprintf("smtp_code %q, want %q", r.SMTPCode, m.smtp))
				}
				if !slices.Contains(m.classes, r.Class) {
					problems = append(problems, fmt.Sprintf("class %q (reason %s, entry %s), want one of %v", r.Class, r.Reason, r.CatalogEntry, m.classes))
				}
				if m.remote != "" && r.RemoteMTA != m.remote {
					problems = append(problems, fmt.Sprintf("remote_mta %q, want %q", r.RemoteMTA, m.remote))
				}
				wantFormat := dsn.FormatExchange
				if m.structured {
					wantFormat = dsn.FormatRFC3464
				}
				if r.Format != wantFormat {
					problems = append(problems, fmt.Sprintf("format %q, want %q", r.Format, wantFormat))
				}
			}
			if len(problems) == 0 {
				return
			}
			if why, ok := o365Gaps[m.gapKey]; ok {
				gaps++
				t.Logf("known gap (%s): %s", why, strings.Join(problems, "; "))
				return
			}
			t.Error(strings.Join(problems, "; "))
		})
	}
	if gaps > 0 {
		t.Logf("%d known gaps", gaps)
	}
}

// TestOffice365Explain checks that every code of the table is explained.
func TestOffice365Explain(t *testing.T) {
	a := newAnalyzer(t)
	for _, c := range o365Codes {
		for _, status := range c.codes {
			ex, err := a.Classifier.Explain(status)
			if err != nil {
				t.Errorf("Explain(%s): %v", status, err)
				continue
			}
			if len(ex.Entries) == 0 || ex.Result.Class == "" {
				t.Errorf("Explain(%s) = %+v: no catalog entry", status, ex)
			}
		}
	}
}

// TestOffice365Multi reads an Exchange NDR for two recipients refused
// for different reasons: each keeps its own codes and class.
func TestOffice365Multi(t *testing.T) {
	path := filepath.Join("testdata", "o365", "legacy-multi.tmpl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("multi").Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	a := newAnalyzer(t)
	// Pair each row with the one half the table away, so that a hard
	// bounce meets a block and a soft one.
	half := len(o365Codes) / 2
	for row := range half {
		ca, cb := o365Codes[row], o365Codes[row+half]
		fa, fb := o365Fill(1000+row, ca.codes[0], ca), o365Fill(2000+row, cb.codes[len(cb.codes)-1], cb)
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, struct{ A, B o365Fields }{fa, fb}); err != nil {
			t.Fatal(err)
		}
		name := fa.Status + "+" + fb.Status
		recs, _, err := a.Analyze(buf.Bytes(), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(recs) != 2 {
			t.Errorf("%s: %d records, want 2: %+v", name, len(recs), recs)
			continue
		}
		for i, w := range []struct {
			f       o365Fields
			classes []string
		}{{fa, ca.classes}, {fb, cb.classes}} {
			r := recs[i]
			if r.Recipient != w.f.Recipient || r.Status != w.f.Status || r.SMTPCode != o365ReplyCode(w.f.SMTP, w.f.Status) || r.RemoteMTA != w.f.Remote ||
				!slices.Contains(w.classes, r.Class) {
				t.Errorf("%s: record %d = %s %s %s %s %s (%s), want %s %s %s %s %v", name, i+1,
					r.Recipient, r.Status, r.SMTPCode, r.RemoteMTA, r.Class, r.Reason,
					w.f.Recipient, w.f.Status, w.f.SMTP, w.f.Remote, w.classes)
			}
		}
	}
}
