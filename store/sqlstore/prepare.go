package sqlstore

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// Prepared is a message made ready for a backend's writer: everything that
// needs no database (hashing, compression, encoding, record keys) is done
// in the caller's goroutine, so that a writer only writes.
type Prepared struct {
	Hash       [sha256.Size]byte // store.ContentHash of the raw message
	ReceivedAt int64             // UnixNano, the store's clock when the message had none
	RcptTo     string            // JSON array of the envelope recipients
	RawSize    int
	Raw        []byte // compressed
	// Records are none for a message with a ParseError: it is kept for a
	// human, never scored.
	Records []PreparedRecord
}

// PreparedRecord is one record of a Prepared message with its keys.
type PreparedRecord struct {
	Rec     record.Record // ReceivedAt set
	Key     string        // store.RecordKey
	Address string        // normalized recipient, "" for none
	Domain  string        // recipient domain
	Headers string        // JSON object of OriginalHeaders, "" for none
}

// Cleaning makes values storable by a backend: Text for any text column,
// Indexed for the indexed ones. A nil func keeps values as they are.
type Cleaning struct {
	Text, Indexed func(string) string
}

func apply(f func(string) string, s string) string {
	if f == nil {
		return s
	}
	return f(s)
}

// Prepare prepares m for saving; now is read when m has no ReceivedAt. Its
// errors want the backend's name in front.
func Prepare(m *store.Message, now func() time.Time, c Cleaning) (Prepared, error) {
	received := m.ReceivedAt
	if received.IsZero() {
		received = now()
	}
	rcpt := m.RcptTo
	if c.Text != nil || rcpt == nil {
		// Never null: an empty envelope is stored as [].
		rcpt = make([]string, len(m.RcptTo))
		for i, a := range m.RcptTo {
			rcpt[i] = apply(c.Text, a)
		}
	}
	rcptJSON, err := json.Marshal(rcpt)
	if err != nil {
		return Prepared{}, fmt.Errorf("encoding recipients: %w", err)
	}
	p := Prepared{
		Hash:       store.ContentHash(m.Raw),
		ReceivedAt: UnixNano(received),
		RcptTo:     string(rcptJSON),
		RawSize:    len(m.Raw),
		Raw:        Compress(m.Raw),
	}
	if m.ParseError != "" {
		return p, nil
	}
	p.Records = make([]PreparedRecord, len(m.Records))
	for i := range m.Records {
		pr := &p.Records[i]
		pr.Rec = m.Records[i]
		if pr.Rec.ReceivedAt.IsZero() {
			pr.Rec.ReceivedAt = received
		}
		pr.Key = store.RecordKey(p.Hash, &pr.Rec)
		pr.Address = apply(c.Indexed, suppress.NormalizeAddress(pr.Rec.Recipient))
		pr.Domain = apply(c.Indexed, suppress.RecipientDomain(pr.Rec.Recipient))
		if len(pr.Rec.OriginalHeaders) > 0 {
			b, err := json.Marshal(pr.Rec.OriginalHeaders)
			if err != nil {
				return Prepared{}, fmt.Errorf("encoding original headers: %w", err)
			}
			pr.Headers = apply(c.Text, string(b))
		}
	}
	return p, nil
}
