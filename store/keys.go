package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/suppress"
)

// Identities shared by the backends, so that every backend derives the same
// keys from the same message. Addresses are normalized with
// suppress.NormalizeAddress and incidents grouped by suppress.IncidentKey.

// Address is the form in which a store keeps and looks up the address
// given to one of its methods (suppress.NormalizeAddress); text that is
// not an address is an error, which the methods return as it is.
func Address(addr string) (string, error) {
	return suppress.NormalizeAddress(addr)
}

// ContentHash identifies a message by its bytes: an MTA that retries after
// a lost 250 sends the same bytes again, and Save stores them once.
func ContentHash(raw []byte) [sha256.Size]byte {
	return sha256.Sum256(raw)
}

// RecordKey is the idempotency key of one record of a message: the original
// Message-ID, the recipient, the status and the position in the report,
// bound to the content hash of the message that carried them. It is also
// what suppressions keep as evidence.
func RecordKey(content [sha256.Size]byte, rec *record.Record) string {
	h := sha256.New()
	h.Write(content[:])
	// A recipient that is no address is taken as it is: it still tells
	// the records of a report apart.
	rcpt, err := suppress.NormalizeAddress(rec.Recipient)
	if err != nil {
		rcpt = rec.Recipient
	}
	for _, s := range []string{rec.OriginalMessageID, rcpt, rec.Status} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var idx [8]byte
	binary.BigEndian.PutUint64(idx[:], uint64(rec.Index))
	h.Write(idx[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	// 128 bits are plenty to tell records apart and keep evidence short.
	return hex.EncodeToString(sum[:16])
}
