-- How many recipients a report named beyond the decoder's limit
-- (store.Message TruncatedRecipients): the message is stored whole, with
-- records for its first recipients only. Messages stored before read back
-- with 0. No row is rewritten.
ALTER TABLE messages ADD COLUMN truncated_recipients INTEGER NOT NULL DEFAULT 0;
