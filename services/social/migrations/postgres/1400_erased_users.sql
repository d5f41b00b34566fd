-- Users whose data was erased (`user.deleted`): a late event of theirs from
-- another stream (a workout logged just before the deletion) does not bring a
-- feed item back.
CREATE TABLE erased_users (
    user_id BIGINT PRIMARY KEY
);
