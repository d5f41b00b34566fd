-- Users whose game was erased (`user.deleted`): a late event of theirs from
-- another stream (a workout logged just before the deletion) starts nothing
-- again.
CREATE TABLE erased_users (
    user_id BIGINT PRIMARY KEY
);
