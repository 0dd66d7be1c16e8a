-- Messages as received. Times are Unix nanoseconds (UTC), 0 for none, as
-- in the SQLite store: they keep Go's full precision and order as the times
-- they encode.
CREATE TABLE messages (
	id           BIGSERIAL PRIMARY KEY,
	content_hash BYTEA   NOT NULL UNIQUE, -- sha256 of raw: idempotency
	received_at  BIGINT  NOT NULL,
	source       TEXT    NOT NULL,
	remote_addr  TEXT    NOT NULL,
	helo         TEXT    NOT NULL,
	mail_from    TEXT    NOT NULL,
	rcpt_to      TEXT    NOT NULL, -- JSON array
	parse_error  TEXT    NOT NULL,
	format       TEXT    NOT NULL,
	raw_size     BIGINT  NOT NULL,
	raw          BYTEA   NOT NULL  -- DEFLATE (RFC 1951)
);
CREATE INDEX messages_received ON messages (received_at);
CREATE INDEX messages_unrecognized ON messages (received_at) WHERE parse_error <> '';

-- One row per bounce record, the fields of record.Record.
CREATE TABLE records (
	id                  BIGSERIAL PRIMARY KEY,
	message_id          BIGINT  NOT NULL REFERENCES messages (id),
	key                 TEXT    NOT NULL UNIQUE,
	source              TEXT    NOT NULL,
	idx                 BIGINT  NOT NULL,
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
	received_at         BIGINT  NOT NULL,
	authenticated       BOOLEAN NOT NULL
);
CREATE INDEX records_message ON records (message_id);
CREATE INDEX records_received ON records (received_at);
CREATE INDEX records_address ON records (address, received_at);
CREATE INDEX records_domain ON records (recipient_domain, received_at);
CREATE INDEX records_reason ON records (reason, received_at);
CREATE INDEX records_class ON records (class, received_at);

-- Suppression state per address (suppress.State). Rows are locked with
-- SELECT ... FOR UPDATE while a record is scored, so that instances sharing
-- the database do not lose each other's counts.
CREATE TABLE addresses (
	address      TEXT    PRIMARY KEY, -- lower-cased
	soft_count   INTEGER NOT NULL DEFAULT 0,
	window_start BIGINT  NOT NULL DEFAULT 0,
	last_bounce  BIGINT  NOT NULL DEFAULT 0,
	suppressed   BOOLEAN NOT NULL DEFAULT false,
	cause        TEXT    NOT NULL DEFAULT '',
	reason       TEXT    NOT NULL DEFAULT '',
	since        BIGINT  NOT NULL DEFAULT 0,
	expires      BIGINT  NOT NULL DEFAULT 0,
	evidence     TEXT[]  NOT NULL DEFAULT '{}' -- record keys
);
CREATE INDEX addresses_suppressed ON addresses (address) WHERE suppressed;

-- Sending-side incidents: blocks from one destination for one code.
CREATE TABLE incidents (
	id         BIGSERIAL PRIMARY KEY,
	domain     TEXT    NOT NULL,
	code       TEXT    NOT NULL, -- status, else reason
	status     TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	sample     TEXT    NOT NULL,
	first_seen BIGINT  NOT NULL,
	last_seen  BIGINT  NOT NULL,
	count      INTEGER NOT NULL
);
CREATE INDEX incidents_key ON incidents (domain, code, last_seen);
CREATE INDEX incidents_last_seen ON incidents (last_seen);
