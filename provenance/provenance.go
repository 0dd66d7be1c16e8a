// Package provenance decides whether a report concerns mail the sender
// sent: it sets record.Record.Auth and Authenticated at ingest, before the
// message is stored. Anybody can send a hand-written delivery status
// notification (RFC 3464) or feedback report (RFC 5965) naming any address;
// only a report tied to mail the sender sent changes a suppression (see
// record.Record.CountsForSuppression).
//
// A report is tied to sent mail in one of three ways, tried in this order:
//
//  1. It came back to a signed return path (package verp), the address the
//     report was sent to (RCPT TO, RFC 5321 section 4.1.1.3), as the
//     reporting MTA must send it to the original's MAIL FROM (RFC 3464
//     section 2, RFC 5321 section 4.5.5). If some recipient was signed
//     and failed verification, and none verified, every record is
//     record.AuthFailed. With a verified one, a record naming that
//     recipient (final or original recipient, compared as
//     suppress.NormalizeAddress has them) is record.AuthVERP. When no
//     record names it and the report has a single record, that record is
//     taken to be about the signed recipient: forwarding and address
//     rewriting change the address a report names, the return path
//     survives; the record's Recipient becomes the signed one, the
//     report's address is kept in OriginalRecipient when that is empty,
//     and Evidence says so. Every other record is record.AuthFailed: a
//     report listing many recipients for one signed return path
//     suppresses only the one signed. A record that names the signed
//     recipient only as its original recipient gets the signed one as
//     Recipient too, since Recipient is what is suppressed.
//  2. Without a signed return path, per record: under PolicyNever,
//     record.AuthNone. Then, when the report's copy of the original
//     carries the Message-ID (RFC 5322 section 3.6.4) of a message
//     registered as sent to the record's recipient (store.Store.SentTo),
//     record.AuthSent.
//  3. Then, when the copy of the original carries a valid DKIM signature
//     (RFC 6376) of one of the sender's domains (d=, or a subdomain of
//     one), whose signed header fields (h=) include To, and a To field
//     the signature covers names the record's recipient,
//     record.AuthDKIM. A signature covers the last instances of a field
//     (RFC 6376 section 5.4.2): a To field added above the signed one
//     is not evidence.
//
// Otherwise the record is record.AuthTrusted under PolicyTrust and
// record.AuthNone under PolicyRegistered. A record without a valid
// recipient (record.Record.RecipientInvalid) is never proven: record.AuthNone,
// or record.AuthFailed where rule 1 makes the others failed. Complaints
// (ARF) follow the same rules. Authenticated is set for record.AuthVERP,
// record.AuthSent and record.AuthDKIM.
//
// DKIM signatures are verified with go-msgauth, on the copy of the
// original (the evidence) and on the report itself (informational), with
// one timeout for all lookups of a message, at most MaxSignatures of each
// and none of a message over MaxDKIMSize. A copy that is only a header, or
// whose body was cut, does not verify (permerror when the header has no
// closing empty line, fail for the body hash otherwise): the record is then
// decided by the other rules. A failed signature of the original does not
// make a record AuthFailed: header-only copies are common.
//
// The results are returned as the value of an Authentication-Results
// field (RFC 8601): the methods "verp" and "sent" are Rebound's own, not
// registered with IANA; "dkim" is that of RFC 8601 section 2.7.1.
package provenance

import (
	"context"
	"fmt"

	"github.com/rebound-mail/rebound/bounce"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// Policy for reports that came to no signed return path.
type Policy string

// Policies for unsigned reports.
const (
	// PolicyRegistered, the default: count a record only when the
	// report's copy of the original is a registered sent message to that
	// recipient, or carries the sender's valid DKIM signature covering a
	// To field with that recipient.
	PolicyRegistered Policy = "registered"
	// PolicyTrust counts every unsigned record: the behaviour before
	// authentication, unsafe, as anybody can then suppress anybody.
	PolicyTrust Policy = "trust"
	// PolicyNever counts no unsigned record.
	PolicyNever Policy = "never"
)

// ParsePolicy reads a policy by its name; "" is PolicyRegistered.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case "":
		return PolicyRegistered, nil
	case PolicyRegistered, PolicyTrust, PolicyNever:
		return p, nil
	}
	return "", fmt.Errorf("provenance: unknown policy %q for unsigned reports: one of %q, %q or %q", s, PolicyRegistered, PolicyTrust, PolicyNever)
}

// SentLookup finds the registrations of a Message-ID; store.Store is one.
type SentLookup interface {
	SentTo(ctx context.Context, messageID string) ([]store.Sent, error)
}

// SignedRecipient is a verified signed return path (RCPT TO) and the
// recipient it names.
type SignedRecipient struct{ ReturnPath, Recipient, KeyID string }

// FailedReturnPath is a return path that claims to be signed and failed
// verification, and was accepted anyway.
type FailedReturnPath struct{ ReturnPath, Why string }

// Envelope is what the SMTP transaction said about the return paths the
// report was sent to.
type Envelope struct {
	Signed []SignedRecipient
	Failed []FailedReturnPath
}

// Checker sets the Auth of records. It is safe for concurrent use when
// its SentLookup and DKIM.LookupTXT are.
type Checker struct {
	Hostname string     // authserv-id of the results (RFC 8601 section 2.5)
	Unsigned Policy     // for reports to no signed return path; "" is PolicyRegistered
	Sent     SentLookup // nil: nothing registered
	DKIM     *DKIM      // nil: no DKIM checks
}

// Check sets Auth and Authenticated on every record of rep (recs, as
// bounce.Analyzer made them from raw) and returns the message's results in
// Authentication-Results form (RFC 8601): the authserv-id, then method=result
// pairs with their properties, e.g.
//
//	mx.example; verp=pass smtp.rcptto=b+k1+...@bounces.example; dkim=pass header.d=example.com header.s=s1 (original); dkim=pass header.d=google.com (report); sent=pass
//
// An error is returned only when a lookup that decides Auth failed (the
// registered messages): the records are then not to be stored, and the
// sender is to retry (451). DKIM DNS failures are temperror results, never
// errors. rep may be nil (no report: no original).
func (c *Checker) Check(ctx context.Context, env Envelope, raw []byte, rep *dsn.Report, recs []record.Record) (string, error) {
	var res results
	for _, s := range env.Signed {
		res.add("verp", "pass", "", "", "smtp.rcptto", s.ReturnPath)
	}
	for _, f := range env.Failed {
		res.add("verp", "fail", f.Why, "", "smtp.rcptto", f.ReturnPath)
	}
	var orig []byte
	var messageID string
	if rep != nil {
		orig, messageID = rep.Original.Raw, rep.Original.MessageID
	}

	var ours []dkimResult
	if c.DKIM != nil {
		vctx, cancel := context.WithTimeout(ctx, c.DKIM.timeout())
		if orig != nil {
			ours = c.DKIM.verify(vctx, orig, "original", &res)
		}
		c.DKIM.verify(vctx, raw, "report", &res)
		cancel()
	}

	switch {
	case len(env.Signed) > 0:
		c.signed(env.Signed, rep, recs)
	case len(env.Failed) > 0:
		for i := range recs {
			setAuth(&recs[i], record.AuthFailed)
			note(&recs[i], "the signed return path failed verification")
		}
	default:
		if err := c.unsigned(ctx, messageID, ours, recs, &res); err != nil {
			return "", err
		}
	}
	return res.String(c.Hostname), nil
}

// signed applies rule 1 of the package comment.
func (c *Checker) signed(signed []SignedRecipient, rep *dsn.Report, recs []record.Record) {
	var addrs []string
	for _, s := range signed {
		if a, err := suppress.NormalizeAddress(s.Recipient); err == nil && !contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	single := len(recs) == 1 && len(addrs) == 1 && recs[0].RecipientInvalid == "" &&
		(rep == nil || rep.TruncatedRecipients == 0) && !matchAny(recs, addrs)
	for i := range recs {
		r := &recs[i]
		switch a, ok := match(r, addrs); {
		case r.RecipientInvalid != "":
			setAuth(r, record.AuthFailed)
		case ok:
			prove(r, a, "the signed return path")
			setAuth(r, record.AuthVERP)
		case single:
			prove(r, addrs[0], "the signed return path")
			setAuth(r, record.AuthVERP)
		default:
			setAuth(r, record.AuthFailed)
			note(r, "not the recipient of the signed return path")
		}
	}
}

func matchAny(recs []record.Record, addrs []string) bool {
	for i := range recs {
		if _, ok := match(&recs[i], addrs); ok && recs[i].RecipientInvalid == "" {
			return true
		}
	}
	return false
}

// unsigned applies rules 2 and 3 of the package comment.
func (c *Checker) unsigned(ctx context.Context, messageID string, ours []dkimResult, recs []record.Record, res *results) error {
	policy := c.Unsigned
	if policy == "" {
		policy = PolicyRegistered
	}
	var sent []string // registered recipients, normalized
	looked, registered, wanted := false, false, false
	for i := range recs {
		r := &recs[i]
		if r.RecipientInvalid != "" || policy == PolicyNever {
			setAuth(r, record.AuthNone)
			continue
		}
		wanted = c.Sent != nil
		if wanted && store.MessageID(messageID) != "" && !looked {
			looked = true
			regs, err := c.Sent.SentTo(ctx, messageID)
			if err != nil {
				return fmt.Errorf("provenance: looking up the registrations of Message-ID %q: %w", messageID, err)
			}
			registered = len(regs) > 0
			for _, s := range regs {
				if a := normal(s.Recipient); a != "" {
					sent = append(sent, a)
				}
			}
		}
		if a, ok := match(r, sent); ok {
			prove(r, a, "the registered sent message")
			setAuth(r, record.AuthSent)
			continue
		}
		if a, ok := matchDKIM(r, ours); ok {
			prove(r, a, "the DKIM-signed To of the original")
			setAuth(r, record.AuthDKIM)
			continue
		}
		if policy == PolicyTrust {
			setAuth(r, record.AuthTrusted)
		} else {
			setAuth(r, record.AuthNone)
		}
	}
	if wanted && !looked {
		res.add("sent", "none", "", "no Message-ID of the original")
	}
	if looked {
		switch {
		case countAuth(recs, record.AuthSent) > 0:
			res.add("sent", "pass", "", "", "header.message-id", messageID)
		case registered:
			res.add("sent", "fail", "registered for other recipients", "", "header.message-id", messageID)
		default:
			res.add("sent", "none", "", "", "header.message-id", messageID)
		}
	}
	return nil
}

// match reports the first of the record's recipient and original
// recipient that is one of addrs.
func match(r *record.Record, addrs []string) (string, bool) {
	for _, s := range []string{r.Recipient, r.OriginalRecipient} {
		if a := normal(s); a != "" && contains(addrs, a) {
			return a, true
		}
	}
	return "", false
}

// prove makes addr, proven by how, the record's Recipient: what a
// suppression is keyed on must be the proven address, not another the
// report named beside it.
func prove(r *record.Record, addr, how string) {
	if normal(r.Recipient) == addr {
		return
	}
	if r.OriginalRecipient == "" {
		r.OriginalRecipient = r.Recipient
	}
	note(r, fmt.Sprintf("recipient from %s; the report named %s", how, r.Recipient))
	r.Recipient = addr
}

func setAuth(r *record.Record, auth string) {
	r.Auth = auth
	r.Authenticated = auth == record.AuthVERP || auth == record.AuthSent || auth == record.AuthDKIM
}

// note adds to the record's Evidence, within its bound.
func note(r *record.Record, s string) {
	e := s
	if r.Evidence != "" {
		e = r.Evidence + "; " + s
	}
	if len(e) <= bounce.MaxProse {
		r.Evidence = e
	}
}

func normal(addr string) string {
	if addr == "" {
		return ""
	}
	a, err := suppress.NormalizeAddress(addr)
	if err != nil {
		return ""
	}
	return a
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func countAuth(recs []record.Record, auth string) int {
	n := 0
	for i := range recs {
		if recs[i].Auth == auth {
			n++
		}
	}
	return n
}
