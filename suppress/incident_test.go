package suppress

import (
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
)

func TestIncidentKey(t *testing.T) {
	tests := []struct {
		rec          record.Record
		domain, code string
		ok           bool
	}{
		{record.Record{Class: record.ClassBlock, Recipient: "a@contoso.example", RemoteMTA: "contoso-example.mail.protection.outlook.com", Status: "5.7.606"}, "outlook.com", "5.7.606", true},
		{record.Record{Class: record.ClassBlock, Recipient: "b@Example.ORG", RemoteMTA: "mx.example.org", SMTPCode: "554", Reason: "blocked"}, "example.org", "554", true},
		{record.Record{Class: record.ClassBlock, Recipient: "c@example.net", Reason: "spamdetected"}, "example.net", "spamdetected", true},
		{record.Record{Class: record.ClassBlock, Recipient: "d@example.com", RemoteMTA: "gmail-smtp-in.l.google.com [192.0.2.7]", Status: "5.7.26"}, "gmail.com", "5.7.26", true},
		{record.Record{Class: record.ClassBlock, RemoteMTA: "notgoogle.com", Status: "5.7.1"}, "unknown", "5.7.1", true},
		{record.Record{Class: record.ClassHard, Recipient: "e@example.com", Status: "5.1.1"}, "", "", false},
		{record.Record{Class: record.ClassSoft, Recipient: "e@example.com", Status: "4.2.2"}, "", "", false},
	}
	for _, tt := range tests {
		d, c, ok := IncidentKey(&tt.rec)
		if d != tt.domain || c != tt.code || ok != tt.ok {
			t.Errorf("IncidentKey(%+v) = %q %q %v, want %q %q %v", tt.rec, d, c, ok, tt.domain, tt.code, tt.ok)
		}
	}
}

func TestIncidentOpen(t *testing.T) {
	p := Policy{IncidentQuiet: 30 * time.Minute}
	last := t0
	for _, tt := range []struct {
		after time.Duration
		open  bool
	}{{0, true}, {29 * time.Minute, true}, {30 * time.Minute, false}, {day, false}} {
		if got := p.IncidentOpen(last, last.Add(tt.after)); got != tt.open {
			t.Errorf("open %v after %v, want %v", got, tt.after, tt.open)
		}
	}
	if !(Policy{}).IncidentOpen(t0, t0.Add(59*time.Minute)) || (Policy{}).IncidentOpen(t0, t0.Add(time.Hour)) {
		t.Errorf("default quiet time is not one hour")
	}
}
