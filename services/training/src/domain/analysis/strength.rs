//! Strength analysis: estimated one-repetition maximum and training volume.

use serde::{Deserialize, Serialize};

use crate::domain::kinds::SetType;
use crate::domain::units::{Kilograms, Reps};

/// A published formula for the estimated 1RM; results always name the one used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OneRepMaxFormula {
    /// Epley (1985): `w × (1 + r / 30)`.
    Epley,
    /// Brzycki (1993): `w × 36 / (37 − r)`.
    Brzycki,
}

/// The most repetitions an estimate is given for: both formulas drift badly past
/// about a dozen reps, and Brzycki's divides by zero at 37.
pub const MAX_ESTIMATE_REPS: u16 = 12;

/// The estimated 1RM of lifting `weight` for `reps` by `formula`; exactly `weight`
/// for a single, `None` for 0 reps or more than [`MAX_ESTIMATE_REPS`].
pub fn estimated_1rm(
    weight: Kilograms,
    reps: Reps,
    formula: OneRepMaxFormula,
) -> Option<Kilograms> {
    let r = f64::from(reps.get());
    let w = weight.get();
    match reps.get() {
        0 => None,
        1 => Some(weight),
        n if n > MAX_ESTIMATE_REPS => None,
        _ => Some(Kilograms::computed(match formula {
            OneRepMaxFormula::Epley => w * (1.0 + r / 30.0),
            OneRepMaxFormula::Brzycki => w * 36.0 / (37.0 - r),
        })),
    }
}

/// One logged set, as far as the strength analysis cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetRecord {
    /// Load (0 for body weight).
    pub weight: Kilograms,
    /// Repetitions done.
    pub reps: Reps,
    /// Its role.
    pub set_type: SetType,
    /// Whether it was done (planned sets not done do not count).
    pub done: bool,
}

impl SetRecord {
    /// Whether the set counts towards volume and records: done, and not a warm-up.
    pub fn counts(&self) -> bool {
        self.done && self.set_type != SetType::WarmUp
    }
}

/// Volume load (tonnage): Σ weight × reps over the sets that [count](SetRecord::counts).
pub fn volume<'a>(sets: impl IntoIterator<Item = &'a SetRecord>) -> Kilograms {
    Kilograms::computed(
        sets.into_iter()
            .filter(|s| s.counts())
            .map(|s| s.weight.get() * f64::from(s.reps.get()))
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kg(v: f64) -> Kilograms {
        Kilograms::new(v).unwrap()
    }

    fn reps(n: u16) -> Reps {
        Reps::new(n).unwrap()
    }

    #[test]
    fn epley_worked_example() {
        // 100 kg × 5: 100 × (1 + 5/30) = 100 × 1.16667 = 116.67 kg.
        let e = estimated_1rm(kg(100.0), reps(5), OneRepMaxFormula::Epley).unwrap();
        assert!((e.get() - 116.666_666).abs() < 1e-3, "{e}");
        // 80 kg × 10: 80 × (1 + 10/30) = 80 × 1.3333 = 106.67 kg.
        let e = estimated_1rm(kg(80.0), reps(10), OneRepMaxFormula::Epley).unwrap();
        assert!((e.get() - 106.666_666).abs() < 1e-3, "{e}");
    }

    #[test]
    fn brzycki_worked_example() {
        // 100 kg × 5: 100 × 36 / (37 − 5) = 3600 / 32 = 112.5 kg.
        let e = estimated_1rm(kg(100.0), reps(5), OneRepMaxFormula::Brzycki).unwrap();
        assert!((e.get() - 112.5).abs() < 1e-9, "{e}");
        // 80 kg × 10: 80 × 36 / 27 = 2880 / 27 = 106.67 kg (the formulas meet near 10 reps).
        let e = estimated_1rm(kg(80.0), reps(10), OneRepMaxFormula::Brzycki).unwrap();
        assert!((e.get() - 106.666_666).abs() < 1e-3, "{e}");
    }

    #[test]
    fn singles_and_out_of_range_reps() {
        for f in [OneRepMaxFormula::Epley, OneRepMaxFormula::Brzycki] {
            assert_eq!(estimated_1rm(kg(140.0), reps(1), f), Some(kg(140.0)));
            assert_eq!(estimated_1rm(kg(140.0), reps(0), f), None);
            assert_eq!(estimated_1rm(kg(40.0), reps(13), f), None);
        }
    }

    #[test]
    fn volume_counts_done_non_warm_up_sets() {
        let set = |w: f64, r: u16, set_type, done| SetRecord {
            weight: kg(w),
            reps: reps(r),
            set_type,
            done,
        };
        let sets = [
            set(60.0, 10, SetType::WarmUp, true),   // not counted
            set(100.0, 5, SetType::Working, true),  // 500
            set(100.0, 5, SetType::Working, true),  // 500
            set(100.0, 3, SetType::Failure, true),  // 300
            set(80.0, 8, SetType::Drop, true),      // 640
            set(100.0, 5, SetType::Working, false), // not done
        ];
        // 500 + 500 + 300 + 640 = 1940 kg.
        assert_eq!(volume(&sets).get(), 1940.0);
    }
}
