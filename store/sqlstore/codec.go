package sqlstore

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"sync"
	"time"
)

// UnixNano encodes a time as stored: Unix nanoseconds, which order like the
// times they encode and fit int64 until 2262; 0 stands for the zero time.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNano decodes a time encoded by UnixNano, in UTC.
func FromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Raw messages are DEFLATE-compressed (RFC 1951) at the fastest level:
// bounces are mostly text and shrink by half or more, and Save must stay
// cheap. Compression runs in the caller's goroutine, not in a writer, so it
// scales with the cores.
var flateWriters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		panic(err) // only for an invalid level
	}
	return w
}}

// Compress deflates a raw message for storing.
func Compress(raw []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(raw)/2 + 64)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&buf)
	w.Write(raw) // writes to a bytes.Buffer do not fail
	w.Close()
	flateWriters.Put(w)
	out := buf.Bytes()
	if cap(out) > 64<<10 && cap(out) > 2*len(out) {
		// Much smaller than guessed (a report repeating itself shrinks
		// thirtyfold): keep no more than the bytes, as the message may
		// wait for its commit a while.
		out = bytes.Clone(out)
	}
	return out
}

// Decompress inflates a stored message whose original size is size.
func Decompress(data []byte, size int64) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(data))
	defer r.Close()
	buf := bytes.NewBuffer(make([]byte, 0, size))
	// The stored size bounds what we accept, so a damaged row cannot
	// balloon in memory.
	n, err := io.Copy(buf, io.LimitReader(r, size+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing raw message: %w", err)
	}
	if n != size {
		return nil, fmt.Errorf("decompressing raw message: got %d bytes, stored size is %d", n, size)
	}
	return buf.Bytes(), nil
}
