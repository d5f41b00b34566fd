-- Who may see each profile, as users announces it (`user.privacy_changed`);
-- the newest event of a user wins. A user without a row has a public profile.
-- Follows of a profile that is not public wait for the owner's approval.
CREATE TABLE profile_privacy (
    user_id BIGINT PRIMARY KEY,
    visibility TEXT NOT NULL,
    event_id BIGINT NOT NULL
);
