-- The training service's tables (SQLite). Times are Unix milliseconds (INTEGER);
-- list columns hold slugs as ",a,b," so `LIKE '%,a,%'` matches one exactly.

CREATE TABLE exercises (
    id                INTEGER PRIMARY KEY,
    owner_id          INTEGER,               -- NULL: the shared catalogue
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
    created_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX exercises_slug_key ON exercises (slug);
CREATE INDEX exercises_owner_name ON exercises (owner_id, name_search, id);
CREATE INDEX exercises_name ON exercises (name_search, id);

CREATE TABLE workouts (
    id               INTEGER PRIMARY KEY,
    owner_id         INTEGER NOT NULL,
    sport            TEXT NOT NULL,
    title            TEXT NOT NULL,
    notes            TEXT NOT NULL,
    privacy          TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER NOT NULL,
    moving_time_s    REAL,
    distance_m       REAL,
    elevation_gain_m REAL,
    avg_heart_rate   INTEGER,
    max_heart_rate   INTEGER,
    calories         INTEGER,
    rpe              REAL,
    source           TEXT NOT NULL,
    track            TEXT,                   -- JSON TrackAnalysis of imports
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX workouts_owner_started ON workouts (owner_id, started_at);

CREATE TABLE workout_sets (
    workout_id   INTEGER NOT NULL REFERENCES workouts (id) ON DELETE CASCADE,
    entry        INTEGER NOT NULL,           -- index of the exercise in the workout
    position     INTEGER NOT NULL,           -- index of the set in the exercise
    exercise_id  INTEGER NOT NULL,
    set_type     TEXT,                       -- NULL: an exercise entry without sets
    weight_kg    REAL,
    reps         INTEGER,
    rpe          REAL,
    duration_s   REAL,
    distance_m   REAL,
    done         BOOLEAN NOT NULL,
    PRIMARY KEY (workout_id, entry, position)
);
CREATE INDEX workout_sets_exercise ON workout_sets (exercise_id);
