package bounce

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
)

// corpusDir holds real bounces when the measuring corpus is checked out
// beside the repository.
const corpusDir = "../../shared/corpus/emails"

func loadCorpus(tb testing.TB) ([][]byte, []string) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		tb.Skipf("corpus not available: %v", err)
	}
	var msgs [][]byte
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(corpusDir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		msgs = append(msgs, b)
		names = append(names, e.Name())
	}
	if len(msgs) == 0 {
		tb.Skip("corpus is empty")
	}
	return msgs, names
}

func newAnalyzer(tb testing.TB) *Analyzer {
	cl, err := classify.New("en")
	if err != nil {
		tb.Fatal(err)
	}
	return &Analyzer{Parser: &dsn.Parser{}, Classifier: cl}
}

// BenchmarkCorpus decodes and classifies every corpus message per
// iteration.
func BenchmarkCorpus(b *testing.B) {
	msgs, names := loadCorpus(b)
	a := newAnalyzer(b)
	var size int64
	for _, m := range msgs {
		size += int64(len(m))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, m := range msgs {
			if _, _, err := a.Analyze(m, names[i]); err != nil {
				b.Fatalf("%s: %v", names[i], err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(msgs))/b.Elapsed().Seconds(), "bounces/s")
}
