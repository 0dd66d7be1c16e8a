package dsn

import "testing"

// Regressions found by the structure-aware fuzzers of fuzz_struct_test.go.

// An Action field folded inside or after its word is read up to the fold:
// the line break is not part of the action.
func TestCleanActionFolded(t *testing.T) {
	tests := []struct{ in, want string }{
		{"del\r\n ayed", "del"},
		{"failed\r\n (permanent)", "failed"},
		{"\r\n failed", "failed"},
		{"Failed\n\t(bad address)", "failed"},
		{"delayed", "delayed"},
	}
	for _, tt := range tests {
		if got := cleanAction([]byte(tt.in)); got != tt.want {
			t.Errorf("cleanAction(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
