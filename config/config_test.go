package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/rebound-mail/rebound/suppress"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"0", 0, false},
		{"14d", 14 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"90s", 90 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"", 0, true},
		{"d", 0, true},
		{"1.5d", 0, true},
		{"-1h", 0, true},
		{"3 days", 0, true},
		{"1dx", 0, true},
		{"1d-1h", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil {
			if back, _ := ParseDuration(FormatDuration(got)); back != got {
				t.Errorf("FormatDuration(%v) = %q does not read back", got, FormatDuration(got))
			}
		}
	}
}

func TestDefaultsValid(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listener.Listen != "127.0.0.1:2525" || c.Store.URL != "./rebound.db" || !reflect.DeepEqual(c.Domains, []string{"localhost"}) {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestLoadMinimal(t *testing.T) {
	c, err := Load("testdata/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Listener.LMTP || c.Listener.Listen != "[::1]:2526" {
		t.Errorf("listener = %+v", c.Listener)
	}
	if got := c.Policy().SoftWindow; got != 36*time.Hour {
		t.Errorf("soft window = %v", got)
	}
	// Options not in the file keep their defaults.
	if c.Store.URL != "./rebound.db" || c.Policy().SoftThreshold != 5 {
		t.Errorf("defaults lost: %+v", c.Store)
	}
}

func TestUnknownKeyNamesLine(t *testing.T) {
	_, err := Load("testdata/unknown-key.toml")
	if err == nil || !strings.Contains(err.Error(), `line 5: unknown option "listener.max_mesage_size"`) {
		t.Fatalf("error = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"syntax", "domains = [\n", "line "},
		{"bad duration", "[suppression]\nsoft_window = \"2 weeks\"\n", "2 weeks"},
		{"empty domains", "domains = []\n", "at least one bounce domain"},
		{"bad domain", "domains = [\"a b.example\"]\n", "not a domain name"},
		{"short lines", "[listener]\nmax_line_length = 80\n", "max_line_length"},
		{"tls half", "[listener]\ntls_cert = \"c.pem\"\n", "set both"},
		{"language", "[classify]\nlanguage = \"fr\"\n", "want en or nl"},
		{"log level", "log_level = \"loud\"\n", "log_level"},
		{"listen", "[listener]\nlisten = \"2525\"\n", "host:port"},
		{"unknown section", "[listner]\nlisten = \"127.0.0.1:25\"\n", `line 1: unknown option "listner"`},
		{"budget below max size", "[listener]\ndata_budget = 1048576\n", "below max_message_size"},
		{"budget zero", "[listener]\ndata_budget = 0\n", "data_budget: must be positive"},
		{"spool threshold", "[listener]\nspool_threshold = -1\n", "spool_threshold: must be positive"},
		{"report recipients", "[listener]\nmax_report_recipients = 0\n", "max_report_recipients: must be positive"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

// TestExampleDocumentsEveryOption keeps config.example.toml complete: it
// must parse and set every option of Config.
func TestExampleDocumentsEveryOption(t *testing.T) {
	b, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b); err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	var c Config
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range optionKeys(reflect.TypeOf(Config{}), nil) {
		if !md.IsDefined(key...) {
			t.Errorf("config.example.toml does not document %s", strings.Join(key, "."))
		}
	}
}

func optionKeys(typ reflect.Type, prefix []string) [][]string {
	var keys [][]string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := f.Tag.Get("toml")
		key := append(append([]string(nil), prefix...), name)
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, optionKeys(f.Type, key)...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func TestLowConfidenceHard(t *testing.T) {
	def := Defaults()
	if got := def.Policy().LowConfidenceHard; got != suppress.LowConfidenceSoft {
		t.Errorf("default low_confidence_hard %q, want %q", got, suppress.LowConfidenceSoft)
	}
	for _, v := range []string{suppress.LowConfidenceSoft, suppress.LowConfidenceSuppress, suppress.LowConfidenceIgnore} {
		c, err := Parse([]byte("[suppression]\nlow_confidence_hard = \"" + v + "\"\n"))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := c.Policy().LowConfidenceHard; got != v {
			t.Errorf("%q: policy has %q", v, got)
		}
	}
	tests := []struct {
		name, file, want string
	}{
		{"unknown value", "domains = [\"b.example\"]\n\n[suppression]\nsoft_threshold = 3\nlow_confidence_hard = \"sometimes\"\n",
			`line 5: suppression.low_confidence_hard: "sometimes": want soft, suppress or ignore`},
		{"case matters", "[suppression]\nlow_confidence_hard = \"Soft\"\n", `line 2: suppression.low_confidence_hard: "Soft"`},
		{"empty", "[suppression]\nlow_confidence_hard = \"\"\n", `line 2: suppression.low_confidence_hard: ""`},
		{"not a string", "[suppression]\nlow_confidence_hard = 1\n", "line 2"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	// A configuration built in code is checked too.
	c := Defaults()
	c.Suppression.LowConfidenceHard = "hard"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "suppression.low_confidence_hard") {
		t.Errorf("Validate of an unknown value: %v", err)
	}
}
