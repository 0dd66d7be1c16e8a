package provenance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlite"
)

const returnPath = "b+k1+aaqzbx5ivsw2+jane=example.org@bounces.example.com"

// resolver publishes DKIM keys to the verifier, as DNS would.
type resolver struct {
	mu      sync.Mutex
	txt     map[string]string
	hang    bool // answer nothing until the context is done
	lookups int
}

func (r *resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.mu.Lock()
	r.lookups++
	hang, txt, ok := r.hang, r.txt[strings.ToLower(name)], false
	if _, has := r.txt[strings.ToLower(name)]; has {
		ok = true
	}
	r.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return []string{txt}, nil
}

// signer is one DKIM key of one domain, published in a resolver.
type signer struct {
	domain, selector string
	key              ed25519.PrivateKey
}

func newSigner(t testing.TB, r *resolver, domain, selector string) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.txt[selector+"._domainkey."+domain] = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	r.mu.Unlock()
	return signer{domain, selector, priv}
}

// sign returns msg with a DKIM-Signature of s over the header fields keys.
func (s signer) sign(t testing.TB, msg []byte, keys ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		HeaderKeys:             keys,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

// original returns the original message of testdata, with its To field
// naming to when not empty.
func original(t testing.TB, to string) []byte {
	msg := fixture(t, "original.eml")
	if to != "" {
		msg = strings.Replace(msg, "To: Jane Doe <jane@example.org>", "To: "+to, 1)
	}
	return crlf(msg)
}

// report builds a delivery status notification for recipients, attaching
// orig as message/rfc822 (or as origType when not empty).
func report(t testing.TB, orig []byte, origType string, recipients ...string) []byte {
	t.Helper()
	var blocks strings.Builder
	for _, r := range recipients {
		fmt.Fprintf(&blocks, "Final-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table\n\n", r, r)
	}
	if origType == "" {
		origType = "message/rfc822"
	}
	msg := fixture(t, "dsn.eml")
	msg = strings.Replace(msg, "{{RCPTTO}}", returnPath, 1)
	msg = strings.Replace(msg, "{{RECIPIENTS}}", strings.TrimSuffix(blocks.String(), "\n"), 1)
	msg = strings.Replace(msg, "{{ORIGINALTYPE}}", origType, 1)
	b := crlf(msg)
	return bytes.Replace(b, []byte("{{ORIGINAL}}\r\n"), orig, 1)
}

func complaint(t testing.TB, orig []byte, recipient string) []byte {
	msg := fixture(t, "arf.eml")
	msg = strings.Replace(msg, "{{RCPTTO}}", "fbl@bounces.example.com", 1)
	msg = strings.Replace(msg, "{{RECIPIENT}}", recipient, 1)
	return bytes.Replace(crlf(msg), []byte("{{ORIGINAL}}\r\n"), orig, 1)
}

func analyze(t *testing.T, msg []byte) (*dsn.Report, []record.Record) {
	t.Helper()
	cl, err := classify.New("en")
	if err != nil {
		t.Fatal(err)
	}
	a := &bounce.Analyzer{Parser: &dsn.Parser{}, Classifier: cl}
	recs, rep, err := a.Analyze(msg, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatalf("no records from the report (format %q)", rep.Format)
	}
	return rep, recs
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func register(t *testing.T, st store.Store, messageID string, recipients ...string) {
	t.Helper()
	var sent []store.Sent
	for _, r := range recipients {
		sent = append(sent, store.Sent{MessageID: messageID, Recipient: r, Campaign: "march"})
	}
	if _, err := st.RegisterSent(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
}

func auths(recs []record.Record) []string {
	var a []string
	for _, r := range recs {
		a = append(a, r.Auth)
	}
	return a
}

func TestOriginalRaw(t *testing.T) {
	orig := original(t, "")
	rep, _ := analyze(t, report(t, orig, "", "jane@example.org"))
	// The line break before the boundary delimiter is the delimiter's
	// (RFC 2046 section 5.1.1).
	orig = bytes.TrimSuffix(orig, []byte("\r\n"))
	if !bytes.Equal(rep.Original.Raw, orig) {
		t.Fatalf("Original.Raw is\n%q\nwant\n%q", rep.Original.Raw, orig)
	}
}

func TestCheck(t *testing.T) {
	r := &resolver{txt: map[string]string{}}
	ours := newSigner(t, r, "example.com", "s1")
	sub := newSigner(t, r, "mail.example.com", "s2")
	other := newSigner(t, r, "evil.example", "s1")
	relay := newSigner(t, r, "mx.example.org", "r1")
	st := openStore(t)
	register(t, st, "<registered@example.com>", "jane@example.org")
	register(t, st, "other@example.com", "john@example.org")

	signed := func(s signer, to string, keys ...string) []byte {
		return s.sign(t, original(t, to), keys...)
	}
	withID := func(id string) []byte {
		return bytes.Replace(original(t, ""), []byte("<letter-2026-03.jane@example.com>"), []byte(id), 1)
	}
	fifty := []string{"jane@example.org"}
	for i := 1; i < 50; i++ {
		fifty = append(fifty, fmt.Sprintf("victim%d@example.net", i))
	}
	tampered := bytes.Replace(signed(ours, "", "From", "To", "Subject"), []byte("The March letter"), []byte("The April letter"), 1)
	headersOnly := signed(ours, "", "From", "To", "Subject")
	headersOnly = headersOnly[:bytes.Index(headersOnly, []byte("\r\n\r\n"))+2]
	bcc := []byte("To: jane@example.org\r\n" + string(signed(ours, "Someone <someone@example.net>", "From", "To")))
	large := signed(ours, "", "From", "To")
	large = append(large, bytes.Repeat([]byte("filler line of the letter\r\n"), MaxDKIMSize/26)...)

	sigVERP := Envelope{Signed: []SignedRecipient{{ReturnPath: returnPath, Recipient: "jane@example.org", KeyID: "k1"}}}
	failed := Envelope{Failed: []FailedReturnPath{{ReturnPath: returnPath, Why: "verp: tag does not verify"}}}

	tests := []struct {
		name       string
		env        Envelope
		policy     Policy
		msg        []byte
		hang       bool
		sent       SentLookup
		want       []string // Auth of each record
		recipient  string   // Recipient of the first record, when not empty
		evidence   string   // in the first record's Evidence
		results    []string // in the results
		notResults []string
	}{
		{name: "verp", env: sigVERP, msg: report(t, original(t, ""), "", "jane@example.org"),
			want: []string{record.AuthVERP}, results: []string{"verp=pass smtp.rcptto=" + returnPath, "dkim=none (original)"}},
		{name: "verp case", env: Envelope{Signed: []SignedRecipient{{ReturnPath: returnPath, Recipient: "Jane@Example.ORG"}}},
			msg: report(t, original(t, ""), "", "jane@example.org"), want: []string{record.AuthVERP}},
		{name: "verp original recipient", env: sigVERP,
			msg:  bytes.Replace(report(t, original(t, ""), "", "jane.doe@forward.example"), []byte("Final-Recipient: rfc822; jane.doe@forward.example"), []byte("Original-Recipient: rfc822; jane@example.org\r\nFinal-Recipient: rfc822; jane.doe@forward.example"), 1),
			want: []string{record.AuthVERP}, recipient: "jane@example.org", evidence: "the report named jane.doe@forward.example"},
		{name: "verp rewritten", env: sigVERP, msg: report(t, original(t, ""), "", "j.doe@relay.example"),
			want: []string{record.AuthVERP}, recipient: "jane@example.org", evidence: "recipient from the signed return path; the report named j.doe@relay.example"},
		{name: "verp fifty recipients", env: sigVERP, msg: report(t, original(t, ""), "", fifty...),
			want: append([]string{record.AuthVERP}, repeat(record.AuthFailed, 49)...)},
		{name: "verp fifty others", env: sigVERP, msg: report(t, original(t, ""), "", fifty[1:]...),
			want: repeat(record.AuthFailed, 49), evidence: "not the recipient of the signed return path"},
		{name: "verp failed", env: failed, msg: report(t, signed(ours, "", "From", "To"), "", "jane@example.org"),
			want: []string{record.AuthFailed}, results: []string{`verp=fail reason="verp: tag does not verify" smtp.rcptto=` + returnPath}},
		{name: "verp failed trust", env: failed, policy: PolicyTrust, msg: report(t, original(t, ""), "", "jane@example.org", "john@example.org"),
			want: []string{record.AuthFailed, record.AuthFailed}},
		{name: "verp and failed", env: Envelope{Signed: sigVERP.Signed, Failed: failed.Failed}, msg: report(t, original(t, ""), "", "jane@example.org"),
			want: []string{record.AuthVERP}, results: []string{"verp=pass", "verp=fail"}},
		{name: "invalid recipient verp", env: sigVERP, msg: report(t, original(t, ""), "", "jane@@example.org"), want: []string{record.AuthFailed}},
		{name: "invalid recipient", policy: PolicyTrust, msg: report(t, original(t, ""), "", "jane@@example.org"), want: []string{record.AuthNone}},

		{name: "registered", msg: report(t, withID("<registered@example.com>"), "", "jane@example.org"), sent: st,
			want: []string{record.AuthSent}, results: []string{`sent=pass header.message-id="<registered@example.com>"`}},
		{name: "registered to another", msg: report(t, withID("<other@example.com>"), "", "jane@example.org"), sent: st,
			want: []string{record.AuthNone}, results: []string{`sent=fail reason="registered for other recipients"`}},
		{name: "not registered", msg: report(t, original(t, ""), "", "jane@example.org"), sent: st,
			want: []string{record.AuthNone}, results: []string{"sent=none"}},
		{name: "registered two listed", msg: report(t, withID("<registered@example.com>"), "", "jane@example.org", "victim@example.net"), sent: st,
			want: []string{record.AuthSent, record.AuthNone}},
		{name: "no Message-ID", msg: report(t, bytes.Replace(original(t, ""), []byte("Message-ID: <letter-2026-03.jane@example.com>\r\n"), nil, 1), "", "jane@example.org"), sent: st,
			want: []string{record.AuthNone}, results: []string{"sent=none (no Message-ID of the original)"}},
		{name: "no store", msg: report(t, withID("<registered@example.com>"), "", "jane@example.org"),
			want: []string{record.AuthNone}, notResults: []string{"sent="}},
		{name: "lookup error", msg: report(t, withID("<registered@example.com>"), "", "jane@example.org"), sent: failingLookup{},
			want: nil},

		{name: "dkim", msg: report(t, signed(ours, "", "From", "To", "Subject"), "", "jane@example.org"),
			want: []string{record.AuthDKIM}, results: []string{"dkim=pass header.d=example.com header.s=s1 (original)", "dkim=none (report)"}},
		{name: "dkim subdomain", msg: report(t, signed(sub, "", "From", "To"), "", "jane@example.org"),
			want: []string{record.AuthDKIM}, results: []string{"dkim=pass header.d=mail.example.com header.s=s2 (original)"}},
		{name: "dkim two listed", msg: report(t, signed(ours, "", "From", "To"), "", "jane@example.org", "victim@example.net"),
			want: []string{record.AuthDKIM, record.AuthNone}},
		{name: "dkim wrong domain", msg: report(t, signed(other, "", "From", "To"), "", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{"dkim=pass header.d=evil.example header.s=s1 (original)"}},
		{name: "dkim without To", msg: report(t, signed(ours, "", "From", "Subject"), "", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{"dkim=pass header.d=example.com"}},
		{name: "dkim To someone else", msg: report(t, signed(ours, "Someone <someone@example.net>", "From", "To"), "", "jane@example.org"),
			want: []string{record.AuthNone}},
		{name: "dkim unsigned To above", msg: report(t, bcc, "", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{"dkim=pass header.d=example.com"}},
		{name: "dkim tampered", msg: report(t, tampered, "", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{`dkim=fail reason="signature did not verify`}},
		{name: "dkim tampered trust", policy: PolicyTrust, msg: report(t, tampered, "", "jane@example.org"),
			want: []string{record.AuthTrusted}},
		{name: "dkim headers only", msg: report(t, headersOnly, "text/rfc822-headers", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{`dkim=permerror reason="failed to read header: EOF" header.d=example.com header.s=s1 (original)`}},
		{name: "dkim headers and empty line", msg: report(t, append(headersOnly, "\r\n\r\n"...), "text/rfc822-headers", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{`dkim=fail reason="body hash did not verify" header.d=example.com header.s=s1 (original)`}},
		{name: "dkim truncated body", msg: report(t, signed(ours, "", "From", "To")[:len(signed(ours, "", "From", "To"))-20], "", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{`dkim=fail reason="body hash did not verify"`}},
		{name: "dkim too large", msg: report(t, large, "", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{"dkim=none (original, too large)"}},
		{name: "dkim timeout", hang: true, policy: PolicyRegistered, msg: report(t, signed(ours, "", "From", "To"), "", "jane@example.org"),
			want: []string{record.AuthNone}, results: []string{"dkim=temperror", "header.d=example.com header.s=s1 (original)"}},
		{name: "dkim report", msg: relay.sign(t, report(t, original(t, ""), "", "jane@example.org"), "From", "To", "Subject"),
			want: []string{record.AuthNone}, results: []string{"dkim=pass header.d=mx.example.org header.s=r1 (report)", "dkim=none (original)"}},
		{name: "dkim never", policy: PolicyNever, msg: report(t, signed(ours, "", "From", "To"), "", "jane@example.org"), sent: st,
			want: []string{record.AuthNone}, notResults: []string{"sent="}},

		{name: "trust", policy: PolicyTrust, msg: report(t, original(t, ""), "", "jane@example.org"), want: []string{record.AuthTrusted}},
		{name: "never", policy: PolicyNever, msg: report(t, withID("<registered@example.com>"), "", "jane@example.org"), sent: st,
			want: []string{record.AuthNone}},

		{name: "complaint unsigned", msg: complaint(t, original(t, ""), "jane@example.org"), want: []string{record.AuthNone}},
		{name: "complaint dkim", msg: complaint(t, signed(ours, "", "From", "To"), "jane@example.org"), want: []string{record.AuthDKIM}},
		{name: "complaint registered", msg: complaint(t, withID("<registered@example.com>"), "jane@example.org"), sent: st, want: []string{record.AuthSent}},
		{name: "complaint forged", msg: complaint(t, signed(ours, "", "From", "To"), "victim@example.net"), want: []string{record.AuthNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.mu.Lock()
			r.hang = tt.hang
			r.mu.Unlock()
			rep, recs := analyze(t, tt.msg)
			if strings.HasPrefix(tt.name, "complaint") && recs[0].Class != record.ClassComplaint {
				t.Fatalf("class %q, want a complaint", recs[0].Class)
			}
			c := &Checker{
				Hostname: "rebound.example",
				Unsigned: tt.policy,
				Sent:     tt.sent,
				DKIM:     &DKIM{SenderDomains: []string{"example.com"}, LookupTXT: r.LookupTXT, Timeout: 200 * time.Millisecond},
			}
			start := time.Now()
			res, err := c.Check(context.Background(), tt.env, tt.msg, rep, recs)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), "registered@example.com") {
					t.Fatalf("error %v, want one naming the Message-ID", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("Check took %v, past its timeout", time.Since(start))
			}
			if got := auths(recs); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Auth %v, want %v (results %s)", got, tt.want, res)
			}
			for _, rec := range recs {
				want := rec.Auth == record.AuthVERP || rec.Auth == record.AuthSent || rec.Auth == record.AuthDKIM
				if rec.Authenticated != want {
					t.Errorf("Authenticated %v with Auth %q", rec.Authenticated, rec.Auth)
				}
			}
			if tt.recipient != "" && recs[0].Recipient != tt.recipient {
				t.Errorf("recipient %q, want %q", recs[0].Recipient, tt.recipient)
			}
			if !strings.Contains(recs[0].Evidence, tt.evidence) {
				t.Errorf("evidence %q, want it to say %q", recs[0].Evidence, tt.evidence)
			}
			if !strings.HasPrefix(res, "rebound.example; ") {
				t.Errorf("results %q do not start with the authserv-id", res)
			}
			for _, s := range tt.results {
				if !strings.Contains(res, s) {
					t.Errorf("results %q, want %q in them", res, s)
				}
			}
			for _, s := range tt.notResults {
				if strings.Contains(res, s) {
					t.Errorf("results %q, want no %q in them", res, s)
				}
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// failingLookup is a registry that cannot answer.
type failingLookup struct{}

func (failingLookup) SentTo(context.Context, string) ([]store.Sent, error) {
	return nil, errors.New("database is locked")
}

func TestSignatureBound(t *testing.T) {
	r := &resolver{txt: map[string]string{}}
	msg := original(t, "")
	for i := range 7 {
		msg = newSigner(t, r, "example.com", fmt.Sprintf("s%d", i)).sign(t, msg, "From", "To")
	}
	rep, recs := analyze(t, report(t, msg, "", "jane@example.org"))
	c := &Checker{Hostname: "rebound.example", DKIM: &DKIM{SenderDomains: []string{"example.com"}, LookupTXT: r.LookupTXT}}
	res, err := c.Check(context.Background(), Envelope{}, nil, rep, recs)
	if err != nil {
		t.Fatal(err)
	}
	if r.lookups != MaxSignatures {
		t.Errorf("%d key lookups, want %d", r.lookups, MaxSignatures)
	}
	if n := strings.Count(res, "dkim=pass"); n != MaxSignatures {
		t.Errorf("%d passes in %q, want %d", n, res, MaxSignatures)
	}
	if !strings.Contains(res, "dkim=none (original, 2 more signatures not checked)") {
		t.Errorf("results %q do not say 2 signatures were not checked", res)
	}
	if recs[0].Auth != record.AuthDKIM {
		t.Errorf("Auth %q, want %q", recs[0].Auth, record.AuthDKIM)
	}
}

// TestTimeoutShared checks that the lookups of one message share one
// timeout, even with a resolver that ignores its context.
func TestTimeoutShared(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var mu sync.Mutex
	lookups := 0
	lookup := func(ctx context.Context, name string) ([]string, error) {
		mu.Lock()
		lookups++
		mu.Unlock()
		<-block
		return nil, errors.New("unreachable")
	}
	r := &resolver{txt: map[string]string{}}
	msg := original(t, "")
	for i := range 3 {
		msg = newSigner(t, r, "example.com", fmt.Sprintf("s%d", i)).sign(t, msg, "From", "To")
	}
	raw := newSigner(t, r, "mx.example.org", "r1").sign(t, report(t, msg, "", "jane@example.org"), "From")
	rep, recs := analyze(t, raw)
	c := &Checker{Hostname: "rebound.example", Unsigned: PolicyTrust, DKIM: &DKIM{SenderDomains: []string{"example.com"}, LookupTXT: lookup, Timeout: 300 * time.Millisecond}}
	start := time.Now()
	res, err := c.Check(context.Background(), Envelope{}, raw, rep, recs)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Check took %v with a timeout of 300ms", d)
	}
	if n := strings.Count(res, "dkim=temperror"); n != 4 {
		t.Errorf("%d temperrors in %q, want 4", n, res)
	}
	if recs[0].Auth != record.AuthTrusted {
		t.Errorf("Auth %q, want %q", recs[0].Auth, record.AuthTrusted)
	}
}

// TestStoreError checks that a registry that cannot answer fails the
// check, so that the report is retried, and that nothing was decided.
func TestStoreError(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rebound.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	register(t, st, "letter-2026-03.jane@example.com", "jane@example.org")
	rep, recs := analyze(t, report(t, original(t, ""), "", "jane@example.org"))
	c := &Checker{Hostname: "rebound.example", Sent: st}
	if _, err := c.Check(context.Background(), Envelope{}, nil, rep, recs); err != nil || recs[0].Auth != record.AuthSent {
		t.Fatalf("open store: Auth %q, error %v", recs[0].Auth, err)
	}
	st.Close()
	rep, recs = analyze(t, report(t, original(t, ""), "", "jane@example.org"))
	if _, err := c.Check(context.Background(), Envelope{}, nil, rep, recs); err == nil {
		t.Fatalf("closed store: no error, Auth %q", recs[0].Auth)
	}
	// A signed return path needs no registry.
	if _, err := c.Check(context.Background(), Envelope{Signed: []SignedRecipient{{ReturnPath: returnPath, Recipient: "jane@example.org"}}}, nil, rep, recs); err != nil || recs[0].Auth != record.AuthVERP {
		t.Fatalf("closed store, signed: Auth %q, error %v", recs[0].Auth, err)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Policy
		err  string
	}{
		{"", PolicyRegistered, ""},
		{"registered", PolicyRegistered, ""},
		{"trust", PolicyTrust, ""},
		{"never", PolicyNever, ""},
		{"Trust", "", `provenance: unknown policy "Trust" for unsigned reports: one of "registered", "trust" or "never"`},
		{"always", "", `provenance: unknown policy "always" for unsigned reports: one of "registered", "trust" or "never"`},
	} {
		got, err := ParsePolicy(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q, %s", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestResults(t *testing.T) {
	for _, tt := range []struct {
		add  func(*results)
		want string
	}{
		{func(*results) {}, "mx.example; none"},
		{func(r *results) { r.add("verp", "pass", "", "", "smtp.rcptto", "b+k1+x=y@bounces.example") },
			"mx.example; verp=pass smtp.rcptto=b+k1+x=y@bounces.example"},
		{func(r *results) { r.add("sent", "pass", "", "", "header.message-id", "<a b@c>") },
			`mx.example; sent=pass header.message-id="<a b@c>"`},
		{func(r *results) {
			r.add("dkim", "fail", `bad "sig" \ here`, "original (copy)", "header.d", "example.com", "header.s", "")
		}, `mx.example; dkim=fail reason="bad \"sig\" \\ here" header.d=example.com (original _copy_)`},
		{func(r *results) {
			r.add("verp", "fail", "tag\r\nInjected: x", "", "smtp.rcptto", "\"quoted local\"@bounces.example")
		}, `mx.example; verp=fail reason="tag  Injected: x" smtp.rcptto="\"quoted local\"@bounces.example"`},
	} {
		var r results
		tt.add(&r)
		if got := r.String("mx.example"); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}
