-- Who follows whom, learned from the social service's follow events, for the
-- `followers` privacy of workouts. `following` false keeps the last event of a
-- pair, so an older event delivered late cannot bring a follow back.
CREATE TABLE followers (
    owner_id BIGINT NOT NULL,
    follower_id BIGINT NOT NULL,
    following BOOLEAN NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (owner_id, follower_id)
);
CREATE INDEX followers_follower ON followers (follower_id);
