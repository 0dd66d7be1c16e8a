-- The confidence of each record's verdict and what decided it
-- (record.Record Confidence, Evidence), and which evidence of a suppression
-- state were hard bounces with low confidence (suppress.State
-- LowConfidence). Rows stored before read back with an empty confidence,
-- which means high: those verdicts were scored as sure, and keep that
-- meaning (suppress.LowConfidence). No row is rewritten.
ALTER TABLE records ADD COLUMN confidence TEXT NOT NULL DEFAULT '';
ALTER TABLE records ADD COLUMN evidence TEXT NOT NULL DEFAULT '';
ALTER TABLE addresses ADD COLUMN low_confidence TEXT NOT NULL DEFAULT '[]'; -- JSON array of record keys
