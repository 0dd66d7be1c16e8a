package bounce

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
)

// slicingAnalyzer fails the way a decoder bug does: it slices past the end
// of a short value.
type slicingAnalyzer struct{ value string }

func (a slicingAnalyzer) Analyze([]byte, string) ([]record.Record, *dsn.Report, error) {
	n := 4
	return nil, nil, errors.New(a.value[n:])
}

// valuePanicAnalyzer panics with a value that is not an error.
type valuePanicAnalyzer struct{}

func (valuePanicAnalyzer) Analyze([]byte, string) ([]record.Record, *dsn.Report, error) {
	panic("inconsistent report")
}

func TestSafeAnalyzePanics(t *testing.T) {
	tests := []struct {
		an        MessageAnalyzer
		msg       string // in the error
		stackFunc string // in the stack
	}{
		{slicingAnalyzer{"255"}, "decoder panic: runtime error: slice bounds out of range [4:3]", "bounce.slicingAnalyzer.Analyze"},
		{valuePanicAnalyzer{}, "decoder panic: inconsistent report", "bounce.valuePanicAnalyzer.Analyze"},
	}
	for _, tt := range tests {
		recs, rep, err := SafeAnalyze(tt.an, []byte("Subject: x\n\nx\n"), "x.eml")
		if recs != nil || rep != nil {
			t.Errorf("records %v and report %v beside a panic", recs, rep)
		}
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T), want a *PanicError", err, err)
		}
		if err.Error() != tt.msg {
			t.Errorf("error %q, want %q", err.Error(), tt.msg)
		}
		if !strings.Contains(string(pe.Stack), tt.stackFunc) {
			t.Errorf("stack does not name %s:\n%s", tt.stackFunc, pe.Stack)
		}
	}
}

// Without a panic SafeAnalyze returns what Analyze returns.
func TestSafeAnalyzePassesThrough(t *testing.T) {
	a := newAnalyzer(t)
	path := filepath.Join("testdata", "dsn.eml")
	msg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, rep, err := SafeAnalyze(a, msg, path)
	if err != nil || rep == nil || len(recs) != 2 || recs[0].Source != path {
		t.Fatalf("got %d records, report %v, error %v", len(recs), rep != nil, err)
	}
	_, _, err = SafeAnalyze(a, nil, "empty.eml")
	if !errors.Is(err, dsn.ErrEmpty) {
		t.Errorf("empty message: error %v, want %v", err, dsn.ErrEmpty)
	}
}
