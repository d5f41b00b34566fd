-- Tables every service has. Versions below 1000 are shared; a service's own start at 1000.

-- Events written in the same transaction as the change they describe, then relayed
-- to the event bus; an event survives a bus outage.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    topic        TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    published_at TEXT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Event ids a consumer group has handled, so redelivered events are applied once.
CREATE TABLE processed_events (
    consumer_group TEXT    NOT NULL,
    event_id       INTEGER NOT NULL,
    processed_at   TEXT    NOT NULL,
    PRIMARY KEY (consumer_group, event_id)
);

-- Responses to creating POSTs, replayed for a repeated Idempotency-Key.
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER,
    content_type TEXT,
    body         BLOB,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (scope, key)
);
