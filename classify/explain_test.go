package classify

import (
	"errors"
	"strings"
	"testing"
)

// seedCodes are the codes of Microsoft's table of Office 365 / Exchange
// Online NDR codes, with a piece of the server text where the code alone is
// ambiguous (5.7.1 has three meanings, 5.7.13 is shared with the standard
// registry).
var seedCodes = []struct{ query, entry string }{
	{"4.4.316", "o365:4.4.316"},
	{"4.4.7", "std:X.4.7"},
	{"4.5.3", "std:X.5.3"},
	{"4.7.26", "std:X.7.26"},
	{"4.7.500", "o365:4.7.500-699"},
	{"4.7.650", "o365:4.7.500-699"},
	{"4.7.699", "o365:4.7.500-699"},
	{"4.7.850", "o365:4.7.850-899"},
	{"4.7.899", "o365:4.7.850-899"},
	{"5.1.0", "std:X.1.0"},
	{"550 5.1.0 Sender denied", "text:sender-refused"},
	{"5.1.1", "std:X.1.1"},
	{"5.1.8", "std:X.1.8"},
	{"550 5.1.8 Access denied, bad outbound sender", "std:X.1.8"},
	{"5.2.121", "o365:5.2.121"},
	{"5.2.122", "o365:5.2.122"},
	{"5.3.190", "o365:5.3.190"},
	{"5.4.1", "std:X.4.1"},
	{"550 5.4.1 Relay Access Denied", "text:norelaying"},
	{"5.4.6", "std:X.4.6"},
	{"5.6.11", "o365:5.6.11"},
	{"550 5.7.1 Delivery not authorized", "o365:5.7.1/delivery not authorized"},
	{"550 5.7.1 Unable to relay", "o365:5.7.1/unable to relay"},
	{"530 5.7.1 Client was not authenticated", "o365:5.7.1/client was not authenticated"},
	{"5.7.12", "std:X.7.12"},
	{"5.7.124", "o365:5.7.124"},
	{"5.7.133", "o365:5.7.133"},
	{"5.7.134", "o365:5.7.134"},
	{"5.7.13", "std:X.7.13"},
	{"550 5.7.13 Sender was not authenticated for public folder", "o365:5.7.13/public folder"},
	{"5.7.135", "o365:5.7.135"},
	{"5.7.136", "o365:5.7.136"},
	{"5.7.25", "std:X.7.25"},
	{"5.7.501", "o365:5.7.501"},
	{"5.7.502", "o365:5.7.502"},
	{"5.7.503", "o365:5.7.503"},
	{"5.7.504", "o365:5.7.504"},
	{"5.7.505", "o365:5.7.505"},
	{"5.7.506", "o365:5.7.506"},
	{"5.7.507", "o365:5.7.507"},
	{"5.7.508", "o365:5.7.508"},
	{"5.7.509", "o365:5.7.509"},
	{"5.7.510", "o365:5.7.510"},
	{"5.7.511", "o365:5.7.511"},
	{"5.7.512", "o365:5.7.512"},
	{"5.7.513", "o365:5.7.513"},
	{"5.7.606", "o365:5.7.606-649"},
	{"5.7.649", "o365:5.7.606-649"},
	{"5.7.700", "o365:5.7.700-749"},
	{"5.7.749", "o365:5.7.700-749"},
}

// Every code of the Office 365 table gets an answer in every language, and
// the Office 365 catalog has an entry of its own for each of them. Without
// a host naming Office 365, a code the standard registry also defines gets
// its standard meaning first.
func TestExplainSeedCodes(t *testing.T) {
	for _, lang := range []string{"en", "nl"} {
		c, err := New(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range seedCodes {
			ex, err := c.Explain(sc.query)
			if err != nil {
				t.Errorf("%s %q: %v", lang, sc.query, err)
				continue
			}
			if ex.Result.Entry != sc.entry {
				t.Errorf("%s %q: decided by %s, want %s", lang, sc.query, ex.Result.Entry, sc.entry)
			}
			if ex.Result.Explanation == "" || ex.Result.Reason == "" {
				t.Errorf("%s %q: empty answer %+v", lang, sc.query, ex.Result)
			}
			hasO365 := false
			for _, e := range ex.Entries {
				hasO365 = hasO365 || e.Provider == "o365"
				if e.Explanation == "" {
					t.Errorf("%s %q: entry %s has no explanation", lang, sc.query, e.Name)
				}
			}
			if !hasO365 && ex.Status != "" {
				t.Errorf("%s %q: no Office 365 entry among %v", lang, sc.query, ex.Entries)
			}
		}
	}
}

func TestExplain(t *testing.T) {
	c, _ := New("en")
	tests := []struct {
		query, status, smtp, reason string
		unknown, bad                bool
	}{
		{query: "5.1.1", status: "5.1.1", reason: "userunknown"},
		{query: "X.2.2", status: "5.2.2", reason: "mailboxfull"},
		{query: "#5.1.0", status: "5.1.0", reason: "userunknown"},
		{query: "550 5.7.1 Unable to relay", status: "5.7.1", smtp: "550", reason: "norelaying"},
		{query: "  mailbox full  ", reason: "mailboxfull"},
		{query: "452", smtp: "452", reason: "systemfull"},
		{query: "user unknown", reason: "userunknown"},
		// An unknown user answered to the message is still an unknown
		// user (large providers check recipients after DATA).
		{query: "550 user unknown (in reply to end of DATA command)", smtp: "550", reason: "userunknown"},
		{query: "the reply was 5.1.1 no such mailbox", reason: "userunknown"},
		{query: "5.7.999", status: "5.7.999", unknown: true},
		{query: "completely ordinary words", unknown: true},
		{query: "", bad: true},
		{query: "650 oops", bad: true},
		{query: "5.01.1", bad: true},
		{query: "9.1.1", bad: true},
		{query: strings.Repeat("a", maxQuery+1), bad: true},
	}
	for _, tc := range tests {
		ex, err := c.Explain(tc.query)
		switch {
		case tc.bad:
			if err == nil || errors.Is(err, ErrUnknown) {
				t.Errorf("%q: error %v, want a malformed-query error", tc.query, err)
			}
		case tc.unknown:
			if !errors.Is(err, ErrUnknown) {
				t.Errorf("%q: error %v, want ErrUnknown", tc.query, err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.query, err)
		case ex.Status != tc.status || ex.SMTPCode != tc.smtp || ex.Result.Reason != tc.reason:
			t.Errorf("%q: got %s %s %s, want %s %s %s", tc.query, ex.SMTPCode, ex.Status, ex.Result.Reason, tc.smtp, tc.status, tc.reason)
		}
	}
}

// An Office 365 report names its hosts; then every code of the table gets
// its Office 365 meaning, even when the server's text also matches rules.
func TestOffice365Reports(t *testing.T) {
	c, _ := New("en")
	for _, e := range c.cat.all {
		if e.provider != "o365" {
			continue
		}
		status := e.code
		if i := strings.IndexByte(status, '-'); i >= 0 {
			status = status[:i]
		}
		text := status + " " + e.title
		if len(e.when) > 0 {
			text += " (" + c.cat.phrases[e.when[0]] + ")"
		}
		reply := "550"
		if status[0] == '4' {
			reply = "451"
		}
		got := c.Classify(Input{Action: "failed", Status: status, SMTPCode: reply, Diagnostic: reply + " " + text,
			RemoteMTA: "mx.example.mail.protection.outlook.com", ReportingMTA: "AM0PR01MB1234.eurprd01.prod.outlook.com"})
		if got.Reason != e.reason {
			t.Errorf("%s %q: %s from %s, want %s", e.name, text, got.Reason, got.Entry, e.reason)
		}
	}
}
