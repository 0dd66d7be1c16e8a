package dsn

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/rebound-mail/rebound/internal/phrase"
)

// familiesTOML holds the MTA family profiles of the text reader: what each
// family's notice template looks like. See the file's header.
//
//go:embed families.toml
var familiesTOML string

// familyProfile is one [[family]] of families.toml.
type familyProfile struct {
	Name        string          `toml:"name"`
	Format      string          `toml:"format"`
	Detect      []string        `toml:"detect"`
	Hints       []string        `toml:"hints"`
	Boilerplate []string        `toml:"boilerplate"`
	Original    []string        `toml:"original"`
	Markers     []string        `toml:"markers"`
	Delay       []string        `toml:"delay"`
	Causes      []string        `toml:"causes"`
	Commands    []familyCommand `toml:"commands"`
}

// familyCommand is an idiom that names the SMTP command a reply answered.
type familyCommand struct {
	Phrase  string `toml:"phrase"`
	Command string `toml:"command"`
}

// familyTable is the compiled form of the profiles.
type familyTable struct {
	families []familyProfile

	// Notice-wide phrases, matched in one pass (noticeTable).
	formatFamily []int // format phrase index → family

	// Line starts: boilerplate lines and the headings that start the copy
	// of the original.
	// boiler holds the boilerplate entries by their first bytes, lower
	// case, so that a line is looked up once rather than scanned.
	boiler      map[boilerKey][]int
	boilerText  []string               // entry → the line start
	boilerExact []bool                 // the entry ended in "$": the whole line
	original    map[boilerKey][]string // headings by their first bytes
	commands    *phrase.Matcher
	commandOf   []string
	causes      *phrase.Matcher
}

var families = mustLoadFamilies(familiesTOML)

func mustLoadFamilies(src string) *familyTable {
	t, err := loadFamilies(src)
	if err != nil {
		panic(err)
	}
	return t
}

// loadFamilies parses and checks the profiles: every phrase lower case and
// of single spaces, every command one of the commands a reply can answer,
// no key the reader does not know.
func loadFamilies(src string) (*familyTable, error) {
	var file struct {
		Family []familyProfile `toml:"family"`
	}
	md, err := toml.Decode(src, &file)
	if err != nil {
		return nil, fmt.Errorf("families.toml: %v", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("families.toml: unknown key %s", u[0])
	}
	t := &familyTable{families: file.Family}
	var boiler, original, commands, causes []string
	seen := map[string]bool{}
	for i, f := range file.Family {
		if f.Name == "" || seen[f.Name] {
			return nil, fmt.Errorf("families.toml: family %d: missing or repeated name %q", i+1, f.Name)
		}
		seen[f.Name] = true
		lists := map[string][]string{"detect": f.Detect, "hints": f.Hints, "boilerplate": f.Boilerplate,
			"original": f.Original, "markers": f.Markers, "delay": f.Delay, "causes": f.Causes}
		for key, list := range lists {
			for _, p := range list {
				if err := checkProfilePhrase(strings.TrimSuffix(p, "$")); err != nil {
					return nil, fmt.Errorf("families.toml: family %s: %s: %v", f.Name, key, err)
				}
			}
		}
		for _, b := range f.Boilerplate {
			exact := strings.HasSuffix(b, "$")
			b = strings.TrimSuffix(b, "$")
			boiler = append(boiler, b)
			t.boilerText = append(t.boilerText, b)
			t.boilerExact = append(t.boilerExact, exact)
		}
		original = append(original, f.Original...)
		causes = append(causes, f.Causes...)
		for _, c := range f.Commands {
			if err := checkProfilePhrase(c.Phrase); err != nil {
				return nil, fmt.Errorf("families.toml: family %s: commands: %v", f.Name, err)
			}
			switch c.Command {
			case "MAIL", "RCPT", "DATA", "EHLO", "CONN":
			default:
				return nil, fmt.Errorf("families.toml: family %s: command %q of %q is not MAIL, RCPT, DATA, EHLO or CONN", f.Name, c.Command, c.Phrase)
			}
			commands = append(commands, c.Phrase)
			t.commandOf = append(t.commandOf, c.Command)
		}
	}
	for i, f := range file.Family {
		if f.Format == "" {
			continue
		}
		for range len(f.Detect) + len(f.Hints) {
			t.formatFamily = append(t.formatFamily, i)
		}
	}
	t.boiler = make(map[boilerKey][]int)
	for i, b := range boiler {
		if len(b) < len(boilerKey{}) {
			return nil, fmt.Errorf("families.toml: boilerplate %q: shorter than %d bytes", b, len(boilerKey{}))
		}
		k := keyOf(b)
		t.boiler[k] = append(t.boiler[k], i)
	}
	t.original = make(map[boilerKey][]string)
	for _, o := range original {
		if len(o) < len(boilerKey{}) {
			return nil, fmt.Errorf("families.toml: original %q: shorter than %d bytes", o, len(boilerKey{}))
		}
		t.original[keyOf(o)] = append(t.original[keyOf(o)], o)
	}
	if t.commands, err = phrase.Compile(commands, phrase.Options{}); err != nil {
		return nil, fmt.Errorf("families.toml: commands: %v", err)
	}
	if t.causes, err = phrase.Compile(causes, phrase.Options{}); err != nil {
		return nil, fmt.Errorf("families.toml: causes: %v", err)
	}
	return t, nil
}

// checkProfilePhrase rejects a phrase that could never match: the text is
// compared in lower case, with the MTA's own spacing.
func checkProfilePhrase(p string) error {
	switch {
	case len(p) < 3:
		return fmt.Errorf("phrase %q is too short", p)
	case p != strings.ToLower(p):
		return fmt.Errorf("phrase %q is not lower case", p)
	case strings.Contains(p, "  ") || strings.TrimSpace(p) != p:
		return fmt.Errorf("phrase %q has extra white space", p)
	}
	return nil
}

// detectPhrases returns the detect phrases of every family, in file order.
func (t *familyTable) detectPhrases() []string {
	var out []string
	for _, f := range t.families {
		out = append(out, f.Detect...)
	}
	return out
}

// formatPhrases returns the detect and hint phrases of the families that
// have a format of their own, in file order.
func (t *familyTable) formatPhrases() []string {
	var out []string
	for _, f := range t.families {
		if f.Format != "" {
			out = append(append(out, f.Detect...), f.Hints...)
		}
	}
	return out
}

// delayPhrases returns the delay phrases of every family.
func (t *familyTable) delayPhrases() []string {
	var out []string
	for _, f := range t.families {
		out = append(out, f.Delay...)
	}
	return out
}

// markers returns the substrings that mark the start of the copy of the
// original on a heading or separator line.
func (t *familyTable) markers() []string {
	var out []string
	for _, f := range t.families {
		out = append(out, f.Markers...)
	}
	return out
}

// boilerKey is the first bytes of a line, lower case.
type boilerKey [8]byte

func keyOf(s string) boilerKey {
	var k boilerKey
	for i := range k {
		k[i] = lowerASCII(s[i])
	}
	return k
}

// boilerplate reports whether the trimmed line t is a line of a family's
// template.
func (t *familyTable) boilerplate(line string) bool {
	if len(line) < len(boilerKey{}) {
		return false
	}
	for _, id := range t.boiler[keyOf(line)] {
		b := t.boilerText[id]
		if !hasPrefixFoldString(line, b) {
			continue
		}
		if t.boilerExact[id] && strings.TrimRight(line[len(b):], " .:") != "" {
			continue
		}
		return true
	}
	return false
}

// originalHeading reports whether the trimmed line t starts with a
// family's heading of the copy of the original message.
func (t *familyTable) originalHeading(line string) bool {
	if len(line) < len(boilerKey{}) {
		return false
	}
	for _, o := range t.original[keyOf(line)] {
		if hasPrefixFoldString(line, o) {
			return true
		}
	}
	return false
}

// command returns the SMTP command that a family idiom in text names, or
// "".
func (t *familyTable) command(text string) string {
	if !t.commands.Contains(text) {
		// Most replies hold no idiom: no match set to fill.
		return ""
	}
	var set phrase.Set
	t.commands.Match(text, &set)
	if id := set.Next(0); id >= 0 {
		return t.commandOf[id]
	}
	return ""
}

// namesCause reports whether text names a cause of failure (families.toml,
// causes).
func (t *familyTable) namesCause(text string) bool { return t.causes.Contains(text) }
