//! A user's training history as the analysis reads it: flat rows of logged sets
//! and one summary per session, without the rest of each workout.
//!
//! The store answers these with one query each, so records and stats over years
//! of workouts never load whole workouts.

use std::collections::BTreeMap;

use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::analysis::records::{flags_by_workout, RecordSet};
use super::analysis::strength::OneRepMaxFormula;
use super::workout::Workout;

use super::kinds::{SetType, Sport};
use super::units::{Bpm, Kilograms, Meters, Reps, Rpe};
use super::workout::EffortRecord;

/// One logged set with its workout's id and date.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedSet {
    /// The workout.
    pub workout_id: Id,
    /// When the workout started.
    pub performed_at: Timestamp,
    /// The exercise.
    pub exercise_id: Id,
    /// Its role.
    pub set_type: SetType,
    /// Load.
    pub weight: Option<Kilograms>,
    /// Repetitions.
    pub reps: Option<Reps>,
    /// Whether it was done.
    pub done: bool,
}

/// One session, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    /// The workout.
    pub workout_id: Id,
    /// Its sport.
    pub sport: Sport,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Distance, when known.
    pub distance: Option<Meters>,
    /// Moving time in seconds, when known.
    pub moving_time_s: Option<f64>,
    /// Session RPE, when rated.
    pub rpe: Option<Rpe>,
    /// Average heart rate, when known.
    pub avg_heart_rate: Option<Bpm>,
    /// Volume load of its counted sets, kg (a sum, so not bounded like a bar load).
    pub volume_kg: f64,
    /// Best efforts found in its track.
    pub best_efforts: Vec<EffortRecord>,
}

impl SessionSummary {
    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        (self.ended_at - self.started_at).num_milliseconds().max(0) as f64 / 1000.0
    }
}

/// A user's whole history: what personal records are judged against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Every logged set with a load, oldest workout first.
    pub sets: Vec<LoggedSet>,
    /// Every session, oldest first.
    pub sessions: Vec<SessionSummary>,
}

impl History {
    /// The history with `w` as it is now (replacing what was stored of it), to
    /// judge a workout before it is stored.
    pub fn with(self, w: &Workout) -> History {
        let mut h = self.without(w.id);
        let c = &w.content;
        for e in &c.exercises {
            for s in &e.sets {
                if let (Some(weight), Some(reps)) = (s.weight_kg, s.reps) {
                    h.sets.push(LoggedSet {
                        workout_id: w.id,
                        performed_at: c.started_at,
                        exercise_id: e.exercise_id,
                        set_type: s.set_type,
                        weight: Some(weight),
                        reps: Some(reps),
                        done: s.done,
                    });
                }
            }
        }
        h.sessions.push(SessionSummary {
            workout_id: w.id,
            sport: c.sport,
            started_at: c.started_at,
            ended_at: c.ended_at,
            distance: c.distance,
            moving_time_s: c.moving_time.map(|d| d.as_secs_f64()),
            rpe: c.rpe,
            avg_heart_rate: c.avg_heart_rate,
            volume_kg: c.volume().get(),
            best_efforts: w
                .track
                .as_ref()
                .map(|t| t.best_efforts.clone())
                .unwrap_or_default(),
        });
        h
    }

    /// The history without workout `id`.
    pub fn without(mut self, id: Id) -> History {
        self.sets.retain(|s| s.workout_id != id);
        self.sessions.retain(|s| s.workout_id != id);
        self
    }

    /// The records every workout of it set (estimated 1RM by Epley), as stored
    /// on the workouts.
    pub fn flags(&self) -> BTreeMap<Id, Vec<RecordSet>> {
        flags_by_workout(&self.sets, &self.sessions, OneRepMaxFormula::Epley)
    }
}
