-- Training plans (PostgreSQL). The plan's days, exercises and prescriptions are one
-- JSON document: always read and written whole, never queried inside.

CREATE TABLE plans (
    id         BIGINT PRIMARY KEY,
    owner_id   BIGINT NOT NULL,
    name       TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX plans_owner ON plans (owner_id, id);
