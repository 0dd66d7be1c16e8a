package smtpd

import (
	"testing"

	"github.com/emersion/go-smtp"
)

// TestIDNDomains: a bounce domain configured as a U-label or with a
// trailing dot accepts its recipients in every form a client may write
// them: U-label (SMTPUTF8), A-label, any case, with the root's dot.
func TestIDNDomains(t *testing.T) {
	ts := startServer(t, Config{Domains: []string{"bücher.de", "bounces.example.com."}})
	for _, tc := range []struct {
		rcpt string
		utf8 bool
		code int // 0: accepted
	}{
		{"x@bücher.de", true, 0},
		{"x@BÜCHER.de", true, 0},
		{"x@xn--bcher-kva.de", false, 0},
		{"x@XN--BCHER-KVA.DE.", false, 0},
		{"x@BOUNCES.example.com.", false, 0},
		{"x@bounces.example.com", false, 0},
		{"x@bucher.de", false, 550},
		{"x@example.com", false, 550},
		{"x@xn--zz.de", false, 550},
	} {
		t.Run(tc.rcpt, func(t *testing.T) {
			c := ts.dial(t)
			if err := c.Mail("", &smtp.MailOptions{UTF8: tc.utf8}); err != nil {
				t.Fatalf("MAIL: %v", err)
			}
			err := c.Rcpt(tc.rcpt, nil)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("RCPT TO:<%s>: %v, want it accepted", tc.rcpt, err)
				}
				return
			}
			wantCode(t, err, tc.code, smtp.EnhancedCode{5, 7, 1})
		})
	}
}

func TestNewRefusesBadDomain(t *testing.T) {
	for _, d := range []string{"", ".", "xn--zz.de", "a_b!.example"} {
		if _, err := New(Config{Domains: []string{d}}, &memStore{}, fakeAnalyzer{}, nil, nil); err == nil {
			t.Errorf("New with bounce domain %q: no error", d)
		}
	}
}
