-- What a report named as a recipient when it was no mail address
-- (record.Record RecipientInvalid): the record then has no recipient and
-- no address, and is never scored into a suppression. Rows stored before
-- read back with it empty. No row is rewritten.
ALTER TABLE records ADD COLUMN recipient_invalid TEXT NOT NULL DEFAULT '';
