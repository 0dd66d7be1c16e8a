-- Messages as received. Times are Unix nanoseconds (UTC), 0 for none.
CREATE TABLE messages (
	id           INTEGER PRIMARY KEY,
	content_hash BLOB    NOT NULL UNIQUE, -- sha256 of raw: idempotency
	received_at  INTEGER NOT NULL,
	source       TEXT    NOT NULL,
	remote_addr  TEXT    NOT NULL,
	helo         TEXT    NOT NULL,
	mail_from    TEXT    NOT NULL,
	rcpt_to      TEXT    NOT NULL, -- JSON array
	parse_error  TEXT    NOT NULL,
	format       TEXT    NOT NULL,
	raw_size     INTEGER NOT NULL,
	raw          BLOB    NOT NULL  -- DEFLATE (RFC 1951)
) STRICT;
CREATE INDEX messages_received ON messages (received_at);
CREATE INDEX messages_unrecognized ON messages (received_at) WHERE parse_error <> '';

-- One row per bounce record, the fields of record.Record. Records are only
-- inserted with their message, and a message only once (content_hash), so
-- the record key needs no unique index of its own: one index less to update
-- at a random place per record.
CREATE TABLE records (
	id                  INTEGER PRIMARY KEY,
	message_id          INTEGER NOT NULL REFERENCES messages (id),
	key                 TEXT    NOT NULL, -- store.RecordKey, the evidence of suppressions
	source              TEXT    NOT NULL,
	idx                 INTEGER NOT NULL,
	recipient           TEXT    NOT NULL,
	address             TEXT    NOT NULL, -- recipient, lower-cased
	recipient_domain    TEXT    NOT NULL,
	original_recipient  TEXT    NOT NULL,
	action              TEXT    NOT NULL,
	status              TEXT    NOT NULL,
	smtp_code           TEXT    NOT NULL,
	diagnostic          TEXT    NOT NULL,
	remote_mta          TEXT    NOT NULL,
	reporting_mta       TEXT    NOT NULL,
	reason              TEXT    NOT NULL,
	class               TEXT    NOT NULL,
	fix_owner           TEXT    NOT NULL,
	advice              TEXT    NOT NULL,
	explanation         TEXT    NOT NULL,
	catalog_entry       TEXT    NOT NULL,
	feedback_type       TEXT    NOT NULL,
	original_message_id TEXT    NOT NULL,
	original_from       TEXT    NOT NULL,
	original_to         TEXT    NOT NULL,
	original_subject    TEXT    NOT NULL,
	original_headers    TEXT    NOT NULL, -- JSON object, '' when none
	format              TEXT    NOT NULL,
	received_at         INTEGER NOT NULL,
	authenticated       INTEGER NOT NULL
) STRICT;
CREATE INDEX records_message ON records (message_id);
CREATE INDEX records_received ON records (received_at);
CREATE INDEX records_address ON records (address, received_at);
CREATE INDEX records_domain ON records (recipient_domain, received_at);
CREATE INDEX records_reason ON records (reason, received_at);
CREATE INDEX records_class ON records (class, received_at);

-- Suppression state per address (suppress.State).
CREATE TABLE addresses (
	address      TEXT    PRIMARY KEY, -- lower-cased
	soft_count   INTEGER NOT NULL,
	window_start INTEGER NOT NULL,
	last_bounce  INTEGER NOT NULL,
	suppressed   INTEGER NOT NULL,
	cause        TEXT    NOT NULL,
	reason       TEXT    NOT NULL,
	since        INTEGER NOT NULL,
	expires      INTEGER NOT NULL,
	evidence     TEXT    NOT NULL -- JSON array of record keys
) STRICT, WITHOUT ROWID;
CREATE INDEX addresses_suppressed ON addresses (address) WHERE suppressed;

-- Sending-side incidents: blocks from one destination for one code.
CREATE TABLE incidents (
	id         INTEGER PRIMARY KEY,
	domain     TEXT    NOT NULL,
	code       TEXT    NOT NULL, -- status, else reason
	status     TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	sample     TEXT    NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	count      INTEGER NOT NULL
) STRICT;
CREATE INDEX incidents_key ON incidents (domain, code, last_seen);
CREATE INDEX incidents_last_seen ON incidents (last_seen);
