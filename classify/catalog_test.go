package classify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/BurntSushi/toml"
)

// The embedded catalog must load and pass every check of loadCatalog.
func TestCatalogLoads(t *testing.T) {
	cat, err := loadCatalog(catalogTOML)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.all) < 100 {
		t.Errorf("only %d code entries", len(cat.all))
	}
	for _, e := range cat.all {
		if e.explain["en"] == "" || e.explain["nl"] == "" {
			t.Errorf("%s: missing en or nl explanation", e.name)
		}
		if e.explain["en"] == e.explain["nl"] {
			t.Errorf("%s: nl text is the en text", e.name)
		}
	}
}

func TestCatalogRejectsBadData(t *testing.T) {
	const reasons = `
[[reason]]
name = "undefined"
class = "unknown"
advice = "retry"
explain = {en = "a", nl = "b"}
`
	tests := []struct {
		name, toml, want string
	}{
		{"unknown key", `bogus = 1`, "unknown key"},
		{"bad reason name", `[[reason]]
name = "nosuchreason"
class = "soft"
advice = "retry"
explain = {en = "a", nl = "b"}`, "unknown reason"},
		{"missing reasons", reasons, "has no entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCatalog(tc.toml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// Each mutation of the real catalog must be caught by validation.
func TestCatalogValidation(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"hard block reason", "name = \"blocked\"\nclass = \"block\"", "name = \"blocked\"\nclass = \"hard\"", "cannot be hard"},
		{"bad class", "name = \"blocked\"\nclass = \"block\"", "name = \"blocked\"\nclass = \"sometimes\"", "invalid class"},
		{"bad code", `code = "X.1.1"`, `code = "X.01.1"`, "leading zero"},
		{"bad range", `code = "5.7.606-649"`, `code = "5.7.606-600"`, "upper end"},
		{"duplicate code", `code = "X.1.2"`, `code = "X.1.1"`, "defined twice"},
		{"missing nl", `explain = {en = "The mailbox has reached its storage limit.", nl = "Het postvak heeft zijn opslaglimiet bereikt."}`, `explain = {en = "The mailbox has reached its storage limit."}`, "en and nl"},
		{"rule reason", `reason = "virusdetected"
phrases`, `reason = "virus"
phrases`, "unknown reason"},
		{"short phrase", `phrases = ["spam"]`, `phrases = ["s"]`, "too short"},
		{"unknown provider", `provider = "icloud"`, `provider = "icloudx"`, "unknown provider"},
		{"bad command", `command = "DATA"
when = ["unknown user"`, `command = "EHLO"
when = ["unknown user"`, "want MAIL, RCPT or DATA"},
		{"bad fallback", `fallback = "rejected"`, `fallback = "refused"`, "unknown fallback reason"},
		{"hosts_only without provider", `provider = "kddi"
hosts_only = true
title = "No such au mailbox"`, `hosts_only = true
title = "No such au mailbox"`, "hosts_only needs a provider"},
		{"generic non-userunknown rule", `name = "spam-word"
priority = 30`, `name = "spam-word"
generic = true
priority = 30`, "only userunknown rules can be generic"},
		{"rule of unknown provider", `provider = "verizon"
priority = 63`, `provider = "verizonx"
priority = 63`, "unknown provider"},
		{"provider rule phrase shared", `phrases = ["no such user here", "invalid user address"]`, `phrases = ["no such user", "invalid user address"]`, "in another rule too"},
		{"fallback without text", `fallback = "rejected"
explain.en = "Google Groups did not accept the post: the group may not exist, or the sender is not allowed to post to it."`, `fallback = "rejected"`, "en and nl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(catalogTOML, tc.old) {
				t.Fatalf("catalog has no %q to change", tc.old)
			}
			_, err := loadCatalog(strings.Replace(catalogTOML, tc.old, tc.new, 1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		in       string
		anyClass bool
		want     string
		ok       bool
	}{
		{"5.1.1", false, "5.1.1", true},
		{"4.7.650", false, "4.7.650", true},
		{"X.7.1", true, "X.7.1", true},
		{"X.7.1", false, "", false},
		{"3.1.1", false, "", false},
		{"5.1", false, "", false},
		{"5.1.1000", false, "", false},
		{"5.01.1", false, "", false},
		{"5..1", false, "", false},
		{"5.a.1", false, "", false},
	}
	for _, tc := range tests {
		c, err := parseCode(tc.in, tc.anyClass)
		if (err == nil) != tc.ok || tc.ok && c.String() != tc.want {
			t.Errorf("parseCode(%q) = %v, %v; want %q ok=%v", tc.in, c, err, tc.want, tc.ok)
		}
	}
}

// lexRule is a lexicon file with one rule.
func lexRule(name, reason, phrases string) string {
	return fmt.Sprintf("[[rule]]\nname = %q\npriority = 40\nreason = %q\nphrases = [%s]\n", name, reason, phrases)
}

// A lexicon file is held to the catalog's checks, and the error names the
// file and the entry.
func TestLexiconRejectsBadData(t *testing.T) {
	const file = "lexicon/xx.toml"
	tests := []struct {
		name, text string
		want       []string
	}{
		{"upper case", lexRule("xx-bad", "userunknown", `"Benutzer unbekannt"`), []string{file, `rule "xx-bad"`, "lower case"}},
		{"capital outside ASCII", lexRule("xx-bad", "userunknown", `"Пользователь не найден"`), []string{file, `rule "xx-bad"`, `"пользователь не найден"`}},
		{"double space", lexRule("xx-bad", "userunknown", `"user  gone"`), []string{file, `rule "xx-bad"`, "single spaces"}},
		{"space at the end", lexRule("xx-bad", "userunknown", `"user gone "`), []string{file, `rule "xx-bad"`, "single spaces"}},
		{"too short", lexRule("xx-bad", "userunknown", `"x"`), []string{file, `rule "xx-bad"`, "too short"}},
		{"unknown reason", lexRule("xx-bad", "gone", `"user gone"`), []string{file, `rule "xx-bad"`, "unknown reason"}},
		{"phrase twice", lexRule("xx-bad", "userunknown", `"user gone", "user gone"`), []string{file, `rule "xx-bad"`, "listed twice"}},
		{"name of a catalog rule", lexRule("userunknown", "userunknown", `"user gone"`), []string{file, `rule "userunknown"`, "also in catalog"}},
		{"priority", "[[rule]]\nname = \"xx-bad\"\npriority = 0\nreason = \"userunknown\"\nphrases = [\"user gone\"]\n", []string{file, `rule "xx-bad"`, "priority 0"}},
		{"generic", "[[rule]]\nname = \"xx-bad\"\npriority = 40\nreason = \"mailboxfull\"\ngeneric = true\nphrases = [\"box gone\"]\n", []string{file, `rule "xx-bad"`, "generic"}},
		{"unknown provider", "[[rule]]\nname = \"xx-bad\"\nprovider = \"nosuch\"\npriority = 40\nreason = \"userunknown\"\nphrases = [\"user gone\"]\n", []string{file, `rule "xx-bad"`, "unknown provider"}},
		{"reason entry", "[[reason]]\nname = \"undefined\"\n", []string{file, "belong in catalog.toml"}},
		{"reply entry", "[[reply]]\ncode = \"550\"\nreason = \"onhold\"\n", []string{file, "belong in catalog.toml"}},
		{"unknown key", "bogus = 1\n", []string{file, "unknown key bogus"}},
		{"syntax", "[[rule]\n", []string{file}},
		{"provider host", "[[provider]]\nname = \"acme\"\nhosts = [\"MX.Acme.example\"]\n", []string{file, `provider "acme"`, "lower case"}},
		{"provider phrase", "[[provider]]\nname = \"acme\"\nhosts = [\"acme.example\"]\nphrases = [\"Acme Mail\"]\n", []string{file, `provider "acme"`, "lower case"}},
		{"provider of the catalog", "[[provider]]\nname = \"gmail\"\nhosts = [\"gmail.example\"]\n", []string{file, `provider "gmail"`, "defined twice"}},
		{"code", "[[code]]\ncode = \"5.07.1\"\ntitle = \"t\"\nreason = \"blocked\"\nexplain = {en = \"a\", nl = \"b\"}\n", []string{file, "code #1", "leading zero"}},
		{"code when", "[[code]]\ncode = \"5.7.1\"\ntitle = \"t\"\nwhen = [\"Go Away\"]\nreason = \"blocked\"\nexplain = {en = \"a\", nl = \"b\"}\n", []string{file, "code #1", "lower case"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := lexiconSources(fstest.MapFS{file: {Data: []byte(tc.text)}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = compileCatalog(catalogTOML, srcs)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to mention %s", err, w)
				}
			}
		})
	}
}

// A rule name is used once across all files; the error names both.
func TestLexiconRuleNameTwice(t *testing.T) {
	srcs, err := lexiconSources(fstest.MapFS{
		"lexicon/b.toml": {Data: []byte(lexRule("xx-same", "userunknown", `"user gone"`))},
		"lexicon/a.toml": {Data: []byte(lexRule("xx-same", "mailboxfull", `"box gone"`))},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = compileCatalog(catalogTOML, srcs)
	if err == nil || !strings.Contains(err.Error(), `lexicon/b.toml: rule "xx-same"`) || !strings.Contains(err.Error(), "also in lexicon/a.toml") {
		t.Errorf("error %v, want it to name both files", err)
	}
}

// Lexicon files are merged after the catalog, in name order: at equal
// priority the catalog's rule ranks first, then the earlier file's, and a
// phrase in two rules belongs to the first. Other files in lexicon/ are
// not read.
func TestLexiconMergeOrder(t *testing.T) {
	srcs, err := lexiconSources(fstest.MapFS{
		"lexicon/b.toml":    {Data: []byte("[[rule]]\nname = \"b-zebra\"\npriority = 50\nreason = \"systemerror\"\nphrases = [\"zebra crossing failure\"]\n")},
		"lexicon/a.toml":    {Data: []byte("[[rule]]\nname = \"a-zebra\"\npriority = 50\nreason = \"mailboxfull\"\nphrases = [\"zebra crossing failure\"]\n\n[[rule]]\nname = \"a-full\"\npriority = 60\nreason = \"systemfull\"\nphrases = [\"mailbox is full\"]\n")},
		"lexicon/README.md": {Data: []byte("not a lexicon")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].name != "lexicon/a.toml" || srcs[1].name != "lexicon/b.toml" {
		t.Fatalf("sources %v, want lexicon/a.toml then lexicon/b.toml", srcs)
	}
	cat, err := compileCatalog(catalogTOML, srcs)
	if err != nil {
		t.Fatal(err)
	}
	c := &Classifier{cat: cat, lang: "en"}
	for text, want := range map[string]string{
		"550 zebra crossing failure": "text:a-zebra",
		"552 Sorry, mailbox is full": "text:mailboxfull",
	} {
		if got := c.Classify(Input{Action: "failed", Diagnostic: text}); got.Entry != want {
			t.Errorf("%q: decided by %s, want %s", text, got.Entry, want)
		}
	}
}

// A lexicon file may bring its own provider, with codes and rules of its
// own that hold where the input names the provider.
func TestLexiconProviderAndCode(t *testing.T) {
	srcs, err := lexiconSources(fstest.MapFS{"lexicon/acme.toml": {Data: []byte(`
[[provider]]
name = "acme"
hosts = ["acme.example"]

[[code]]
code = "5.7.990"
provider = "acme"
title = "Sender blocked by Acme"
reason = "blocked"
explain = {en = "Acme refused the sending host.", nl = "Acme weigerde de verzendende host."}

[[rule]]
name = "acme-storage"
provider = "acme"
priority = 60
reason = "mailboxfull"
phrases = ["storage exhausted"]
`)}})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := compileCatalog(catalogTOML, srcs)
	if err != nil {
		t.Fatal(err)
	}
	c := &Classifier{cat: cat, lang: "nl"}
	tests := []struct {
		remote, status, text, want string
	}{
		{"mx.acme.example", "5.7.990", "550 5.7.990 go away", "acme:5.7.990"},
		{"mx.acme.example", "", "552 storage exhausted", "text:acme-storage"},
		{"mx.other.example", "", "552 storage exhausted", "reply:552"},
	}
	for _, tc := range tests {
		got := c.Classify(Input{Action: "failed", Status: tc.status, RemoteMTA: tc.remote, Diagnostic: tc.text})
		if got.Entry != tc.want {
			t.Errorf("%s %q: decided by %s, want %s", tc.remote, tc.text, got.Entry, tc.want)
		}
	}
	if got := c.Classify(Input{Action: "failed", Status: "5.7.990", RemoteMTA: "mx.acme.example"}); got.Explanation != "Acme weigerde de verzendende host." {
		t.Errorf("explanation %q", got.Explanation)
	}
}

// TestReasonsAreTheCatalogs checks that every reason name has its entry in
// catalog.toml, and every entry is a reason name.
func TestReasonsAreTheCatalogs(t *testing.T) {
	var cat struct {
		Reason []struct{ Name string } `toml:"reason"`
	}
	if _, err := toml.Decode(catalogTOML, &cat); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range cat.Reason {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if got := Reasons(); !slices.Equal(got, names) {
		t.Errorf("Reasons()\n got %q\nwant %q (catalog.toml)", got, names)
	}
	if !ValidReason("userunknown") || ValidReason("nosuchreason") {
		t.Errorf("ValidReason")
	}
}
