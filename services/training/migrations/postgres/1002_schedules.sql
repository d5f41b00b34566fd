-- Plans on the calendar (PostgreSQL): a weekly pattern (",mon,wed,fri,") from a start
-- date (YYYY-MM-DD, the user's local date) in an IANA time zone.

CREATE TABLE schedules (
    id         BIGINT PRIMARY KEY,
    owner_id   BIGINT NOT NULL,
    plan_id    BIGINT NOT NULL REFERENCES plans (id),
    start_date TEXT NOT NULL,
    weekdays   TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX schedules_owner ON schedules (owner_id, id);
