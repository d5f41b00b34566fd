-- The training service's tables (PostgreSQL). Times are Unix milliseconds (BIGINT);
-- list columns hold slugs as ",a,b," so `LIKE '%,a,%'` matches one exactly.

CREATE TABLE exercises (
    id                BIGINT PRIMARY KEY,
    owner_id          BIGINT,               -- NULL: the shared catalogue
    slug              TEXT,                  -- catalogue exercises only
    name              TEXT NOT NULL,
    name_search       TEXT NOT NULL,         -- lower-cased name, for search and order
    description       TEXT NOT NULL,
    category          TEXT NOT NULL,
    primary_muscles   TEXT NOT NULL,
    secondary_muscles TEXT NOT NULL,
    equipment         TEXT NOT NULL,
    mechanics         TEXT NOT NULL,
    unilateral        BOOLEAN NOT NULL,
    measurement       TEXT NOT NULL,
    source            TEXT,                  -- JSON attribution of catalogue entries
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX exercises_slug_key ON exercises (slug);
CREATE INDEX exercises_owner_name ON exercises (owner_id, name_search, id);
CREATE INDEX exercises_name ON exercises (name_search, id);

CREATE TABLE workouts (
    id               BIGINT PRIMARY KEY,
    owner_id         BIGINT NOT NULL,
    sport            TEXT NOT NULL,
    title            TEXT NOT NULL,
    notes            TEXT NOT NULL,
    privacy          TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    ended_at         BIGINT NOT NULL,
    moving_time_s    DOUBLE PRECISION,
    distance_m       DOUBLE PRECISION,
    elevation_gain_m DOUBLE PRECISION,
    avg_heart_rate   BIGINT,
    max_heart_rate   BIGINT,
    calories         BIGINT,
    rpe              DOUBLE PRECISION,
    source           TEXT NOT NULL,
    track            TEXT,                   -- JSON TrackAnalysis of imports
    version          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX workouts_owner_started ON workouts (owner_id, started_at);

CREATE TABLE workout_sets (
    workout_id   BIGINT NOT NULL REFERENCES workouts (id) ON DELETE CASCADE,
    entry        BIGINT NOT NULL,           -- index of the exercise in the workout
    position     BIGINT NOT NULL,           -- index of the set in the exercise
    exercise_id  BIGINT NOT NULL,
    set_type     TEXT,                       -- NULL: an exercise entry without sets
    weight_kg    DOUBLE PRECISION,
    reps         BIGINT,
    rpe          DOUBLE PRECISION,
    duration_s   DOUBLE PRECISION,
    distance_m   DOUBLE PRECISION,
    done         BOOLEAN NOT NULL,
    PRIMARY KEY (workout_id, entry, position)
);
CREATE INDEX workout_sets_exercise ON workout_sets (exercise_id);
