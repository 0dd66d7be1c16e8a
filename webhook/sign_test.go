package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// specSecret, specID, specTime, specBody and specSignature are the worked
// example of the Standard Webhooks specification's signature scheme.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specUnix      = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignKnownAnswer(t *testing.T) {
	got, err := Sign(specSecret, specID, time.Unix(specUnix, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSignature {
		t.Errorf("Sign = %s, want %s", got, specSignature)
	}
}

func specHeader(sig string, unix int64) http.Header {
	h := http.Header{}
	h.Set(HeaderID, specID)
	h.Set(HeaderTimestamp, strconv.FormatInt(unix, 10))
	h.Set(HeaderSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	now := time.Unix(specUnix, 0)
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   string
		now    time.Time
		want   error // nil: verifies
		fails  bool  // an error other than the sentinels
	}{
		{"spec example", specSecret, specHeader(specSignature, specUnix), specBody, now, nil, false},
		{"one of several", specSecret, specHeader("v1,bm90IGl0 "+specSignature+" v2,x", specUnix), specBody, now, nil, false},
		{"within tolerance ahead", specSecret, specHeader(specSignature, specUnix), specBody, now.Add(-4 * time.Minute), nil, false},
		{"body changed", specSecret, specHeader(specSignature, specUnix), `{"test": 2432232315}`, now, ErrNoSignature, false},
		{"other secret", "whsec_" + "c2VjcmV0c2VjcmV0c2VjcmV0", specHeader(specSignature, specUnix), specBody, now, ErrNoSignature, false},
		{"other version", specSecret, specHeader("v2"+specSignature[2:], specUnix), specBody, now, ErrNoSignature, false},
		{"timestamp changed", specSecret, specHeader(specSignature, specUnix+1), specBody, now, ErrNoSignature, false},
		{"too old", specSecret, specHeader(specSignature, specUnix), specBody, now.Add(6 * time.Minute), ErrTimestamp, false},
		{"too new", specSecret, specHeader(specSignature, specUnix), specBody, now.Add(-6 * time.Minute), ErrTimestamp, false},
		{"no signature", specSecret, specHeader("", specUnix), specBody, now, ErrMissingHeaders, false},
		{"timestamp not a number", specSecret, func() http.Header {
			h := specHeader(specSignature, specUnix)
			h.Set(HeaderTimestamp, "yesterday")
			return h
		}(), specBody, now, nil, true},
		{"secret without prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", specHeader(specSignature, specUnix), specBody, now, nil, true},
		{"secret not base64", "whsec_!!!", specHeader(specSignature, specUnix), specBody, now, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, []byte(tt.body), 5*time.Minute, tt.now)
			switch {
			case tt.fails:
				if err == nil || errors.Is(err, ErrNoSignature) {
					t.Errorf("Verify = %v, want an error about the input", err)
				}
			case !errors.Is(err, tt.want) || (tt.want == nil && err != nil):
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSignatureIndependentVerifier checks Sign and Verify against the
// Standard Webhooks project's own Go library, both ways.
func TestSignatureIndependentVerifier(t *testing.T) {
	secret := "whsec_" + "dGhpcy1pcy1hLXRlc3Qta2V5LW9mLTMyLWJ5dGVzISE="
	lib, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"record.created","timestamp":"2026-01-02T03:04:05Z","data":{"id":7}}`)
	now := time.Now()
	sig, err := Sign(secret, MessageID(7), now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, MessageID(7))
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, sig)
	if err := lib.Verify(body, h); err != nil {
		t.Errorf("the library rejects our signature: %v", err)
	}
	libSig, err := lib.Sign(MessageID(7), now, body)
	if err != nil {
		t.Fatal(err)
	}
	if libSig != sig {
		t.Errorf("library signs %s, Sign %s", libSig, sig)
	}
	h.Set(HeaderSignature, libSig)
	if err := Verify(secret, h, body, time.Minute, now); err != nil {
		t.Errorf("Verify rejects the library's signature: %v", err)
	}
}
