package dsn

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCorpusNotBounces reads the shared corpus when it is present (it is
// not part of the repository): none of the messages that are not bounces
// may be read as a failure, and no bounce may make the decoder fail.
func TestCorpusNotBounces(t *testing.T) {
	root := filepath.Join("..", "..", "shared", "corpus")
	if _, err := os.Stat(root); err != nil {
		t.Skip("corpus not present")
	}
	for _, dir := range []string{"emails", "not-bounces"} {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.eml"))
		for _, fn := range files {
			msg, err := os.ReadFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Parse(msg)
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(fn), err)
				continue
			}
			if dir != "not-bounces" {
				continue
			}
			for _, r := range rep.Recipients {
				if r.Action == "failed" || r.Action == "delayed" {
					t.Errorf("%s: not a bounce, read as %s for %s (%s)", filepath.Base(fn), r.Action, r.FinalRecipient, rep.Format)
				}
			}
		}
	}
}
