package dsn

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse panic or break the
// invariants of checkInvariants (report or error, formats, recipient
// fields, bounded time, determinism).
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
		start := time.Now()
		rep, err := p.Parse(msg)
		checkInvariants(t, &p, msg, rep, err, time.Since(start))
	})
}
