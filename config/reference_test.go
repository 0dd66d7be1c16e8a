package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// referenceHeading starts the configuration reference in README.md: a
// table of option, default and meaning, one row per option, up to the next
// heading.
const referenceHeading = "## Configuration reference"

// illustrated are the options whose value in config.example.toml is an
// example rather than the default (the file says so of domains; the
// others have no default value to show). Their row's default is checked
// against Defaults instead when it is a TOML value, and may be words when
// the default is none or depends on the machine.
var illustrated = map[string]bool{
	"domains":            true,
	"listener.hostname":  true,
	"verp.keys":          true,
	"api.tokens":         true,
	"webhooks.endpoints": true,
}

// refRow is one row of the reference table.
type refRow struct {
	line    int
	option  string // "listener.listen"
	dflt    string // the cell as written
	value   string // the TOML value between backticks; empty when dflt is words
	meaning string
}

// parseReference reads the reference table from a README's text.
func parseReference(md string) ([]refRow, error) {
	lines := strings.Split(md, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == referenceHeading {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no %q heading", referenceHeading)
	}
	var rows []refRow
	header := false
	for i := start + 1; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "#") {
			break // the next section ends the table
		}
		if !strings.HasPrefix(l, "|") {
			if header && l != "" {
				break // prose after the table
			}
			continue
		}
		cells := splitRow(l)
		n := i + 1
		if !header {
			want := []string{"option", "default", "meaning"}
			if !reflect.DeepEqual(cells, want) {
				return nil, fmt.Errorf("line %d: table header %q, want %q", n, cells, want)
			}
			header = true
			continue
		}
		if strings.Trim(strings.Join(cells, ""), "-: ") == "" {
			continue // the delimiter row
		}
		if len(cells) != 3 {
			return nil, fmt.Errorf("line %d: %d cells, want option, default and meaning", n, len(cells))
		}
		opt, ok := backticked(cells[0])
		if !ok || opt == "" || strings.ContainsAny(opt, " `") {
			return nil, fmt.Errorf("line %d: option %q: want a dotted key in backticks, as `listener.listen`", n, cells[0])
		}
		if cells[1] == "" || cells[2] == "" {
			return nil, fmt.Errorf("line %d: %s: empty default or meaning", n, opt)
		}
		r := refRow{line: n, option: opt, dflt: cells[1], meaning: cells[2]}
		if v, ok := backticked(cells[1]); ok {
			r.value = v
		}
		rows = append(rows, r)
	}
	if !header {
		return nil, errors.New("no table under " + referenceHeading)
	}
	return rows, nil
}

// splitRow splits a Markdown table row into its trimmed cells; "\|" is a
// bar inside a cell.
func splitRow(l string) []string {
	l = strings.TrimSpace(l)
	l = strings.TrimPrefix(l, "|")
	if strings.HasSuffix(l, "|") && !strings.HasSuffix(l, `\|`) {
		l = l[:len(l)-1]
	}
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
			cell.WriteByte('|')
			i++
		case l[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(l[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// backticked returns the text of a cell that is one code span.
func backticked(cell string) (string, bool) {
	if len(cell) < 2 || cell[0] != '`' || cell[len(cell)-1] != '`' || strings.Count(cell, "`") != 2 {
		return "", false
	}
	return cell[1 : len(cell)-1], true
}

// encodeValue is the TOML text of one value, the same for every way of
// writing it ('x' and "x", spacing inside arrays).
func encodeValue(v any) (string, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(map[string]any{"v": v}); err != nil {
		return "", err
	}
	text := strings.TrimSpace(b.String())
	return strings.TrimPrefix(text, "v = "), nil
}

// cellValue decodes a row's default as TOML and encodes it again.
func cellValue(text string) (string, error) {
	var m map[string]any
	if _, err := toml.Decode("v = "+text, &m); err != nil {
		return "", fmt.Errorf("not a TOML value: %v", err)
	}
	return encodeValue(m["v"])
}

// lookup finds a dotted key's value in a decoded TOML document.
func lookup(doc map[string]any, key []string) (any, bool) {
	var cur any = doc
	for _, k := range key {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func decodeDoc(text string) (map[string]any, error) {
	var doc map[string]any
	_, err := toml.Decode(text, &doc)
	return doc, err
}

// TestReferenceTable keeps README.md's configuration reference in step
// with Config and config.example.toml: every option has a row, every row
// names an option, and each row's default is the value the example file
// shows (or, for the options the example illustrates, the default of
// Defaults).
func TestReferenceTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parseReference(string(readme))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	example, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	exampleDoc, err := decodeDoc(string(example))
	if err != nil {
		t.Fatalf("config.example.toml: %v", err)
	}
	var enc bytes.Buffer
	if err := toml.NewEncoder(&enc).Encode(Defaults()); err != nil {
		t.Fatal(err)
	}
	defaultsDoc, err := decodeDoc(enc.String())
	if err != nil {
		t.Fatalf("encoded defaults: %v", err)
	}

	var names []string
	options := map[string]bool{}
	for _, key := range optionKeys(reflect.TypeOf(Config{}), nil) {
		names = append(names, strings.Join(key, "."))
		options[names[len(names)-1]] = true
	}
	for opt := range illustrated {
		if !options[opt] {
			t.Errorf("illustrated option %s is no option of Config", opt)
		}
	}

	seen := map[string]int{}
	for _, r := range rows {
		where := fmt.Sprintf("README.md line %d: %s", r.line, r.option)
		if prev, ok := seen[r.option]; ok {
			t.Errorf("%s: a second row (the first is on line %d)", where, prev)
			continue
		}
		seen[r.option] = r.line
		if !options[r.option] {
			t.Errorf("%s: no such option in Config", where)
			continue
		}
		key := strings.Split(r.option, ".")
		if illustrated[r.option] {
			if r.value == "" {
				continue // words, such as "none"
			}
			got, err := cellValue(r.value)
			if err != nil {
				t.Errorf("%s: default %s: %v", where, r.dflt, err)
				continue
			}
			v, ok := lookup(defaultsDoc, key)
			if !ok {
				t.Errorf("%s: default %s, but Defaults has no value: write it in words (e.g. none)", where, r.dflt)
				continue
			}
			if want, err := encodeValue(v); err != nil {
				t.Errorf("%s: %v", where, err)
			} else if got != want {
				t.Errorf("%s: default %s, Defaults has %s", where, got, want)
			}
			continue
		}
		if r.value == "" {
			t.Errorf("%s: default %q: want the TOML value in backticks, as config.example.toml has it", where, r.dflt)
			continue
		}
		got, err := cellValue(r.value)
		if err != nil {
			t.Errorf("%s: default %s: %v", where, r.dflt, err)
			continue
		}
		v, ok := lookup(exampleDoc, key)
		if !ok {
			t.Errorf("%s: config.example.toml does not set it", where)
			continue
		}
		want, err := encodeValue(v)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		if got != want {
			t.Errorf("%s: default %s, config.example.toml has %s", where, got, want)
		}
	}
	for _, opt := range names {
		if _, ok := seen[opt]; !ok {
			t.Errorf("README.md: the configuration reference has no row for %s", opt)
		}
	}
}

func TestParseReference(t *testing.T) {
	const head = "# X\n\n" + referenceHeading + "\n\nSome words.\n\n| option | default | meaning |\n|---|---|---|\n"
	tests := []struct {
		name string
		md   string
		want []refRow // option, value and dflt compared
		err  string
	}{
		{"rows", head + "| `a.b` | `\"x\"` | the a \\| b |\n| `c` | none | what c is |\n\n### Environment variables\n\n| variable | meaning |\n|---|---|\n| `X` | y |\n",
			[]refRow{{option: "a.b", dflt: "`\"x\"`", value: `"x"`}, {option: "c", dflt: "none"}}, ""},
		{"prose ends the table", head + "| `a` | `1` | m |\nAfter.\n| `b` | `2` | m |\n",
			[]refRow{{option: "a", dflt: "`1`", value: "1"}}, ""},
		{"no heading", "# X\n\n| option | default | meaning |\n", nil, "no \"## Configuration reference\" heading"},
		{"no table", "# X\n\n" + referenceHeading + "\n\nWords.\n\n## Next\n", nil, "no table"},
		{"wrong header", "# X\n\n" + referenceHeading + "\n\n| key | default | meaning |\n", nil, "table header"},
		{"two cells", head + "| `a` | `1` |\n", nil, "line 9: 2 cells"},
		{"option not code", head + "| a | `1` | m |\n", nil, "line 9: option \"a\""},
		{"empty meaning", head + "| `a` | `1` |  |\n", nil, "line 9: a: empty default or meaning"},
	}
	for _, tt := range tests {
		rows, err := parseReference(tt.md)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []refRow
		for _, r := range rows {
			got = append(got, refRow{option: r.option, dflt: r.dflt, value: r.value})
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: rows %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestCellValueNormalizes(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{`"x"`, `'x'`, true},
		{`["a", "b"]`, `['a','b']`, true},
		{`"0"`, `0`, false},
		{`10485760`, `10_485_760`, true},
		{`{}`, `{ }`, true},
		{`true`, `"true"`, false},
	}
	for _, tt := range tests {
		a, err := cellValue(tt.a)
		if err != nil {
			t.Fatalf("%s: %v", tt.a, err)
		}
		b, err := cellValue(tt.b)
		if err != nil {
			t.Fatalf("%s: %v", tt.b, err)
		}
		if (a == b) != tt.same {
			t.Errorf("%s (%s) and %s (%s): same %v, want %v", tt.a, a, tt.b, b, a == b, tt.same)
		}
	}
	if _, err := cellValue(`"unterminated`); err == nil {
		t.Error("an unterminated string was taken as a value")
	}
}
