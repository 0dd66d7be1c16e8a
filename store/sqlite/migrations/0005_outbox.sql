-- The webhook outbox (store.Event), written in the transaction of the change
-- it tells of while webhooks are configured. Times are Unix nanoseconds.
CREATE TABLE events (
	id      INTEGER PRIMARY KEY,
	type    TEXT    NOT NULL,
	time    INTEGER NOT NULL,
	payload TEXT    NOT NULL -- JSON
) STRICT;
CREATE INDEX events_time ON events (time);

-- The history of every address's suppression (store.SuppressionChange),
-- by the policy or by hand.
CREATE TABLE suppression_changes (
	id         INTEGER PRIMARY KEY,
	address    TEXT    NOT NULL,
	time       INTEGER NOT NULL,
	action     TEXT    NOT NULL,
	cause      TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	expires    INTEGER NOT NULL,
	actor      TEXT    NOT NULL,
	note       TEXT    NOT NULL,
	record_key TEXT    NOT NULL
) STRICT;
CREATE INDEX suppression_changes_address ON suppression_changes (address, id);

-- Delivery state of each webhook endpoint (store.EndpointState).
CREATE TABLE webhook_endpoints (
	name         TEXT    PRIMARY KEY,
	last_event   INTEGER NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	last_error   TEXT    NOT NULL,
	owner        TEXT    NOT NULL,
	lease_until  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Each endpoint's delivery log (store.DeliveryAttempt).
CREATE TABLE webhook_deliveries (
	id       INTEGER PRIMARY KEY,
	endpoint TEXT    NOT NULL,
	event_id INTEGER NOT NULL,
	time     INTEGER NOT NULL,
	attempt  INTEGER NOT NULL,
	status   INTEGER NOT NULL,
	error    TEXT    NOT NULL,
	duration INTEGER NOT NULL,
	outcome  TEXT    NOT NULL,
	replay   INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint, id);
CREATE INDEX webhook_deliveries_time ON webhook_deliveries (time);

-- Events an endpoint failed to take within its attempts (store.DeadLetter).
CREATE TABLE webhook_dead (
	endpoint   TEXT    NOT NULL,
	event_id   INTEGER NOT NULL,
	time       INTEGER NOT NULL,
	attempts   INTEGER NOT NULL,
	last_error TEXT    NOT NULL,
	replay     INTEGER NOT NULL,
	PRIMARY KEY (endpoint, event_id)
) STRICT, WITHOUT ROWID;
