//! The progress of one exercise, session by session: the best estimated 1RM of
//! each workout it was done in (with the set that gave it), its heaviest set and
//! its volume, oldest first — what a strength chart draws.
//!
//! The same sets count as for the records ([`super::records`]): done, not
//! warm-up, with a load and at least one rep. A workout whose sets of the
//! exercise all fall outside that (warm-ups only) gives no point.

use std::collections::BTreeMap;

use serde::Serialize;
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::strength::{estimated_1rm, OneRepMaxFormula};
use crate::domain::history::LoggedSet;
use crate::domain::kinds::SetType;

/// One workout's work on the exercise.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProgressPoint {
    /// The workout.
    pub workout_id: Id,
    /// When it started.
    #[schema(value_type = String, format = DateTime)]
    pub performed_at: Timestamp,
    /// Its best estimated 1RM in kg; `null` when every set was over the reps an
    /// estimate is given for.
    pub best_e1rm_kg: Option<f64>,
    /// The set that gave it: load…
    pub e1rm_weight_kg: Option<f64>,
    /// …and repetitions.
    pub e1rm_reps: Option<u16>,
    /// Its heaviest load in kg.
    pub top_weight_kg: f64,
    /// Load × reps over its counted sets, kg.
    pub volume_kg: f64,
    /// How many sets counted.
    pub sets: u32,
}

/// The points of `exercise` in `sets` (any order; other exercises ignored), one per
/// workout, oldest first; `formula` makes the estimates.
pub fn exercise_progress(
    sets: &[LoggedSet],
    exercise: Id,
    formula: OneRepMaxFormula,
) -> Vec<ProgressPoint> {
    let mut by_workout: BTreeMap<(Timestamp, Id), ProgressPoint> = BTreeMap::new();
    for s in sets.iter().filter(|s| s.exercise_id == exercise) {
        let (Some(weight), Some(reps)) = (s.weight, s.reps) else {
            continue;
        };
        if !s.done || s.set_type == SetType::WarmUp || reps.get() == 0 {
            continue;
        }
        let point = by_workout
            .entry((s.performed_at, s.workout_id))
            .or_insert_with(|| ProgressPoint {
                workout_id: s.workout_id,
                performed_at: s.performed_at,
                best_e1rm_kg: None,
                e1rm_weight_kg: None,
                e1rm_reps: None,
                top_weight_kg: 0.0,
                volume_kg: 0.0,
                sets: 0,
            });
        let w = weight.get();
        point.sets += 1;
        point.volume_kg += w * f64::from(reps.get());
        point.top_weight_kg = point.top_weight_kg.max(w);
        if let Some(e) = estimated_1rm(weight, reps, formula) {
            // A tie keeps the earlier set, as the records do.
            if point.best_e1rm_kg.is_none_or(|best| e.get() > best) {
                point.best_e1rm_kg = Some(e.get());
                point.e1rm_weight_kg = Some(w);
                point.e1rm_reps = Some(reps.get());
            }
        }
    }
    by_workout.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::units::{Kilograms, Reps};

    fn set(workout: i64, day: u32, exercise: i64, w: f64, r: u16, set_type: SetType) -> LoggedSet {
        LoggedSet {
            workout_id: Id::from_i64(workout),
            performed_at: format!("2024-05-{day:02}T07:00:00Z").parse().unwrap(),
            exercise_id: Id::from_i64(exercise),
            set_type,
            weight: Some(Kilograms::new(w).unwrap()),
            reps: Some(Reps::new(r).unwrap()),
            done: true,
        }
    }

    #[test]
    fn one_point_per_workout_oldest_first_worked_example() {
        use SetType::*;
        let mut skipped = set(2, 3, 10, 200.0, 1, Working);
        skipped.done = false;
        let sets = vec![
            // Day 3 (listed first): 110×3 and 100×8; a 200×1 not done.
            set(2, 3, 10, 110.0, 3, Working),
            set(2, 3, 10, 100.0, 8, Working),
            skipped,
            // Day 1: a 60×10 warm-up (ignored), 100×5 twice.
            set(1, 1, 10, 60.0, 10, WarmUp),
            set(1, 1, 10, 100.0, 5, Working),
            set(1, 1, 10, 100.0, 5, Working),
            // Another exercise, and a workout of warm-ups only: no points.
            set(3, 2, 11, 150.0, 5, Working),
            set(4, 4, 10, 40.0, 10, WarmUp),
            // Day 5: 20 reps, over what an estimate is given for.
            set(5, 5, 10, 60.0, 20, Working),
        ];
        let points = exercise_progress(&sets, Id::from_i64(10), OneRepMaxFormula::Epley);
        let workouts: Vec<i64> = points.iter().map(|p| p.workout_id.as_i64()).collect();
        assert_eq!(workouts, vec![1, 2, 5]);
        // Day 1: 100 × (1 + 5/30) = 116.67, volume 2 × 500.
        assert!((points[0].best_e1rm_kg.unwrap() - 116.666_666).abs() < 1e-3);
        assert_eq!(points[0].volume_kg, 1000.0);
        assert_eq!(points[0].sets, 2);
        // Day 3: 110×3 gives 121, but 100 × (1 + 8/30) = 126.67 is the better
        // estimate, from the lighter set; the top set is still 110.
        assert!((points[1].best_e1rm_kg.unwrap() - 126.666_666).abs() < 1e-3);
        assert_eq!(points[1].e1rm_weight_kg, Some(100.0));
        assert_eq!(points[1].e1rm_reps, Some(8));
        assert_eq!(points[1].top_weight_kg, 110.0);
        assert_eq!(points[1].volume_kg, 330.0 + 800.0);
        // Day 5: counted for volume, no estimate.
        assert_eq!(points[2].best_e1rm_kg, None);
        assert_eq!(points[2].volume_kg, 1200.0);
    }
}
