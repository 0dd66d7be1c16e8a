package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExplainCommand(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		contains []string
	}{
		{[]string{"5.7.509"}, 0, []string{"authfailure", "DMARC", "o365:5.7.509"}},
		{[]string{"4.7.650"}, 0, []string{"badreputation", "o365:4.7.500-699"}},
		{[]string{"550", "5.7.1", "Unable", "to", "relay"}, 0, []string{"norelaying", "other meanings"}},
		{[]string{"550 5.7.1 Unable to relay"}, 0, []string{"norelaying"}},
		{[]string{"5.7.509", "--lang", "nl"}, 0, []string{"reden:", "DMARC-controle"}},
		{[]string{"--lang=nl", "mailbox", "full"}, 0, []string{"mailboxfull", "postvak"}},
		{[]string{"5.7.999"}, 2, []string{"not in the catalog"}},
		{[]string{"nothing", "we", "know"}, 2, []string{"not in the catalog"}},
		{[]string{"5.01.1"}, 2, []string{"cannot read the query"}},
		{[]string{}, 2, []string{"usage"}},
		{[]string{"--lang", "xx", "5.1.1"}, 2, []string{"language"}},
		{[]string{"-h"}, 0, []string{"usage"}},
	}
	for _, tc := range tests {
		var out, errOut bytes.Buffer
		code := runExplain(tc.args, &out, &errOut)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errOut.String())
		}
		all := out.String() + errOut.String()
		for _, s := range tc.contains {
			if !strings.Contains(all, s) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, s, all)
			}
		}
	}
}

func TestExplainCommandJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runExplain([]string{"--json", "5.7.606"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var v struct {
		Status string `json:"status"`
		Result struct {
			Reason string `json:"reason"`
			Class  string `json:"class"`
			Entry  string `json:"entry"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Status != "5.7.606" || v.Result.Reason != "blocked" || v.Result.Class != "block" || v.Result.Entry != "o365:5.7.606-649" {
		t.Errorf("got %+v", v)
	}
}

// The query reader must take any input: it answers (0) or refuses clearly
// (2), and never panics.
func FuzzExplain(f *testing.F) {
	for _, s := range []string{"5.7.509", "550 5.7.1 Unable to relay", "4.7.650", "X.1.1", "#5.1.0 Address rejected",
		"mailbox full", "", "650 x", "5.", "5.1.", "5.1.1.1", "\x00", "550-5.7.1 a 550-5.7.1 b", "--lang"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		var out, errOut bytes.Buffer
		code := runExplain([]string{"--", q}, &out, &errOut)
		switch code {
		case 0:
			if out.Len() == 0 {
				t.Fatalf("%q: exit 0 without output", q)
			}
		case 2:
			if errOut.Len() == 0 {
				t.Fatalf("%q: exit 2 without a message", q)
			}
		default:
			t.Fatalf("%q: exit %d", q, code)
		}
		if utf8.ValidString(q) && !utf8.Valid(out.Bytes()) {
			t.Fatalf("%q: output is not UTF-8", q)
		}
	})
}
