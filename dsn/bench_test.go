package dsn

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const corpusDir = "../../shared/corpus/emails"

// corpus returns the messages of the measuring corpus, or skips.
func corpus(tb testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if len(files) == 0 {
		tb.Skip("corpus not available")
	}
	msgs := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	return msgs
}

// BenchmarkParseCorpus decodes every corpus message per iteration.
func BenchmarkParseCorpus(b *testing.B) {
	msgs := corpus(b)
	var p Parser
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := p.Parse(m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(msgs))/b.Elapsed().Seconds(), "bounces/s")
}

// bigDSN returns a delivery status notification of about size bytes: a
// short report with a large original message attached, in base64 like
// the attachments real originals carry.
func bigDSN(size int) []byte {
	var buf bytes.Buffer
	buf.WriteString("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n" +
		"To: sender@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; someone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n\r\n" +
		"--b1\r\nContent-Type: message/rfc822\r\n\r\n" +
		"From: sender@example.org\r\nTo: someone@example.com\r\nSubject: Big\r\n" +
		"Message-ID: <big@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n" +
		"--b2\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 3)[:76] + "\r\n"
	for buf.Len() < size {
		buf.WriteString(line)
	}
	buf.WriteString("--b2--\r\n\r\n--b1--\r\n")
	return buf.Bytes()
}

// BenchmarkSize shows that decoding time grows linearly with the size of
// the message.
func BenchmarkSize(b *testing.B) {
	for _, size := range []int{200 << 10, 4 << 20} {
		msg := bigDSN(size)
		name := fmt.Sprintf("%dKB", size>>10)
		if size >= 1<<20 {
			name = fmt.Sprintf("%dMB", size>>20)
		}
		b.Run(name, func(b *testing.B) {
			var p Parser
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				rep, err := p.Parse(msg)
				if err != nil || len(rep.Recipients) != 1 {
					b.Fatalf("Parse: %v, %+v", err, rep)
				}
			}
		})
	}
}

// manyRecipients returns a report on n recipients, each named in the
// human-readable part too.
func manyRecipients(n int) []byte {
	var sb strings.Builder
	sb.WriteString("From: MAILER-DAEMON@mx.example.net\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\n")
	for i := range n {
		fmt.Fprintf(&sb, "<user%d@example.com>: the remote server refused the message\n", i)
	}
	sb.WriteString("\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n")
	for i := range n {
		fmt.Fprintf(&sb, "Final-Recipient: rfc822; user%d@example.com\nAction: failed\nStatus: 5.0.0\n\n", i)
	}
	sb.WriteString("--b--\n")
	return []byte(sb.String())
}

// BenchmarkRecipients shows that decoding time grows linearly with the
// number of recipients of a report.
func BenchmarkRecipients(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		msg := manyRecipients(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var p Parser
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				rep, err := p.Parse(msg)
				if err != nil || len(rep.Recipients) != n {
					b.Fatalf("Parse: %v, %d recipients", err, len(rep.Recipients))
				}
			}
		})
	}
}
