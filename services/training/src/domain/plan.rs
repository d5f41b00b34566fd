//! Plans (routines): days, each an ordered list of exercises with set
//! prescriptions (sets × reps or a rep range, a load as kilograms, % of estimated
//! 1RM, RPE or RIR, rest, set type), supersets, and a progression rule per
//! exercise.
//!
//! The JSON shape *is* the domain shape: every quantity deserialises through its
//! checked constructor ([`Kilograms`], [`Rpe`], [`RepRange`]…), so a plan that
//! deserialises holds only valid values; [`PlanContent::check`] adds the rules
//! that span fields (sizes, names) and names each problem by its path.

use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::draft::DraftProblem;
use super::exercise::parse_name;
use super::kinds::SetType;
use super::units::{Kilograms, Rpe};

/// Most days in a plan (two weeks of different days).
pub const MAX_DAYS: usize = 14;
/// Most exercises in a day.
pub const MAX_DAY_EXERCISES: usize = 40;
/// Most prescriptions for one exercise.
pub const MAX_PRESCRIPTIONS: usize = 10;

/// Repetitions to aim for: a fixed number (`min == max`) or a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawRepRange")]
pub struct RepRange {
    /// Fewest reps.
    pub min: u16,
    /// Most reps.
    pub max: u16,
}

#[derive(Deserialize)]
struct RawRepRange {
    min: u16,
    max: Option<u16>,
}

impl TryFrom<RawRepRange> for RepRange {
    type Error = String;

    fn try_from(raw: RawRepRange) -> Result<Self, String> {
        RepRange::new(raw.min, raw.max.unwrap_or(raw.min))
    }
}

impl RepRange {
    /// A range of 1 to 100 reps with `min ≤ max`.
    pub fn new(min: u16, max: u16) -> Result<Self, String> {
        if min == 0 || max > 100 || min > max {
            return Err(format!(
                "reps must satisfy 1 ≤ min ≤ max ≤ 100, got {min}–{max}"
            ));
        }
        Ok(RepRange { min, max })
    }
}

/// How heavy a set should be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LoadPrescription {
    /// A load in kilograms.
    Absolute {
        /// kg.
        kg: Kilograms,
    },
    /// A percentage (1–120) of the estimated 1RM.
    #[serde(rename = "percent_of_1rm")]
    PercentOf1rm {
        /// Percent.
        percent: Percent,
    },
    /// A target rating of perceived exertion.
    Rpe {
        /// 1–10.
        rpe: Rpe,
    },
    /// Reps in reserve (0–5).
    Rir {
        /// Reps left in the tank.
        rir: Rir,
    },
}

/// A percentage of 1 to 120.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64")]
pub struct Percent(f64);

impl Percent {
    /// The smallest percentage accepted.
    pub const MIN: f64 = 1.0;
    /// The largest percentage accepted.
    pub const MAX: f64 = 120.0;
}

super::units::quantity_schema!(
    Percent,
    number,
    Percent::MIN,
    Percent::MAX,
    None,
    "A percentage, 1 to 120."
);

impl TryFrom<f64> for Percent {
    type Error = String;

    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && (Self::MIN..=Self::MAX).contains(&v) {
            Ok(Percent(v))
        } else {
            Err(format!("percent must be between 1 and 120, got {v}"))
        }
    }
}

impl Percent {
    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Reps in reserve, 0 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8")]
pub struct Rir(u8);

impl Rir {
    /// The most reps in reserve a prescription may leave.
    pub const MAX: u8 = 5;
}

super::units::quantity_schema!(
    Rir,
    integer,
    0u8,
    Rir::MAX,
    None,
    "Reps in reserve, 0 to 5."
);

impl TryFrom<u8> for Rir {
    type Error = String;

    fn try_from(v: u8) -> Result<Self, String> {
        if v <= Self::MAX {
            Ok(Rir(v))
        } else {
            Err(format!("reps in reserve must be 0 to 5, got {v}"))
        }
    }
}

/// A block of identical sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetPrescription {
    /// How many sets (1–20).
    pub sets: SetCount,
    /// Reps per set.
    pub reps: RepRange,
    /// How heavy.
    pub load: Option<LoadPrescription>,
    /// Rest after each set, seconds (0–1800).
    #[schema(value_type = Option<u16>)]
    pub rest_s: Option<RestSeconds>,
    /// Role of the sets (default `working`).
    #[serde(default = "working")]
    pub set_type: SetType,
}

fn working() -> SetType {
    SetType::Working
}

/// A number of sets, 1 to 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8")]
pub struct SetCount(u8);

impl SetCount {
    /// The most sets one prescription may have.
    pub const MAX: u8 = 20;
}

super::units::quantity_schema!(
    SetCount,
    integer,
    1u8,
    SetCount::MAX,
    None,
    "Sets, 1 to 20."
);

impl TryFrom<u8> for SetCount {
    type Error = String;

    fn try_from(v: u8) -> Result<Self, String> {
        if (1..=SetCount::MAX).contains(&v) {
            Ok(SetCount(v))
        } else {
            Err(format!("sets must be 1 to 20, got {v}"))
        }
    }
}

impl SetCount {
    /// The count.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A rest, 0 to 1,800 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16")]
pub struct RestSeconds(u16);

impl TryFrom<u16> for RestSeconds {
    type Error = String;

    fn try_from(v: u16) -> Result<Self, String> {
        if v <= 1800 {
            Ok(RestSeconds(v))
        } else {
            Err(format!("rest must be at most 1800 s, got {v}"))
        }
    }
}

/// How an exercise's targets move from session to session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Progression {
    /// Keep the targets.
    None,
    /// Add `increment_kg` whenever every working set reached its reps.
    Linear {
        /// kg added.
        increment_kg: Kilograms,
    },
    /// Add reps within the range; at the top of the range add `increment_kg` and
    /// go back to the bottom.
    DoubleProgression {
        /// kg added at the top of the range.
        increment_kg: Kilograms,
    },
    /// Raise the load by `increment_percent` whenever every working set reached
    /// its reps.
    Percent {
        /// Percent added (1–120; typically 2.5).
        increment_percent: Percent,
    },
}

/// One exercise of a plan day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlannedExercise {
    /// The exercise.
    pub exercise_id: Id,
    /// Exercises of a day with the same superset label are done back to back.
    pub superset: Option<u8>,
    /// Its sets (1 to 10 prescriptions).
    #[schema(min_items = 1, max_items = 10)]
    pub prescriptions: Vec<SetPrescription>,
    /// How its targets progress (default none).
    #[serde(default = "no_progression")]
    pub progression: Progression,
    /// Cues (up to 1,000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub notes: String,
}

fn no_progression() -> Progression {
    Progression::None
}

/// One day of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanDay {
    /// Its name ("Push", "Day A"; 1 to 100 characters, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Its exercises, in order (up to 40).
    #[schema(max_items = 40)]
    pub exercises: Vec<PlannedExercise>,
}

/// What a plan holds (the request body of `POST /v1/training/plans`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanContent {
    /// Its name (1 to 100 characters, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// What it is for (up to 5,000 characters).
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    /// Its days, in order (1 to 14).
    #[schema(min_items = 1, max_items = 14)]
    pub days: Vec<PlanDay>,
}

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Plan {
    /// Its id.
    pub id: Id,
    /// The user it belongs to.
    pub owner_id: Id,
    /// The coach who assigned it to its owner; `null` for the owner's own plans.
    pub assigned_by: Option<Id>,
    /// Its content.
    #[serde(flatten)]
    pub content: PlanContent,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl PlanContent {
    /// Checks the rules spanning fields; trims names. All problems at once.
    pub fn check(mut self) -> Result<PlanContent, Vec<DraftProblem>> {
        let mut problems = Vec::new();
        let mut push =
            |field: String, message: String| problems.push(DraftProblem { field, message });
        match parse_name(&self.name, "name", 100) {
            Ok(n) => self.name = n,
            Err(p) => push("name".into(), p.message),
        }
        if self.description.chars().count() > 5000 {
            push(
                "description".into(),
                "must be at most 5000 characters".into(),
            );
        }
        if self.days.is_empty() || self.days.len() > MAX_DAYS {
            push("days".into(), format!("a plan has 1 to {MAX_DAYS} days"));
        }
        for (i, day) in self.days.iter_mut().enumerate() {
            match parse_name(&day.name, "name", 100) {
                Ok(n) => day.name = n,
                Err(p) => push(format!("days.{i}.name"), p.message),
            }
            if day.exercises.len() > MAX_DAY_EXERCISES {
                push(
                    format!("days.{i}.exercises"),
                    format!("at most {MAX_DAY_EXERCISES} exercises"),
                );
            }
            for (j, e) in day.exercises.iter().enumerate() {
                if e.prescriptions.is_empty() || e.prescriptions.len() > MAX_PRESCRIPTIONS {
                    push(
                        format!("days.{i}.exercises.{j}.prescriptions"),
                        format!("1 to {MAX_PRESCRIPTIONS} prescriptions"),
                    );
                }
                if e.notes.chars().count() > 1000 {
                    push(
                        format!("days.{i}.exercises.{j}.notes"),
                        "must be at most 1000 characters".into(),
                    );
                }
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }

    /// The exercise ids it uses, deduplicated and sorted.
    pub fn exercise_ids(&self) -> Vec<Id> {
        let mut ids: Vec<Id> = self
            .days
            .iter()
            .flat_map(|d| &d.exercises)
            .map(|e| e.exercise_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        use utoipa::PartialSchema;
        let schema = |value: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            serde_json::to_value(value).unwrap()
        };
        let content = schema(PlanContent::schema());
        assert_eq!(content["properties"]["days"]["maxItems"], MAX_DAYS);
        let day = schema(PlanDay::schema());
        assert_eq!(
            day["properties"]["exercises"]["maxItems"],
            MAX_DAY_EXERCISES
        );
        let exercise = schema(PlannedExercise::schema());
        assert_eq!(
            exercise["properties"]["prescriptions"]["maxItems"],
            MAX_PRESCRIPTIONS
        );
        let percent = schema(Percent::schema());
        assert_eq!(percent["minimum"], Percent::MIN);
        assert_eq!(percent["maximum"], Percent::MAX);
    }

    use super::*;

    fn plan_json() -> serde_json::Value {
        serde_json::json!({
            "name": " 5×5 ",
            "days": [{
                "name": "A",
                "exercises": [{
                    "exercise_id": "7",
                    "superset": 1,
                    "prescriptions": [
                        {"sets": 2, "reps": {"min": 5}, "load": {"type": "percent_of_1rm", "percent": 50}, "set_type": "warm_up"},
                        {"sets": 5, "reps": {"min": 5}, "load": {"type": "absolute", "kg": 100}, "rest_s": 180}
                    ],
                    "progression": {"type": "linear", "increment_kg": 2.5}
                }, {
                    "exercise_id": "8",
                    "prescriptions": [{"sets": 3, "reps": {"min": 8, "max": 12}, "load": {"type": "rpe", "rpe": 8}}],
                    "progression": {"type": "double_progression", "increment_kg": 2}
                }]
            }]
        })
    }

    #[test]
    fn a_plan_parses_from_json_with_defaults() {
        let plan: PlanContent = serde_json::from_value(plan_json()).unwrap();
        let plan = plan.check().unwrap();
        assert_eq!(plan.name, "5×5");
        let e = &plan.days[0].exercises[0];
        assert_eq!(e.prescriptions[0].set_type, SetType::WarmUp);
        assert_eq!(e.prescriptions[1].set_type, SetType::Working);
        assert_eq!(e.prescriptions[1].reps, RepRange { min: 5, max: 5 });
        assert_eq!(plan.exercise_ids(), vec![Id::from_i64(7), Id::from_i64(8)]);
        // It serialises back to a shape that parses to the same plan.
        let again: PlanContent =
            serde_json::from_value(serde_json::to_value(&plan).unwrap()).unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn impossible_values_do_not_deserialise() {
        for (pointer, bad) in [
            (
                "/days/0/exercises/0/prescriptions/1/reps",
                serde_json::json!({"min": 8, "max": 5}),
            ),
            (
                "/days/0/exercises/0/prescriptions/1/sets",
                serde_json::json!(0),
            ),
            (
                "/days/0/exercises/0/prescriptions/1/load",
                serde_json::json!({"type": "rpe", "rpe": 12}),
            ),
            (
                "/days/0/exercises/0/prescriptions/1/load",
                serde_json::json!({"type": "rir", "rir": 9}),
            ),
            (
                "/days/0/exercises/0/progression",
                serde_json::json!({"type": "linear", "increment_kg": -1}),
            ),
        ] {
            let mut v = plan_json();
            *v.pointer_mut(pointer).unwrap() = bad.clone();
            assert!(
                serde_json::from_value::<PlanContent>(v).is_err(),
                "{pointer} = {bad}"
            );
        }
    }

    #[test]
    fn cross_field_rules_name_every_problem() {
        let mut v = plan_json();
        v["name"] = serde_json::json!("");
        v["days"][0]["exercises"][1]["prescriptions"] = serde_json::json!([]);
        let plan: PlanContent = serde_json::from_value(v).unwrap();
        let fields: Vec<String> = plan
            .check()
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, vec!["name", "days.0.exercises.1.prescriptions"]);
    }
}
