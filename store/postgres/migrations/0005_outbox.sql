-- The webhook outbox (store.Event), written in the transaction of the change
-- it tells of while webhooks are configured. Times are Unix nanoseconds.
CREATE TABLE events (
	id      BIGSERIAL PRIMARY KEY,
	type    TEXT    NOT NULL,
	time    BIGINT NOT NULL,
	payload TEXT    NOT NULL -- JSON
);
CREATE INDEX events_time ON events (time);

-- The history of every address's suppression (store.SuppressionChange),
-- by the policy or by hand.
CREATE TABLE suppression_changes (
	id         BIGSERIAL PRIMARY KEY,
	address    TEXT    NOT NULL,
	time       BIGINT NOT NULL,
	action     TEXT    NOT NULL,
	cause      TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	expires    BIGINT NOT NULL,
	actor      TEXT    NOT NULL,
	note       TEXT    NOT NULL,
	record_key TEXT    NOT NULL
);
CREATE INDEX suppression_changes_address ON suppression_changes (address, id);

-- Delivery state of each webhook endpoint (store.EndpointState).
CREATE TABLE webhook_endpoints (
	name         TEXT    PRIMARY KEY,
	last_event   BIGINT NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt BIGINT NOT NULL,
	last_error   TEXT    NOT NULL,
	owner        TEXT    NOT NULL,
	lease_until  BIGINT NOT NULL
);

-- Each endpoint's delivery log (store.DeliveryAttempt).
CREATE TABLE webhook_deliveries (
	id       BIGSERIAL PRIMARY KEY,
	endpoint TEXT    NOT NULL,
	event_id BIGINT NOT NULL,
	time     BIGINT NOT NULL,
	attempt  INTEGER NOT NULL,
	status   INTEGER NOT NULL,
	error    TEXT    NOT NULL,
	duration BIGINT NOT NULL,
	outcome  TEXT    NOT NULL,
	replay   BOOLEAN NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint, id);
CREATE INDEX webhook_deliveries_time ON webhook_deliveries (time);

-- Events an endpoint failed to take within its attempts (store.DeadLetter).
CREATE TABLE webhook_dead (
	endpoint   TEXT    NOT NULL,
	event_id   BIGINT NOT NULL,
	time       BIGINT NOT NULL,
	attempts   INTEGER NOT NULL,
	last_error TEXT    NOT NULL,
	replay     BOOLEAN NOT NULL,
	PRIMARY KEY (endpoint, event_id)
);
