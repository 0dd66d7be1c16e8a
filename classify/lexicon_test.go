package classify

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// lexiconRule is a rule as a lexicon file writes it, with the file's name.
type lexiconRule struct {
	file string
	ruleEntry
}

// embeddedLexicon reads the rules of the embedded lexicon files.
func embeddedLexicon(t *testing.T) []lexiconRule {
	t.Helper()
	srcs, err := lexiconSources(lexiconFS)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) == 0 {
		t.Fatal("no lexicon files")
	}
	var rules []lexiconRule
	for _, s := range srcs {
		var lf lexiconFile
		if _, err := toml.Decode(s.text, &lf); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for _, r := range lf.Rules {
			rules = append(rules, lexiconRule{file: s.name, ruleEntry: r})
		}
	}
	return rules
}

func TestLexiconCases(t *testing.T) { runCases(t, loadCaseFile(t, "testdata/lexicon.tsv")) }

// Every rule of every lexicon file decides at least one case of
// testdata/lexicon.tsv, and its name says which file it is in.
func TestLexiconRulesHit(t *testing.T) {
	decided := map[string]bool{}
	for _, tc := range loadCaseFile(t, "testdata/lexicon.tsv") {
		decided[tc.entry] = true
	}
	for _, r := range embeddedLexicon(t) {
		if !decided["text:"+r.Name] {
			t.Errorf("%s: rule %q decides no case of testdata/lexicon.tsv", r.file, r.Name)
		}
	}
}

// Each lexicon phrase, alone as a reply, is decided by its own rule: no
// other rule has it or a part of it that ranks higher, so none is dead.
// The capitalised form of a phrase that starts outside ASCII counts too.
func TestLexiconPhrasesDecide(t *testing.T) {
	c, err := New("en")
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]string{}
	for _, p := range c.cat.providers {
		hosts[p.Name] = p.Hosts[0]
	}
	for _, r := range embeddedLexicon(t) {
		in := Input{Action: "failed", Recipient: "someone@example.org"}
		if r.Provider != "" {
			in.Recipient = "someone@" + hosts[r.Provider]
		}
		for _, p := range r.Phrases {
			forms := []string{p}
			if v := capitalized(p); v != "" {
				forms = append(forms, v)
			}
			for _, f := range forms {
				in.Diagnostic = f
				if got := c.Classify(in); got.Entry != "text:"+r.Name {
					t.Errorf("%s: phrase %q of rule %q is decided by %s (%s)", r.file, f, r.Name, got.Entry, got.Reason)
				}
			}
		}
	}
}

// A provider's convention holds only where the input names the provider:
// QQ's "Mailbox unavailable or access denied" elsewhere is the directory's
// verdict (a case of lexicon.tsv shows it), and the rule's phrase is no
// other rule's.
func TestLexiconProviderRule(t *testing.T) {
	c, _ := New("en")
	in := Input{Action: "failed", Status: "5.0.0", SMTPCode: "550", Diagnostic: "550 Mailbox unavailable or access denied"}
	in.Recipient = "a@qq.com"
	if got := c.Classify(in); got.Reason != "speeding" {
		t.Errorf("at QQ: %s from %s, want speeding", got.Reason, got.Entry)
	}
	in.Recipient, in.RemoteMTA = "a@example.org", "mx.example.org"
	if got := c.Classify(in); got.Reason == "speeding" {
		t.Errorf("elsewhere: %s from %s", got.Reason, got.Entry)
	}
}

// Challenge-response notices are auto-replies, never a block or a hard
// bounce, whatever refusal comes with them.
func TestChallengeResponseNotABounce(t *testing.T) {
	c, _ := New("en")
	for _, text := range []string{
		"550 5.7.1 Please confirm you are human before your message is delivered",
		"554 5.7.1 Sender verification required",
		"550 5.1.1 Your message is being held until you confirm it. Boxbe",
		"Verify that you are a human: click the link below to confirm your message",
	} {
		got := c.Classify(Input{Action: "failed", Status: "5.1.1", SMTPCode: "550", Diagnostic: text})
		if got.Class != "auto-reply" || got.Advice != "ignore" {
			t.Errorf("%q: %s/%s (%s) from %s", text, got.Reason, got.Class, got.Advice, got.Entry)
		}
	}
}

func TestCapitalized(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ящик переполнен", "Ящик переполнен"},
		{"échec de l'authentification", "Échec de l'authentification"},
		{"účet je zablokován", "Účet je zablokován"},
		{"benutzer unbekannt", ""}, // ASCII: the matcher folds it
		{"用户不存在", ""},              // no case
	}
	for _, tc := range tests {
		if got := capitalized(tc.in); got != tc.want {
			t.Errorf("capitalized(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if strings.ToLower(capitalized("ящик")) != "ящик" {
		t.Error("capitalized changed more than the first letter")
	}
}
