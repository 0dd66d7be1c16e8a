package sqlstore

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

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
	// AuthResults is the message's AuthResults, as the backend keeps text.
	AuthResults string
	// Records are none for a message with a ParseError: it is kept for a
	// human, never scored.
	Records []PreparedRecord
}

// PreparedRecord is one record of a Prepared message with its keys.
type PreparedRecord struct {
	Rec     record.Record // ReceivedAt set
	Key     string        // store.RecordKey
	Address string        // normalized recipient, "" for none or one that is no address
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

		AuthResults: apply(c.Text, m.AuthResults),
	}
	if m.ParseError != "" {
		return p, nil
	}
	p.Records = make([]PreparedRecord, len(m.Records))
	for i := range m.Records {
		pr := &p.Records[i]
		pr.Rec = m.Records[i]
		storableRecord(&pr.Rec)
		if pr.Rec.ReceivedAt.IsZero() {
			pr.Rec.ReceivedAt = received
		}
		pr.Key = store.RecordKey(p.Hash, &pr.Rec)
		// A recipient that is no address gets no state: it can never
		// be suppressed.
		if addr, err := suppress.NormalizeAddress(pr.Rec.Recipient); err == nil {
			pr.Address = apply(c.Indexed, addr)
		}
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

// Storable is s as every backend keeps it: NUL and invalid UTF-8 become
// U+FFFD. A PostgreSQL text value can hold neither, and SQLite would keep
// both, so that the stores would disagree.
func Storable(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// storableRecord makes every text of r Storable. Records made by package
// bounce are so already; this holds for any other caller of Save, and for
// fields the record gains later.
func storableRecord(r *record.Record) {
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			if s := f.String(); Storable(s) != s {
				f.SetString(Storable(s))
			}
		}
	}
	for k, val := range r.OriginalHeaders {
		if Storable(k) != k || Storable(val) != val {
			h := make(map[string]string, len(r.OriginalHeaders))
			for k, val := range r.OriginalHeaders {
				h[Storable(k)] = Storable(val)
			}
			r.OriginalHeaders = h // the caller's map is left as it was
			return
		}
	}
}
