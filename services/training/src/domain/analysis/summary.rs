//! Everything the analysis says about one track, computed in one pass over it:
//! what an imported workout stores and answers.

use std::time::Duration;

use serde::Serialize;

use super::polyline::{self, DEFAULT_TOLERANCE_M};
use super::track::{
    self, Effort, Profile, Split, BEST_EFFORT_DISTANCES, DEFAULT_ELEVATION_THRESHOLD,
    DEFAULT_MOVING_SPEED, KILOMETRE, MILE,
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
    /// The simplified route as an encoded polyline.
    pub polyline: String,
}

/// Analyses `track` with the default thresholds.
pub fn summarize(track: &Track) -> TrackSummary {
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
        heart_rate: track::heart_rate_summary(track),
        polyline: polyline::encode(&simplified),
    }
}
