package classify

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-mail/rebound/record"
)

type testCase struct {
	name                 string
	in                   Input
	reason, class, entry string
	confidence           string // checked when set
}

// loadCases reads testdata/cases.tsv.
func loadCases(t testing.TB) []testCase { return loadCaseFile(t, "testdata/cases.tsv") }

// loadCaseFile reads a table of cases in the columns of cases.tsv; "-"
// stands for an empty field.
func loadCaseFile(t testing.TB, path string) []testCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []testCase
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 12 && len(c) != 13 {
			t.Fatalf("%s:%d: %d fields, want 12, or 13 with the confidence", path, line, len(c))
		}
		for i := range c {
			if c[i] == "-" {
				c[i] = ""
			}
		}
		cases = append(cases, testCase{name: c[0], in: Input{Kind: c[1], Action: c[2], Status: c[3], SMTPCode: c[4],
			RemoteMTA: c[5], Recipient: c[6], Command: c[7], Diagnostic: c[8]}, reason: c[9], class: c[10], entry: c[11]})
		if len(c) == 13 {
			cases[len(cases)-1].confidence = c[12]
		}
		// A Status column "5.2.1 (comment)" carries the reporting MTA's
		// comment too.
		if code, comment, ok := strings.Cut(c[3], " ("); ok {
			cases[len(cases)-1].in.Status = code
			cases[len(cases)-1].in.StatusComment = strings.TrimSuffix(comment, ")")
		}
		if c[0] == "x-unix" {
			cases[len(cases)-1].in.DiagnosticType = "x-unix"
		}
	}
	return cases
}

func TestClassify(t *testing.T) { runCases(t, loadCases(t)) }

// runCases classifies each case with the explanations of every language
// and checks the verdict.
func runCases(t *testing.T, cases []testCase) {
	for _, lang := range []string{"en", "nl"} {
		c, err := New(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(lang+"/"+tc.name, func(t *testing.T) {
				got := c.Classify(tc.in)
				if got.Reason != tc.reason || got.Class != tc.class || got.Entry != tc.entry {
					t.Errorf("got %s/%s from %s, want %s/%s from %s", got.Reason, got.Class, got.Entry, tc.reason, tc.class, tc.entry)
				}
				if tc.confidence != "" && got.Confidence != tc.confidence {
					t.Errorf("confidence %s (%s), want %s", got.Confidence, got.Evidence, tc.confidence)
				}
				if got.Confidence != record.ConfidenceHigh && got.Confidence != record.ConfidenceLow || got.Evidence == "" {
					t.Errorf("confidence %q, evidence %q", got.Confidence, got.Evidence)
				}
				if got.Explanation == "" || got.FixOwner == "" || got.Advice == "" {
					t.Errorf("incomplete result %+v", got)
				}
				if got.Class == record.ClassHard && got.Advice != record.AdviceSuppress {
					t.Errorf("hard bounce with advice %q", got.Advice)
				}
			})
		}
	}
}

// The languages give different words for the same judgement.
func TestClassifyLanguages(t *testing.T) {
	en, _ := New("en")
	nl, _ := New("nl")
	in := Input{Action: "failed", Status: "5.2.2", Diagnostic: "552 5.2.2 mailbox full"}
	a, b := en.Classify(in), nl.Classify(in)
	if a.Reason != b.Reason || a.Explanation == b.Explanation {
		t.Errorf("en %+v, nl %+v", a, b)
	}
	if _, err := New("xx"); err == nil {
		t.Error("New(\"xx\") succeeded")
	}
}

// Hard is reserved for reasons that say the address itself is bad, whatever
// the code: a 5xx for a block list, DMARC, a rate limit or content is never
// hard.
func TestNeverHardForSenderProblems(t *testing.T) {
	c, _ := New("en")
	for _, text := range []string{
		"550 5.1.1 blocked using bl.example.org",
		"550 5.1.1 rate limit exceeded",
		"550 5.1.1 DMARC policy rejects this message",
		"550 5.1.1 message scored as spam",
		"550 5.1.1 virus found",
	} {
		got := c.Classify(Input{Action: "failed", Status: "5.1.1", SMTPCode: "550", Diagnostic: text})
		if got.Class == record.ClassHard {
			t.Errorf("%q: hard (%s from %s)", text, got.Reason, got.Entry)
		}
	}
}

// Classify is safe for concurrent use and deterministic.
func TestClassifyParallel(t *testing.T) {
	c, _ := New("en")
	cases := loadCases(t)
	want := make([]Result, len(cases))
	for i, tc := range cases {
		want[i] = c.Classify(tc.in)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 50; n++ {
				for i, tc := range cases {
					if got := c.Classify(tc.in); got != want[i] {
						t.Errorf("%s: got %+v, want %+v", tc.name, got, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestWithoutContinuations(t *testing.T) {
	tests := []struct{ in, want string }{
		{"550 5.1.1 plain", "550 5.1.1 plain"},
		{"550-5.7.1 first half 550-5.7.1 second half", "550-5.7.1 first half second half"},
		{"552-5.2.2 a 552 5.2.2 b", "552-5.2.2 a b"},
		{"421-first 421-second", "421-first second"},
		{"from 192.0.2.1 port 550 x", "from 192.0.2.1 port 550 x"},
	}
	for _, tc := range tests {
		if got := withoutContinuations(tc.in); got != tc.want {
			t.Errorf("withoutContinuations(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStatusInText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"550 5.1.1 <a@b>", "5.1.1"},
		{"#5.1.0 Address rejected", "5.1.0"},
		{"host 192.0.2.5.1.1 said", ""},
		{"version 4.2.10.1 only", ""},
		{"no code", ""},
		{"(4.4.7)", "4.4.7"},
	}
	for _, tc := range tests {
		c, ok := statusInText(tc.in)
		got := ""
		if ok {
			got = c.String()
		}
		if got != tc.want {
			t.Errorf("statusInText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	c, _ := New("en")
	cases := loadCases(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Classify(cases[i%len(cases)].in)
	}
}

func FuzzClassify(f *testing.F) {
	for _, tc := range loadCases(f) {
		f.Add(tc.in.Status, tc.in.SMTPCode, tc.in.Action, tc.in.Diagnostic, tc.in.RemoteMTA)
	}
	c, _ := New("en")
	f.Fuzz(func(t *testing.T, status, smtp, action, diag, remote string) {
		in := Input{Status: status, SMTPCode: smtp, Action: action, Diagnostic: diag, RemoteMTA: remote, Recipient: "a@" + remote}
		got := c.Classify(in)
		if !record.ValidClass(got.Class) || c.cat.reasons[got.Reason] == nil || got.Entry == "" || got.Explanation == "" {
			t.Fatalf("invalid result %+v for %+v", got, in)
		}
		if got.Class == record.ClassHard && !hardReason(got.Reason) {
			t.Fatalf("hard with reason %s", got.Reason)
		}
		if again := c.Classify(in); again != got {
			t.Fatalf("not deterministic: %+v then %+v", got, again)
		}
	})
}
