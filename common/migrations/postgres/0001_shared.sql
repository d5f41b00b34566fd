-- Tables every service has. Versions below 1000 are shared; a service's own start at 1000.

-- Events written in the same transaction as the change they describe, then relayed
-- to the event bus; an event survives a bus outage.
CREATE TABLE outbox (
    id           BIGINT      PRIMARY KEY,
    topic        TEXT        NOT NULL,
    event        JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Event ids a consumer group has handled, so redelivered events are applied once.
CREATE TABLE processed_events (
    consumer_group TEXT        NOT NULL,
    event_id       BIGINT      NOT NULL,
    processed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer_group, event_id)
);

-- Responses to creating POSTs, replayed for a repeated Idempotency-Key.
CREATE TABLE idempotency_keys (
    scope        TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    request_hash TEXT        NOT NULL,
    status       INTEGER,
    content_type TEXT,
    body         BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
