//! Workout drafts: the loosely typed JSON of `POST` and `PATCH`, and their
//! parsing into a [`WorkoutContent`].
//!
//! [`WorkoutDraft::parse`] collects *all* field problems at once (as dotted paths,
//! `exercises.0.sets.2.rpe`), so a client sees every mistake in one 422.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::exercise::parse_name;
use super::kinds::{Privacy, SetType, Sport};
use super::units::{Bpm, Kilograms, Meters, Reps, Rpe};
use super::workout::{
    default_title, WorkoutContent, WorkoutExercise, WorkoutSet, MAX_DURATION, MAX_EXERCISES,
    MAX_NOTES, MAX_SETS,
};

/// One set as the client sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetDraft {
    /// `warm_up`, `working` (default), `drop` or `failure`.
    pub set_type: Option<SetType>,
    /// Load in kg (0 for body weight).
    #[schema(value_type = Option<Kilograms>)]
    pub weight_kg: Option<f64>,
    /// Repetitions.
    #[schema(value_type = Option<Reps>)]
    pub reps: Option<u16>,
    /// Rating of perceived exertion, 1–10 in halves.
    #[schema(value_type = Option<Rpe>)]
    pub rpe: Option<f64>,
    /// Held time in seconds (planks) or time for a distance.
    pub duration_s: Option<f64>,
    /// Distance in metres (rowing 500 m).
    #[schema(value_type = Option<Meters>)]
    pub distance_m: Option<f64>,
    /// Whether it was done (default true).
    pub done: Option<bool>,
}

/// One exercise of a workout as the client sends it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExerciseDraft {
    /// The exercise (catalogue or the caller's own).
    pub exercise_id: Id,
    /// Its sets, in order.
    #[serde(default)]
    pub sets: Vec<SetDraft>,
}

/// A workout as the client sends it (`POST`), or the changes to one (`PATCH`,
/// where every member is optional and absent ones keep their value).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkoutDraft {
    /// What kind of session.
    pub sport: Option<Sport>,
    /// A title (default: derived from the sport).
    pub title: Option<String>,
    /// Free notes.
    pub notes: Option<String>,
    /// `public`, `followers` (default) or `private`.
    pub privacy: Option<Privacy>,
    /// When it started.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// When it ended; or give `duration_s`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// Length in seconds, when `ended_at` is absent.
    pub duration_s: Option<f64>,
    /// Time moving, in seconds.
    pub moving_time_s: Option<f64>,
    /// Distance in metres.
    #[schema(value_type = Option<Meters>)]
    pub distance_m: Option<f64>,
    /// Climb in metres.
    #[schema(value_type = Option<Meters>)]
    pub elevation_gain_m: Option<f64>,
    /// Average heart rate.
    #[schema(value_type = Option<Bpm>)]
    pub avg_heart_rate: Option<u16>,
    /// Maximum heart rate.
    #[schema(value_type = Option<Bpm>)]
    pub max_heart_rate: Option<u16>,
    /// Energy in kcal.
    pub calories: Option<u32>,
    /// Session RPE (1–10).
    #[schema(value_type = Option<Rpe>)]
    pub rpe: Option<f64>,
    /// Exercises with their sets (replaces all of them on `PATCH`).
    pub exercises: Option<Vec<ExerciseDraft>>,
}

/// Collects field problems while parsing.
struct Problems(Vec<DraftProblem>);

impl Problems {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(DraftProblem {
            field: field.into(),
            message: message.into(),
        });
    }

    fn unit<T, E: std::fmt::Display>(
        &mut self,
        field: impl Into<String>,
        r: Option<Result<T, E>>,
    ) -> Option<T> {
        match r? {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }
}

/// A field-level problem with a dynamic field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftProblem {
    /// The field, dotted (`exercises.0.sets.2.rpe`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl WorkoutDraft {
    /// Parses a complete workout (`POST`).
    pub fn parse(self) -> Result<WorkoutContent, Vec<DraftProblem>> {
        self.parse_over(None)
    }

    /// Parses `self` as changes over `base` (`PATCH`), or as a whole workout when
    /// `base` is `None`.
    pub fn parse_over(
        self,
        base: Option<&WorkoutContent>,
    ) -> Result<WorkoutContent, Vec<DraftProblem>> {
        let mut p = Problems(Vec::new());
        let sport = self.sport.or(base.map(|b| b.sport));
        if sport.is_none() {
            p.push("sport", "is required");
        }
        let title = match (&self.title, base) {
            (Some(t), _) => match parse_name(t, "title", 200) {
                Ok(t) => Some(t),
                Err(e) => {
                    p.push("title", e.message);
                    None
                }
            },
            (None, Some(b)) => Some(b.title.clone()),
            (None, None) => sport.map(default_title),
        };
        let notes = match (&self.notes, base) {
            (Some(n), _) if n.chars().count() > MAX_NOTES => {
                p.push("notes", format!("must be at most {MAX_NOTES} characters"));
                String::new()
            }
            (Some(n), _) => n.trim().to_owned(),
            (None, Some(b)) => b.notes.clone(),
            (None, None) => String::new(),
        };
        let privacy = self
            .privacy
            .or(base.map(|b| b.privacy))
            .unwrap_or(Privacy::Followers);
        let started_at = self.started_at.or(base.map(|b| b.started_at));
        if started_at.is_none() {
            p.push("started_at", "is required");
        }
        let ended_at = match (self.ended_at, self.duration_s, started_at) {
            (Some(_), Some(_), _) => {
                p.push("duration_s", "give ended_at or duration_s, not both");
                None
            }
            (Some(end), None, _) => Some(end),
            (None, Some(d), Some(start)) => match Duration::try_from_secs_f64(d) {
                Ok(d) if d <= MAX_DURATION => chrono::Duration::from_std(d).ok().map(|d| start + d),
                _ => {
                    p.push("duration_s", "must be between 0 and 172800 seconds");
                    None
                }
            },
            (None, _, _) => match base {
                // Moving the start keeps the duration.
                Some(b) => started_at.map(|s| s + (b.ended_at - b.started_at)),
                None => {
                    p.push("ended_at", "give ended_at or duration_s");
                    None
                }
            },
        };
        if let (Some(start), Some(end)) = (started_at, ended_at) {
            let d = end - start;
            if d <= chrono::Duration::zero() {
                p.push("ended_at", "must be after started_at");
            } else if d.to_std().is_ok_and(|d| d > MAX_DURATION) {
                p.push("ended_at", "a workout lasts at most 48 hours");
            }
        }
        let keep = |new: Option<f64>, old: Option<f64>| new.or(old);
        let moving_time = match keep(
            self.moving_time_s,
            base.and_then(|b| b.moving_time.map(|d| d.as_secs_f64())),
        ) {
            None => None,
            Some(s) => match Duration::try_from_secs_f64(s) {
                Ok(d) if d <= MAX_DURATION => Some(d),
                _ => {
                    p.push("moving_time_s", "must be between 0 and 172800 seconds");
                    None
                }
            },
        };
        let distance = p.unit(
            "distance_m",
            keep(
                self.distance_m,
                base.and_then(|b| b.distance.map(Meters::get)),
            )
            .map(Meters::new),
        );
        let elevation_gain = p.unit(
            "elevation_gain_m",
            keep(
                self.elevation_gain_m,
                base.and_then(|b| b.elevation_gain.map(Meters::get)),
            )
            .map(Meters::new),
        );
        let avg_heart_rate = p.unit(
            "avg_heart_rate",
            self.avg_heart_rate
                .or(base.and_then(|b| b.avg_heart_rate.map(Bpm::get)))
                .map(Bpm::new),
        );
        let max_heart_rate = p.unit(
            "max_heart_rate",
            self.max_heart_rate
                .or(base.and_then(|b| b.max_heart_rate.map(Bpm::get)))
                .map(Bpm::new),
        );
        if let (Some(avg), Some(max)) = (avg_heart_rate, max_heart_rate) {
            if max < avg {
                p.push("max_heart_rate", "must not be below avg_heart_rate");
            }
        }
        let calories = self.calories.or(base.and_then(|b| b.calories));
        if calories.is_some_and(|c| c > 50_000) {
            p.push("calories", "must be at most 50000");
        }
        let rpe = p.unit(
            "rpe",
            keep(self.rpe, base.and_then(|b| b.rpe.map(Rpe::get))).map(Rpe::new),
        );
        let exercises = match (self.exercises, base) {
            (Some(list), _) => parse_exercises(list, &mut p),
            (None, Some(b)) => b.exercises.clone(),
            (None, None) => Vec::new(),
        };
        if !p.0.is_empty() {
            return Err(p.0);
        }
        match (sport, title, started_at, ended_at) {
            (Some(sport), Some(title), Some(started_at), Some(ended_at)) => Ok(WorkoutContent {
                sport,
                title,
                notes,
                privacy,
                started_at,
                ended_at,
                moving_time,
                distance,
                elevation_gain,
                avg_heart_rate,
                max_heart_rate,
                calories,
                rpe,
                exercises,
            }),
            // Each missing part pushed a problem above.
            _ => Err(vec![DraftProblem {
                field: "body".to_owned(),
                message: "is incomplete".to_owned(),
            }]),
        }
    }
}

fn parse_exercises(list: Vec<ExerciseDraft>, p: &mut Problems) -> Vec<WorkoutExercise> {
    if list.len() > MAX_EXERCISES {
        p.push("exercises", format!("at most {MAX_EXERCISES} exercises"));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.into_iter().enumerate() {
        if e.sets.len() > MAX_SETS {
            p.push(
                format!("exercises.{i}.sets"),
                format!("at most {MAX_SETS} sets"),
            );
            continue;
        }
        let mut sets = Vec::with_capacity(e.sets.len());
        for (j, s) in e.sets.into_iter().enumerate() {
            let f = |name: &str| format!("exercises.{i}.sets.{j}.{name}");
            let weight_kg = p.unit(f("weight_kg"), s.weight_kg.map(Kilograms::new));
            let reps = p.unit(f("reps"), s.reps.map(Reps::new));
            let rpe = p.unit(f("rpe"), s.rpe.map(Rpe::new));
            let distance_m = p.unit(f("distance_m"), s.distance_m.map(Meters::new));
            let duration_s = match s.duration_s {
                Some(d) if !(d.is_finite() && (0.0..=MAX_DURATION.as_secs_f64()).contains(&d)) => {
                    p.push(f("duration_s"), "must be between 0 and 172800 seconds");
                    None
                }
                d => d,
            };
            if s.weight_kg.is_none()
                && s.reps.is_none()
                && s.duration_s.is_none()
                && s.distance_m.is_none()
            {
                p.push(
                    format!("exercises.{i}.sets.{j}"),
                    "a set needs reps, weight, time or distance",
                );
            }
            sets.push(WorkoutSet {
                set_type: s.set_type.unwrap_or(SetType::Working),
                weight_kg,
                reps,
                rpe,
                duration_s,
                distance_m,
                done: s.done.unwrap_or(true),
            });
        }
        out.push(WorkoutExercise {
            exercise_id: e.exercise_id,
            sets,
        });
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn draft() -> WorkoutDraft {
        WorkoutDraft {
            sport: Some(Sport::Strength),
            started_at: Some(ts("2024-05-04T07:00:00Z")),
            duration_s: Some(3600.0),
            exercises: Some(vec![ExerciseDraft {
                exercise_id: Id::from_i64(7),
                sets: vec![
                    SetDraft {
                        set_type: Some(SetType::WarmUp),
                        weight_kg: Some(60.0),
                        reps: Some(10),
                        ..SetDraft::default()
                    },
                    SetDraft {
                        weight_kg: Some(100.0),
                        reps: Some(5),
                        rpe: Some(8.0),
                        ..SetDraft::default()
                    },
                ],
            }]),
            ..WorkoutDraft::default()
        }
    }

    #[test]
    fn a_complete_draft_parses_with_defaults() {
        let w = draft().parse().unwrap();
        assert_eq!(w.title, "Strength training");
        assert_eq!(w.privacy, Privacy::Followers);
        assert_eq!(w.ended_at, ts("2024-05-04T08:00:00Z"));
        assert_eq!(w.duration(), Duration::from_secs(3600));
        assert_eq!(w.exercises[0].sets[1].set_type, SetType::Working);
        assert!(w.exercises[0].sets[1].done);
        // The warm-up does not count: 100 × 5 = 500 kg.
        assert_eq!(w.volume().get(), 500.0);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut d = draft();
        d.rpe = Some(11.0);
        d.avg_heart_rate = Some(150);
        d.max_heart_rate = Some(140);
        if let Some(e) = d.exercises.as_mut() {
            e[0].sets[1].rpe = Some(7.3);
            e[0].sets.push(SetDraft::default());
        }
        let fields: Vec<String> = d
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "max_heart_rate",
                "rpe",
                "exercises.0.sets.1.rpe",
                "exercises.0.sets.2"
            ]
        );
    }

    #[test]
    fn times_must_make_sense() {
        let mut d = draft();
        d.duration_s = None;
        d.ended_at = Some(ts("2024-05-04T06:00:00Z"));
        assert_eq!(d.parse().unwrap_err()[0].field, "ended_at");
        let mut d = draft();
        d.duration_s = Some(3.0 * 24.0 * 3600.0);
        assert_eq!(d.parse().unwrap_err()[0].field, "duration_s");
        let d = WorkoutDraft::default();
        let fields: Vec<String> = d
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, vec!["sport", "started_at", "ended_at"]);
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let base = draft().parse().unwrap();
        let patch = WorkoutDraft {
            title: Some("Heavy day".into()),
            started_at: Some(ts("2024-05-05T07:00:00Z")),
            ..WorkoutDraft::default()
        };
        let w = patch.parse_over(Some(&base)).unwrap();
        assert_eq!(w.title, "Heavy day");
        assert_eq!(
            w.ended_at,
            ts("2024-05-05T08:00:00Z"),
            "the duration is kept"
        );
        assert_eq!(w.exercises, base.exercises);
        assert_eq!(w.sport, Sport::Strength);
    }
}
