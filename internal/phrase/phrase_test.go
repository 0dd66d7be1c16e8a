package phrase

import (
	"strings"
	"testing"
)

func found(m *Matcher, phrases []string, text string) string {
	var set Set
	m.Match(text, &set)
	var got []string
	for id := set.Next(0); id >= 0; id = set.Next(id + 1) {
		got = append(got, phrases[id])
	}
	return strings.Join(got, "|")
}

// sortedLike orders want as the phrases are ordered (by id).
func sortedLike(all, want []string) string {
	var out []string
	for _, p := range all {
		for _, w := range want {
			if p == w {
				out = append(out, p)
			}
		}
	}
	return strings.Join(out, "|")
}

func TestMatchFoldSpace(t *testing.T) {
	phrases := []string{"user unknown", "unknown", "mailbox full", "he", "she", "hers", "宛先不明", "rfc 5322"}
	m, err := Compile(phrases, Options{FoldSpace: true})
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
		got, want := found(m, phrases, tc.text), sortedLike(phrases, tc.want)
		if got != want {
			t.Errorf("Match(%q) = %q, want %q", tc.text, got, want)
		}
		if m.Contains(tc.text) != (want != "") {
			t.Errorf("Contains(%q) = %v", tc.text, !(want != ""))
		}
	}
}

// Without FoldSpace a phrase matches as strings.Contains would on the text
// in lower case.
func TestMatchExact(t *testing.T) {
	phrases := []string{"could not be delivered", "message follows", "copy of the message", "> #smtp#", "serveur de génération", "fail"}
	m, err := Compile(phrases, Options{})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Your message COULD NOT BE DELIVERED.",
		"could not  be delivered",
		"could not\r\nbe delivered",
		"-- Below is a copy of the message follows",
		"550 5.1.1 User unknown <x> #SMTP#",
		"Serveur de génération : mx.example.fr",
		"SERVEUR DE GÉNÉRATION",
		"Failure",
		"",
	}
	for _, text := range texts {
		var want []string
		for _, p := range phrases {
			if strings.Contains(asciiLower(text), p) {
				want = append(want, p)
			}
		}
		if got := found(m, phrases, text); got != strings.Join(want, "|") {
			t.Errorf("Match(%q) = %q, want %q", text, got, want)
		}
		if m.Contains(text) != (len(want) > 0) {
			t.Errorf("Contains(%q) = %v", text, len(want) == 0)
		}
	}
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestIndex(t *testing.T) {
	phrases := []string{"message follows", "copy of the message", "original message", "ab", "xabcdefgh"}
	m := MustCompile(phrases, Options{})
	tests := []struct {
		text string
		want int
	}{
		{"", -1},
		{"nothing here", -1},
		{"A copy of the message follows", 2},
		{"Original Message", 0},
		{"--- Message follows ---", 4},
		// A longer phrase that starts earlier but ends later wins.
		{"xabcdefgh", 0},
		{"zzab", 2},
	}
	for _, tc := range tests {
		if got := m.Index(tc.text); got != tc.want {
			t.Errorf("Index(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	if _, err := Compile([]string{""}, Options{}); err == nil {
		t.Error("empty phrase accepted")
	}
	if _, err := Compile([]string{"Not  Normal"}, Options{FoldSpace: true}); err == nil {
		t.Error("phrase not normalized accepted")
	}
	if _, err := Compile(make([]string, MaxPhrases+1), Options{}); err == nil {
		t.Error("too many phrases accepted")
	}
}

func TestNormalize(t *testing.T) {
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
		got, err := Normalize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestSetNext(t *testing.T) {
	var s Set
	if !s.Empty() {
		t.Error("zero set not empty")
	}
	for _, id := range []int32{0, 63, 64, 700, MaxPhrases - 1} {
		s.Add(id)
	}
	var got []int32
	for id := s.Next(0); id >= 0; id = s.Next(id + 1) {
		got = append(got, id)
	}
	if len(got) != 5 || got[0] != 0 || got[1] != 63 || got[2] != 64 || got[3] != 700 || got[4] != MaxPhrases-1 {
		t.Errorf("got %v", got)
	}
	if s.Next(MaxPhrases) != -1 {
		t.Error("next past the end")
	}
	if !s.Has(700) || s.Has(701) {
		t.Error("Has")
	}
}

func BenchmarkMatch(b *testing.B) {
	phrases := []string{"user unknown", "mailbox full", "quota", "blocked", "spam", "not found", "rejected"}
	m := MustCompile(phrases, Options{FoldSpace: true})
	text := strings.Repeat("550-5.1.1 The email account that you tried to reach does not exist. ", 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		var set Set
		m.Match(text, &set)
	}
}

// manyPhrases returns enough phrases that most states of their automaton
// are beyond the dense rows, sharing prefixes and suffixes as real phrase
// lists do.
func manyPhrases() []string {
	words := []string{"user", "unknown", "mailbox", "full", "quota", "exceeded", "rejected", "spam", "policy", "blocked",
		"address", "not", "found", "relay", "denied", "temporary", "failure", "message", "too", "large"}
	var out []string
	for i, a := range words {
		for j, b := range words {
			if (i*7+j*3)%4 == 0 {
				out = append(out, a+" "+b)
			}
		}
	}
	return out
}

// naiveMatch is what Match computes, one phrase at a time.
func naiveMatch(phrases []string, text string) string {
	var got []string
	for _, p := range phrases {
		if strings.Contains(asciiLower(text), p) {
			got = append(got, p)
		}
	}
	return strings.Join(got, "|")
}

func naiveIndex(phrases []string, text string) int {
	first := -1
	for _, p := range phrases {
		if i := strings.Index(asciiLower(text), p); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}

func TestManyPhrases(t *testing.T) {
	phrases := manyPhrases()
	m := MustCompile(phrases, Options{})
	if uint(len(m.outStart)-1) <= m.nDense {
		t.Fatalf("%d states, all dense: the test does not reach the sparse states", len(m.outStart)-1)
	}
	texts := []string{
		"550 User Unknown: mailbox full, quota exceeded",
		"Message rejected: SPAM POLICY blocked relay denied",
		"address not found; temporary failure; message too large",
		"user user user unknown unknown mailbox mailbox full",
		"nothing to see",
	}
	for _, text := range texts {
		if got, want := found(m, phrases, text), naiveMatch(phrases, text); got != want {
			t.Errorf("Match(%q) = %q, want %q", text, got, want)
		}
		if got, want := m.Index(text), naiveIndex(phrases, text); got != want {
			t.Errorf("Index(%q) = %d, want %d", text, got, want)
		}
		if got, want := m.Contains(text), naiveMatch(phrases, text) != ""; got != want {
			t.Errorf("Contains(%q) = %v, want %v", text, got, want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"550 user unknown", "SPAM POLICY blocked", "address not  found", ""} {
		f.Add(s)
	}
	phrases := manyPhrases()
	m := MustCompile(phrases, Options{})
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := found(m, phrases, text), naiveMatch(phrases, text); got != want {
			t.Fatalf("Match(%q) = %q, want %q", text, got, want)
		}
		if got, want := m.Index(text), naiveIndex(phrases, text); got != want {
			t.Fatalf("Index(%q) = %d, want %d", text, got, want)
		}
	})
}
