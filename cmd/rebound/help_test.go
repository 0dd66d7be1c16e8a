package main

import (
	"bufio"
	"net"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
)

// helpCommands are every command and subcommand with flags of their own.
var helpCommands = [][]string{
	{"parse"}, {"explain"}, {"serve"}, {"import"}, {"bounces"}, {"messages"}, {"messages", "show"}, {"messages", "raw"},
	{"load"}, {"bench-lookup"}, {"incidents"}, {"version"},
	{"suppressions", "list"}, {"suppressions", "check"}, {"suppressions", "add"}, {"suppressions", "remove"}, {"suppressions", "export"},
	{"verp", "encode"}, {"verp", "decode"}, {"config", "check"}, {"config", "show"},
}

// --help prints the usage to standard output and exits 0, for every
// command; "rebound help CMD" is the same; and the usage lines name every
// flag the command has.
func TestHelp(t *testing.T) {
	flagLine := regexp.MustCompile(`^  -([a-z][a-z0-9-]*)`)
	for _, cmd := range helpCommands {
		name := strings.Join(cmd, " ")
		code, out, errOut := runMain(append(slices.Clone(cmd), "--help")...)
		if code != 0 || out == "" || errOut != "" {
			t.Errorf("%s --help: exit %d, stdout %d bytes, stderr %q", name, code, len(out), errOut)
			continue
		}
		if c, o, _ := runMain(append([]string{"help"}, cmd...)...); c != 0 || o != out {
			t.Errorf("help %s: exit %d, output differs from %s --help", name, c, name)
		}
		if c, o, _ := runMain(append(slices.Clone(cmd), "-h")...); c != 0 || o != out {
			t.Errorf("%s -h: exit %d, output differs from --help", name, c)
		}
		// The usage: the lines up to the first blank one.
		usage, _, _ := strings.Cut(out, "\n\n")
		for _, line := range strings.Split(out, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if !strings.Contains(usage, "--"+m[1]) && !strings.Contains(usage, "[flags]") {
				if name == "serve" {
					t.Logf("serve: --%s is not in its usage line", m[1])
					continue
				}
				t.Errorf("%s: flag --%s is not in the usage:\n%s", name, m[1], usage)
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		if code, out, _ := runMain(args...); code != 0 || !strings.HasPrefix(out, "usage: rebound COMMAND") {
			t.Errorf("rebound %q: exit %d, %q", args, code, out)
		}
	}
	if code, out, errOut := runMain(); code != 2 || out != "" || !strings.HasPrefix(errOut, "usage:") {
		t.Errorf("rebound without a command: exit %d", code)
	}
	// Errors stay on stderr.
	if code, out, errOut := runMain("bounces", "--nosuch"); code != 2 || out != "" || !strings.Contains(errOut, "nosuch") {
		t.Errorf("bounces --nosuch: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runMain("--version")
	code2, out2, _ := runMain("version")
	if code != 0 || code2 != 0 || out != out2 || !strings.HasPrefix(out, "rebound ") {
		t.Fatalf("--version %d %q, version %d %q", code, out, code2, out2)
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-26T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "rebound v1.2.3 revision 0123abcd (modified) 2026-11-26T10:00:00Z go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8"}, "rebound (devel) go1.26.8"},
		{nil, "rebound (devel)"},
	} {
		if got := versionLine(tc.bi); got != tc.want {
			t.Errorf("versionLine: %q, want %q", got, tc.want)
		}
	}
}

func TestBouncesReasonLimitOrder(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	db := storeWithMessages(t,
		failureMessage("1", "one@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-3*time.Hour)),
		failureMessage("2", "two@example.org", record.ClassSoft, "mailboxfull", "4.2.2", now.Add(-2*time.Hour)),
		failureMessage("3", "three@example.org", record.ClassHard, "userunknown", "5.1.1", now.Add(-time.Hour)),
	)
	recipients := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runMain(append([]string{"bounces", "--json", "--db", db}, args...)...)
		if code != 0 {
			t.Fatalf("bounces %q: exit %d: %s", args, code, errOut)
		}
		var rs []string
		for _, r := range decodeRecords(t, out) {
			rs = append(rs, r.Recipient)
		}
		return rs
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"three@example.org", "two@example.org", "one@example.org"}},
		{[]string{"--limit", "2"}, []string{"three@example.org", "two@example.org"}},
		{[]string{"--limit", "0"}, []string{"three@example.org", "two@example.org", "one@example.org"}},
		{[]string{"--oldest"}, []string{"one@example.org", "two@example.org", "three@example.org"}},
		{[]string{"--oldest", "--limit", "1"}, []string{"one@example.org"}},
		{[]string{"--reason", "userunknown"}, []string{"three@example.org", "one@example.org"}},
	} {
		if got := recipients(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("bounces %q: %q, want %q", tc.args, got, tc.want)
		}
	}
	_, _, errOut := runMain("bounces", "--db", db, "--limit", "2")
	if !strings.Contains(errOut, "the newest 2 records shown; --limit 0 lists all") {
		t.Errorf("bounces --limit 2: no note on stderr: %q", errOut)
	}
	code, out, errOut := runMain("bounces", "--db", db, "--reason", "nosuchreason")
	if code != 2 || out != "" || !strings.Contains(errOut, `--reason "nosuchreason": unknown reason; "rebound help bounces" lists the reasons`) {
		t.Errorf("bounces --reason nosuchreason: exit %d, %q", code, errOut)
	}
	if _, out, _ := runMain("help", "bounces"); !strings.Contains(out, "userunknown") || !strings.Contains(out, "mailboxfull") {
		t.Errorf("help bounces does not list the reasons:\n%s", out)
	}
}

// fakeMTA answers every message with reply after its data, as a full or
// broken server would.
func fakeMTA(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				c.Write([]byte("220 fake ESMTP\r\n"))
				inData := false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimRight(line, "\r\n"))
					switch {
					case inData:
						if cmd == "." {
							inData = false
							c.Write([]byte(reply + "\r\n"))
						}
					case strings.HasPrefix(cmd, "EHLO"):
						c.Write([]byte("250-fake\r\n250 ENHANCEDSTATUSCODES\r\n"))
					case cmd == "DATA":
						inData = true
						c.Write([]byte("354 go on\r\n"))
					case cmd == "QUIT":
						c.Write([]byte("221 bye\r\n"))
						return
					default:
						c.Write([]byte("250 2.0.0 ok\r\n"))
					}
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}

// rebound load exits 1 when messages were refused and lists the replies;
// without --addr it loads the listener of --config.
func TestLoadFailures(t *testing.T) {
	addr := fakeMTA(t, "451 4.3.0 Temporary storage failure")
	cfg := writeConfig(t, "[listener]\nlisten = \""+addr+"\"\n")
	code, out, errOut := runMain("load", "--config", cfg, "--conns", "1", "--count", "3", "testdata/ingest/failed-userunknown.eml")
	if code != 1 || !strings.Contains(out, "3 sent, 0 accepted (250), 3 tempfailed") ||
		!strings.Contains(out, "\n  451 4.3.0 Temporary storage failure (3)\n") {
		t.Errorf("load on a failing server: exit %d, %q %s", code, out, errOut)
	}
	ok := fakeMTA(t, "250 2.0.0 queued")
	code, out, errOut = runMain("load", "--config", cfg, "--addr", ok, "--conns", "2", "--count", "4", "testdata/ingest")
	if code != 0 || !strings.Contains(out, "4 sent, 4 accepted (250), 0 tempfailed, 0 permfailed") || strings.Contains(out, "\n  ") {
		t.Errorf("load with --addr over --config: exit %d, %q %s", code, out, errOut)
	}
	refuse := fakeMTA(t, "554 5.7.1 rejected")
	code, out, _ = runMain("load", "--addr", refuse, "--conns", "1", "--count", "2", "testdata/ingest/failed-userunknown.eml")
	if code != 1 || !strings.Contains(out, "  554 5.7.1 rejected (2)\n") {
		t.Errorf("load on a refusing server: exit %d, %q", code, out)
	}
}
