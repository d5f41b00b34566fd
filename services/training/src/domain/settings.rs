//! The athlete's own training settings: maximum and resting heart rate.
//!
//! Heart-rate zones (of imports) and TRIMP loads (of sessions with a heart rate
//! but no RPE) are computed from them; while one is unset, the population
//! defaults stand in (maximum 190 bpm — or a track's own maximum when higher —
//! and resting 60 bpm).

use serde::{Deserialize, Serialize};

use super::analysis::load::{HeartRateProfile, TrimpWeighting};
use super::analysis::summary::zone_max;
use super::draft::DraftProblem;
use super::units::Bpm;

/// The range a maximum heart rate is accepted in.
pub const MAX_HR_RANGE: (u16, u16) = (100, 230);
/// The range a resting heart rate is accepted in.
pub const RESTING_HR_RANGE: (u16, u16) = (25, 120);
/// The maximum heart rate used until the athlete's own is set.
pub const DEFAULT_MAX_HR: u16 = 190;
/// The resting heart rate used until the athlete's own is set.
pub const DEFAULT_RESTING_HR: u16 = 60;

/// An athlete's settings; `None` is unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AthleteSettings {
    /// Maximum heart rate.
    pub max_hr: Option<Bpm>,
    /// Resting heart rate.
    pub resting_hr: Option<Bpm>,
}

/// Settings as the API reads and writes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettingsDraft {
    /// Maximum heart rate in bpm (100–230); `null` to use the default (190).
    pub max_hr: Option<u16>,
    /// Resting heart rate in bpm (25–120, below `max_hr`); `null` to use the default (60).
    pub resting_hr: Option<u16>,
}

fn in_range(
    field: &str,
    value: Option<u16>,
    (lo, hi): (u16, u16),
) -> Result<Option<Bpm>, DraftProblem> {
    let Some(v) = value else { return Ok(None) };
    if !(lo..=hi).contains(&v) {
        return Err(DraftProblem {
            field: field.to_owned(),
            message: format!("must be between {lo} and {hi} bpm, got {v}"),
        });
    }
    Bpm::new(v).map(Some).map_err(|e| DraftProblem {
        field: field.to_owned(),
        message: e.to_string(),
    })
}

impl SettingsDraft {
    /// Checks the ranges and that resting is below maximum; every problem at once.
    pub fn parse(self) -> Result<AthleteSettings, Vec<DraftProblem>> {
        let max = in_range("max_hr", self.max_hr, MAX_HR_RANGE);
        let resting = in_range("resting_hr", self.resting_hr, RESTING_HR_RANGE);
        match (max, resting) {
            (Ok(max_hr), Ok(resting_hr)) => {
                let effective = AthleteSettings { max_hr, resting_hr };
                let (rest, max) = (effective.resting().get(), effective.max().get());
                if rest >= max {
                    return Err(vec![DraftProblem {
                        field: "resting_hr".into(),
                        message: format!(
                            "must be below the maximum heart rate ({max} bpm), got {rest}"
                        ),
                    }]);
                }
                Ok(effective)
            }
            (max, resting) => Err([max.err(), resting.err()].into_iter().flatten().collect()),
        }
    }
}

impl From<AthleteSettings> for SettingsDraft {
    fn from(s: AthleteSettings) -> Self {
        SettingsDraft {
            max_hr: s.max_hr.map(Bpm::get),
            resting_hr: s.resting_hr.map(Bpm::get),
        }
    }
}

impl AthleteSettings {
    /// The maximum heart rate: the athlete's, else the default.
    pub fn max(&self) -> Bpm {
        self.max_hr
            .unwrap_or_else(|| Bpm::new(DEFAULT_MAX_HR).expect("190 bpm is a heart rate"))
    }

    /// The resting heart rate: the athlete's, else the default.
    pub fn resting(&self) -> Bpm {
        self.resting_hr
            .unwrap_or_else(|| Bpm::new(DEFAULT_RESTING_HR).expect("60 bpm is a heart rate"))
    }

    /// The maximum the zones of a track whose highest heart rate was `observed`
    /// are computed from: the athlete's own when set (what they know beats one
    /// reading), else the default or the track's maximum when higher.
    pub fn zone_max(&self, observed: Bpm) -> Bpm {
        self.max_hr.unwrap_or_else(|| zone_max(observed))
    }

    /// The heart-rate profile TRIMP loads use.
    pub fn heart_rate_profile(&self) -> HeartRateProfile {
        HeartRateProfile {
            resting: self.resting(),
            max: self.max(),
            weighting: TrimpWeighting::Male,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(max: Option<u16>, rest: Option<u16>) -> SettingsDraft {
        SettingsDraft {
            max_hr: max,
            resting_hr: rest,
        }
    }

    #[test]
    fn ranges_and_order_are_checked() {
        let ok = draft(Some(180), Some(50)).parse().unwrap();
        assert_eq!((ok.max().get(), ok.resting().get()), (180, 50));
        let fields = |d: SettingsDraft| -> Vec<String> {
            d.parse()
                .unwrap_err()
                .into_iter()
                .map(|p| p.field)
                .collect()
        };
        assert_eq!(fields(draft(Some(99), Some(24))), ["max_hr", "resting_hr"]);
        assert_eq!(fields(draft(Some(231), None)), ["max_hr"]);
        assert_eq!(fields(draft(Some(120), Some(120))), ["resting_hr"]);
        // Against the default maximum (190) too.
        assert!(draft(None, Some(120)).parse().is_ok());
        assert_eq!(
            draft(None, None).parse().unwrap(),
            AthleteSettings::default()
        );
    }

    #[test]
    fn zones_and_trimp_use_the_athletes_own_values() {
        let none = AthleteSettings::default();
        let bpm = |v| Bpm::new(v).unwrap();
        // Unset: 190, or the track's maximum when higher.
        assert_eq!(none.zone_max(bpm(170)).get(), 190);
        assert_eq!(none.zone_max(bpm(200)).get(), 200);
        let own = draft(Some(170), Some(45)).parse().unwrap();
        assert_eq!(own.zone_max(bpm(200)).get(), 170);
        let p = own.heart_rate_profile();
        assert_eq!((p.resting.get(), p.max.get()), (45, 170));
        let d = none.heart_rate_profile();
        assert_eq!((d.resting.get(), d.max.get()), (60, 190));
    }
}
