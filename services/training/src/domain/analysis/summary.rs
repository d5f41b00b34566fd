//! Everything the analysis says about one track, computed in one pass over it:
//! what an imported workout stores and answers.

use std::time::Duration;

use serde::Serialize;

use super::polyline::{self, DEFAULT_TOLERANCE_M};
use super::track::{
    self, Effort, HeartRateZones, Profile, Split, BEST_EFFORT_DISTANCES,
    DEFAULT_ELEVATION_THRESHOLD, DEFAULT_MOVING_SPEED, KILOMETRE, MILE,
};
use crate::domain::track::{LatLon, Track};
use crate::domain::units::{Bpm, Meters};

/// The analysis of a track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackSummary {
    /// Distance along the track.
    pub distance: Meters,
    /// First to last point; `None` untimed.
    pub elapsed: Option<Duration>,
    /// Time moving; `None` untimed.
    pub moving: Option<Duration>,
    /// Climb, with the default noise threshold.
    pub elevation_gain: Meters,
    /// Kilometre splits (empty untimed).
    pub splits_km: Vec<Split>,
    /// Mile splits (empty untimed).
    pub splits_mile: Vec<Split>,
    /// Fastest standard distances inside the track, by name (`1k`, `5k`, …).
    pub best_efforts: Vec<(String, Effort)>,
    /// Average and maximum heart rate, when recorded.
    pub heart_rate: Option<(Bpm, Bpm)>,
    /// Seconds in heart-rate zones 1–5 (see [`zone_max`]), when heart rate was recorded.
    pub heart_rate_zones_s: Option<[f64; 5]>,
    /// The simplified route as an encoded polyline.
    pub polyline: String,
}

/// The maximum heart rate zones are computed from: 190 bpm (a population
/// default until the athlete's own is known), or the track's maximum when higher.
pub fn zone_max(observed: Bpm) -> Bpm {
    let default = Bpm::new(190).expect("190 bpm is a heart rate");
    observed.max(default)
}

/// Analyses `track` with the default thresholds and the default maximum heart
/// rate for its zones.
pub fn summarize(track: &Track) -> TrackSummary {
    summarize_with(track, &zone_max)
}

/// Analyses `track` with the default thresholds; heart-rate zones from the
/// maximum `zone_max_of` gives for the track's highest heart rate (the
/// athlete's own when set, see [`crate::domain::settings::AthleteSettings::zone_max`]).
pub fn summarize_with(track: &Track, zone_max_of: &dyn Fn(Bpm) -> Bpm) -> TrackSummary {
    let profile = Profile::of(track);
    let distance = track::distance(track);
    let km = Meters::computed(KILOMETRE);
    let mile = Meters::computed(MILE);
    let best_efforts = match &profile {
        Some(profile) => BEST_EFFORT_DISTANCES
            .iter()
            .filter_map(|(name, d)| {
                track::best_effort_in(profile, *d).map(|e| ((*name).to_owned(), e))
            })
            .collect(),
        None => Vec::new(),
    };
    let heart_rate = track::heart_rate_summary(track);
    let heart_rate_zones_s = heart_rate.and_then(|(_, max)| {
        let zones = HeartRateZones::from_max(zone_max_of(max));
        track::time_in_zones(track, &zones).map(|z| z.map(|d| d.as_secs_f64()))
    });
    let positions: Vec<LatLon> = track.points().iter().map(|p| p.position).collect();
    let simplified = polyline::simplify(&positions, Meters::computed(DEFAULT_TOLERANCE_M));
    TrackSummary {
        distance,
        elapsed: track::elapsed_time(track),
        moving: track::moving_time(track, DEFAULT_MOVING_SPEED),
        elevation_gain: track::elevation_gain(track, Meters::computed(DEFAULT_ELEVATION_THRESHOLD)),
        splits_km: track::splits(track, km).unwrap_or_default(),
        splits_mile: track::splits(track, mile).unwrap_or_default(),
        best_efforts,
        heart_rate,
        heart_rate_zones_s,
        polyline: polyline::encode(&simplified),
    }
}
