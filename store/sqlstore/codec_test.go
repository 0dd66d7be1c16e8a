package sqlstore

import (
	"strings"
	"testing"
	"time"
)

func TestCompressRoundTrip(t *testing.T) {
	for _, raw := range [][]byte{nil, []byte("x"), []byte(strings.Repeat("550 5.1.1 user unknown\r\n", 1000))} {
		c := Compress(raw)
		got, err := Decompress(c, int64(len(raw)))
		if err != nil || string(got) != string(raw) {
			t.Errorf("round trip of %d bytes: %d bytes, %v", len(raw), len(got), err)
		}
		if len(raw) > 0 {
			if _, err := Decompress(c, int64(len(raw)-1)); err == nil {
				t.Errorf("decompress with a wrong size: no error")
			}
		}
	}
	if _, err := Decompress([]byte("not deflate at all"), 10); err == nil {
		t.Error("decompress of garbage: no error")
	}
}

func TestUnixNano(t *testing.T) {
	for _, tm := range []time.Time{{}, time.Date(2026, 5, 4, 8, 0, 0, 123456789, time.UTC), time.Unix(0, 1).UTC()} {
		n := UnixNano(tm)
		if got := FromUnixNano(n); !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("%v: stored %d, read back %v", tm, n, got)
		}
	}
	if UnixNano(time.Time{}) != 0 {
		t.Error("zero time not stored as 0")
	}
}
