-- Chat messages (when social.messages = sql): see src/messages/mod.rs.
-- created_at is the time of the id; a deleted message keeps its row with an empty body.
CREATE TABLE messages (
    id BIGINT PRIMARY KEY,
    channel_id BIGINT NOT NULL,
    author_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    edited_at BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    reply_to BIGINT,
    client_msg_id TEXT
);
CREATE INDEX messages_channel ON messages (channel_id, id);
-- A retried send names the message already stored (NULLs never collide).
CREATE UNIQUE INDEX messages_client_msg_id ON messages (channel_id, author_id, client_msg_id);

-- One row per (message, emoji, user): the key is the one-per-user rule.
CREATE TABLE message_reactions (
    message_id BIGINT NOT NULL,
    emoji TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE INDEX message_reactions_channel ON message_reactions (channel_id, message_id);

CREATE TABLE message_read_state (
    channel_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    last_read BIGINT NOT NULL,
    PRIMARY KEY (channel_id, member_id)
);
