package bounce

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
)

func TestAnalyze(t *testing.T) {
	type want struct {
		index                        int
		recipient, status, smtp, fmt string
		class                        string // "" when the classifier decides freely
	}
	tests := []struct {
		file   string
		want   []want
		msgID  string
		header string // an original header that must be kept
	}{
		{"dsn.eml", []want{
			{1, "quinn@example.com", "5.1.1", "550", dsn.FormatRFC3464, ""},
			{2, "rita@example.com", "5.2.2", "552", dsn.FormatRFC3464, ""},
		}, "hello-1@example.org", "X-Campaign-Id"},
		{"arf.eml", []want{{1, "sam@example.net", "", "", dsn.FormatARF, record.ClassComplaint}}, "n-5@example.org", ""},
		{"vacation.eml", []want{{1, "tess@example.com", "", "", dsn.FormatRFC3834, record.ClassAutoReply}}, "", ""},
		{"personal.eml", nil, "", ""},
		// A remote access rule refusing the recipient at RCPT TO with
		// 5.7.1 is the sender's problem: block, never hard.
		{"postfix-access-denied.eml", []want{{1, "pat@reject.example", "5.7.1", "550", dsn.FormatRFC3464, record.ClassBlock}},
			"spring-3@sender.example", ""},
		{"exim-access-denied.eml", []want{{1, "quin@reject.example", "5.7.1", "550", dsn.FormatExim, record.ClassBlock}},
			"spring-4@sender.example", ""},
	}
	a := newAnalyzer(t)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			msg, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			recs, rep, err := a.Analyze(msg, path)
			if err != nil {
				t.Fatal(err)
			}
			if rep == nil {
				t.Fatal("no report")
			}
			if len(recs) != len(tt.want) {
				t.Fatalf("%d records, want %d: %+v", len(recs), len(tt.want), recs)
			}
			for i, w := range tt.want {
				r := recs[i]
				if r.Source != path || r.Index != w.index || r.Recipient != w.recipient || r.Status != w.status ||
					r.SMTPCode != w.smtp || r.Format != w.fmt {
					t.Errorf("record %d = %s #%d %s %s %s %s, want %+v", i+1, r.Source, r.Index, r.Recipient, r.Status, r.SMTPCode, r.Format, w)
				}
				if w.class != "" && r.Class != w.class {
					t.Errorf("record %d class %q, want %q", i+1, r.Class, w.class)
				}
				if r.Reason == "" || r.Class == "" {
					t.Errorf("record %d not classified: %+v", i+1, r)
				}
				if r.OriginalMessageID != tt.msgID {
					t.Errorf("record %d original message id %q, want %q", i+1, r.OriginalMessageID, tt.msgID)
				}
				if tt.header != "" && r.OriginalHeaders[tt.header] == "" {
					t.Errorf("record %d lost original header %s: %v", i+1, tt.header, r.OriginalHeaders)
				}
			}
		})
	}
}

func TestAnalyzeError(t *testing.T) {
	a := newAnalyzer(t)
	recs, rep, err := a.Analyze(nil, "empty")
	if err == nil || recs != nil || rep != nil {
		t.Errorf("Analyze(nil) = %v, %v, %v; want only an error", recs, rep, err)
	}
}
