package dsn

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// hostileBlocks returns a delivery-status report of about size bytes
// whose status part repeats a recipient block as often as it fits, each
// naming another address.
func hostileBlocks(size int) []byte {
	var sb strings.Builder
	sb.Grow(size + 1024)
	sb.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n")
	for i := 0; sb.Len() < size; i++ {
		fmt.Fprintf(&sb, "Final-Recipient: rfc822; u%d@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n", i)
	}
	sb.WriteString("--b--\r\n")
	return []byte(sb.String())
}

// countBlocks is the number of recipient blocks hostileBlocks wrote.
func countBlocks(msg []byte) int {
	return strings.Count(string(msg), "Final-Recipient:")
}

// hostileFields returns a report of about size bytes whose returned
// header section repeats fields: fifty X- fields over and over, and
// folded Received fields.
func hostileFields(size int) []byte {
	var sb strings.Builder
	sb.Grow(size + 1024)
	sb.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
		"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n")
	for i := 0; sb.Len() < size; i++ {
		fmt.Fprintf(&sb, "X-Campaign-%d: %s\r\n", i%50, strings.Repeat("v", 60))
		fmt.Fprintf(&sb, "Received: from a%d.example.net\r\n\tby b.example.net\r\n", i)
	}
	sb.WriteString("\r\n--b--\r\n")
	return []byte(sb.String())
}

// hostileText returns a text bounce of about size bytes naming a new
// address on every line.
func hostileText(size int) []byte {
	var sb strings.Builder
	sb.Grow(size + 1024)
	sb.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n" +
		"This is the mail system at host mx.example.net.\r\n\r\n" +
		"I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n")
	for i := 0; sb.Len() < size; i++ {
		fmt.Fprintf(&sb, "<u%d@example.com>: host mx.example.com said: 550 5.1.1 No such user\r\n", i)
	}
	return []byte(sb.String())
}

// hostileHTML is hostileText as HTML.
func hostileHTML(size int) []byte {
	var sb strings.Builder
	sb.Grow(size + 1024)
	sb.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: Undeliverable: hello\r\n" +
		"Content-Type: text/html\r\n\r\n<html><body>")
	for i := 0; sb.Len() < size; i++ {
		fmt.Fprintf(&sb, "<p><b>u%d@example.com</b> 550 5.1.1 No such user</p>\r\n", i)
	}
	return []byte(sb.String())
}

// hostileDiagnostic returns a report whose one Diagnostic-Code is folded
// over about size bytes.
func hostileDiagnostic(size int) []byte {
	var sb strings.Builder
	sb.Grow(size + 1024)
	sb.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1")
	for sb.Len() < size {
		sb.WriteString(" no such user here\r\n")
	}
	sb.WriteString("\r\n--b--\r\n")
	return []byte(sb.String())
}

// hostileShapes are the messages a hostile sender would use to make the
// decoder work or allocate out of proportion, with what Parse must make of
// each under DefaultLimits and the most it may allocate, as a multiple of
// the message's size.
func hostileShapes() []struct {
	name      string
	msg       []byte
	rcpts     int
	truncated int // -1: the blocks of the message beyond the limit
	factor    float64
} {
	blocks := hostileBlocks(9800 << 10)
	return []struct {
		name      string
		msg       []byte
		rcpts     int
		truncated int
		factor    float64
	}{
		{"recipient blocks", blocks, 1000, countBlocks(blocks) - 1000, 0.5},
		{"repeated header fields", hostileFields(1000 << 10), 1, 0, 1.5},
		{"header over the limit", hostileFields(4 << 20), 1, 0, 0.5},
		{"text addresses", hostileText(9800 << 10), 1000, -1, 2},
		{"html addresses", hostileHTML(9800 << 10), 1000, -1, 2.5},
		{"long diagnostic", hostileDiagnostic(900 << 10), 1, 0, 1.5},
		{"large attachment", bigDSN(9800 << 10), 1, 0, 0.1},
	}
}

// TestHostileShapes holds Parse to its limits on hostile messages: at most
// MaxRecipients recipients, the others counted, and allocations close to
// the size of the message (they were 15 times the size for recipient
// blocks, 3.6 times for repeated header fields).
func TestHostileShapes(t *testing.T) {
	for _, c := range hostileShapes() {
		t.Run(c.name, func(t *testing.T) {
			var p Parser
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rep, err := p.Parse(c.msg)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Recipients) != c.rcpts {
				t.Errorf("%d recipients, want %d", len(rep.Recipients), c.rcpts)
			}
			if c.truncated >= 0 && rep.TruncatedRecipients != c.truncated {
				t.Errorf("TruncatedRecipients = %d, want %d", rep.TruncatedRecipients, c.truncated)
			}
			alloc := float64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("%d bytes, %d recipients, %d truncated, allocated %.2f times the size",
				len(c.msg), len(rep.Recipients), rep.TruncatedRecipients, alloc/float64(len(c.msg)))
			if !raceEnabled && alloc > c.factor*float64(len(c.msg)) {
				t.Errorf("allocated %.0f bytes, %.2f times the message; want at most %.1f times",
					alloc, alloc/float64(len(c.msg)), c.factor)
			}
		})
	}
}

// BenchmarkHostile decodes each hostile shape; -benchmem shows the bytes
// allocated per message beside its size (SetBytes).
func BenchmarkHostile(b *testing.B) {
	for _, c := range hostileShapes() {
		b.Run(strings.ReplaceAll(c.name, " ", "-"), func(b *testing.B) {
			var p Parser
			b.SetBytes(int64(len(c.msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func statusReport(blocks ...string) []byte {
	var sb strings.Builder
	sb.WriteString("From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nDelivery failed.\n\n" +
		"--b\nContent-Type: message/delivery-status\n\n")
	for _, b := range blocks {
		sb.WriteString(b)
		sb.WriteString("\n\n")
	}
	sb.WriteString("--b--\n")
	return []byte(sb.String())
}

func recipientBlocks(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("Final-Recipient: rfc822; r%d@example.com\nAction: failed\nStatus: 5.1.1", i))
	}
	return out
}

// TestMaxRecipients checks where the recipient limit cuts and what it
// counts.
func TestMaxRecipients(t *testing.T) {
	mta := "Reporting-MTA: dns; mx.example.net"
	cases := []struct {
		name      string
		max       int
		msg       []byte
		rcpts     int
		truncated int
		last      string // FinalRecipient of the last recipient kept
		mta       string
	}{
		{"under", 5, statusReport(append([]string{mta}, recipientBlocks(5)...)...), 5, 0, "r4@example.com", "mx.example.net"},
		{"over", 5, statusReport(append([]string{mta}, recipientBlocks(12)...)...), 5, 7, "r4@example.com", "mx.example.net"},
		{"per-message fields after the limit", 2,
			statusReport(append(recipientBlocks(4), mta)...), 2, 2, "r1@example.com", "mx.example.net"},
		{"two recipients in one group beyond the limit", 1, statusReport(
			"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1",
			"Final-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1\nFinal-Recipient: rfc822; c@example.com\nAction: failed\nStatus: 5.1.1",
			"Action: failed\nStatus: 5.1.1",
			"X-Vendor: not a recipient"), 1, 3, "a@example.com", ""},
		{"default limit", 0, statusReport(recipientBlocks(1003)...), 1000, 3, "r999@example.com", ""},
		{"text bounce", 3, []byte("From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n\n" +
			"This is the mail system at host mx.example.net.\n\n" +
			"<a@example.com>: host mx.example.com said: 550 5.1.1 No such user\n" +
			"<b@example.com>: host mx.example.com said: 550 5.1.1 No such user\n" +
			"<c@example.com>: host mx.example.com said: 550 5.1.1 No such user\n" +
			"<d@example.com>: host mx.example.com said: 550 5.1.1 No such user\n" +
			"<e@example.com>: host mx.example.com said: 550 5.1.1 No such user\n"), 3, 2, "c@example.com", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Parser{Limits: Limits{MaxRecipients: c.max}}
			rep, err := p.Parse(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Recipients) != c.rcpts || rep.TruncatedRecipients != c.truncated {
				t.Fatalf("%d recipients, %d truncated; want %d and %d", len(rep.Recipients), rep.TruncatedRecipients, c.rcpts, c.truncated)
			}
			if got := rep.Recipients[len(rep.Recipients)-1].FinalRecipient; got != c.last {
				t.Errorf("last recipient kept = %q, want %q", got, c.last)
			}
			if c.mta != "" && rep.ReportingMTA != c.mta {
				t.Errorf("ReportingMTA = %q, want %q", rep.ReportingMTA, c.mta)
			}
		})
	}
}
