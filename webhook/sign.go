// Package webhook delivers the store's outbox events to the configured
// endpoints, signed as the Standard Webhooks specification describes
// (https://www.standardwebhooks.com/, "Signature scheme"): at least once,
// in order per endpoint, retried with exponential backoff and jitter, and
// moved to the endpoint's dead letters after too many failures.
//
// Several instances may deliver from one store: the endpoint lease of
// store.Outbox lets one instance at a time deliver to an endpoint, so each
// event reaches each endpoint once between them.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery, as named by the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret; base64 of the key follows.
const SecretPrefix = "whsec_"

// minKeyBytes is the shortest signing key accepted. The specification
// recommends 24 to 64 bytes.
const minKeyBytes = 16

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrTimestamp      = errors.New("webhook: timestamp outside the tolerance")
	ErrNoSignature    = errors.New("webhook: no matching v1 signature")
)

// secretKey decodes a "whsec_<base64>" secret to its HMAC key.
func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook secret: want %q followed by base64", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, errors.New("webhook secret: the part after " + SecretPrefix + " is not standard base64")
	}
	if len(key) == 0 {
		return nil, errors.New("webhook secret: empty key")
	}
	return key, nil
}

// signature computes the v1 signature: base64 of HMAC-SHA256 over
// msgID "." unix-seconds "." body.
func signature(key []byte, msgID string, unix int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, unix, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign returns the webhook-signature header value ("v1,<base64>") of a
// message with the given id, timestamp (whole seconds) and body.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + signature(key, msgID, ts.Unix(), body), nil
}

// Verify checks a received delivery: the webhook-id, webhook-timestamp and
// webhook-signature headers against body, with the timestamp no further
// than tolerance from now (either way, against replayed messages). The
// signature header may hold several space-separated signatures (during a
// secret rotation); one matching v1 signature is enough.
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: timestamp %q: want unix seconds", tsText)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := []byte(signature(key, id, unix, body))
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrNoSignature
}
