-- The feed (fan-out on read: see src/service/feed.rs), kudos, comments, and
-- the queue of reported messages. Times are Unix milliseconds.

-- kind: workout, achievement, level, challenge or post. source_key names what
-- the item shows (`workout:{id}`, `achievement:{user}:{key}:{tier}`, …) so a
-- redelivered or repeated source event finds its item. privacy: public,
-- followers or private (only the owner). community_id: a post's community, or
-- the community of a community challenge.
CREATE TABLE feed_items (
    id BIGINT PRIMARY KEY,
    owner_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    source_key TEXT NOT NULL,
    community_id BIGINT,
    privacy TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    data TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX feed_items_source ON feed_items (source_key);
CREATE INDEX feed_items_owner ON feed_items (owner_id, occurred_at, id);
CREATE INDEX feed_items_community ON feed_items (community_id, occurred_at, id);

-- Sources that are gone (a deleted workout): a late or redelivered event of
-- theirs does not bring the item back.
CREATE TABLE feed_tombstones (
    source_key TEXT PRIMARY KEY
);

CREATE TABLE kudos (
    item_id BIGINT NOT NULL REFERENCES feed_items (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (item_id, user_id)
);
CREATE INDEX kudos_user ON kudos (user_id);

CREATE TABLE comments (
    id BIGINT PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES feed_items (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX comments_item ON comments (item_id, id);
CREATE INDEX comments_author ON comments (author_id);

-- Reported messages. community_id: the community of a community channel (its
-- moderators handle it); NULL for direct and group chats (platform admins).
-- status: open, dismissed or removed (the message was removed).
CREATE TABLE reports (
    id BIGINT PRIMARY KEY,
    channel_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    community_id BIGINT,
    author_id BIGINT NOT NULL,
    reporter_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_by BIGINT,
    resolved_at BIGINT
);
CREATE UNIQUE INDEX reports_once ON reports (message_id, reporter_id);
CREATE INDEX reports_queue ON reports (community_id, status, id);
