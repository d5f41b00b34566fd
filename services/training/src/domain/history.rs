//! A user's training history as the analysis reads it: flat rows of logged sets
//! and one summary per session, without the rest of each workout.
//!
//! The store answers these with one query each, so records and stats over years
//! of workouts never load whole workouts.

use vigor_common::api::Timestamp;
use vigor_common::Id;

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
