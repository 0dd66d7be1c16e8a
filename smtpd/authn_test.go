package smtpd

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/rebound-mail/rebound/provenance"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/verp"
)

func TestConnectionRate(t *testing.T) {
	ts := startServer(t, Config{ConnectionsPerMinute: 2})
	ts.dial(t).Quit()
	ts.dial(t).Quit()
	if got := greeting(t, ts.addr); !strings.HasPrefix(got, "421 4.7.0 ") {
		t.Fatalf("third connection in a minute got %q", got)
	}
	if got := counterValue(t, ts.srv.metrics.connsRejected.WithLabelValues("rate")); got != 1 {
		t.Errorf("rejected{limit=rate} = %v", got)
	}
}

func TestMessageRate(t *testing.T) {
	ts := startServer(t, Config{MessagesPerMinute: 2})
	c := ts.dial(t)
	for i := range 2 {
		if err := send(c, "", []string{"b@bounces.example.org"}, fixture(t)); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	wantCode(t, send(c, "", []string{"b@bounces.example.org"}, fixture(t)), 451, smtp.EnhancedCode{4, 7, 0})
	if got := counterValue(t, ts.srv.metrics.rateLimited); got != 1 {
		t.Errorf("rate limited = %v", got)
	}
	if n := len(ts.store.messages()); n != 2 {
		t.Errorf("%d messages stored, want 2", n)
	}
	// An exempt client is not limited.
	ex := startServer(t, Config{MessagesPerMinute: 1, RateLimitExempt: rateExemptLoopback})
	c = ex.dial(t)
	for i := range 3 {
		if err := send(c, "", []string{"b@bounces.example.org"}, fixture(t)); err != nil {
			t.Fatalf("exempt client, message %d: %v", i+1, err)
		}
	}
}

// signedServer starts a listener with a signer and the provenance checker
// of the default policy; fakeAnalyzer makes a hard record per
// Final-Recipient line.
func signedServer(t *testing.T, accept bool) (*testServer, *verp.Signer) {
	t.Helper()
	signer, err := verp.New([]verp.Key{{ID: "k1", Secret: []byte("listener-test-secret-0123")}}, verp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Signer: signer, AcceptFailedVERP: accept,
		Provenance: &provenance.Checker{Hostname: "rebound.test", Unsigned: provenance.PolicyRegistered}})
	return ts, signer
}

func report(rcpts ...string) []byte {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.dest.example\r\nSubject: failure\r\n\r\n")
	for _, r := range rcpts {
		b.WriteString("Final-Recipient: rfc822; " + r + "\r\n")
	}
	return []byte(b.String())
}

func TestSignedReturnPaths(t *testing.T) {
	ts, signer := signedServer(t, false)
	rp, err := signer.Encode(context.Background(), "jane@dest.example", "bounces.example.org")
	if err != nil {
		t.Fatal(err)
	}
	c := ts.dial(t)
	if err := send(c, "", []string{rp}, report("jane@dest.example", "other@dest.example")); err != nil {
		t.Fatalf("signed return path: %v", err)
	}
	msgs := ts.store.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	recs := msgs[0].Records
	if len(recs) != 2 || recs[0].Auth != record.AuthVERP || !recs[0].Authenticated || recs[1].Auth != record.AuthFailed {
		t.Errorf("records %+v", recs)
	}
	if !strings.Contains(msgs[0].AuthResults, "verp=pass") {
		t.Errorf("auth results %q", msgs[0].AuthResults)
	}
	if got := counterValue(t, ts.srv.metrics.returnPaths.WithLabelValues("pass")); got != 1 {
		t.Errorf("return paths{pass} = %v", got)
	}

	// A wrong tag is refused at RCPT; the transaction has no recipient.
	local := rp[:strings.IndexByte(rp, '@')]
	parts := strings.Split(local, "+")
	last := parts[2][len(parts[2])-1]
	swap := byte('a')
	if last == 'a' {
		swap = 'b'
	}
	parts[2] = parts[2][:len(parts[2])-1] + string(swap)
	forged := strings.Join(parts, "+") + rp[len(local):]
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt(forged, nil)
	wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(err.Error(), "tag") {
		t.Errorf("refusal %q does not say the tag is wrong", err)
	}
	c.Reset()
	// Not one of ours: an address at the bounce domain that does not
	// claim to be signed is an ordinary recipient.
	if err := send(c, "", []string{"bounces@bounces.example.org"}, report("joe@dest.example")); err != nil {
		t.Fatal(err)
	}
	msgs = ts.store.messages()
	if recs := msgs[len(msgs)-1].Records; len(recs) != 1 || recs[0].Auth != record.AuthNone {
		t.Errorf("unsigned report: %+v", recs)
	}
	if got := counterValue(t, ts.srv.metrics.returnPaths.WithLabelValues("bad_tag")); got != 1 {
		t.Errorf("return paths{bad_tag} = %v", got)
	}
}

func TestSignedReturnPathAccepted(t *testing.T) {
	ts, signer := signedServer(t, true)
	rp, _ := signer.Encode(context.Background(), "jane@dest.example", "bounces.example.org")
	unknown := strings.Replace(rp, "+k1+", "+k7+", 1)
	c := ts.dial(t)
	if err := send(c, "", []string{unknown}, report("jane@dest.example")); err != nil {
		t.Fatalf("accept policy: %v", err)
	}
	msgs := ts.store.messages()
	if recs := msgs[0].Records; len(recs) != 1 || recs[0].Auth != record.AuthFailed || recs[0].Authenticated {
		t.Errorf("records %+v", recs)
	}
	if got := counterValue(t, ts.srv.metrics.returnPaths.WithLabelValues("unknown_key")); got != 1 {
		t.Errorf("return paths{unknown_key} = %v", got)
	}
}

var rateExemptLoopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// TestIngest stores a message that reached Rebound another way (a milter)
// as the listener would: its signed return path authenticates the report,
// a forged one refuses it, and a store failure is a 451, never nil.
func TestIngest(t *testing.T) {
	ts, signer := signedServer(t, false)
	rp, _ := signer.Encode(context.Background(), "jane@dest.example", "bounces.example.org")
	env := Envelope{Source: "milter", RemoteAddr: "192.0.2.9:25", Helo: "mx.dest.example", RcptTo: []string{rp}}
	if err := ts.srv.Ingest(env, report("jane@dest.example")); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	m := ts.store.messages()[0]
	if m.Source != "milter" || m.RemoteAddr != "192.0.2.9:25" || len(m.Records) != 1 || m.Records[0].Auth != record.AuthVERP {
		t.Errorf("stored %+v", m)
	}
	forged := strings.Replace(rp, "+k1+", "+k5+", 1)
	env.RcptTo = []string{forged}
	wantCode(t, ts.srv.Ingest(env, report("jane@dest.example")), 550, smtp.EnhancedCode{5, 7, 1})
	wantCode(t, ts.srv.CheckRecipient(forged), 550, smtp.EnhancedCode{5, 7, 1})
	if err := ts.srv.CheckRecipient(rp); err != nil {
		t.Errorf("CheckRecipient of a valid return path: %v", err)
	}
	wantCode(t, ts.srv.CheckRecipient("a@elsewhere.example"), 550, smtp.EnhancedCode{5, 7, 1})
	if !ts.srv.AcceptsDomain("Bounces.Example.ORG.") || ts.srv.AcceptsDomain("elsewhere.example") {
		t.Errorf("AcceptsDomain")
	}
	ts.store.setFail(errors.New("disk full"))
	env.RcptTo = []string{rp}
	wantCode(t, ts.srv.Ingest(env, report("jane@dest.example")), 451, smtp.EnhancedCode{4, 3, 0})
	if n := len(ts.store.messages()); n != 1 {
		t.Errorf("%d messages stored", n)
	}
}

// TestReload rotates the VERP keys and changes the message rate of a
// running server: the transactions that follow see the new settings.
func TestReload(t *testing.T) {
	ts, oldSigner := signedServer(t, false)
	newSigner, err := verp.New([]verp.Key{{ID: "k2", Secret: []byte("listener-test-secret-4567")}}, verp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	oldPath, _ := oldSigner.Encode(context.Background(), "jane@dest.example", "bounces.example.org")
	newPath, _ := newSigner.Encode(context.Background(), "joe@dest.example", "bounces.example.org")
	checker := &provenance.Checker{Hostname: "rebound.test", Unsigned: provenance.PolicyRegistered}
	if err := ts.srv.CheckRecipient(newPath); err == nil {
		t.Fatalf("a return path of a key not configured yet verified")
	}
	// The overlap: both keys verify.
	both, _ := verp.New([]verp.Key{{ID: "k2", Secret: []byte("listener-test-secret-4567")}, {ID: "k1", Secret: []byte("listener-test-secret-0123")}}, verp.Options{})
	ts.srv.Reload(Live{Signer: both, Provenance: checker})
	for _, rp := range []string{oldPath, newPath} {
		if err := ts.srv.CheckRecipient(rp); err != nil {
			t.Errorf("during the overlap, %s: %v", rp, err)
		}
	}
	// The old key retired, and one message a minute.
	ts.srv.Reload(Live{Signer: newSigner, Provenance: checker, MessagesPerMinute: 1})
	wantCode(t, ts.srv.CheckRecipient(oldPath), 550, smtp.EnhancedCode{5, 7, 1})
	c := ts.dial(t)
	if err := send(c, "", []string{newPath}, report("joe@dest.example")); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
	wantCode(t, send(c, "", []string{newPath}, report("joe@dest.example")), 451, smtp.EnhancedCode{4, 7, 0})
	msgs := ts.store.messages()
	if recs := msgs[len(msgs)-1].Records; len(recs) != 1 || recs[0].Auth != record.AuthVERP {
		t.Errorf("records after the reload: %+v", recs)
	}
}
