package milter

import (
	"bytes"
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/smtpd"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
	"github.com/rebound-mail/rebound/verp"
)

const bounceDomain = "bounces.test"

// testMilter is a milter server in front of a real smtpd.Server storing
// into a real SQLite store.
type testMilter struct {
	st   store.Store
	addr string
}

func startMilter(t *testing.T, cfg Config, signer *verp.Signer) *testMilter {
	t.Helper()
	st, srv := newIngester(t, signer)
	ms, err := New(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ms.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ms.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testMilter{st: st, addr: l.Addr().String()}
}

// newIngester returns a real smtpd.Server for the bounce domain, storing
// into a real SQLite store in a temporary directory.
func newIngester(t *testing.T, signer *verp.Signer) (store.Store, *smtpd.Server) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/rebound.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cl, err := classify.New("en")
	if err != nil {
		t.Fatal(err)
	}
	an := &bounce.Analyzer{Parser: &dsn.Parser{Limits: dsn.DefaultLimits}, Classifier: cl}
	srv, err := smtpd.New(smtpd.Config{Domains: []string{bounceDomain}, SpoolDir: t.TempDir(), Signer: signer}, st, an, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, srv
}

// outcome is what the milter answered to one message.
type outcome struct {
	rcpt    []*gomilter.Action // per recipient
	headers bool               // the headers were asked for
	body    bool               // the body was asked for
	mods    []gomilter.ModifyAction
	final   *gomilter.Action // the answer that ended the message
}

// send plays an MTA's part of one SMTP transaction of raw, as Postfix
// sends it: header values with their leading space when the milter asked
// for it (SMFIP_HDR_LEADSPC), else without one space as Sendmail does.
func send(t *testing.T, addr string, leadSpace bool, from string, rcpts []string, raw []byte) outcome {
	t.Helper()
	opts := []gomilter.Option{}
	if !leadSpace {
		opts = append(opts, gomilter.WithoutProtocol(gomilter.OptHeaderLeadingSpace))
	}
	macros := gomilter.NewMacroBag()
	macros.Set(gomilter.MacroQueueId, "4QTEST1")
	sess, err := gomilter.NewClient("tcp", addr, opts...).Session(macros)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var out outcome
	step := func(act *gomilter.Action, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if act.Type != gomilter.ActionContinue {
			out.final = act
			return false
		}
		return true
	}
	if !step(sess.Conn("mx.dest.example", gomilter.FamilyInet, 40000, "192.0.2.7")) ||
		!step(sess.Helo("mx.dest.example")) ||
		!step(sess.Mail(from, "")) {
		return out
	}
	for _, r := range rcpts {
		act, err := sess.Rcpt(r, "NOTIFY=NEVER")
		if err != nil {
			t.Fatal(err)
		}
		out.rcpt = append(out.rcpt, act)
	}
	if !step(sess.DataStart()) {
		return out
	}
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("test message without header/body separator")
	}
	out.headers = true
	for _, field := range fields(string(head) + "\r\n") {
		name, value, _ := strings.Cut(field, ":")
		if !leadSpace {
			value = strings.TrimPrefix(value, " ")
		}
		if !step(sess.HeaderField(name, value, nil)) {
			return out
		}
	}
	if !step(sess.HeaderEnd()) {
		return out
	}
	out.body = true
	mods, act, err := sess.BodyReadFrom(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out.mods, out.final = mods, act
	return out
}

// fields splits a header section into its fields, folded lines kept.
func fields(head string) []string {
	var fs []string
	for line := range strings.SplitAfterSeq(head, "\r\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fs) > 0 {
			fs[len(fs)-1] += line
			continue
		}
		fs = append(fs, line)
	}
	for i := range fs {
		fs[i] = strings.TrimSuffix(fs[i], "\r\n")
	}
	return fs
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored returns the stored messages, with their raw bytes and records.
func (tm *testMilter) stored(t *testing.T) []*store.Message {
	t.Helper()
	ctx := context.Background()
	list, err := tm.st.Messages(ctx, store.MessageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ms []*store.Message
	for _, m := range list {
		full, err := tm.st.Message(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, full)
	}
	return ms
}

func TestStoresReport(t *testing.T) {
	raw := readFixture(t, "dsn.eml")
	tests := []struct {
		action    string
		leadSpace bool
		want      gomilter.ActionType
		code      uint16
	}{
		{ActionAccept, true, gomilter.ActionAccept, 250},
		{ActionAccept, false, gomilter.ActionAccept, 250},
		{ActionDiscard, true, gomilter.ActionDiscard, 250},
		{ActionReject, true, gomilter.ActionRejectWithCode, 550},
	}
	for _, tc := range tests {
		name := tc.action
		if !tc.leadSpace {
			name += "/no-leading-space"
		}
		t.Run(name, func(t *testing.T) {
			tm := startMilter(t, Config{Action: tc.action}, nil)
			out := send(t, tm.addr, tc.leadSpace, "", []string{"bounce@" + bounceDomain}, raw)
			if len(out.rcpt) != 1 || out.rcpt[0].Type != gomilter.ActionContinue {
				t.Fatalf("recipient answered %v, want continue", out.rcpt)
			}
			if out.final == nil || out.final.Type != tc.want || out.final.SMTPCode != tc.code {
				t.Fatalf("message answered %v, want type %d code %d", out.final, tc.want, tc.code)
			}
			if tc.action == ActionReject && out.final.SMTPReply != "550 5.7.1 stored by rebound; not delivered" {
				t.Errorf("reject reply %q", out.final.SMTPReply)
			}
			if len(out.mods) != 0 {
				t.Errorf("modifications %v, want none", out.mods)
			}
			ms := tm.stored(t)
			if len(ms) != 1 {
				t.Fatalf("%d messages stored, want 1", len(ms))
			}
			m := ms[0]
			if !bytes.Equal(m.Raw, raw) {
				t.Errorf("stored message differs from the one received:\n%q\nwant\n%q", m.Raw, raw)
			}
			if m.Source != Source || m.MailFrom != "" || !slices.Equal(m.RcptTo, []string{"bounce@" + bounceDomain}) ||
				m.RemoteAddr != "192.0.2.7:40000" || m.Helo != "mx.dest.example" {
				t.Errorf("envelope: source %q from %q to %q remote %q helo %q", m.Source, m.MailFrom, m.RcptTo, m.RemoteAddr, m.Helo)
			}
			if len(m.Records) != 1 || m.Records[0].Recipient != "nobody@dest.example" || m.Records[0].Class != "hard" {
				t.Errorf("records %+v, want one hard bounce of nobody@dest.example", m.Records)
			}
		})
	}
}

// A message to no bounce domain passes before its headers and body are
// sent, and nothing is stored.
func TestPassesOtherMail(t *testing.T) {
	raw := readFixture(t, "plain.eml")
	for _, action := range []string{ActionAccept, ActionDiscard, ActionReject} {
		t.Run(action, func(t *testing.T) {
			tm := startMilter(t, Config{Action: action}, nil)
			out := send(t, tm.addr, true, "alice@elsewhere.example", []string{"bob@other.test", "carol@bounces.test.example"}, raw)
			for i, a := range out.rcpt {
				if a.Type != gomilter.ActionContinue {
					t.Errorf("recipient %d answered %v, want continue", i, a)
				}
			}
			if out.final == nil || out.final.Type != gomilter.ActionAccept {
				t.Fatalf("message answered %v, want accept", out.final)
			}
			if out.headers || out.body {
				t.Errorf("headers asked for %v, body %v: want neither", out.headers, out.body)
			}
			if ms := tm.stored(t); len(ms) != 0 {
				t.Errorf("%d messages stored, want none", len(ms))
			}
		})
	}
}

// A message that could not be stored is never accepted: the MTA is told
// to answer 451 so that the sender retries.
func TestStoreFailureTempfails(t *testing.T) {
	for _, action := range []string{ActionAccept, ActionDiscard, ActionReject} {
		t.Run(action, func(t *testing.T) {
			tm := startMilter(t, Config{Action: action}, nil)
			if err := tm.st.Close(); err != nil {
				t.Fatal(err)
			}
			out := send(t, tm.addr, true, "", []string{"bounce@" + bounceDomain, "dave@other.test"}, readFixture(t, "dsn.eml"))
			if out.final == nil || out.final.Type != gomilter.ActionRejectWithCode || out.final.SMTPCode != 451 ||
				!strings.HasPrefix(out.final.SMTPReply, "451 4.3.0 ") {
				t.Fatalf("message answered %v, want 451 4.3.0", out.final)
			}
			if len(out.mods) != 0 {
				t.Errorf("modifications %v, want none", out.mods)
			}
		})
	}
}

// A recipient that claims a signed return path but does not verify is
// refused as RCPT would refuse it; a valid one in the same transaction is
// taken.
func TestForgedReturnPath(t *testing.T) {
	signer, err := verp.New([]verp.Key{{ID: "k1", Secret: []byte("milter-test-secret-0123456")}}, verp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	valid, err := signer.Encode(context.Background(), "nobody@dest.example", bounceDomain)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(valid, "+k1+", "+k7+", 1)
	if forged == valid {
		t.Fatalf("cannot forge %q", valid)
	}
	tm := startMilter(t, Config{Action: ActionDiscard}, signer)
	raw := bytes.Replace(readFixture(t, "dsn.eml"), []byte("To: bounce@bounces.test"), []byte("To: "+valid), 1)
	out := send(t, tm.addr, true, "", []string{forged, valid}, raw)
	if len(out.rcpt) != 2 {
		t.Fatalf("recipients answered %v", out.rcpt)
	}
	if a := out.rcpt[0]; a.Type != gomilter.ActionRejectWithCode || a.SMTPCode != 550 || !strings.HasPrefix(a.SMTPReply, "550 5.7.1 Return path signature does not verify") {
		t.Errorf("forged recipient answered %v, want 550 5.7.1", a)
	}
	if a := out.rcpt[1]; a.Type != gomilter.ActionContinue {
		t.Errorf("valid recipient answered %v, want continue", a)
	}
	if out.final == nil || out.final.Type != gomilter.ActionDiscard {
		t.Fatalf("message answered %v, want discard", out.final)
	}
	ms := tm.stored(t)
	if len(ms) != 1 || !slices.Equal(ms[0].RcptTo, []string{valid}) {
		t.Fatalf("stored %d messages, want one to %s", len(ms), valid)
	}
}

// With discard or reject, a message that has recipients outside the bounce
// domains loses its bounce recipients and is accepted for the others.
func TestMixedRecipients(t *testing.T) {
	for _, action := range []string{ActionDiscard, ActionReject} {
		t.Run(action, func(t *testing.T) {
			tm := startMilter(t, Config{Action: action}, nil)
			rcpts := []string{"bounce@" + bounceDomain, "carol@other.test", "Second@Bounces.Test"}
			out := send(t, tm.addr, true, "", rcpts, readFixture(t, "dsn.eml"))
			if out.final == nil || out.final.Type != gomilter.ActionAccept {
				t.Fatalf("message answered %v, want accept", out.final)
			}
			var deleted []string
			for _, m := range out.mods {
				if m.Type != gomilter.ActionDelRcpt {
					t.Errorf("unexpected modification %v", m)
					continue
				}
				deleted = append(deleted, m.Rcpt)
			}
			if want := []string{"<bounce@bounces.test>", "<Second@Bounces.Test>"}; !slices.Equal(deleted, want) {
				t.Errorf("deleted recipients %q, want %q", deleted, want)
			}
			ms := tm.stored(t)
			if len(ms) != 1 || len(ms[0].Records) != 1 {
				t.Fatalf("stored %d messages, want one with a record", len(ms))
			}
		})
	}
}

// Past the maximum size a message to a bounce domain is refused at its end
// and nothing is stored.
func TestTooBig(t *testing.T) {
	raw := readFixture(t, "dsn.eml")
	tests := []struct {
		max  int64
		want uint16
	}{
		{int64(len(raw)), 0},
		{int64(len(raw)) - 1, 552},
		{200, 552}, // within the header
	}
	for _, tc := range tests {
		tm := startMilter(t, Config{Action: ActionAccept, MaxMessageSize: tc.max}, nil)
		out := send(t, tm.addr, true, "", []string{"bounce@" + bounceDomain}, raw)
		n := len(tm.stored(t))
		switch {
		case out.final == nil:
			t.Errorf("max %d: no answer", tc.max)
		case tc.want == 0 && (out.final.Type != gomilter.ActionAccept || n != 1):
			t.Errorf("max %d: answered %v, %d stored; want accept and 1 stored", tc.max, out.final, n)
		case tc.want != 0 && (out.final.SMTPCode != tc.want || !strings.HasPrefix(out.final.SMTPReply, "552 5.3.4 ") || n != 0):
			t.Errorf("max %d: answered %v, %d stored; want 552 5.3.4 and none stored", tc.max, out.final, n)
		}
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{Action: ActionReject}, true},
		{Config{Action: "bounce"}, false},
		{Config{MaxMessageSize: -1}, false},
	}
	_, srv := newIngester(t, nil)
	for _, tc := range tests {
		_, err := New(srv, tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("New(%+v): %v, want ok %v", tc.cfg, err, tc.ok)
		}
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New without an ingester: no error")
	}
}

// Several MTA connections at once, each with several messages: each
// message is stored once.
func TestConcurrentConnections(t *testing.T) {
	tm := startMilter(t, Config{Action: ActionDiscard}, nil)
	raw := readFixture(t, "dsn.eml")
	const conns, perConn = 4, 3
	errs := make(chan string, conns*perConn)
	done := make(chan struct{})
	for c := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range perConn {
				id := []byte("<dsn-" + string(rune('a'+c)) + string(rune('a'+i)) + "@mx.dest.example>")
				msg := bytes.Replace(raw, []byte("<dsn-7301@mx.dest.example>"), id, 1)
				out := sendNoFatal(tm.addr, msg)
				if out != "" {
					errs <- out
				}
			}
		}()
	}
	for range conns {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(tm.stored(t)); n != conns*perConn {
		t.Errorf("%d messages stored, want %d", n, conns*perConn)
	}
}

// sendNoFatal sends one report on its own connection from a goroutine
// other than the test's, returning what went wrong.
func sendNoFatal(addr string, raw []byte) string {
	sess, err := gomilter.NewClient("tcp", addr).Session(nil)
	if err != nil {
		return err.Error()
	}
	defer sess.Close()
	for _, f := range []func() (*gomilter.Action, error){
		func() (*gomilter.Action, error) { return sess.Conn("mx", gomilter.FamilyInet, 25, "192.0.2.8") },
		func() (*gomilter.Action, error) { return sess.Helo("mx") },
		func() (*gomilter.Action, error) { return sess.Mail("", "") },
		func() (*gomilter.Action, error) { return sess.Rcpt("bounce@"+bounceDomain, "") },
		func() (*gomilter.Action, error) { return sess.DataStart() },
	} {
		act, err := f()
		if err != nil {
			return err.Error()
		}
		if act.Type != gomilter.ActionContinue {
			return "answered " + act.String() + " before the body"
		}
	}
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, field := range fields(string(head) + "\r\n") {
		name, value, _ := strings.Cut(field, ":")
		if _, err := sess.HeaderField(name, value, nil); err != nil {
			return err.Error()
		}
	}
	if _, err := sess.HeaderEnd(); err != nil {
		return err.Error()
	}
	_, act, err := sess.BodyReadFrom(bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	if act.Type != gomilter.ActionDiscard {
		return "answered " + act.String() + ", want discard"
	}
	return ""
}
