-- Coaching relationships (postgres): a coach invites, the athlete accepts or declines,
-- either side ends it. At most one open (pending or accepted) relationship per
-- pair; declined and ended ones stay as history.

CREATE TABLE coach_links (
    id         BIGINT PRIMARY KEY,
    coach_id   BIGINT NOT NULL,
    athlete_id BIGINT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX coach_links_open ON coach_links (coach_id, athlete_id)
    WHERE status IN ('pending', 'accepted');
CREATE INDEX coach_links_athlete ON coach_links (athlete_id, id);

-- Plans a coach assigned: the athlete owns them, the coach may read and change them.
ALTER TABLE plans ADD COLUMN assigned_by BIGINT;
CREATE INDEX plans_assigned_by ON plans (assigned_by, owner_id, id);
