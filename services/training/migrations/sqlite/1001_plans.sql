-- Training plans (SQLite). The plan's days, exercises and prescriptions are one
-- JSON document: always read and written whole, never queried inside.

CREATE TABLE plans (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX plans_owner ON plans (owner_id, id);
