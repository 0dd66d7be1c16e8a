package provenance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/rebound-mail/rebound/record"
)

// Bounds of the DKIM work for one message.
const (
	// MaxSignatures is the most DKIM signatures verified in the report and
	// in its original, each: every one costs a DNS lookup.
	MaxSignatures = 5
	// MaxDKIMSize is the size of the largest message verified; a larger
	// one is "dkim=none (too large)".
	MaxDKIMSize = 1 << 20
)

// DKIM says how signatures (RFC 6376) are verified.
type DKIM struct {
	// SenderDomains are the sender's own signing domains (d=); a
	// subdomain of one counts.
	SenderDomains []string
	// LookupTXT resolves the key records; nil is net.DefaultResolver.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// Timeout bounds the lookups of one message together; 0 is 5s.
	Timeout time.Duration
}

func (d *DKIM) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 5 * time.Second
}

// dkimResult is one verified signature of the original.
type dkimResult struct {
	domain string
	to     []string // addresses of the To fields the signature covers
}

// verify verifies the signatures of msg and adds their results, labelled
// with what (the "report" or its "original"), to res. It returns the
// signatures of the sender's domains that verified and cover To.
func (d *DKIM) verify(ctx context.Context, msg []byte, what string, res *results) []dkimResult {
	if len(msg) > MaxDKIMSize {
		res.add("dkim", "none", "", what+", too large")
		return nil
	}
	sigs, toFields := readSignatures(msg)
	if len(sigs) == 0 {
		res.add("dkim", "none", "", what)
		return nil
	}
	lookup := d.LookupTXT
	if lookup == nil {
		lookup = net.DefaultResolver.LookupTXT
	}
	opts := &dkim.VerifyOptions{
		MaxVerifications: MaxSignatures,
		LookupTXT:        func(name string) ([]string, error) { return lookupCtx(ctx, lookup, name) },
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), opts)
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// The header did not read as a message header: a header-only
		// copy that ends without the empty line, or damage.
		for _, sig := range sigs[:min(len(sigs), MaxSignatures)] {
			res.add("dkim", "permerror", reasonOf(err), what, "header.d", sig.domain, "header.s", sig.selector)
		}
		return nil
	}
	var ours []dkimResult
	for i, v := range verifs {
		sel := ""
		if i < len(sigs) {
			sel = sigs[i].selector
		}
		result, reason := "pass", ""
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			result, reason = "temperror", reasonOf(v.Err)
		case dkim.IsPermFail(v.Err):
			result, reason = "permerror", reasonOf(v.Err)
		default:
			result, reason = "fail", reasonOf(v.Err)
		}
		domain := v.Domain
		if domain == "" && i < len(sigs) {
			domain = sigs[i].domain
		}
		res.add("dkim", result, reason, what, "header.d", domain, "header.s", sel)
		if v.Err == nil && d.ours(v.Domain) {
			n := 0
			for _, k := range v.HeaderKeys {
				if strings.EqualFold(strings.TrimSpace(k), "to") {
					n++
				}
			}
			if n > 0 {
				// The signature covers the last n To fields (RFC 6376
				// section 5.4.2).
				covered := toFields[max(0, len(toFields)-n):]
				ours = append(ours, dkimResult{domain: v.Domain, to: addresses(covered)})
			}
		}
	}
	if len(sigs) > len(verifs) {
		res.add("dkim", "none", "", fmt.Sprintf("%s, %d more signatures not checked", what, len(sigs)-len(verifs)))
	}
	return ours
}

// reasonOf returns the text of a go-msgauth error without its package
// prefixes.
func reasonOf(err error) string {
	return strings.ReplaceAll(err.Error(), "dkim: ", "")
}

// ours reports whether domain is one of the sender's signing domains or
// a subdomain of one.
func (d *DKIM) ours(domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, s := range d.SenderDomains {
		s = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
		if s != "" && (domain == s || strings.HasSuffix(domain, "."+s)) {
			return true
		}
	}
	return false
}

// lookupCtx resolves name under ctx, and gives up when ctx is done even if
// lookup does not. A timeout is a temporary DNS error, which go-msgauth
// reports as a temperror (RFC 6376 section 6.1.2).
func lookupCtx(ctx context.Context, lookup func(context.Context, string) ([]string, error), name string) ([]string, error) {
	type answer struct {
		txt []string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		txt, err := lookup(ctx, name)
		ch <- answer{txt, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil && ctx.Err() != nil {
			return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: true}
		}
		return a.txt, a.err
	case <-ctx.Done():
		return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: true}
	}
}

// A signature is what of a DKIM-Signature field the results name, in
// field order as go-msgauth verifies them.
type signature struct{ domain, selector string }

// readSignatures reads the header of msg for its DKIM-Signature fields
// and the values of its To fields, in order. It is lenient: go-msgauth
// does the verifying.
func readSignatures(msg []byte) (sigs []signature, to []string) {
	var fields []string
	for len(msg) > 0 {
		line := msg
		rest := []byte(nil)
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, rest = msg[:i], msg[i+1:]
		}
		msg = rest
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] += " " + string(line)
			continue
		}
		fields = append(fields, string(line))
	}
	for _, f := range fields {
		name, value, ok := strings.Cut(f, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "dkim-signature":
			var s signature
			for _, tag := range strings.Split(value, ";") {
				k, v, _ := strings.Cut(tag, "=")
				v = strings.Join(strings.Fields(v), "")
				switch strings.TrimSpace(k) {
				case "d":
					s.domain = v
				case "s":
					s.selector = v
				}
			}
			sigs = append(sigs, s)
		case "to":
			to = append(to, value)
		}
	}
	return sigs, to
}

// addresses returns the addresses of To field values, normalized.
func addresses(fields []string) []string {
	var dec mail.AddressParser
	var out []string
	for _, f := range fields {
		list, err := dec.ParseList(f)
		if err != nil {
			continue
		}
		for _, a := range list {
			if n := normal(a.Address); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// matchDKIM reports the recipient of r that a verified signature of the
// sender names in a covered To field.
func matchDKIM(r *record.Record, ours []dkimResult) (string, bool) {
	for _, d := range ours {
		if a, ok := match(r, d.to); ok {
			return a, true
		}
	}
	return "", false
}
