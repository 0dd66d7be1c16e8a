package mailbox

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"plain message", "From: a@example.com\n\nhello\n", []string{"From: a@example.com\n\nhello\n"}},
		{"one mbox message", "From a@example.com Thu Mar  5 12:00:00 2026\nSubject: x\n\nbody\n",
			[]string{"Subject: x\n\nbody\n"}},
		{"three messages", "From a@example.com Thu Mar  5 12:00:00 2026\nSubject: 1\n\none\n\n" +
			"From b@example.com Thu Mar  5 12:01:00 2026\nSubject: 2\n\ntwo\n\n" +
			"From c@example.com Thu Mar  5 12:02:00 2026\nSubject: 3\n\nthree\n",
			[]string{"Subject: 1\n\none\n", "Subject: 2\n\ntwo\n", "Subject: 3\n\nthree\n"}},
		{"mboxrd escapes", "From a@example.com Thu Mar  5 12:00:00 2026\nSubject: 1\n\n>From here\n>>From there\n> From not\n",
			[]string{"Subject: 1\n\nFrom here\n>From there\n> From not\n"}},
		{"From inside a paragraph is text", "From a@example.com Thu Mar  5 12:00:00 2026\nSubject: 1\n\nline\nFrom me to you today\n",
			[]string{"Subject: 1\n\nline\nFrom me to you today\n"}},
		{"crlf", "From a@example.com Thu Mar  5 12:00:00 2026\r\nSubject: 1\r\n\r\none\r\n\r\nFrom b@example.com Thu Mar  5 12:01:00 2026\r\nSubject: 2\r\n\r\ntwo\r\n",
			[]string{"Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\ntwo\r\n"}},
		{"bare cr", "From a@example.com Thu Mar  5 12:00:00 2026\rSubject: 1\r\rone\r\rFrom b@example.com Thu Mar  5 12:01:00 2026\rSubject: 2\r\rtwo\r",
			[]string{"Subject: 1\r\rone\r", "Subject: 2\r\rtwo\r"}},
		{"empty", "", []string{""}},
		{"From line that is no separator", "From nowhere\nSubject: x\n", []string{"From nowhere\nSubject: x\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages %q, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("message %d = %q, want %q", i+1, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestStreamMatchesSplit checks that reading an mbox as a stream yields
// the messages Split finds in it.
func TestStreamMatchesSplit(t *testing.T) {
	inputs := []string{
		"From a@example.com Thu Mar  5 12:00:00 2026\nSubject: 1\n\none\n\nFrom b@example.com Thu Mar  5 12:01:00 2026\nSubject: 2\n\n>From two\n\n",
		"From a@example.com Thu Mar  5 12:00:00 2026\r\nSubject: 1\r\n\r\none\r\n\r\nFrom b@example.com Thu Mar  5 12:01:00 2026\r\nSubject: 2\r\n\r\ntwo\r\n",
		"From a@example.com Thu Mar  5 12:00:00 2026\nSubject: only\n\nFrom me, hello\n",
		"From a b 1:00\nx\n\nFrom d e 2:00\ny\n\nFrom g h i\nz",
		"From a b 1:00\r\rbare CR\r",
		"Subject: not an mbox\n\nFrom a b c\n",
	}
	for _, in := range inputs {
		var got []string
		(&Reader{}).stream("p", strings.NewReader(in), func(m Message, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m.Source+"="+string(m.Data))
			return nil
		})
		var want []string
		msgs := Split([]byte(in))
		for i, m := range msgs {
			src := "p"
			if len(msgs) > 1 {
				src = "p:" + string(rune('1'+i))
			}
			want = append(want, src+"="+string(m))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("input %q\nstream %q\nsplit  %q", in, got, want)
		}
	}
}

func TestStreamMaxSize(t *testing.T) {
	in := "From a Thu Mar  5 12:00:00 2026\nSubject: small\n\nFrom d Thu Mar  5 12:00:00 2026\nSubject: big\n\n" + strings.Repeat("x", 200) +
		"\n\nFrom g Thu Mar  5 12:00:00 2026\nSubject: small again\n"
	var got []string
	(&Reader{MaxSize: 100}).stream("p", strings.NewReader(in), func(m Message, err error) error {
		if err != nil {
			got = append(got, m.Source+" error")
		} else {
			got = append(got, m.Source+" ok")
		}
		return nil
	})
	want := "p:1 ok|p:2 error|p:3 ok"
	if strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", strings.Join(got, "|"), want)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReaderEach(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.eml"), "Subject: a\n\na\n")
	write(t, filepath.Join(dir, "b.mbox"), "From x Thu Mar  5 12:00:00 2026\nSubject: b1\n\nb1\n\nFrom y Thu Mar  5 12:00:00 2026\nSubject: b2\n\nb2\n")
	write(t, filepath.Join(dir, "maildir", "cur", "1.host:2,S"), "Subject: cur\n\ncur\n")
	write(t, filepath.Join(dir, "maildir", "new", "2.host"), "Subject: new\n\nnew\n")
	write(t, filepath.Join(dir, "maildir", "tmp", "3.host"), "Subject: tmp\n\ntmp\n")
	write(t, filepath.Join(dir, "sub", "deep", "c.eml"), "Subject: c\n\nc\n")
	missing := filepath.Join(dir, "missing.eml")

	r := &Reader{Stdin: strings.NewReader("Subject: stdin\n\nin\n")}
	var got []string
	err := r.Each([]string{dir, missing, "-"}, func(m Message, err error) error {
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Path != missing || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error = %v, want a not-exist *Error for %s", err, missing)
			}
			got = append(got, "error "+filepath.Base(m.Source))
			return nil
		}
		rel, _ := filepath.Rel(dir, m.Source)
		if m.Source == "-" {
			rel = "-"
		}
		got = append(got, rel+" "+strings.SplitN(string(m.Data), "\n", 2)[0])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a.eml Subject: a",
		"b.mbox:1 Subject: b1",
		"b.mbox:2 Subject: b2",
		"maildir/cur/1.host:2,S Subject: cur",
		"maildir/new/2.host Subject: new",
		"sub/deep/c.eml Subject: c",
		"error missing.eml",
		"- Subject: stdin",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReaderMaxSize(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "big.eml"), strings.Repeat("x", 100))
	r := &Reader{MaxSize: 10}
	var gotErr error
	r.Each([]string{dir}, func(m Message, err error) error {
		gotErr = err
		return nil
	})
	if gotErr == nil || !strings.Contains(gotErr.Error(), "larger than 10 bytes") {
		t.Errorf("error = %v, want a size error", gotErr)
	}
}

func TestReaderStopsOnCallbackError(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "1.eml"), "Subject: 1\n\n")
	write(t, filepath.Join(dir, "2.eml"), "Subject: 2\n\n")
	stop := errors.New("stop")
	n := 0
	err := (&Reader{}).Each([]string{dir}, func(Message, error) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Each = %v after %d calls, want stop after 1", err, n)
	}
}

// FuzzSplit checks that splitting never panics and loses no message text:
// every message is found in the input once the escapes are undone.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("From a Thu Mar  5 12:00:00 2026\nSubject: 1\n\n>From x\n\nFrom b Thu Mar  5 12:00:00 2026\n\nx"))
	f.Add([]byte("From a b 1:00\r\rFrom d e 2:00\r"))
	f.Add([]byte("Subject: plain\n\nbody"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := Split(data)
		if len(msgs) == 0 {
			t.Fatal("no messages")
		}
		total := 0
		for _, m := range msgs {
			total += len(m)
		}
		if total > len(data) {
			t.Fatalf("messages hold %d bytes, input %d", total, len(data))
		}
		// Reading as a stream finds the same messages.
		var streamed [][]byte
		(&Reader{}).stream("p", bytes.NewReader(data), func(m Message, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			streamed = append(streamed, m.Data)
			return nil
		})
		if len(streamed) != len(msgs) {
			t.Fatalf("stream found %d messages, Split %d", len(streamed), len(msgs))
		}
		for i := range msgs {
			if !bytes.Equal(streamed[i], msgs[i]) {
				t.Fatalf("message %d: stream %q, Split %q", i+1, streamed[i], msgs[i])
			}
		}
	})
}
