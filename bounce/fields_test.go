package bounce

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

// TestRecipientsFromUTF8Report reads an RFC 6533 report whose utf-8
// addresses decode to control characters, to a 5,000-octet local part and
// to internationalized addresses.
func TestRecipientsFromUTF8Report(t *testing.T) {
	recs := analyzeFile(t, "utf8-recipients.eml")
	want := []struct {
		recipient, original string
		invalid             string // substring of RecipientInvalid, "" for none
	}{
		// RFC 6533 has no escape for CR, LF or NUL: the decoder keeps
		// them as written, and the address is refused whole.
		{"", "", `invalid address "kai\\x{0D}\\x{0A}ro\\x{00}@example.com"`},
		{"", "", "local part is 5000 octets, more than the 64 of RFC 5321 section 4.5.3.1.1"},
		{"jörg@xn--bcher-kva.example", "JÖrg@xn--bcher-kva.example", ""},
		{"用户@xn--fsqu00a.xn--4rr70v", "", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.Recipient != w.recipient || r.OriginalRecipient != w.original {
			t.Errorf("record %d: recipient %q, original %q; want %q, %q", i+1, r.Recipient, r.OriginalRecipient, w.recipient, w.original)
		}
		if w.invalid == "" && r.RecipientInvalid != "" || !strings.Contains(r.RecipientInvalid, w.invalid) {
			t.Errorf("record %d: recipient_invalid %q, want %q", i+1, r.RecipientInvalid, w.invalid)
		}
		// The verdict stands: the report did say 5.1.1.
		if r.Status == "" || r.Class == "" {
			t.Errorf("record %d not judged: %+v", i+1, r)
		}
		for name, v := range map[string]string{"recipient": r.Recipient, "original_recipient": r.OriginalRecipient,
			"recipient_invalid": r.RecipientInvalid} {
			if strings.IndexFunc(v, unicode.IsControl) >= 0 {
				t.Errorf("record %d: %s %q holds a control character", i+1, name, v)
			}
		}
		if len(r.RecipientInvalid) > 200 {
			t.Errorf("record %d: recipient_invalid of %d bytes repeats the whole input", i+1, len(r.RecipientInvalid))
		}
	}
}

// TestInvalidRecipientNeverSuppresses stores the records of the report:
// hard bounces whose recipient is no address suppress nothing.
func TestInvalidRecipientNeverSuppresses(t *testing.T) {
	msg, err := os.ReadFile(filepath.Join("testdata", "utf8-recipients.eml"))
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := newAnalyzer(t).Analyze(msg, "smtp")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Save(ctx, &store.Message{Source: "smtp", Raw: msg, Format: recs[0].Format, Records: recs}); err != nil {
		t.Fatal(err)
	}
	sups, err := st.Suppressions(ctx, recs[0].ReceivedAt)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sups {
		got = append(got, s.Address)
	}
	if want := []string{"jörg@xn--bcher-kva.example"}; !reflect.DeepEqual(got, want) {
		t.Errorf("suppressed %q, want %q", got, want)
	}
	stored, err := st.Records(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(recs) || stored[0].RecipientInvalid != recs[0].RecipientInvalid {
		t.Errorf("stored records %+v, want the %d analyzed", stored, len(recs))
	}
}

func analyzeFile(tb testing.TB, name string) []record.Record {
	tb.Helper()
	path := filepath.Join("testdata", name)
	msg, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	recs, _, err := newAnalyzer(tb).Analyze(msg, path)
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

// hugeReport is a report with a Diagnostic-Code of about diagSize bytes
// (folded, of two-byte characters so that a cut can fall inside one), a
// long subject and headers X-Tag-000... of the original message.
func hugeReport(diagSize, headers int) []byte {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@sender.example\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"h\"\r\n\r\n" +
		"--h\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\r\n" +
		"--h\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; ilse@example.com\r\nAction: failed\r\nStatus: 5.7.1\r\n" +
		"Remote-MTA: dns; mx.example.com\r\nDiagnostic-Code: smtp; 550 5.7.1 refused")
	for b.Len() < diagSize {
		b.WriteString("\r\n refusé refusé refusé refusé refusé refusé refusé refusé")
	}
	b.WriteString("\r\n\r\n--h\r\nContent-Type: text/rfc822-headers\r\n\r\n" +
		"From: news@sender.example\r\nMessage-ID: <huge-1@sender.example>\r\nSubject: ")
	b.WriteString(strings.Repeat("Lente ", 1000))
	b.WriteString("\r\n")
	for i := range headers {
		fmt.Fprintf(&b, "X-Tag-%03d: value %d\r\n", i, i)
	}
	b.WriteString("\r\n--h--\r\n")
	return []byte(b.String())
}

func TestBoundFields(t *testing.T) {
	msg := hugeReport(900_000, 70)
	recs, rep, err := newAnalyzer(t).Analyze(msg, "smtp")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r := recs[0]
	whole := len(rep.Recipients[0].Diagnostic)
	if whole < 800_000 {
		t.Fatalf("the decoder kept %d bytes of the diagnostic; the test wants a huge one", whole)
	}
	checkCut(t, "diagnostic", r.Diagnostic, rep.Recipients[0].Diagnostic, MaxDiagnostic)
	checkCut(t, "original_subject", r.OriginalSubject, rep.Original.Subject, MaxHeaderValue)
	if r.Class == "" || r.Status != "5.7.1" {
		t.Errorf("record not judged: %+v", r)
	}

	// 50 headers, the first by name, and one entry that says how many
	// more there were.
	if len(r.OriginalHeaders) != MaxOriginalHeaders+1 || r.OriginalHeaders["X-Tag-000"] != "value 0" ||
		r.OriginalHeaders["X-Tag-049"] != "value 49" || r.OriginalHeaders["X-Tag-050"] != "" ||
		r.OriginalHeaders[cutHeadersKey] != "[cut: 20 more headers]" {
		t.Errorf("original headers: %d of them: %v", len(r.OriginalHeaders), r.OriginalHeaders)
	}
	if len(rep.Original.Headers) != 70 {
		t.Errorf("the report's headers were changed: %d of them", len(rep.Original.Headers))
	}
}

// checkCut checks that got is want cut to limit bytes at a character
// boundary, with the marker.
func checkCut(t *testing.T, field, got, want string, limit int) {
	t.Helper()
	marker := fmt.Sprintf("… [cut from %d bytes]", len(want))
	switch {
	case len(got) > limit:
		t.Errorf("%s: %d bytes, over the %d allowed", field, len(got), limit)
	case !strings.HasSuffix(got, marker):
		t.Errorf("%s: ends %q, want the marker %q", field, got[max(0, len(got)-60):], marker)
	case !utf8.ValidString(got):
		t.Errorf("%s: not valid UTF-8 after the cut", field)
	case !strings.HasPrefix(want, strings.TrimSuffix(got, marker)):
		t.Errorf("%s: not a prefix of the whole", field)
	case len(got) < limit-utf8.UTFMax:
		t.Errorf("%s: cut to %d bytes, more than needed under %d", field, len(got), limit)
	}
}

func TestCutText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly 10", 10, "exactly 10"},
		{strings.Repeat("a", 40), 30, strings.Repeat("a", 7) + "… [cut from 40 bytes]"},
		// "é" is two bytes: the cut does not split it.
		{strings.Repeat("é", 20), 30, strings.Repeat("é", 3) + "… [cut from 40 bytes]"},
		// Too small a limit for the marker: an ellipsis only.
		{strings.Repeat("a", 40), 5, "aa…"},
		{strings.Repeat("a", 40), 2, "aa"},
		// NUL and invalid UTF-8 become U+FFFD, as every store can keep.
		{"a\x00b", 10, "a\uFFFDb"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"line one\r\nline two\ttab", 100, "line one\r\nline two\ttab"},
	} {
		if got := cutText(tt.in, tt.max); got != tt.want {
			t.Errorf("cutText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestBoundFieldsEveryField checks that every text field of a record is
// bounded, so that a field added to the record without a limit is found.
func TestBoundFieldsEveryField(t *testing.T) {
	huge := strings.Repeat("z", 1<<20)
	var r record.Record
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(huge)
		}
	}
	r.OriginalHeaders = map[string]string{huge: huge}
	boundFields(&r)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String && len(f.String()) > MaxDiagnostic {
			t.Errorf("field %s not bounded: %d bytes", v.Type().Field(i).Name, len(f.String()))
		}
	}
	for k, val := range r.OriginalHeaders {
		if len(k) > MaxHeaderName || len(val) > MaxHeaderValue {
			t.Errorf("original header not bounded: name %d bytes, value %d", len(k), len(val))
		}
	}
}

func BenchmarkBoundFields(b *testing.B) {
	recs := analyzeFile(b, "dsn.eml")
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			r := recs[i]
			setRecipients(&r, "Quinn@Example.com", "quinn@example.com")
			boundFields(&r)
		}
	}
}
