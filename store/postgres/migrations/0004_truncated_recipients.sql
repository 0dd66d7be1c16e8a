-- How many recipients a report named beyond the decoder's limit
-- (store.Message TruncatedRecipients): the message is stored whole, with
-- records for its first recipients only. Messages stored before read back
-- with 0. A column with a constant default is added without rewriting the
-- table (PostgreSQL 11 and later).
ALTER TABLE messages ADD COLUMN truncated_recipients INTEGER NOT NULL DEFAULT 0;
