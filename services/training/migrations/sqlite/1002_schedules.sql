-- Plans on the calendar (SQLite): a weekly pattern (",mon,wed,fri,") from a start
-- date (YYYY-MM-DD, the user's local date) in an IANA time zone.

CREATE TABLE schedules (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL,
    plan_id    INTEGER NOT NULL REFERENCES plans (id),
    start_date TEXT NOT NULL,
    weekdays   TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX schedules_owner ON schedules (owner_id, id);
