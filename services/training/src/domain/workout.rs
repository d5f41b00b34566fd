//! Workouts: one logged session, strength (exercises with sets) or cardio
//! (sport, distance, time, heart rate), or both — the validated types.
//!
//! Requests arrive as drafts ([`super::draft`]) and are parsed into a
//! [`WorkoutContent`] whose every number has its unit and range; everything after
//! the edge works on it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::analysis::strength::{self, SetRecord};
use super::analysis::track::{Effort, Split};
use super::kinds::{Privacy, SetType, Sport};
use super::units::{Bpm, Kilograms, Meters, Reps, Rpe};

pub use super::draft::{DraftProblem, ExerciseDraft, SetDraft, WorkoutDraft};
/// The longest session accepted: two days (ultra races, multi-day hikes split).
pub const MAX_DURATION: Duration = Duration::from_secs(48 * 3600);
/// Most exercises in one workout.
pub const MAX_EXERCISES: usize = 100;
/// Most sets of one exercise.
pub const MAX_SETS: usize = 100;
/// Longest notes.
pub const MAX_NOTES: usize = 10_000;

/// One validated set.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkoutSet {
    /// Its role.
    pub set_type: SetType,
    /// Load in kg.
    pub weight_kg: Option<Kilograms>,
    /// Repetitions.
    pub reps: Option<Reps>,
    /// Perceived exertion.
    pub rpe: Option<Rpe>,
    /// Time in seconds.
    pub duration_s: Option<f64>,
    /// Distance in metres.
    pub distance_m: Option<Meters>,
    /// Whether it was done.
    pub done: bool,
}

/// One validated exercise entry.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkoutExercise {
    /// The exercise.
    pub exercise_id: Id,
    /// Its sets, in order.
    pub sets: Vec<WorkoutSet>,
}

/// Where a workout's data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkoutSource {
    /// Typed in.
    Manual,
    /// Imported from a GPX file.
    Gpx,
    /// Imported from a FIT file.
    Fit,
}

impl WorkoutSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkoutSource::Manual => "manual",
            WorkoutSource::Gpx => "gpx",
            WorkoutSource::Fit => "fit",
        }
    }

    /// From the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "manual" => WorkoutSource::Manual,
            "gpx" => WorkoutSource::Gpx,
            "fit" => WorkoutSource::Fit,
            _ => return None,
        })
    }
}

/// What the track analysis found, kept with an imported workout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackAnalysis {
    /// The simplified route, as an encoded polyline (precision 5).
    pub polyline: String,
    /// Kilometre splits.
    pub splits_km: Vec<SplitRecord>,
    /// Mile splits.
    pub splits_mile: Vec<SplitRecord>,
    /// Fastest standard distances inside the track.
    pub best_efforts: Vec<EffortRecord>,
    /// Seconds in heart-rate zones 1–5 (below 60 %, 60–70, 70–80, 80–90, from
    /// 90 % of the maximum heart rate), when heart rate was recorded.
    #[serde(default)]
    pub heart_rate_zones_s: Option<[f64; 5]>,
}

/// A stored split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SplitRecord {
    /// 1 for the first.
    pub number: u32,
    /// Metres.
    pub distance_m: f64,
    /// Seconds.
    pub duration_s: f64,
    /// Seconds per km.
    pub pace_s_per_km: f64,
}

impl From<&Split> for SplitRecord {
    fn from(s: &Split) -> Self {
        SplitRecord {
            number: s.number,
            distance_m: s.distance_m,
            duration_s: s.duration_s,
            pace_s_per_km: s.pace_s_per_km,
        }
    }
}

/// A stored best effort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EffortRecord {
    /// `1k`, `5k`, `10k`, `half_marathon`, `marathon`.
    pub name: String,
    /// Metres.
    pub distance_m: f64,
    /// Seconds.
    pub duration_s: f64,
    /// Where it started along the track, metres.
    pub start_m: f64,
}

impl EffortRecord {
    /// A named effort.
    pub fn new(name: &str, e: &Effort) -> Self {
        EffortRecord {
            name: name.to_owned(),
            distance_m: e.distance_m,
            duration_s: e.duration_s,
            start_m: e.start_m,
        }
    }
}

/// The validated content of a workout (what a user decides), without identity.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkoutContent {
    /// What kind.
    pub sport: Sport,
    /// Title.
    pub title: String,
    /// Notes.
    pub notes: String,
    /// Who may see it.
    pub privacy: Privacy,
    /// Start.
    pub started_at: Timestamp,
    /// End (after the start, within [`MAX_DURATION`]).
    pub ended_at: Timestamp,
    /// Time moving.
    pub moving_time: Option<Duration>,
    /// Distance.
    pub distance: Option<Meters>,
    /// Climb.
    pub elevation_gain: Option<Meters>,
    /// Average heart rate.
    pub avg_heart_rate: Option<Bpm>,
    /// Max heart rate (at least the average).
    pub max_heart_rate: Option<Bpm>,
    /// kcal.
    pub calories: Option<u32>,
    /// Session RPE.
    pub rpe: Option<Rpe>,
    /// Exercises.
    pub exercises: Vec<WorkoutExercise>,
}

/// A stored workout.
#[derive(Debug, Clone, PartialEq)]
pub struct Workout {
    /// Its id.
    pub id: Id,
    /// Its owner.
    pub owner_id: Id,
    /// What the user logged.
    pub content: WorkoutContent,
    /// Where it came from.
    pub source: WorkoutSource,
    /// Track analysis of an import.
    pub track: Option<TrackAnalysis>,
    /// Bumped on every change.
    pub version: i64,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl WorkoutContent {
    /// `ended_at − started_at`.
    pub fn duration(&self) -> Duration {
        (self.ended_at - self.started_at)
            .to_std()
            .unwrap_or_default()
    }

    /// Volume load of all its sets (see [`strength::volume`]).
    pub fn volume(&self) -> Kilograms {
        let sets: Vec<SetRecord> = self
            .exercises
            .iter()
            .flat_map(|e| &e.sets)
            .filter_map(|s| {
                Some(SetRecord {
                    weight: s.weight_kg?,
                    reps: s.reps?,
                    set_type: s.set_type,
                    done: s.done,
                })
            })
            .collect();
        strength::volume(&sets)
    }

    /// The exercise ids it uses, deduplicated.
    pub fn exercise_ids(&self) -> Vec<Id> {
        let mut ids: Vec<Id> = self.exercises.iter().map(|e| e.exercise_id).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// "Morning run", "Evening strength"… without the time of day (the client knows
/// the time zone; the server does not).
pub fn default_title(sport: Sport) -> String {
    let noun = match sport {
        Sport::Run => "Run",
        Sport::TrailRun => "Trail run",
        Sport::Walk => "Walk",
        Sport::Hike => "Hike",
        Sport::Ride => "Ride",
        Sport::Swim => "Swim",
        Sport::Row => "Row",
        Sport::Ski => "Ski",
        Sport::Strength => "Strength training",
        Sport::Yoga => "Yoga",
        Sport::Other => "Workout",
    };
    noun.to_owned()
}
