package storetest

import (
	"testing"
	"time"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/store/sqlstore"
	"github.com/rebound-mail/rebound/suppress"
)

// version1DB writes rows into a database of the first schema, as the
// program of that time did, for the tests of upgrades.
type version1DB struct {
	t    *testing.T
	exec func(query string, args ...any) error
}

func (db version1DB) must(err error) {
	db.t.Helper()
	if err != nil {
		db.t.Fatalf("writing the old database: %v", err)
	}
}

// message stores raw, received at at, and returns its content hash.
func (db version1DB) message(raw []byte, at time.Time) [32]byte {
	db.t.Helper()
	hash := store.ContentHash(raw)
	db.must(db.exec(`INSERT INTO messages (content_hash, received_at, source, remote_addr, helo, mail_from,
		rcpt_to, parse_error, format, raw_size, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		hash[:], sqlstore.UnixNano(at), "smtp", "192.0.2.1:25", "mx.example.net", "",
		`["bounces@sender.test"]`, "", "rfc3464", int64(len(raw)), sqlstore.Compress(raw)))
	return hash
}

// record stores r as a record of the message of hash, with its original
// headers as the JSON text headers ("" for none).
func (db version1DB) record(hash [32]byte, r *record.Record, headers string) {
	db.t.Helper()
	db.must(db.exec(`INSERT INTO records (message_id, key, address, recipient_domain, source, idx,
		recipient, original_recipient, action, status, smtp_code, diagnostic, remote_mta,
		reporting_mta, reason, class, fix_owner, advice, explanation, catalog_entry,
		feedback_type, original_message_id, original_from, original_to, original_subject,
		original_headers, format, received_at, authenticated)
		VALUES ((SELECT id FROM messages WHERE content_hash = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
		?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		hash[:], store.RecordKey(hash, r), mustAddress(db.t, r.Recipient), suppress.RecipientDomain(r.Recipient),
		r.Source, int64(r.Index), r.Recipient, r.OriginalRecipient, r.Action, r.Status, r.SMTPCode, r.Diagnostic,
		r.RemoteMTA, r.ReportingMTA, r.Reason, r.Class, r.FixOwner, r.Advice, r.Explanation, r.CatalogEntry,
		r.FeedbackType, r.OriginalMessageID, r.OriginalFrom, r.OriginalTo, r.OriginalSubject,
		headers, r.Format, sqlstore.UnixNano(r.ReceivedAt), true))
}
