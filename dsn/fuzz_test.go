package dsn

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, return neither a
// report nor an error, break the Format/Recipients invariant or decode
// differently twice.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	corpusFiles, _ := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	files = append(files, corpusFiles...)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err == nil {
			f.Add(b)
		}
	}
	p := Parser{Limits: Limits{MaxMessageSize: 1 << 20, MaxHeaderSize: 64 << 10, MaxParts: 100, MaxDepth: 10}}
	f.Fuzz(func(t *testing.T, msg []byte) {
		rep, err := p.Parse(msg)
		if err != nil {
			if rep != nil {
				t.Fatalf("Parse returned a report and the error %v", err)
			}
			return
		}
		if rep == nil {
			t.Fatal("Parse returned neither report nor error")
		}
		if rep.Format == "" && len(rep.Recipients) > 0 {
			t.Fatalf("recipients without a format: %+v", rep.Recipients)
		}
		again, _ := p.Parse(msg)
		if !reflect.DeepEqual(rep, again) {
			t.Fatal("Parse is not deterministic")
		}
	})
}
