package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func loadFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A wantRcpt lists the fields of a Recipient a test checks.
type wantRcpt struct {
	final, orig, action, status, code, remote, diagType, diag, feedback, command string
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file      string
		format    string
		reporting string
		rcpts     []wantRcpt
		origID    string
		origSubj  string
		origHdrs  map[string]string
	}{
		{
			file: "plain-3464.eml", format: FormatRFC3464, reporting: "mx1.example.net",
			rcpts: []wantRcpt{{final: "alice@example.com", orig: "alice@example.com", action: "failed", status: "5.1.1", code: "550",
				remote: "mail.example.com", diagType: "smtp",
				diag: "550 5.1.1 <alice@example.com>: Recipient address rejected: no such mailbox", command: "RCPT"}},
			origID: "<m-2026-03-0001@example.org>", origSubj: "March news—spring",
			origHdrs: map[string]string{"X-Campaign-Id": "spring-2026", "List-Unsubscribe": "<mailto:unsub@example.org>"},
		},
		{
			file: "multi-recipient.eml", format: FormatRFC3464, reporting: "relay.example.net",
			rcpts: []wantRcpt{
				{final: "bob@example.com", action: "failed", status: "5.2.2", code: "552", remote: "mx.example.com", diagType: "smtp",
					diag: "552 5.2.2 The mailbox is full and cannot take more mail at this time. Please try again later."},
				{final: "carol@example.net", action: "delayed", status: "4.4.1", code: "421", diagType: "smtp", diag: "421 4.4.1 Connection timed out"},
				{final: "dave@example.org", orig: "dave@example.org", action: "failed", status: "5.0.0", diagType: "x-unix", diag: "67"},
			},
			origID: "<inv-7@example.org>", origSubj: "Invoice",
		},
		{
			file: "global-6533.eml", format: FormatRFC6533, reporting: "mx.example.jp",
			rcpts: []wantRcpt{{final: "müller@bücher.example", orig: "müller@bücher.example", action: "failed", status: "5.1.1", code: "550",
				diagType: "smtp", diag: "550 5.1.1 Unbekannter Empfänger"}},
			origID: "<g1@example.org>", origSubj: "Grüße",
		},
		{
			file: "base64-report.eml", format: FormatRFC3464, reporting: "smtp.example.net",
			rcpts: []wantRcpt{{final: "erin@example.com", action: "failed", status: "5.7.1", code: "554", remote: "mx.example.com",
				diagType: "smtp", diag: "554 5.7.1 Message rejected as spam by content filter"}},
			origID: "<order-99@example.org>", origSubj: "Your order", origHdrs: map[string]string{"X-Mailer-Campaign": "orders"},
		},
		{
			file: "no-closing-boundary.eml", format: FormatRFC3464, reporting: "mail.example.net",
			rcpts: []wantRcpt{{final: "frank@example.com", action: "failed", status: "5.1.10", code: "550", diagType: "smtp",
				diag: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"}},
			origID: "<alert-1@example.org>", origSubj: "Alert",
		},
		{
			file: "mbox-from.eml", format: FormatRFC3464, reporting: "mx.example.net",
			rcpts: []wantRcpt{{final: "grace@example.com", action: "failed", status: "5.4.4", diagType: "x-postfix",
				diag: "Host or domain name not found. Name service error for name=example.com type=A: Host not found"}},
		},
		{
			// Exim's generic 5.0.0 gives way to the server's 5.7.1.
			file: "exim-status.eml", format: FormatRFC3464, reporting: "exim.example.net",
			rcpts: []wantRcpt{{final: "heidi@example.com", action: "failed", status: "5.7.1", code: "550", remote: "mx.example.com",
				diagType: "smtp", diag: "550 5.7.1 Message rejected because of its reputation", command: "DATA"}},
		},
		{
			file: "arf.eml", format: FormatARF, reporting: "mx.fbl.example.net",
			rcpts:  []wantRcpt{{final: "Ivan@example.net", feedback: "abuse"}, {final: "judy@example.net", feedback: "abuse"}},
			origID: "<sale-1@example.org>", origSubj: "Sale today", origHdrs: map[string]string{"X-Campaign-Id": "march-sale"},
		},
		{
			file: "arf-no-rcpt.eml", format: FormatARF,
			rcpts:  []wantRcpt{{final: "karl@example.net", feedback: "opt-out"}},
			origID: "<w-1@example.org>", origSubj: "Weekly",
		},
		{
			file: "arf-text-part.eml", format: FormatARF,
			rcpts:  []wantRcpt{{final: "wendy@example.net", feedback: "abuse"}},
			origID: "<deal-3@example.org>", origSubj: "Deals",
		},
		{
			file: "autoreply.eml", format: FormatRFC3834,
			rcpts: []wantRcpt{{final: "laura@example.com"}},
		},
		{file: "not-bounce.eml"},
		{file: "reply-quoting-report.eml"},
		{
			file: "unsubscribe-request.eml", format: FormatARF,
			rcpts: []wantRcpt{{final: "victor@example.com", feedback: "opt-out"}},
		},
		{
			// The report of the outer server counts, not the one inside
			// the returned message.
			file: "bounce-of-bounce.eml", format: FormatRFC3464, reporting: "outer.example.net",
			rcpts:  []wantRcpt{{final: "mike@example.com", action: "failed", status: "5.1.1"}},
			origID: "<inner@inner.example.net>", origSubj: "inner report",
		},
		{
			file: "rfc2231-boundary.eml", format: FormatRFC3464, reporting: "gw.example.net",
			rcpts: []wantRcpt{{final: "nina@example.com", action: "failed", status: "5.1.1", code: "550", diagType: "smtp", diag: "550 5.1.1 user unknown"}},
		},
		{
			file: "inline-status.eml", format: FormatRFC3464, reporting: "mx.example.net",
			rcpts: []wantRcpt{{final: "oscar@example.com", action: "failed", status: "4.2.2", code: "452", diagType: "smtp", diag: "452 4.2.2 Mailbox full"}},
		},
		{
			file: "utf7-text.eml", format: FormatRFC3464, reporting: "exchange.example.net",
			rcpts: []wantRcpt{{final: "peggy@example.com", action: "failed", status: "5.2.2",
				diag: "Delivery has failed to these recipients: peggy@example.com © 2026"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			msg := loadFixture(t, tt.file)
			// The same message with LF, CRLF and bare CR line ends.
			lf := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
			variants := map[string][]byte{
				"lf":   lf,
				"crlf": bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")),
				"cr":   bytes.ReplaceAll(lf, []byte("\n"), []byte("\r")),
			}
			for name, m := range variants {
				rep, err := Parse(m)
				if err != nil {
					t.Fatalf("%s: Parse: %v", name, err)
				}
				checkReport(t, name, rep, tt.format, tt.reporting, tt.rcpts)
				if tt.origID != "" && rep.Original.MessageID != tt.origID {
					t.Errorf("%s: Original.MessageID = %q, want %q", name, rep.Original.MessageID, tt.origID)
				}
				if tt.origSubj != "" && rep.Original.Subject != tt.origSubj {
					t.Errorf("%s: Original.Subject = %q, want %q", name, rep.Original.Subject, tt.origSubj)
				}
				if tt.origHdrs != nil && !reflect.DeepEqual(rep.Original.Headers, tt.origHdrs) {
					t.Errorf("%s: Original.Headers = %v, want %v", name, rep.Original.Headers, tt.origHdrs)
				}
			}
		})
	}
}

func checkReport(t *testing.T, variant string, rep *Report, format, reporting string, want []wantRcpt) {
	t.Helper()
	if rep.Format != format {
		t.Errorf("%s: Format = %q, want %q", variant, rep.Format, format)
	}
	if rep.ReportingMTA != reporting {
		t.Errorf("%s: ReportingMTA = %q, want %q", variant, rep.ReportingMTA, reporting)
	}
	if len(rep.Recipients) != len(want) {
		t.Fatalf("%s: %d recipients, want %d: %+v", variant, len(rep.Recipients), len(want), rep.Recipients)
	}
	for i, w := range want {
		r := rep.Recipients[i]
		got := wantRcpt{r.FinalRecipient, r.OriginalRecipient, r.Action, r.Status, r.SMTPCode, r.RemoteMTA, r.DiagnosticType, r.Diagnostic, r.FeedbackType, r.Command}
		if w.diag == "" && format == FormatRFC3834 {
			got.diag = ""
		}
		if got != w {
			t.Errorf("%s: recipient %d\n got %+v\nwant %+v", variant, i+1, got, w)
		}
	}
}

func TestParseFeedbackFields(t *testing.T) {
	rep, err := Parse(loadFixture(t, "arf.eml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Feedback{
		FeedbackType: "abuse", UserAgent: "ExampleFBL/2.1", Version: "1", SourceIP: "192.0.2.77",
		ArrivalDate: "Thu, 5 Mar 2026 13:58:00 +0000", ReportingMTA: "mx.fbl.example.net",
		OriginalMailFrom: "bounces@example.org", OriginalRcptTo: []string{"Ivan@example.net", "judy@example.net"},
	}
	if !reflect.DeepEqual(rep.Feedback, want) {
		t.Errorf("Feedback = %+v, want %+v", rep.Feedback, want)
	}
}

func TestParseMessageFields(t *testing.T) {
	rep, err := Parse(loadFixture(t, "multi-recipient.eml"))
	if err != nil {
		t.Fatal(err)
	}
	got := [...]string{rep.ReceivedFromMTA, rep.ArrivalDate, rep.OriginalEnvelopeID, rep.Subject,
		rep.Recipients[0].LastAttemptDate, rep.Recipients[1].WillRetryUntil, rep.Original.To}
	want := [...]string{"client.example.org", "Wed, 4 Mar 2026 07:59:58 GMT", "env-42", "Returned mail: see transcript for details",
		"Wed, 4 Mar 2026 08:00:00 GMT", "Thu, 9 Mar 2026 08:00:00 GMT", "bob@example.com, carol@example.net, dave@example.org"}
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestParseLimits(t *testing.T) {
	msg := loadFixture(t, "multi-recipient.eml")
	nested := []byte("From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n")
	for i := range 30 {
		nested = fmt.Appendf(nested, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i+1)
	}
	many := []byte("From: a@example.com\nContent-Type: multipart/mixed; boundary=x\n\n")
	for range 50 {
		many = append(many, "--x\nContent-Type: text/plain\n\nhello\n"...)
	}
	bigHeader := append([]byte("From: a@example.com\nX-Long: "), bytes.Repeat([]byte("a"), 5000)...)
	bigHeader = append(bigHeader, "\n\nbody\n"...)
	tests := []struct {
		name   string
		limits Limits
		msg    []byte
		want   error
	}{
		{"size", Limits{MaxMessageSize: 100}, msg, ErrTooLarge},
		{"header", Limits{MaxHeaderSize: 1000}, bigHeader, ErrHeaderTooBig},
		{"parts", Limits{MaxParts: 10}, many, ErrTooManyParts},
		{"depth", Limits{MaxDepth: 5}, nested, ErrTooDeep},
		{"empty", Limits{}, []byte(" \r\n"), ErrEmpty},
		{"no header", Limits{}, []byte("just some text\nand more\n"), ErrNoHeader},
		{"within", Limits{MaxParts: 10, MaxDepth: 5}, msg, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Limits: tt.limits}
			_, err := p.Parse(tt.msg)
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse error = %v, want %v", err, tt.want)
			}
		})
	}
}

// fixtures returns the names of this package's own fixtures.
func fixtures(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	return files
}

func TestParseDeterministic(t *testing.T) {
	for _, f := range fixtures(t) {
		msg, _ := os.ReadFile(f)
		first, err1 := Parse(msg)
		for range 3 {
			again, err2 := Parse(msg)
			if !reflect.DeepEqual(first, again) || (err1 == nil) != (err2 == nil) {
				t.Fatalf("%s: results differ between runs", f)
			}
		}
	}
}

func TestParseConcurrent(t *testing.T) {
	var msgs [][]byte
	var want []*Report
	var p Parser
	for _, f := range fixtures(t) {
		msg, _ := os.ReadFile(f)
		rep, _ := p.Parse(msg)
		msgs = append(msgs, msg)
		want = append(want, rep)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i, m := range msgs {
				rep, _ := p.Parse(m)
				if !reflect.DeepEqual(rep, want[i]) {
					t.Errorf("message %d decoded differently in parallel", i)
				}
			}
		})
	}
	wg.Wait()
}

// TestParseCorpusNoErrors reads every message of the measuring corpus,
// when present: none may fail or panic, and the messages that are not
// bounces must yield no failure.
func TestParseCorpusNoErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, m := range corpus(t) {
		if _, err := Parse(m); err != nil {
			t.Errorf("Parse: %v\n%.200s", err, m)
		}
	}
	notBounces, _ := filepath.Glob("../../shared/corpus/not-bounces/*")
	for _, f := range notBounces {
		m, _ := os.ReadFile(f)
		rep, err := Parse(m)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, r := range rep.Recipients {
			if r.Action == "failed" || strings.HasPrefix(r.Status, "5") || strings.HasPrefix(r.Status, "4") {
				t.Errorf("%s: not a bounce, yet %+v", filepath.Base(f), r)
			}
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"550 5.1.1 no such user", "550 5.1.1 no such user"},
		{"550-5.7.1 first line \r\n    550 5.7.1 second", "550-5.7.1 first line 550 5.7.1 second"},
		{"a\nb\r\rc", "a b c"},
		{"\n lead and trail \n", "lead and trail"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
