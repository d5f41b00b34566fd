-- The personal records each workout set (sqlite): a JSON array of RecordSet per
-- workout, rewritten (in the transaction of the workout's change) whenever a
-- change to the owner's history changes them. A workout without a row has not
-- had its flags stored yet: readers compute them from the history instead.

CREATE TABLE workout_records (
    workout_id INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL,
    records    TEXT NOT NULL
);
CREATE INDEX workout_records_owner ON workout_records (owner_id);
