-- The confidence of each record's verdict and what decided it
-- (record.Record Confidence, Evidence), and which evidence of a suppression
-- state were hard bounces with low confidence (suppress.State
-- LowConfidence). Rows stored before read back with an empty confidence,
-- which means high: those verdicts were scored as sure, and keep that
-- meaning (suppress.LowConfidence). Columns with a constant default are
-- added without rewriting the table (PostgreSQL 11 and later).
ALTER TABLE records
	ADD COLUMN confidence TEXT NOT NULL DEFAULT '',
	ADD COLUMN evidence   TEXT NOT NULL DEFAULT '';
ALTER TABLE addresses
	ADD COLUMN low_confidence TEXT[] NOT NULL DEFAULT '{}'; -- record keys, a subset of evidence
