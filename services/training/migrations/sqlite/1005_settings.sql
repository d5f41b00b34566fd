-- Athletes' own settings (sqlite): heart-rate anchors for zones and TRIMP; NULL is
-- unset (the defaults apply).

CREATE TABLE athlete_settings (
    user_id    INTEGER PRIMARY KEY,
    max_hr     INTEGER,
    resting_hr INTEGER,
    updated_at INTEGER NOT NULL
);
