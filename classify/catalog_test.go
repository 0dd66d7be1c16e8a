package classify

import (
	"strings"
	"testing"
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
