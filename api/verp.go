package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rebound-mail/rebound/mailaddr"
	"github.com/rebound-mail/rebound/verp"
)

// maxBounceDomain bounds a bounce domain so that every return path at it
// fits in the 254 octets of a path (RFC 5321 section 4.5.3.1.3): a local
// part of up to 64 octets (section 4.5.3.1.1) and "@".
const maxBounceDomain = mailaddr.MaxAddress - mailaddr.MaxLocalPart - 1

// normalizeBounceDomain is the form in which bounce domains are compared:
// lower case, no trailing dot, A-labels, as the signer writes them.
func normalizeBounceDomain(s string) (string, error) {
	d, err := mailaddr.NormalizeDomain(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(d, "[") {
		return "", fmt.Errorf("bounce domain %s: an address literal receives no mail by MX", mailaddr.Quote(s, 64))
	}
	if len(d) > maxBounceDomain {
		return "", fmt.Errorf("bounce domain %s is %d octets: at most %d leave room for a local part of 64 octets",
			mailaddr.Quote(s, 64), len(d), maxBounceDomain)
	}
	return d, nil
}

type verpRequest struct {
	Recipients *[]string `json:"recipients"`
	Domain     string    `json:"domain"`
}

type returnPath struct {
	Recipient  string `json:"recipient"`
	ReturnPath string `json:"return_path"`
}

type verpResult struct {
	ReturnPaths []returnPath `json:"return_paths"`
}

// makeReturnPaths signs a return path (package verp) for each recipient,
// for the mailer to give as MAIL FROM (RFC 5321 section 4.1.1.2) of the
// message to that recipient. Every recipient is checked before any is
// signed.
func (a *API) makeReturnPaths(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	signer := a.signer.Load()
	if signer == nil {
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "no VERP keys configured"}
	}
	var req verpRequest
	if err := a.decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Recipients == nil {
		return badParam("recipients", `the body needs "recipients", an array of addresses`)
	}
	rcpts := *req.Recipients
	if len(rcpts) > a.maxBatch {
		return &Problem{Status: http.StatusRequestEntityTooLarge, Parameter: "recipients",
			Detail: fmt.Sprintf("%d recipients: at most %d return paths are made at once", len(rcpts), a.maxBatch)}
	}
	domain, err := a.bounceDomain(req.Domain)
	if err != nil {
		return err
	}
	for i, s := range rcpts {
		// As Encode reads it: space and one pair of angle brackets
		// around, the address kept byte for byte.
		if _, err := mailaddr.Parse(trimPath(s)); err != nil {
			return unprocessable(fmt.Sprintf("recipients[%d]", i), fmt.Sprintf("recipients[%d] %s is not a mail address: %v", i, mailaddr.Quote(s, 64), reasonOf(err)))
		}
	}
	res := verpResult{ReturnPaths: make([]returnPath, 0, len(rcpts))}
	for i, s := range rcpts {
		rp, err := signer.Encode(r.Context(), s, domain)
		var addrErr *mailaddr.Error
		switch {
		case err == nil:
		case errors.Is(err, verp.ErrTooLong), errors.As(err, &addrErr):
			return unprocessable(fmt.Sprintf("recipients[%d]", i), fmt.Sprintf("recipients[%d]: %v", i, err))
		case r.Context().Err() != nil:
			return err
		default:
			// Bounce domains are checked in New: what is left is the
			// token store, which keeps the recipients too long to carry.
			a.log.Error("making a return path", "err", err)
			return &Problem{Status: http.StatusServiceUnavailable,
				Detail: fmt.Sprintf("recipients[%d]: keeping the VERP token of a long recipient failed; try again", i)}
		}
		res.ReturnPaths = append(res.ReturnPaths, returnPath{Recipient: s, ReturnPath: rp})
	}
	return writeJSON(w, http.StatusOK, res)
}

// bounceDomain is the domain of a request for return paths: the one
// given when it is a bounce domain, else the first bounce domain.
func (a *API) bounceDomain(given string) (string, error) {
	if len(a.bounceDomains) == 0 {
		return "", &Problem{Status: http.StatusServiceUnavailable, Detail: "no bounce domains configured"}
	}
	if given == "" {
		return a.bounceDomains[0], nil
	}
	d, err := normalizeBounceDomain(given)
	if err == nil {
		for _, b := range a.bounceDomains {
			if b == d {
				return d, nil
			}
		}
	}
	return "", unprocessable("domain", fmt.Sprintf("domain %s is not a bounce domain of this server; configured: %s",
		mailaddr.Quote(given, 64), strings.Join(a.bounceDomains, ", ")))
}

type decodeRequest struct {
	ReturnPath *string `json:"return_path"`
}

type decodeResult struct {
	Valid     bool   `json:"valid"`
	Recipient string `json:"recipient,omitempty"`
	Domain    string `json:"domain,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	Signed    string `json:"signed,omitempty"` // the day, YYYY-MM-DD
	Form      string `json:"form,omitempty"`
	Error     string `json:"error,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// decodeReturnPath verifies a return path as the bounce server does: an
// answer, valid or not, is 200; only a failed token lookup is a problem.
func (a *API) decodeReturnPath(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	signer := a.signer.Load()
	if signer == nil {
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "no VERP keys configured"}
	}
	var req decodeRequest
	if err := a.decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.ReturnPath == nil || strings.TrimSpace(*req.ReturnPath) == "" {
		return badParam("return_path", `the body needs "return_path", a signed return path`)
	}
	res, err := signer.Decode(r.Context(), *req.ReturnPath)
	if err != nil {
		if reason := verp.Reason(err); reason != "" {
			return writeJSON(w, http.StatusOK, decodeResult{Error: err.Error(), Reason: reason})
		}
		if r.Context().Err() != nil {
			return err
		}
		a.log.Error("decoding a return path", "err", err)
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "looking up the VERP token failed; try again"}
	}
	return writeJSON(w, http.StatusOK, decodeResult{Valid: true, Recipient: res.Recipient, Domain: res.Domain,
		KeyID: res.KeyID, Signed: res.Day.Format("2006-01-02"), Form: res.Form})
}

// trimPath drops space around s and one pair of angle brackets, as a
// path of RFC 5321 section 4.1.2 may be written.
func trimPath(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// reasonOf is what is wrong with an address, without the address, which
// the caller's message quotes already.
func reasonOf(err error) string {
	var e *mailaddr.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return err.Error()
}

// unprocessable is the problem of a body that is well-formed JSON of the
// right shape whose content cannot be used (RFC 9110 section 15.5.21).
func unprocessable(param, detail string) *Problem {
	return &Problem{Status: http.StatusUnprocessableEntity, Parameter: param, Detail: detail}
}
