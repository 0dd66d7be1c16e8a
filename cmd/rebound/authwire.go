package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/rebound-mail/rebound/config"
	"github.com/rebound-mail/rebound/dsn"
	"github.com/rebound-mail/rebound/provenance"
	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/verp"
)

// newSigner builds the VERP signer of the configuration's keys (secrets
// resolved), keeping long recipients' tokens in tokens; nil when no key is
// configured.
func newSigner(cfg *config.Config, tokens verp.TokenStore) (*verp.Signer, error) {
	if len(cfg.VERP.Keys) == 0 {
		return nil, nil
	}
	keys := make([]verp.Key, 0, len(cfg.VERP.Keys))
	for _, k := range cfg.VERP.Keys {
		keys = append(keys, verp.Key{ID: k.ID, Secret: []byte(k.Secret)})
	}
	return verp.New(keys, verp.Options{
		Prefix: cfg.VERP.Prefix,
		MaxAge: time.Duration(cfg.VERP.MaxAge),
		Tokens: tokens,
	})
}

// newProvenance builds the checker that ties reports to mail the sender
// sent, from the configuration's [authentication] section.
func newProvenance(cfg *config.Config, sent provenance.SentLookup) (*provenance.Checker, error) {
	policy, err := provenance.ParsePolicy(cfg.Authentication.Unsigned)
	if err != nil {
		return nil, err
	}
	c := &provenance.Checker{Hostname: cfg.Listener.Hostname, Unsigned: policy, Sent: sent}
	if cfg.Authentication.DKIM {
		c.DKIM = &provenance.DKIM{
			SenderDomains: cfg.Authentication.SenderDomains,
			Timeout:       time.Duration(cfg.Authentication.DKIMTimeout),
		}
	}
	return c, nil
}

// rateLimitExempt parses listener.rate_limit_exempt (checked by
// config.Validate).
func rateLimitExempt(cfg *config.Config) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range cfg.Listener.RateLimitExempt {
		if p, err := netip.ParsePrefix(s); err == nil {
			ps = append(ps, p.Masked())
		}
	}
	return ps
}

// lazyTokens is a verp.TokenStore that opens its store on first use, so
// that commands encoding or decoding short return paths need no store.
type lazyTokens struct {
	url  string
	opts store.Options

	mu  sync.Mutex
	st  store.Store
	err error
}

func (l *lazyTokens) open(ctx context.Context) (store.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st == nil && l.err == nil {
		l.st, l.err = openStore(ctx, l.url, l.opts)
		if l.err != nil {
			l.err = errors.New("opening store " + redactURL(l.url) + " for a long recipient's token: " + l.err.Error())
		}
	}
	return l.st, l.err
}

func (l *lazyTokens) PutVERPToken(ctx context.Context, token, address string) error {
	st, err := l.open(ctx)
	if err != nil {
		return err
	}
	return st.PutVERPToken(ctx, token, address)
}

func (l *lazyTokens) VERPToken(ctx context.Context, token string) (string, error) {
	st, err := l.open(ctx)
	if err != nil {
		return "", err
	}
	return st.VERPToken(ctx, token)
}

func (l *lazyTokens) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st != nil {
		return l.st.Close()
	}
	return nil
}

// importAuth authenticates imported reports as the listener does. An
// imported message has no SMTP envelope, but a mailbox it was delivered
// to keeps the envelope recipient in a header (Delivered-To by Postfix,
// Envelope-To by Exim, X-Original-To): when one of those is a signed
// return path that verifies, it counts as the RCPT TO would have. A
// forged header cannot forge the tag.
type importAuth struct {
	signer  *verp.Signer
	checker *provenance.Checker
}

func newImportAuth(cfg *config.Config, st store.Store) (*importAuth, error) {
	signer, err := newSigner(cfg, st)
	if err != nil {
		return nil, fmt.Errorf("verp: %w", err)
	}
	checker, err := newProvenance(cfg, st)
	if err != nil {
		return nil, fmt.Errorf("authentication: %w", err)
	}
	return &importAuth{signer: signer, checker: checker}, nil
}

// envelopeHeaders are the header fields that keep the envelope recipient
// of a delivered message.
var envelopeHeaders = []string{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"}

// check sets the records' Auth and returns the message's results; an
// error is a lookup that failed (the message is not stored then). A nil
// importAuth leaves the records as they are.
func (a *importAuth) check(ctx context.Context, raw []byte, rep *dsn.Report, recs []record.Record) (string, error) {
	if a == nil {
		return "", nil
	}
	var env provenance.Envelope
	if a.signer != nil {
		for _, rp := range envelopeRecipients(raw) {
			at := strings.LastIndexByte(rp, '@')
			if at <= 0 || !a.signer.Claims(rp[:at]) {
				continue
			}
			res, err := a.signer.Decode(ctx, rp)
			switch {
			case err == nil:
				env.Signed = append(env.Signed, provenance.SignedRecipient{ReturnPath: rp, Recipient: res.Recipient, KeyID: res.KeyID})
			case verp.Reason(err) != "":
				env.Failed = append(env.Failed, provenance.FailedReturnPath{ReturnPath: rp, Why: err.Error()})
			default:
				return "", err
			}
		}
	}
	return a.checker.Check(ctx, env, raw, rep, recs)
}

// envelopeRecipients returns the addresses of the message's envelope
// headers, each once, in the order found.
func envelopeRecipients(raw []byte) []string {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if e := bytes.Index(raw, []byte("\n\n")); e >= 0 && (end < 0 || e < end) {
		end = e
	}
	if end < 0 {
		end = len(raw)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(append(raw[:end:end], "\r\n\r\n"...)))
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, name := range envelopeHeaders {
		for _, v := range msg.Header[textproto.CanonicalMIMEHeaderKey(name)] {
			addrs, err := mail.ParseAddressList(v)
			if err != nil {
				addrs = []*mail.Address{{Address: strings.Trim(strings.TrimSpace(v), "<>")}}
			}
			for _, ad := range addrs {
				if ad.Address != "" && !seen[strings.ToLower(ad.Address)] {
					seen[strings.ToLower(ad.Address)] = true
					out = append(out, ad.Address)
				}
			}
		}
	}
	return out
}

// pruneSent deletes, every hour until ctx ends, the sent-message
// registrations older than retention.
func pruneSent(ctx context.Context, st store.Store, retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := st.PruneSent(ctx, time.Now().Add(-retention))
		if err != nil && ctx.Err() == nil {
			log.Error("pruning registered sent messages", "err", err)
		} else if n > 0 {
			log.Info("pruned registered sent messages", "count", n, "older_than", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
