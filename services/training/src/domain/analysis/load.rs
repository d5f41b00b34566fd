//! Training load: per session (session-RPE, TRIMP) and over weeks (ACWR).
//!
//! Loads are in arbitrary units (AU). Session-RPE (Foster 2001) works for every
//! session someone rates; Banister's TRIMP needs heart rate and weighs time at high
//! intensity exponentially. The acute:chronic workload ratio compares the last 7
//! days with the last 28 (rolling averages, the "coupled" form of Gabbett 2016).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::units::{Bpm, Rpe};

/// Session-RPE load: RPE × minutes (Foster). 60 min at RPE 7 = 420 AU.
pub fn session_rpe_load(rpe: Rpe, duration: Duration) -> f64 {
    rpe.get() * duration.as_secs_f64() / 60.0
}

/// Banister's exponential weighting, which differs by sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrimpWeighting {
    /// `0.64 · e^(1.92 · x)`.
    Male,
    /// `0.86 · e^(1.67 · x)`.
    Female,
}

impl TrimpWeighting {
    fn factor(self, reserve_fraction: f64) -> f64 {
        match self {
            TrimpWeighting::Male => 0.64 * (1.92 * reserve_fraction).exp(),
            TrimpWeighting::Female => 0.86 * (1.67 * reserve_fraction).exp(),
        }
    }
}

/// The athlete's heart-rate anchors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeartRateProfile {
    /// Resting heart rate.
    pub resting: Bpm,
    /// Maximum heart rate (must exceed `resting`).
    pub max: Bpm,
    /// TRIMP weighting.
    pub weighting: TrimpWeighting,
}

impl HeartRateProfile {
    /// Fraction of heart-rate reserve, `(hr − rest) / (max − rest)`, clamped to 0–1;
    /// `None` when max is not above rest.
    fn reserve_fraction(&self, hr: Bpm) -> Option<f64> {
        let rest = f64::from(self.resting.get());
        let max = f64::from(self.max.get());
        (max > rest).then(|| ((f64::from(hr.get()) - rest) / (max - rest)).clamp(0.0, 1.0))
    }
}

/// Banister TRIMP over `duration` at an average heart rate:
/// `minutes × x × weighting(x)` with `x` the fraction of heart-rate reserve.
pub fn trimp_from_average(
    duration: Duration,
    average: Bpm,
    profile: &HeartRateProfile,
) -> Option<f64> {
    let x = profile.reserve_fraction(average)?;
    Some(duration.as_secs_f64() / 60.0 * x * profile.weighting.factor(x))
}

/// Banister TRIMP summed over heart-rate samples: each interval between two samples
/// counts at the first sample's heart rate. Samples must be in time order.
pub fn trimp_from_samples(samples: &[(Duration, Bpm)], profile: &HeartRateProfile) -> Option<f64> {
    let mut total = 0.0;
    for pair in samples.windows(2) {
        let ((t0, hr), (t1, _)) = (pair[0], pair[1]);
        let x = profile.reserve_fraction(hr)?;
        let minutes = t1.saturating_sub(t0).as_secs_f64() / 60.0;
        total += minutes * x * profile.weighting.factor(x);
    }
    Some(total)
}

/// The acute:chronic workload ratio and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Acwr {
    /// Mean daily load of the last 7 days.
    pub acute: f64,
    /// Mean daily load of the last 28 days.
    pub chronic: f64,
    /// `acute / chronic`.
    pub ratio: f64,
}

/// The ACWR of daily loads ending today (`daily_loads.last()` is today; days
/// without training are 0). Fewer than 28 days count the missing ones as rest;
/// `None` when the chronic load is zero.
pub fn acwr(daily_loads: &[f64]) -> Option<Acwr> {
    let last = |n: usize| &daily_loads[daily_loads.len().saturating_sub(n)..];
    let acute = last(7).iter().sum::<f64>() / 7.0;
    let chronic = last(28).iter().sum::<f64>() / 28.0;
    (chronic > 0.0).then(|| Acwr {
        acute,
        chronic,
        ratio: acute / chronic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bpm(n: u16) -> Bpm {
        Bpm::new(n).unwrap()
    }

    fn profile() -> HeartRateProfile {
        HeartRateProfile {
            resting: bpm(60),
            max: bpm(190),
            weighting: TrimpWeighting::Male,
        }
    }

    #[test]
    fn session_rpe_worked_example() {
        // 60 min at RPE 7: 7 × 60 = 420 AU; 45 min at RPE 8.5: 8.5 × 45 = 382.5 AU.
        assert_eq!(
            session_rpe_load(Rpe::new(7.0).unwrap(), Duration::from_secs(3600)),
            420.0
        );
        assert_eq!(
            session_rpe_load(Rpe::new(8.5).unwrap(), Duration::from_secs(2700)),
            382.5
        );
    }

    #[test]
    fn trimp_from_average_worked_example() {
        // 30 min at 150 bpm, rest 60, max 190: x = 90/130 = 0.692308.
        // Male: 30 × 0.692308 × 0.64 × e^(1.92 × 0.692308) = 30 × 0.692308 × 0.64 × 3.77790 = 50.220.
        let t = trimp_from_average(Duration::from_secs(1800), bpm(150), &profile()).unwrap();
        assert!((t - 50.2201).abs() < 1e-3, "{t}");
        // Female: 30 × 0.692308 × 0.86 × e^(1.67 × 0.692308) = 56.758.
        let female = HeartRateProfile {
            weighting: TrimpWeighting::Female,
            ..profile()
        };
        let t = trimp_from_average(Duration::from_secs(1800), bpm(150), &female).unwrap();
        assert!((t - 56.7584).abs() < 1e-3, "{t}");
    }

    #[test]
    fn trimp_from_samples_sums_intervals() {
        // 10 min at 120 (x = 60/130): 10 × 0.461538 × 0.64 × e^0.886154 = 7.1654;
        // 10 min at 160 (x = 100/130): 10 × 0.769231 × 0.64 × e^1.476923 = 21.5604.
        // Total 28.7258; the last sample only closes the interval.
        let samples = [
            (Duration::ZERO, bpm(120)),
            (Duration::from_secs(600), bpm(160)),
            (Duration::from_secs(1200), bpm(180)),
        ];
        let t = trimp_from_samples(&samples, &profile()).unwrap();
        assert!((t - 28.7258).abs() < 1e-3, "{t}");
    }

    #[test]
    fn trimp_needs_max_above_rest() {
        let bad = HeartRateProfile {
            resting: bpm(100),
            max: bpm(100),
            weighting: TrimpWeighting::Male,
        };
        assert_eq!(
            trimp_from_average(Duration::from_secs(60), bpm(120), &bad),
            None
        );
    }

    #[test]
    fn acwr_worked_example() {
        // 21 days at 100 AU, then 7 days at 200 AU:
        // acute = 7 × 200 / 7 = 200; chronic = (21 × 100 + 7 × 200) / 28 = 3500 / 28 = 125;
        // ratio = 200 / 125 = 1.6 (above 1.5: the danger zone).
        let mut days = vec![100.0; 21];
        days.extend([200.0; 7]);
        let a = acwr(&days).unwrap();
        assert_eq!((a.acute, a.chronic), (200.0, 125.0));
        assert!((a.ratio - 1.6).abs() < 1e-12);
    }

    #[test]
    fn acwr_counts_missing_days_as_rest_and_ignores_older_ones() {
        // Only 7 days known, 70 AU each: acute 70, chronic 490 / 28 = 17.5, ratio 4.
        let a = acwr(&[70.0; 7]).unwrap();
        assert_eq!((a.acute, a.chronic, a.ratio), (70.0, 17.5, 4.0));
        // Days older than 28 do not count.
        let mut days = vec![1000.0; 10];
        days.extend([50.0; 28]);
        assert_eq!(acwr(&days).unwrap().ratio, 1.0);
        assert_eq!(acwr(&[0.0; 28]), None);
        assert_eq!(acwr(&[]), None);
    }
}
