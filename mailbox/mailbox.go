// Package mailbox splits inputs into messages: plain message files, mbox
// files (messages separated by "From " lines), maildir folders, directory
// trees of any of these, and standard input.
package mailbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"strconv"
)

// A Message is one message read from an input.
type Message struct {
	// Source names where the message came from: the file path, with
	// ":k" appended for the k-th message (from 1) of an mbox file that
	// holds more than one; "-" for standard input.
	Source string
	// Path is the file the message was read from ("-" for standard
	// input), and Number its position (from 1) in an mbox file that holds
	// more than one message, else 0.
	Path   string
	Number int
	Data   []byte
}

// An Error is an input that could not be read.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Reader reads inputs. The zero value reads standard input from os.Stdin
// and accepts files of any size.
type Reader struct {
	Stdin   io.Reader // read for the path "-"
	MaxSize int64     // largest file read, 0 for no limit
}

// Each calls fn with every message of the inputs named by paths, in order:
// files in the order given, directories walked in lexical order. Maildir
// folders are read through their cur and new folders; their tmp folder
// holds messages still being written and is skipped. An input that cannot
// be read is passed to fn as an *Error, and reading goes on. Each stops
// and returns the first error fn returns.
func (r *Reader) Each(paths []string, fn func(Message, error) error) error {
	for _, p := range paths {
		if err := r.each(p, fn); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) each(path string, fn func(Message, error) error) error {
	if path == "-" {
		in := r.Stdin
		if in == nil {
			in = os.Stdin
		}
		return r.stream(path, in, fn)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fn(Message{Source: path}, &Error{Path: path, Err: unwrapPath(err)})
	}
	if !fi.IsDir() {
		return r.file(path, fn)
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fn(Message{Source: p}, &Error{Path: p, Err: unwrapPath(err)})
		}
		if d.IsDir() {
			if p != path && d.Name() == "tmp" && isMaildir(filepath.Dir(p)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return r.file(p, fn)
	})
}

func (r *Reader) file(path string, fn func(Message, error) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fn(Message{Source: path}, &Error{Path: path, Err: unwrapPath(err)})
	}
	defer f.Close()
	return r.stream(path, f, fn)
}

// stream reads one input. An mbox is split as it is read, so that its
// size is not bounded by memory (MaxSize then bounds each message); other
// inputs are read whole.
func (r *Reader) stream(path string, in io.Reader, fn func(Message, error) error) error {
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(4 << 10)
	if nl := bytes.IndexByte(head, '\n'); nl >= 0 && isSeparator(bytes.TrimRight(head[:nl], "\r")) {
		return r.streamMbox(path, br, fn)
	}
	data, err := r.readAll(br)
	if err != nil {
		return fn(Message{Source: path}, &Error{Path: path, Err: unwrapPath(err)})
	}
	return split(path, data, fn)
}

// streamMbox splits an mbox as Split does, reading it line by line. The
// first message is held back until the second separator or the end of the
// input shows whether the file holds more than one.
func (r *Reader) streamMbox(path string, br *bufio.Reader, fn func(Message, error) error) error {
	type pending struct {
		data   []byte
		tooBig bool
	}
	var (
		cur      pending  // the message being read
		held     *pending // the first message, until a second one starts
		n        int      // messages completed
		prevLine = true   // the previous line was empty (or this is the start)
		started  bool     // a separator was read
	)
	emit := func(m pending, k int) error {
		src := path
		if k > 0 {
			src = path + ":" + strconv.Itoa(k)
		}
		if m.tooBig {
			return fn(Message{Source: src}, &Error{Path: src, Err: fmt.Errorf("message larger than %d bytes", r.MaxSize)})
		}
		return fn(Message{Source: src, Path: path, Number: k, Data: dropSeparatorBlank(m.data, []byte("\n"))}, nil)
	}
	finish := func() error {
		m := cur
		cur = pending{}
		n++
		switch n {
		case 1:
			held = &m
			return nil
		case 2:
			if err := emit(*held, 1); err != nil {
				return err
			}
			held = nil
		}
		return emit(m, n)
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: take it in pieces.
			big := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				big = append(big, line...)
			}
			line = big
		}
		if len(line) > 0 {
			text := bytes.TrimRight(line, "\r\n")
			switch {
			case prevLine && isSeparator(text):
				if started {
					if ferr := finish(); ferr != nil {
						return ferr
					}
				}
				started, prevLine = true, false
			default:
				prevLine = len(text) == 0
				if isEscapedFrom(line) {
					line = line[1:]
				}
				if r.MaxSize > 0 && int64(len(cur.data)+len(line)) > r.MaxSize {
					cur.tooBig, cur.data = true, nil
				} else if !cur.tooBig {
					cur.data = append(cur.data, line...)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fn(Message{Source: path}, &Error{Path: path, Err: err})
		}
	}
	// The last message: alone, it keeps the plain path as its source.
	switch n {
	case 0:
		return emit(cur, 0)
	case 1:
		if err := emit(*held, 1); err != nil {
			return err
		}
	}
	return emit(cur, n+1)
}

// dropSeparatorBlank drops the empty line that ends m before the next
// separator, which belongs to the mbox format, not to the message.
func dropSeparatorBlank(m, eol []byte) []byte {
	if !bytes.HasSuffix(m, eol) {
		return m
	}
	t := m[:len(m)-len(eol)]
	crlf := len(eol) == 1 && eol[0] == '\n'
	if crlf {
		t = bytes.TrimSuffix(t, []byte("\r"))
	}
	if len(t) == 0 || bytes.HasSuffix(t, eol) {
		return t
	}
	return m
}

func (r *Reader) readAll(in io.Reader) ([]byte, error) {
	if r.MaxSize <= 0 {
		return io.ReadAll(in)
	}
	data, err := io.ReadAll(io.LimitReader(in, r.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > r.MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", r.MaxSize)
	}
	return data, nil
}

// unwrapPath drops the *fs.PathError wrapper: Error names the path itself.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// isMaildir reports whether dir has the cur and new folders of a maildir.
func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// split calls fn with the messages of data: one message, or the messages
// of an mbox when data starts with a "From " line.
func split(source string, data []byte, fn func(Message, error) error) error {
	msgs := Split(data)
	if len(msgs) == 1 {
		return fn(Message{Source: source, Path: source, Data: msgs[0]}, nil)
	}
	for i, m := range msgs {
		if err := fn(Message{Source: source + ":" + strconv.Itoa(i+1), Path: source, Number: i + 1, Data: m}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Split returns the messages of data. Data that does not start with an
// mbox "From " line is one message. Otherwise it is an mbox: messages
// start after a "From " line at the start of the data or after an empty
// line, the separator lines are dropped, and the ">From " escapes of the
// mboxrd format are undone (a ">" is removed from lines matching
// ^>+From ). Line ends may be LF, CRLF or bare CR. Messages without
// escapes share data's memory.
func Split(data []byte) [][]byte {
	if !bytes.HasPrefix(data, []byte("From ")) {
		return [][]byte{data}
	}
	eol := []byte("\n")
	if bytes.IndexByte(data, '\n') < 0 && bytes.IndexByte(data, '\r') >= 0 {
		eol = []byte("\r") // old Mac line ends
	}
	var msgs [][]byte
	start := -1 // start of the current message
	prevBlank := true
	pos := 0
	for pos < len(data) {
		end := bytes.Index(data[pos:], eol)
		next := len(data)
		if end >= 0 {
			end += pos
			next = end + len(eol)
		} else {
			end = len(data)
		}
		line := data[pos:end]
		if prevBlank && isSeparator(line) {
			if start >= 0 {
				msgs = append(msgs, finish(data[start:pos], eol))
			}
			start = next
			prevBlank = false
			pos = next
			continue
		}
		prevBlank = len(bytes.TrimRight(line, "\r")) == 0
		pos = next
	}
	if start >= 0 && start <= len(data) {
		msgs = append(msgs, finish(data[start:], eol))
	}
	if len(msgs) == 0 {
		// "From " opened no separator line: a message after all.
		return [][]byte{data}
	}
	return msgs
}

// isSeparator reports whether line is an mbox separator: "From ", a
// sender and a date with a time of day ("From MAILER-DAEMON Thu Mar  5
// 12:00:00 2026"). A sentence that starts with "From " has no time.
func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) || len(bytes.Fields(line)) < 3 {
		return false
	}
	for i := 1; i+2 < len(line); i++ {
		if line[i] == ':' && isDigit(line[i-1]) && isDigit(line[i+1]) && isDigit(line[i+2]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// finish drops the empty line before the next separator and undoes the
// mboxrd escapes.
func finish(m, eol []byte) []byte {
	m = dropSeparatorBlank(m, eol)
	if !bytes.Contains(m, []byte(">From ")) {
		return m
	}
	out := make([]byte, 0, len(m))
	for pos := 0; pos < len(m); {
		end := bytes.Index(m[pos:], eol)
		next := len(m)
		if end >= 0 {
			next = pos + end + len(eol)
		}
		line := m[pos:next]
		if isEscapedFrom(line) {
			line = line[1:]
		}
		out = append(out, line...)
		pos = next
	}
	return out
}

func isEscapedFrom(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(line[i:], []byte("From "))
}
