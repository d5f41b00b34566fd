-- Gamification (postgres). Instants are Unix milliseconds (BIGINT), ids 64-bit.
--
-- What a user did is kept per source (one row per workout, counters per social
-- act), never only as totals: an edited or deleted workout replaces or removes its
-- row and everything derived (XP, level, streaks, challenge progress, scores) is
-- recomputed from the rows, so it moves back exactly.

-- A user's own settings and the counters that come from other services' events.
CREATE TABLE player_state (
    user_id            BIGINT PRIMARY KEY,
    time_zone          TEXT,
    rest_days          BIGINT,
    xp                 BIGINT NOT NULL DEFAULT 0,
    level              BIGINT NOT NULL DEFAULT 1,
    best_level         BIGINT NOT NULL DEFAULT 1,
    kudos_received     BIGINT NOT NULL DEFAULT 0,
    kudos_given        BIGINT NOT NULL DEFAULT 0,
    comments_written   BIGINT NOT NULL DEFAULT 0,
    communities_joined BIGINT NOT NULL DEFAULT 0,
    updated_at         BIGINT NOT NULL
);

-- What each workout contributes: replaced on update, removed on delete.
CREATE TABLE contributions (
    workout_id   BIGINT PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    sport        TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    xp           BIGINT NOT NULL,
    distance_m   BIGINT NOT NULL,
    duration_s   BIGINT NOT NULL,
    volume_kg    BIGINT NOT NULL,
    records      BIGINT NOT NULL
);
CREATE INDEX contributions_user ON contributions (user_id, started_at);

-- Earned achievements: exactly once per user, achievement and tier.
CREATE TABLE unlocks (
    user_id     BIGINT NOT NULL,
    achievement TEXT NOT NULL,
    tier        BIGINT NOT NULL,
    points      BIGINT NOT NULL,
    unlocked_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, achievement, tier)
);

-- Rewards: points and badges, one row per achievement tier or challenge completed.
CREATE TABLE ledger (
    id        BIGINT PRIMARY KEY,
    user_id   BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    source    TEXT NOT NULL,
    points    BIGINT NOT NULL,
    badge     TEXT,
    at        BIGINT NOT NULL
);
CREATE INDEX ledger_user ON ledger (user_id, id);

-- Time-boxed goals, global (community_id NULL) or of one community.
CREATE TABLE challenges (
    id           BIGINT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    metric       TEXT NOT NULL,
    goal         BIGINT NOT NULL,
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    community_id BIGINT,
    points       BIGINT NOT NULL,
    created_by   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE challenge_participants (
    challenge_id BIGINT NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL,
    joined_at    BIGINT NOT NULL,
    progress     BIGINT NOT NULL DEFAULT 0,
    completed_at BIGINT,
    PRIMARY KEY (challenge_id, user_id)
);
CREATE INDEX challenge_participants_user ON challenge_participants (user_id);

-- Communities a user belongs to, as social announced (community challenges).
CREATE TABLE memberships (
    community_id BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

-- The durable score log: every leaderboard entry (one per board instance and
-- user), the truth a flushed or new board store is rebuilt from. `period_at` is
-- an instant inside the instance's period, from which the instance is made again.
CREATE TABLE scores (
    board       TEXT NOT NULL,
    scope       TEXT NOT NULL,
    period      TEXT NOT NULL,
    user_id     BIGINT NOT NULL,
    win         TEXT NOT NULL,
    period_at   BIGINT NOT NULL,
    score       BIGINT NOT NULL,
    achieved_at BIGINT NOT NULL,
    PRIMARY KEY (board, scope, period, user_id)
);
CREATE INDEX scores_user ON scores (user_id);
