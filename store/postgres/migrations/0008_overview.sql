-- Rollups of the records for store.Overview (see sqlstore.Rollups): counts
-- by hour, and by day (00:00 UTC), of one class with one key of one
-- dimension (dim: 0 the class series with key '', 1 reason, 2 recipient
-- domain, 3 provider). They are counted in the transaction that stores the
-- records, and filled from the records already stored when the schema
-- gains them. Retention does not touch them: an overview keeps counting
-- pruned records. Units are hours and days since the Unix epoch; each
-- writer takes a shard per transaction, so that writers counting the same
-- hour and class do not wait for each other on one row.
CREATE TABLE rollup_hours (
	dim   INTEGER NOT NULL,
	hour  BIGINT  NOT NULL,
	key   TEXT    NOT NULL,
	class TEXT    NOT NULL,
	shard INTEGER NOT NULL,
	count BIGINT  NOT NULL,
	PRIMARY KEY (dim, key, hour, class, shard) INCLUDE (count)
);
CREATE TABLE rollup_days (
	dim   INTEGER NOT NULL,
	day   BIGINT  NOT NULL,
	key   TEXT    NOT NULL,
	class TEXT    NOT NULL,
	shard INTEGER NOT NULL,
	count BIGINT  NOT NULL,
	PRIMARY KEY (dim, key, day, class, shard) INCLUDE (count)
);
-- The primary keys serve the counts of one key (the class series is the
-- key ''), the indexes by count the search for the keys that may be among
-- the top ones (sqlstore.Reads Overview); both cover what is read of
-- them, so that rows no longer written are read from the index alone.
CREATE INDEX rollup_hours_count ON rollup_hours (dim, hour, count) INCLUDE (key);
CREATE INDEX rollup_days_count ON rollup_days (dim, day, count) INCLUDE (key);

-- The distinct recipient addresses of each incident's block records
-- (store.Incident Recipients).
CREATE TABLE incident_recipients (
	incident_id BIGINT  NOT NULL,
	address     TEXT    NOT NULL,
	PRIMARY KEY (incident_id, address)
);

-- Records by the Message-ID of their original message (store.Query
-- MessageID), on its first 200 characters so that no absurd header makes
-- an entry too large for an index page on any backend.
CREATE INDEX records_original_message_id ON records (substr(original_message_id, 1, 200));
