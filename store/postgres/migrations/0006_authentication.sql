-- How each record was tied to mail the sender sent (record.Record Auth),
-- and how its message was authenticated (store.Message AuthResults).
-- Rows stored before read back with both empty: their records were scored
-- before authentication existed, and an empty Auth still counts
-- (record.Record CountsForSuppression). Columns with a constant default are
-- added without rewriting the tables (PostgreSQL 11 and later).
ALTER TABLE records ADD COLUMN auth TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN auth_results TEXT NOT NULL DEFAULT '';

-- Messages the sender's application registered as sent (store.Sent), one
-- row per recipient: a report quoting a registered Message-ID for one of
-- its recipients is authenticated (record.AuthSent). message_id is kept
-- without angle brackets (store.MessageID), recipient normalized
-- (store.Address). Times are Unix nanoseconds. The primary key serves the
-- lookup of every report's Message-ID; sent_at serves pruning. The keys
-- compare byte by byte (COLLATE "C"), as in SQLite: recipients are listed
-- in the same order by both stores, and the index needs no locale.
CREATE TABLE sent_messages (
	message_id TEXT    COLLATE "C" NOT NULL,
	recipient  TEXT    COLLATE "C" NOT NULL,
	campaign   TEXT    NOT NULL,
	tenant     TEXT    NOT NULL,
	sent_at    BIGINT  NOT NULL,
	PRIMARY KEY (message_id, recipient)
);
CREATE INDEX sent_messages_sent_at ON sent_messages (sent_at);

-- The address behind each VERP token (package verp): a recipient too long
-- to be signed into a return path is named by a token instead.
CREATE TABLE verp_tokens (
	token      TEXT    COLLATE "C" PRIMARY KEY,
	address    TEXT    NOT NULL,
	created_at BIGINT  NOT NULL
);
