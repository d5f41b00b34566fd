//! Progression: the next session's targets for one exercise from its plan's rule
//! and the last session's performance, with the reason in words and numbers.
//!
//! - All prescribed reps done → increase (by the rule; twice the linear step when
//!   every set felt easy, top RPE ≤ 7).
//! - Reps missed → repeat the load; missed in two sessions in a row → reduce the
//!   load by 10 % (a reset), rounded to 0.5 kg.
//! - Double progression climbs reps inside the range first, and adds load only
//!   once every set reached the top of the range (then back to the bottom).

use serde::Serialize;

use crate::domain::plan::{Progression, RepRange};
use crate::domain::units::{Kilograms, Rpe};

/// What was done last time, for one exercise.
#[derive(Debug, Clone, PartialEq)]
pub struct LastSession {
    /// The working load.
    pub weight: Kilograms,
    /// Reps of each working set, in order.
    pub reps: Vec<u16>,
    /// The highest RPE of those sets, when rated.
    pub top_rpe: Option<Rpe>,
}

/// What the next target does relative to the last session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// More load (or more reps).
    Increase,
    /// The same.
    Repeat,
    /// Less load.
    Reduce,
}

/// The next session's target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Target {
    /// Load in kg.
    pub weight_kg: f64,
    /// Reps to aim for in each set.
    pub reps: RepRange,
    /// Up, same or down.
    pub action: Action,
    /// Why, with the numbers.
    pub reason: String,
}

/// How much a reset takes off.
const RESET_FRACTION: f64 = 0.10;

fn round_half_kg(kg: f64) -> f64 {
    (kg * 2.0).round() / 2.0
}

/// The next target for `sets` sets of `reps` under `rule`, given the last session
/// and how many sessions in a row before it missed reps.
pub fn next_target(
    rule: &Progression,
    reps: RepRange,
    sets: u8,
    last: &LastSession,
    misses_before: u32,
) -> Target {
    let w = last.weight.get();
    let done = &last.reps;
    let all_sets = done.len() >= usize::from(sets);
    let reached = |n: u16| all_sets && done.iter().take(usize::from(sets)).all(|&r| r >= n);
    let easy = last.top_rpe.is_some_and(|r| r.get() <= 7.0);
    let done_text = format!(
        "{} at {w} kg",
        done.iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("/")
    );
    let missed = |needed: u16| -> Target {
        if misses_before >= 1 {
            let reduced = round_half_kg(w * (1.0 - RESET_FRACTION));
            Target {
                weight_kg: reduced,
                reps,
                action: Action::Reduce,
                reason: format!(
                    "reps missed two sessions in a row ({done_text}, needed {sets}×{needed}): \
                     reset by 10 % to {reduced} kg"
                ),
            }
        } else {
            Target {
                weight_kg: w,
                reps,
                action: Action::Repeat,
                reason: format!("reps missed ({done_text}, needed {sets}×{needed}): repeat {w} kg"),
            }
        }
    };
    match *rule {
        Progression::None => Target {
            weight_kg: w,
            reps,
            action: Action::Repeat,
            reason: "the plan keeps this exercise's targets".to_owned(),
        },
        Progression::Linear { increment_kg } => {
            if !reached(reps.min) {
                return missed(reps.min);
            }
            let step = if easy {
                2.0 * increment_kg.get()
            } else {
                increment_kg.get()
            };
            let next = w + step;
            let why = if easy {
                format!(
                    "all {sets}×{} done ({done_text}) at RPE ≤ 7: +{step} kg (twice the step) to {next} kg",
                    reps.min
                )
            } else {
                format!(
                    "all {sets}×{} done ({done_text}): +{step} kg to {next} kg",
                    reps.min
                )
            };
            Target {
                weight_kg: next,
                reps,
                action: Action::Increase,
                reason: why,
            }
        }
        Progression::Percent { increment_percent } => {
            if !reached(reps.min) {
                return missed(reps.min);
            }
            let next = round_half_kg(w * (1.0 + increment_percent.get() / 100.0));
            Target {
                weight_kg: next,
                reps,
                action: Action::Increase,
                reason: format!(
                    "all {sets}×{} done ({done_text}): +{} % to {next} kg",
                    reps.min,
                    increment_percent.get()
                ),
            }
        }
        Progression::DoubleProgression { increment_kg } => {
            if reached(reps.max) {
                let next = w + increment_kg.get();
                return Target {
                    weight_kg: next,
                    reps: RepRange { min: reps.min, max: reps.min },
                    action: Action::Increase,
                    reason: format!(
                        "every set reached the top of {}–{} reps ({done_text}): +{} kg to {next} kg, back to {} reps",
                        reps.min,
                        reps.max,
                        increment_kg.get(),
                        reps.min
                    ),
                };
            }
            if !reached(reps.min) {
                return missed(reps.min);
            }
            let lowest = done
                .iter()
                .take(usize::from(sets))
                .copied()
                .min()
                .unwrap_or(reps.min);
            let aim = (lowest + 1).min(reps.max);
            Target {
                weight_kg: w,
                reps: RepRange { min: aim, max: reps.max },
                action: Action::Increase,
                reason: format!(
                    "inside {}–{} reps ({done_text}): stay at {w} kg and aim for {aim}+ reps in every set",
                    reps.min, reps.max
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::Percent;

    fn kg(v: f64) -> Kilograms {
        Kilograms::new(v).unwrap()
    }

    fn last(w: f64, reps: &[u16], rpe: Option<f64>) -> LastSession {
        LastSession {
            weight: kg(w),
            reps: reps.to_vec(),
            top_rpe: rpe.map(|r| Rpe::new(r).unwrap()),
        }
    }

    fn five() -> RepRange {
        RepRange::new(5, 5).unwrap()
    }

    #[test]
    fn linear_adds_the_step_after_a_full_session() {
        let rule = Progression::Linear {
            increment_kg: kg(2.5),
        };
        // 5×5 at 100 kg done at RPE 8.5: 100 + 2.5 = 102.5 kg.
        let t = next_target(
            &rule,
            five(),
            5,
            &last(100.0, &[5, 5, 5, 5, 5], Some(8.5)),
            0,
        );
        assert_eq!((t.weight_kg, t.action), (102.5, Action::Increase));
        assert!(
            t.reason.contains("5/5/5/5/5 at 100 kg") && t.reason.contains("+2.5 kg to 102.5 kg"),
            "{}",
            t.reason
        );
        // Done at RPE 7: twice the step, 105 kg.
        let t = next_target(
            &rule,
            five(),
            5,
            &last(100.0, &[5, 5, 5, 5, 5], Some(7.0)),
            0,
        );
        assert_eq!(t.weight_kg, 105.0);
    }

    #[test]
    fn missed_reps_repeat_then_reset() {
        let rule = Progression::Linear {
            increment_kg: kg(2.5),
        };
        let missed = last(100.0, &[5, 5, 4, 3, 3], Some(10.0));
        let t = next_target(&rule, five(), 5, &missed, 0);
        assert_eq!((t.weight_kg, t.action), (100.0, Action::Repeat));
        assert!(t.reason.contains("5/5/4/3/3"), "{}", t.reason);
        // The second miss in a row: 100 × 0.9 = 90 kg.
        let t = next_target(&rule, five(), 5, &missed, 1);
        assert_eq!((t.weight_kg, t.action), (90.0, Action::Reduce));
        // A reset rounds to 0.5 kg: 102.5 × 0.9 = 92.25; × 2 = 184.5, rounded 185, / 2 = 92.5.
        let t = next_target(&rule, five(), 5, &last(102.5, &[3], None), 1);
        assert_eq!(t.weight_kg, 92.5);
        // Fewer sets than prescribed is a miss too.
        let t = next_target(&rule, five(), 5, &last(100.0, &[5, 5, 5], None), 0);
        assert_eq!(t.action, Action::Repeat);
    }

    #[test]
    fn double_progression_climbs_reps_then_load() {
        let rule = Progression::DoubleProgression {
            increment_kg: kg(2.0),
        };
        let range = RepRange::new(8, 12).unwrap();
        // 3 sets, lowest 9 reps: stay at 40 kg, aim for 10+.
        let t = next_target(&rule, range, 3, &last(40.0, &[11, 10, 9], None), 0);
        assert_eq!(
            (t.weight_kg, t.reps.min, t.reps.max, t.action),
            (40.0, 10, 12, Action::Increase)
        );
        // All sets at 12: 42 kg, back to 8 reps.
        let t = next_target(&rule, range, 3, &last(40.0, &[12, 12, 12], None), 0);
        assert_eq!((t.weight_kg, t.reps.min, t.reps.max), (42.0, 8, 8));
        // Below 8: a miss.
        let t = next_target(&rule, range, 3, &last(40.0, &[9, 8, 7], None), 0);
        assert_eq!(t.action, Action::Repeat);
    }

    #[test]
    fn percent_progression_rounds_to_half_kilos() {
        let rule = Progression::Percent {
            increment_percent: Percent::try_from(2.5).unwrap(),
        };
        // 100 × 1.025 = 102.5.
        let t = next_target(&rule, five(), 3, &last(100.0, &[5, 5, 5], None), 0);
        assert_eq!(t.weight_kg, 102.5);
        // 61 × 1.025 = 62.525 → 62.5.
        let t = next_target(&rule, five(), 3, &last(61.0, &[5, 5, 5], None), 0);
        assert_eq!(t.weight_kg, 62.5);
    }
}
