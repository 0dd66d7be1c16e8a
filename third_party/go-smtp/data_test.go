package smtp

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDataReader(t *testing.T) {
	tests := []struct {
		name, in, data, after string
		err                   error
	}{
		{name: "plain", in: "hello\r\n.\r\nNOOP\r\n", data: "hello\r\n", after: "NOOP\r\n"},
		{name: "dot-stuffed", in: "..hello\r\n.\r\n", data: ".hello\r\n"},
		// A bare CR before the CRLF is data; the line still ends there
		// (RFC 5321 sections 2.3.8 and 4.1.1.4).
		{name: "CR CRLF", in: "hello\r\r\n.\r\nNOOP\r\n", data: "hello\r\r\n", after: "NOOP\r\n"},
		{name: "CR CRLF then stuffed dot", in: "hello\r\r\n..x\r\n.\r\n", data: "hello\r\r\n.x\r\n"},
		{name: "CRs in a line", in: "a\r\rb\r\r\r\n.\r\n", data: "a\r\rb\r\r\r\n"},
		{name: "dot CR CRLF", in: ".\r\r\n.\r\nNOOP\r\n", data: "\r\r\n", after: "NOOP\r\n"},
		{name: "dot CR data", in: ".\rx\r\n.\r\n", data: "\rx\r\n"},
		// Only CRLF.CRLF ends the data, never a bare CR or LF around the dot.
		{name: "CR dot CRLF", in: "a\r.\r\n.\r\n", data: "a\r.\r\n"},
		{name: "LF dot CRLF", in: "a\n.\r\n.\r\n", data: "a\n.\r\n"},
		{name: "cut short", in: "hello\r\r\n", data: "hello\r\r\n", err: io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			br := bufio.NewReader(strings.NewReader(tc.in))
			dr := &dataReader{r: br}
			var r io.Reader = dr
			if oneByte {
				r = iotest.OneByteReader(dr)
			}
			data, err := io.ReadAll(r)
			if err != tc.err || dr.readErr != tc.err {
				t.Errorf("%s (one byte reads: %v): error %v, read error %v, want %v", tc.name, oneByte, err, dr.readErr, tc.err)
			}
			if string(data) != tc.data {
				t.Errorf("%s (one byte reads: %v): data %q, want %q", tc.name, oneByte, data, tc.data)
			}
			if after, _ := io.ReadAll(br); string(after) != tc.after {
				t.Errorf("%s (one byte reads: %v): after the data %q, want %q", tc.name, oneByte, after, tc.after)
			}
		}
	}
}

func TestChunkReader(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		size      int64
		lineLimit int
		lineLen   int // of the line the previous chunk left open
		data      string
		err       error
		readErr   error
	}{
		{name: "whole", in: "hello\r\nNOOP\r\n", size: 7, data: "hello\r\n"},
		{name: "cut short", in: "hello", size: 100, data: "hello", err: io.ErrUnexpectedEOF, readErr: io.ErrUnexpectedEOF},
		{name: "lines within limit", in: "12345678\r\n12345678\r\n", size: 20, lineLimit: 10, data: "12345678\r\n12345678\r\n"},
		{name: "line over limit", in: "123456789\r\n", size: 11, lineLimit: 10, data: "123456789\r\n", err: ErrTooLongLine},
		{name: "line over limit across chunks", in: "5678\r\n", size: 6, lineLimit: 10, lineLen: 5, data: "5678\r\n", err: ErrTooLongLine},
		{name: "no limit", in: strings.Repeat("x", 50), size: 50, data: strings.Repeat("x", 50)},
	}
	for _, tc := range tests {
		lineLen := tc.lineLen
		r := &chunkReader{r: bufio.NewReader(strings.NewReader(tc.in)), remaining: tc.size, lineLimit: tc.lineLimit, lineLen: &lineLen}
		data, err := io.ReadAll(r)
		if err != tc.err || r.readErr != tc.readErr {
			t.Errorf("%s: error %v, read error %v, want %v, %v", tc.name, err, r.readErr, tc.err, tc.readErr)
		}
		if string(data) != tc.data {
			t.Errorf("%s: data %q, want %q", tc.name, data, tc.data)
		}
	}
}
