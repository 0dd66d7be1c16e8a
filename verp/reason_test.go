package verp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestReason(t *testing.T) {
	day := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	now := day
	s, err := New([]Key{{ID: "k1", Secret: []byte("reason-test-secret-0123")}}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rp, err := s.Encode(ctx, "jane@example.com", "bounces.example.net")
	if err != nil {
		t.Fatal(err)
	}
	_, valid := s.Decode(ctx, rp)
	_, format := s.Decode(ctx, "b+nonsense@bounces.example.net")
	_, key := s.Decode(ctx, strings.Replace(rp, "+k1+", "+k9+", 1))
	at := strings.IndexByte(rp, '@')
	tampered := rp[:at-1] + map[bool]string{true: "n", false: "m"}[rp[at-1] == 'm'] + rp[at:]
	_, tag := s.Decode(ctx, tampered)
	now = day.Add(40 * 24 * time.Hour)
	_, expired := s.Decode(ctx, rp)
	for _, tt := range []struct {
		err  error
		want string
	}{
		{valid, ""}, {format, "format"}, {key, "unknown_key"}, {tag, "bad_tag"}, {expired, "expired"},
		{fmt.Errorf("verp: %w", ErrUnknownToken), "unknown_token"},
		{errors.New("store: connection refused"), ""},
	} {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
