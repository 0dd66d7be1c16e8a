package provenance

import (
	"bytes"
	"context"
	"testing"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/classify"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
)

// FuzzCheck runs whole reports through the decoder and Check, with a DKIM
// key published for the sender's domain: hostile bytes anywhere, in the
// report or its signed original, never panic, and every record ends with
// a known Auth that is authenticated exactly when it is verp, sent or dkim.
// The seeds are signed reports, so mutations reach the verifier.
func FuzzCheck(f *testing.F) {
	r := &resolver{txt: map[string]string{}}
	s := newSigner(f, r, "example.com", "s1")
	orig := s.sign(f, original(f, ""), "from", "to", "subject", "message-id")
	f.Add(report(f, orig, "", "jane@example.org"), true)
	f.Add(report(f, orig, "text/rfc822-headers", "jane@example.org", "joe@example.org"), false)
	f.Add(complaint(f, orig, "jane@example.org"), false)
	f.Add(report(f, original(f, "joe@example.org"), "", "joe@example.org"), false)

	cl, err := classify.New("en")
	if err != nil {
		f.Fatal(err)
	}
	an := &bounce.Analyzer{Parser: &dsn.Parser{}, Classifier: cl}
	f.Fuzz(func(t *testing.T, msg []byte, signed bool) {
		recs, rep, err := an.Analyze(msg, "fuzz")
		if err != nil || len(recs) == 0 {
			return
		}
		c := &Checker{Hostname: "rebound.test", Unsigned: PolicyRegistered,
			DKIM: &DKIM{SenderDomains: []string{"example.com"}, LookupTXT: r.LookupTXT}}
		var env Envelope
		if signed {
			env.Signed = []SignedRecipient{{ReturnPath: returnPath, Recipient: "jane@example.org", KeyID: "k1"}}
		}
		raw := bytes.Clone(msg)
		results, err := c.Check(context.Background(), env, raw, rep, recs)
		if err != nil {
			t.Fatalf("Check without a lookup to fail: %v", err)
		}
		if results == "" {
			t.Errorf("no results")
		}
		for i := range recs {
			a := recs[i].Auth
			if !record.ValidAuth(a) {
				t.Fatalf("record %d: auth %q", i, a)
			}
			if recs[i].Authenticated != (a == record.AuthVERP || a == record.AuthSent || a == record.AuthDKIM) {
				t.Fatalf("record %d: auth %q, authenticated %v", i, a, recs[i].Authenticated)
			}
		}
	})
}
