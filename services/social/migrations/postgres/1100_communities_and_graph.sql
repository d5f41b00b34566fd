-- Communities, their members and channels; direct and group chats; the follow
-- graph and blocks. See src/store/mod.rs. Times are Unix milliseconds.
CREATE TABLE communities (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    visibility TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- status: active, requested (asked to join an invite-only community) or invited.
CREATE TABLE community_members (
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    muted_until BIGINT,
    since BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);
CREATE INDEX community_members_user ON community_members (user_id);

-- until NULL: banned until lifted.
CREATE TABLE community_bans (
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    until BIGINT,
    banned_by BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

-- kind: community (community_id and name set), dm (dm_key 'low:high' set) or group.
CREATE TABLE channels (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    community_id BIGINT REFERENCES communities (id) ON DELETE CASCADE,
    name TEXT,
    dm_key TEXT,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX channels_community_name ON channels (community_id, name);
CREATE UNIQUE INDEX channels_dm_key ON channels (dm_key);

-- Members of direct and group chats (a community channel's are the community's).
CREATE TABLE channel_members (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_members_user ON channel_members (user_id);

-- status: active, or pending (waiting for a private profile's approval).
CREATE TABLE follows (
    follower_id BIGINT NOT NULL,
    followee_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id, status, follower_id);

CREATE TABLE blocks (
    blocker_id BIGINT NOT NULL,
    blocked_id BIGINT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id);

-- Moderation and membership changes, for a community's moderators.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    community_id BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    target_user BIGINT,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_community ON audit_log (community_id, id);
