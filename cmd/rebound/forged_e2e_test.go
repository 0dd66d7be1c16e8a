package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/verp"
)

// The keys of the forged-bounce tests, as REBOUND_VERP_KEYS gives them.
const (
	forgedKeys  = "k2:second-key-0123456789abcdef,k1:first-key-0123456789abcdef"
	forgedToken = "forged-test-token-0123456789"
)

// reportFor builds a delivery status notification (RFC 3464) from the
// MTA of dest.example that says every one of rcpts is unknown, with the
// header of the original message (Message-ID msgID, To the first
// recipient).
func reportFor(rcpts []string, msgID string) []byte {
	var b strings.Builder
	b.WriteString("From: Mail Delivery System <MAILER-DAEMON@mx.dest.example>\n")
	b.WriteString("To: <>\nSubject: Undelivered Mail Returned to Sender\n")
	b.WriteString("Date: Thu, 03 Dec 2026 09:00:00 +0000\n")
	fmt.Fprintf(&b, "Message-ID: <report-%d-%s@mx.dest.example>\n", len(rcpts), strings.Trim(msgID, "<>"))
	b.WriteString("MIME-Version: 1.0\n")
	b.WriteString("Content-Type: multipart/report; report-type=delivery-status; boundary=\"rb\"\n\n")
	b.WriteString("--rb\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n")
	b.WriteString("--rb\nContent-Type: message/delivery-status\n\n")
	b.WriteString("Reporting-MTA: dns; mx.dest.example\n")
	for _, r := range rcpts {
		fmt.Fprintf(&b, "\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n", r)
		fmt.Fprintf(&b, "Remote-MTA: dns; mx.dest.example\nDiagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table\n", r)
	}
	b.WriteString("\n--rb\nContent-Type: text/rfc822-headers\n\n")
	fmt.Fprintf(&b, "From: News <news@sender.example>\nTo: <%s>\nSubject: December news\nMessage-ID: %s\n", rcpts[0], msgID)
	b.WriteString("\n--rb--\n")
	return []byte(b.String())
}

// complaintFor builds an ARF complaint (RFC 5965) about a message to rcpt.
func complaintFor(rcpt, msgID string) []byte {
	return []byte("From: fbl@isp.example\nTo: fbl@bounces.example.net\nSubject: complaint\n" +
		"Message-ID: <arf-" + strings.Trim(msgID, "<>") + ">\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=\"fb\"\n\n" +
		"--fb\nContent-Type: text/plain\n\nThis is an abuse report.\n\n" +
		"--fb\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: isp-fbl/1.0\nVersion: 1\n" +
		"Original-Rcpt-To: " + rcpt + "\nArrival-Date: Thu, 03 Dec 2026 08:00:00 +0000\n\n" +
		"--fb\nContent-Type: message/rfc822\n\nFrom: News <news@sender.example>\nTo: " + rcpt +
		"\nSubject: December news\nMessage-ID: " + msgID + "\n\nHello.\n\n--fb--\n")
}

// forgedServer runs rebound serve with the forged-bounce tests' keys and
// the default policy for unsigned reports, and answers API calls.
type forgedServer struct {
	t    *testing.T
	addr string
	base string
}

func startForgedServer(t *testing.T, extra string) *forgedServer {
	t.Helper()
	t.Setenv("REBOUND_API_TOKEN", forgedToken)
	t.Setenv("REBOUND_VERP_KEYS", forgedKeys)
	dir := t.TempDir()
	conf := filepath.Join(dir, "rebound.toml")
	cfg := fmt.Sprintf("domains = [\"bounces.example.net\"]\n[store]\nurl = %q\n%s", filepath.Join(dir, "rebound.db"), extra)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _, logs := startServe(t, "--config", conf)
	m := regexp.MustCompile(`msg="API listening" addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", logs)
	}
	return &forgedServer{t: t, addr: addr, base: "http://" + m[1]}
}

func (s *forgedServer) call(method, path string, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+forgedToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *forgedServer) suppressed(addr string) bool {
	s.t.Helper()
	code, body := s.call("GET", "/v1/suppressions/"+url.PathEscape(addr), "")
	switch code {
	case 200:
		return true
	case 404:
		return false
	}
	s.t.Fatalf("GET suppression of %s: %d %s", addr, code, body)
	return false
}

// records returns the stored records of one recipient.
func (s *forgedServer) records(addr string) []record.Record {
	s.t.Helper()
	code, body := s.call("GET", "/v1/bounces?recipient="+url.QueryEscape(addr), "")
	if code != 200 {
		s.t.Fatalf("GET bounces of %s: %d %s", addr, code, body)
	}
	var page struct {
		Records []record.Record `json:"bounces"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		s.t.Fatalf("bounces: %v: %s", err, body)
	}
	return page.Records
}

// returnPath asks the API for the signed return path of rcpt.
func (s *forgedServer) returnPath(rcpt string) string {
	s.t.Helper()
	code, body := s.call("POST", "/v1/verp", `{"recipients": ["`+rcpt+`"]}`)
	if code != 200 {
		s.t.Fatalf("POST /v1/verp: %d %s", code, body)
	}
	var out struct {
		ReturnPaths []struct {
			Recipient  string `json:"recipient"`
			ReturnPath string `json:"return_path"`
		} `json:"return_paths"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.ReturnPaths) != 1 {
		s.t.Fatalf("POST /v1/verp: %v: %s", err, body)
	}
	return out.ReturnPaths[0].ReturnPath
}

// TestForgedBouncesNeverSuppress sends genuine and forged reports over
// SMTP to a rebound serve with VERP keys and the default policy: only the
// genuine ones change a suppression.
func TestForgedBouncesNeverSuppress(t *testing.T) {
	s := startForgedServer(t, "")
	ok := func(reply string) {
		t.Helper()
		if !queuedAs.MatchString(reply) {
			t.Fatalf("reply %q, want 250 queued", reply)
		}
	}

	// Genuine: the report came back to the signed return path of its
	// recipient.
	genuine := s.returnPath("jane.genuine@dest.example")
	ok(smtpSend(t, s.addr, genuine, reportFor([]string{"jane.genuine@dest.example"}, "<m1@sender.example>")))
	if !s.suppressed("jane.genuine@dest.example") {
		t.Errorf("genuine signed bounce did not suppress")
	}
	if recs := s.records("jane.genuine@dest.example"); len(recs) != 1 || recs[0].Auth != record.AuthVERP || !recs[0].Authenticated {
		t.Errorf("genuine signed bounce recorded as %+v", recs)
	}

	// Right format, wrong tag: refused at RCPT.
	forged := s.returnPath("victim.tag@dest.example")
	// b+<key>+<day><tag>+<payload>: change the tag's last character.
	parts := strings.Split(forged, "+")
	tag := []byte(parts[2])
	tag[len(tag)-1] = map[bool]byte{true: 'b', false: 'a'}[tag[len(tag)-1] == 'a']
	parts[2] = string(tag)
	wrongTag := strings.Join(parts, "+")
	if r := smtpSend(t, s.addr, wrongTag, reportFor([]string{"victim.tag@dest.example"}, "<m2@sender.example>")); !strings.HasPrefix(r, "5") {
		t.Errorf("wrong tag: reply to the data %q, want the transaction refused", r)
	}
	if s.suppressed("victim.tag@dest.example") {
		t.Errorf("a return path with a wrong tag suppressed")
	}

	// Expired: signed with the same key 40 days ago.
	old, err := verp.New([]verp.Key{{ID: "k2", Secret: []byte("second-key-0123456789abcdef")}},
		verp.Options{Now: func() time.Time { return time.Now().Add(-40 * 24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := old.Encode(context.Background(), "victim.expired@dest.example", "bounces.example.net")
	if err != nil {
		t.Fatal(err)
	}
	if r := smtpSend(t, s.addr, expired, reportFor([]string{"victim.expired@dest.example"}, "<m3@sender.example>")); !strings.HasPrefix(r, "5") {
		t.Errorf("expired: reply %q, want refused", r)
	}
	if s.suppressed("victim.expired@dest.example") {
		t.Errorf("an expired return path suppressed")
	}

	// Unsigned, and no message registered: stored, suppresses nobody.
	ok(smtpSend(t, s.addr, "bounces@bounces.example.net", reportFor([]string{"victim.unsigned@dest.example"}, "<m4@sender.example>")))
	if s.suppressed("victim.unsigned@dest.example") {
		t.Errorf("an unsigned bounce of an unknown message suppressed")
	}
	if recs := s.records("victim.unsigned@dest.example"); len(recs) != 1 || recs[0].Auth != record.AuthNone || recs[0].Authenticated {
		t.Errorf("unsigned bounce recorded as %+v", recs)
	}

	// Unsigned, of a registered message: suppresses its recipient only.
	if code, body := s.call("POST", "/v1/sent", `{"messages": [{"message_id": "<m5@sender.example>", "recipient": "joe.registered@dest.example", "campaign": "december"}]}`); code != 200 {
		t.Fatalf("POST /v1/sent: %d %s", code, body)
	}
	ok(smtpSend(t, s.addr, "bounces@bounces.example.net", reportFor([]string{"joe.registered@dest.example", "victim.other@dest.example"}, "<m5@sender.example>")))
	if !s.suppressed("joe.registered@dest.example") {
		t.Errorf("a bounce of a registered message did not suppress its recipient")
	}
	if s.suppressed("victim.other@dest.example") {
		t.Errorf("a recipient the registered message was not sent to was suppressed")
	}

	// One signed return path, a report listing fifty recipients: only the
	// signed one is suppressed.
	many := []string{"ann.signed@dest.example"}
	for n := range 49 {
		many = append(many, fmt.Sprintf("victim%02d@dest.example", n))
	}
	ok(smtpSend(t, s.addr, s.returnPath("ann.signed@dest.example"), reportFor(many, "<m6@sender.example>")))
	if !s.suppressed("ann.signed@dest.example") {
		t.Errorf("the signed recipient of a long report was not suppressed")
	}
	for _, v := range many[1:] {
		if s.suppressed(v) {
			t.Errorf("%s, listed beside a signed recipient, was suppressed", v)
			break
		}
	}
	if recs := s.records("victim07@dest.example"); len(recs) != 1 || recs[0].Auth != record.AuthFailed {
		t.Errorf("an extra recipient of a signed report recorded as %+v", recs)
	}

	// Complaints: one about a message never registered changes nothing;
	// one about a registered message suppresses.
	ok(smtpSend(t, s.addr, "fbl@bounces.example.net", complaintFor("victim.complaint@dest.example", "<m7@sender.example>")))
	if s.suppressed("victim.complaint@dest.example") {
		t.Errorf("a complaint about an unknown message suppressed")
	}
	s.call("POST", "/v1/sent", `{"messages": [{"message_id": "<m8@sender.example>", "recipient": "max.complains@dest.example"}]}`)
	ok(smtpSend(t, s.addr, "fbl@bounces.example.net", complaintFor("max.complains@dest.example", "<m8@sender.example>")))
	if !s.suppressed("max.complains@dest.example") {
		t.Errorf("a complaint about a registered message did not suppress")
	}
}

// TestForgedBouncesAcceptPolicy: with on_failure = "accept", a report to a
// return path that fails verification is stored, as failed, and
// suppresses nobody.
func TestForgedBouncesAcceptPolicy(t *testing.T) {
	s := startForgedServer(t, "[verp]\non_failure = \"accept\"\n[authentication]\nunsigned = \"trust\"\n")
	rp := s.returnPath("victim.accept@dest.example")
	bad := strings.Replace(rp, "+k2+", "+k9+", 1)
	if r := smtpSend(t, s.addr, bad, reportFor([]string{"victim.accept@dest.example"}, "<a1@sender.example>")); !queuedAs.MatchString(r) {
		t.Fatalf("reply %q, want 250", r)
	}
	if s.suppressed("victim.accept@dest.example") {
		t.Errorf("a report to a failed return path suppressed, even under trust")
	}
	if recs := s.records("victim.accept@dest.example"); len(recs) != 1 || recs[0].Auth != record.AuthFailed {
		t.Errorf("recorded as %+v", recs)
	}
	// Trust-all still counts an unsigned report (the unsafe policy).
	if r := smtpSend(t, s.addr, "bounces@bounces.example.net", reportFor([]string{"ted.trusted@dest.example"}, "<a2@sender.example>")); !queuedAs.MatchString(r) {
		t.Fatalf("reply %q", r)
	}
	if !s.suppressed("ted.trusted@dest.example") {
		t.Errorf("trust policy: an unsigned bounce did not suppress")
	}
}
