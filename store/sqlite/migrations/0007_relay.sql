-- The relay queue (store.RelayQueue): mail to a bounce domain that was no
-- report, stored and queued for the relay upstream in the transaction that
-- stored it. Times are Unix nanoseconds, 0 for none. A lease (lease_owner,
-- lease_until) keeps two instances from sending one item at once. An item
-- goes with its message; retention keeps the messages of queued items.
CREATE TABLE relay_queue (
	message_id   INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
	state        TEXT    NOT NULL, -- queued, sent or failed
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	last_error   TEXT    NOT NULL,
	updated_at   INTEGER NOT NULL,
	lease_owner  TEXT    NOT NULL,
	lease_until  INTEGER NOT NULL
) STRICT;
CREATE INDEX relay_queue_due ON relay_queue (next_attempt) WHERE state = 'queued';
CREATE INDEX relay_queue_state ON relay_queue (state, message_id);
