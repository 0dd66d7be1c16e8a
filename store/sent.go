package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rebound-mail/rebound/mailaddr"
)

// Sent is one message the sender's application registered as sent to one
// recipient. A report whose copy of the original carries a registered
// Message-ID, for one of its registered recipients, concerns mail the
// sender sent (record.AuthSent).
type Sent struct {
	MessageID string    `json:"message_id"`
	Recipient string    `json:"recipient"`
	Campaign  string    `json:"campaign,omitempty"`
	Tenant    string    `json:"tenant,omitempty"`
	SentAt    time.Time `json:"sent_at"`
}

// MaxRegister is the most registrations RegisterSent takes at once: one
// transaction, and one request of the API, stay bounded.
const MaxRegister = 10000

// MessageID is the form in which a store keeps and looks up a Message-ID:
// without the angle brackets of its header field (RFC 5322 section 3.6.4,
// msg-id) and the spaces around it, so that "<a@b>" and "a@b" are one.
// Nothing else is checked: a report may quote a Message-ID that is not
// quite of the RFC's syntax, and it must still match the one registered.
func MessageID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		id = strings.TrimSpace(id[1 : len(id)-1])
	}
	return id
}

// MaxVERPToken bounds the bytes of a VERP token: it is part of the local
// part of a return path, at most 64 octets (RFC 5321 section 4.5.3.1.1),
// with room to spare.
const MaxVERPToken = 255

// ValidVERPToken reports whether token can be a stored VERP token: 1 to
// MaxVERPToken bytes of printable ASCII.
func ValidVERPToken(token string) bool {
	return checkVERPToken(token) == nil
}

func checkVERPToken(token string) error {
	if token == "" {
		return errors.New("VERP token is empty")
	}
	if len(token) > MaxVERPToken {
		return fmt.Errorf("VERP token of %d bytes: at most %d", len(token), MaxVERPToken)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("VERP token %s: byte %d is not printable ASCII", mailaddr.Quote(token, 64), i+1)
		}
	}
	return nil
}

// CheckVERPToken reports what is wrong with a token and the address it
// stands for, as PutVERPToken takes them: a token ValidVERPToken accepts,
// and a non-empty address of valid UTF-8 without control characters. The
// address is kept as given: it is what the return path stood for, not a
// key.
func CheckVERPToken(token, address string) error {
	if err := checkVERPToken(token); err != nil {
		return err
	}
	if address == "" {
		return fmt.Errorf("VERP token %s: address is empty", mailaddr.Quote(token, 64))
	}
	if !utf8.ValidString(address) || strings.ContainsFunc(address, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("VERP token %s: address %s is not valid UTF-8 without control characters",
			mailaddr.Quote(token, 64), mailaddr.Quote(address, 64))
	}
	return nil
}
