-- Coaching relationships (sqlite): a coach invites, the athlete accepts or declines,
-- either side ends it. At most one open (pending or accepted) relationship per
-- pair; declined and ended ones stay as history.

CREATE TABLE coach_links (
    id         INTEGER PRIMARY KEY,
    coach_id   INTEGER NOT NULL,
    athlete_id INTEGER NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX coach_links_open ON coach_links (coach_id, athlete_id)
    WHERE status IN ('pending', 'accepted');
CREATE INDEX coach_links_athlete ON coach_links (athlete_id, id);

-- Plans a coach assigned: the athlete owns them, the coach may read and change them.
ALTER TABLE plans ADD COLUMN assigned_by INTEGER;
CREATE INDEX plans_assigned_by ON plans (assigned_by, owner_id, id);
