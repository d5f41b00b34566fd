-- Athletes' own settings (postgres): heart-rate anchors for zones and TRIMP; NULL is
-- unset (the defaults apply).

CREATE TABLE athlete_settings (
    user_id    BIGINT PRIMARY KEY,
    max_hr     BIGINT,
    resting_hr BIGINT,
    updated_at BIGINT NOT NULL
);
