-- The auth service's tables. Instants are unix milliseconds (INTEGER) in both
-- dialects, so expiry comparisons are the same SQL on SQLite and PostgreSQL.

-- Sign-in credentials; the profile itself lives in the users service.
CREATE TABLE credentials (
    user_id       INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    roles         TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX credentials_email_key ON credentials (email);

-- Registered OAuth clients (the built-in `vigor-web` is configuration, not a row).
-- Lists (redirect URIs, grant types, scopes) are space-separated.
CREATE TABLE oauth_clients (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    confidential  INTEGER NOT NULL,
    secret_hash   TEXT,
    redirect_uris TEXT    NOT NULL,
    grant_types   TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    first_party   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Authorization codes, stored by hash; single use (`used_at`), bound to client,
-- redirect URI and PKCE challenge. `family_id` is the refresh family the code was
-- exchanged for, revoked when the code is presented again.
CREATE TABLE authorization_codes (
    code_hash      TEXT    PRIMARY KEY,
    client_id      TEXT    NOT NULL,
    user_id        INTEGER NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    family_id      INTEGER
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- A refresh family: every refresh token descending from one sign-in. Revoking the
-- family (logout, reuse of a rotated token) ends them all.
CREATE TABLE refresh_families (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    client_id  TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_client ON refresh_families (client_id);

-- Refresh tokens, stored by hash; `rotated_at` is set when the token was exchanged.
CREATE TABLE refresh_tokens (
    token_hash TEXT    PRIMARY KEY,
    family_id  INTEGER NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Ed25519 signing keys (PKCS#8 private key, raw 32-byte public key). At most one is
-- active; retired keys stay published until the tokens they signed expired.
CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    public_key  BLOB    NOT NULL,
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- Failed sign-ins per subject (`account:<email>` or `address:<ip>`) in a window.
CREATE TABLE login_failures (
    subject      TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);
