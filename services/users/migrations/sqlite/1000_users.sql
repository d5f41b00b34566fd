-- The users service's tables. Instants are unix milliseconds, lists (roles) are
-- space-separated, so the same SQL runs on SQLite and PostgreSQL.

-- One profile per account, made when `user.signed_up` arrives. `email` is a copy
-- of the auth service's (shown only to its owner); `name_key` is the lowercased
-- display name, for prefix search.
CREATE TABLE profiles (
    user_id            INTEGER PRIMARY KEY,
    email              TEXT    NOT NULL,
    display_name       TEXT    NOT NULL,
    name_key           TEXT    NOT NULL,
    avatar_url         TEXT,
    bio                TEXT,
    units              TEXT    NOT NULL,
    time_zone          TEXT    NOT NULL,
    birth_year         INTEGER,
    height_cm          REAL,
    weight_kg          REAL,
    profile_visibility TEXT    NOT NULL,
    activity_privacy   TEXT    NOT NULL,
    roles              TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX profiles_name_key ON profiles (name_key, user_id);
