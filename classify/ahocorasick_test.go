package classify

import (
	"strings"
	"testing"
)

func TestMatcher(t *testing.T) {
	phrases := []string{"user unknown", "unknown", "mailbox full", "he", "she", "hers", "宛先不明", "rfc 5322"}
	m, err := compileMatcher(phrases)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []string
	}{
		{"550 User Unknown", []string{"user unknown", "unknown"}},
		{"USER\r\n   UNKNOWN", []string{"user unknown", "unknown"}},
		{"Mailbox\tFull", []string{"mailbox full"}},
		{"ushers", []string{"he", "she", "hers"}},
		{"エラー: 宛先不明です", []string{"宛先不明"}},
		{"not RFC  5322 compliant", []string{"rfc 5322"}},
		{"rfc5322", nil},
		{"", nil},
		{"nothing at all", nil},
	}
	for _, tc := range tests {
		var set phraseSet
		m.match(tc.text, &set)
		var got []string
		for id := set.next(0); id >= 0; id = set.next(id + 1) {
			got = append(got, phrases[id])
		}
		if strings.Join(got, "|") != strings.Join(sortedLike(phrases, tc.want), "|") {
			t.Errorf("match(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// sortedLike orders want as the phrases are ordered (by id).
func sortedLike(all, want []string) []string {
	var out []string
	for _, p := range all {
		for _, w := range want {
			if p == w {
				out = append(out, p)
			}
		}
	}
	return out
}

func TestNormalizePhrase(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  Mailbox   FULL ", "mailbox full", true},
		{"a", "", false},
		{"   ", "", false},
		{"Tab\there", "tab here", true},
	}
	for _, tc := range tests {
		got, err := normalizePhrase(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalizePhrase(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestPhraseSetNext(t *testing.T) {
	var s phraseSet
	for _, id := range []int32{0, 63, 64, 700, maxPhrases - 1} {
		s.add(id)
	}
	var got []int32
	for id := s.next(0); id >= 0; id = s.next(id + 1) {
		got = append(got, id)
	}
	if len(got) != 5 || got[0] != 0 || got[1] != 63 || got[2] != 64 || got[3] != 700 || got[4] != maxPhrases-1 {
		t.Errorf("got %v", got)
	}
	if s.next(maxPhrases) != -1 {
		t.Error("next past the end")
	}
}
