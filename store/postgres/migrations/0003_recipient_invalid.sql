-- What a report named as a recipient when it was no mail address
-- (record.Record RecipientInvalid): the record then has no recipient and
-- no address, and is never scored into a suppression. Rows stored before
-- read back with it empty. A column with a constant default is added
-- without rewriting the table (PostgreSQL 11 and later).
ALTER TABLE records ADD COLUMN recipient_invalid TEXT NOT NULL DEFAULT '';
