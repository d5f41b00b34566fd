//! Track analysis: distance, moving time, elevation gain, speed, splits,
//! heart-rate zones and best efforts.
//!
//! Distances are great-circle (haversine) on a sphere of the Earth's mean radius;
//! at running scale the error against the ellipsoid is a few tenths of a percent,
//! below GPS noise. Everything that needs time works on the *cumulative
//! distance/time profile* of the track (one `(metres, seconds)` pair per point) and
//! interpolates linearly inside a segment, so a split boundary or an effort's end
//! that falls between two points gets the time at which the athlete passed it.

use std::time::Duration;

use serde::Serialize;

use crate::domain::track::{LatLon, Track};
use crate::domain::units::{Bpm, Meters, MetersPerSecond};

/// The mean Earth radius (IUGG), in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;
/// One kilometre.
pub const KILOMETRE: f64 = 1000.0;
/// One international mile.
pub const MILE: f64 = 1609.344;
/// Below this speed between two points the athlete counts as stopped (1.8 km/h).
pub const DEFAULT_MOVING_SPEED: MetersPerSecond = MetersPerSecond(0.5);
/// Elevation changes smaller than this are GPS/barometer noise.
pub const DEFAULT_ELEVATION_THRESHOLD: f64 = 3.0;

/// Great-circle distance between two positions.
pub fn haversine(a: LatLon, b: LatLon) -> Meters {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let dphi = phi2 - phi1;
    let dlambda = (b.lon - a.lon).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    Meters::computed(2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin())
}

/// Cumulative distance at each point, in metres (starts at 0).
pub fn cumulative_distance(track: &Track) -> Vec<f64> {
    let mut total = 0.0;
    let mut out = Vec::with_capacity(track.points().len());
    out.push(0.0);
    for pair in track.points().windows(2) {
        total += haversine(pair[0].position, pair[1].position).get();
        out.push(total);
    }
    out
}

/// Total distance along the track.
pub fn distance(track: &Track) -> Meters {
    Meters::computed(cumulative_distance(track).last().copied().unwrap_or(0.0))
}

/// Seconds since the first point at each point; `None` unless every point is timed.
fn seconds(track: &Track) -> Option<Vec<f64>> {
    let start = track.start()?;
    track
        .points()
        .iter()
        .map(|p| {
            p.time
                .map(|t| (t - start).num_milliseconds() as f64 / 1000.0)
        })
        .collect()
}

/// The distance/time profile of a timed track.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Cumulative metres at each point (non-decreasing).
    pub metres: Vec<f64>,
    /// Seconds since the start at each point (non-decreasing).
    pub seconds: Vec<f64>,
}

impl Profile {
    /// The profile of `track`; `None` unless every point has a time.
    pub fn of(track: &Track) -> Option<Profile> {
        Some(Profile {
            metres: cumulative_distance(track),
            seconds: seconds(track)?,
        })
    }

    /// The earliest time at which the athlete had covered `x` metres (interpolated).
    fn arrival(&self, x: f64) -> Option<f64> {
        let j = self.metres.partition_point(|&d| d < x);
        if j >= self.metres.len() {
            return None;
        }
        if j == 0 {
            return Some(self.seconds[0]);
        }
        Some(self.interpolate(j - 1, j, x))
    }

    /// The latest time at which the athlete was still at `x` metres (interpolated).
    fn departure(&self, x: f64) -> Option<f64> {
        let i = self.metres.partition_point(|&d| d <= x);
        if i == 0 {
            return None;
        }
        let i = i - 1;
        if i + 1 >= self.metres.len() {
            return Some(self.seconds[i]);
        }
        Some(self.interpolate(i, i + 1, x))
    }

    fn interpolate(&self, i: usize, j: usize, x: f64) -> f64 {
        let (d0, d1) = (self.metres[i], self.metres[j]);
        let (t0, t1) = (self.seconds[i], self.seconds[j]);
        if d1 <= d0 {
            return t0;
        }
        t0 + (x - d0) / (d1 - d0) * (t1 - t0)
    }

    fn total_metres(&self) -> f64 {
        self.metres.last().copied().unwrap_or(0.0)
    }
}

/// Time from the first to the last point; `None` for an untimed track.
pub fn elapsed_time(track: &Track) -> Option<Duration> {
    let (start, end) = (track.start()?, track.end()?);
    (end - start).to_std().ok()
}

/// Time spent moving: the intervals between consecutive points whose speed is at
/// least `min_speed`. `None` for an untimed track.
pub fn moving_time(track: &Track, min_speed: MetersPerSecond) -> Option<Duration> {
    let profile = Profile::of(track)?;
    let mut moving = 0.0;
    for i in 1..profile.metres.len() {
        let dt = profile.seconds[i] - profile.seconds[i - 1];
        let dd = profile.metres[i] - profile.metres[i - 1];
        if dt > 0.0 && dd / dt >= min_speed.0 {
            moving += dt;
        }
    }
    Some(Duration::from_secs_f64(moving))
}

/// Total climb, ignoring changes smaller than `threshold` (hysteresis): a climb
/// counts once the elevation has risen `threshold` above the lowest point since
/// the last counted climb. Points without elevation are skipped.
pub fn elevation_gain(track: &Track, threshold: Meters) -> Meters {
    let mut elevations = track.points().iter().filter_map(|p| p.elevation);
    let Some(mut anchor) = elevations.next() else {
        return Meters::ZERO;
    };
    let mut gain = 0.0;
    for e in elevations {
        if e - anchor >= threshold.get() {
            gain += e - anchor;
            anchor = e;
        } else if e < anchor {
            anchor = e;
        }
    }
    Meters::computed(gain)
}

/// Average speed over a distance and a time; `None` for a zero time.
pub fn average_speed(distance: Meters, time: Duration) -> Option<MetersPerSecond> {
    let s = time.as_secs_f64();
    (s > 0.0).then(|| MetersPerSecond(distance.get() / s))
}

/// One split of a track.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Split {
    /// 1 for the first split.
    pub number: u32,
    /// Its length in metres (the split length, or less for the last one).
    pub distance_m: f64,
    /// Time for it, in seconds.
    pub duration_s: f64,
    /// Pace, seconds per kilometre.
    pub pace_s_per_km: f64,
}

/// Splits of `length` metres (e.g. [`KILOMETRE`], [`MILE`]), the last one shorter
/// when the track does not end on a boundary. `None` for an untimed track.
pub fn splits(track: &Track, length: Meters) -> Option<Vec<Split>> {
    let profile = Profile::of(track)?;
    let total = profile.total_metres();
    let length = length.get();
    if length <= 0.0 {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    let mut start_distance = 0.0;
    let mut start_time = profile.seconds[0];
    let mut number = 1;
    while start_distance < total {
        let end_distance = (start_distance + length).min(total);
        let end_time = if end_distance >= total {
            profile.seconds[profile.seconds.len() - 1]
        } else {
            profile.arrival(end_distance)?
        };
        let d = end_distance - start_distance;
        // Drop a sub-metre remainder: GPS rounding, not a split anyone ran.
        if d >= 1.0 || out.is_empty() {
            let t = end_time - start_time;
            out.push(Split {
                number,
                distance_m: d,
                duration_s: t,
                pace_s_per_km: if d > 0.0 { t / d * 1000.0 } else { 0.0 },
            });
        }
        number += 1;
        start_distance = end_distance;
        start_time = end_time;
    }
    Some(out)
}

/// Heart-rate zones as fractions of the maximum heart rate: zone 1 is below 60 %,
/// zone 2 60–70 %, zone 3 70–80 %, zone 4 80–90 %, zone 5 from 90 %.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeartRateZones {
    /// Lower bounds of zones 2 to 5, in bpm.
    lower_bounds: [f64; 4],
}

impl HeartRateZones {
    /// The zones of an athlete with maximum heart rate `max`.
    pub fn from_max(max: Bpm) -> Self {
        let m = f64::from(max.get());
        HeartRateZones {
            lower_bounds: [0.6 * m, 0.7 * m, 0.8 * m, 0.9 * m],
        }
    }

    /// The zone (1–5) of a heart rate.
    pub fn zone(&self, hr: Bpm) -> usize {
        let hr = f64::from(hr.get());
        1 + self.lower_bounds.iter().filter(|&&b| hr >= b).count()
    }
}

/// Time spent in each zone (index 0 = zone 1): each interval between two points
/// counts in the zone of the first point's heart rate; intervals starting at a
/// point without heart rate count nowhere. `None` for an untimed track.
pub fn time_in_zones(track: &Track, zones: &HeartRateZones) -> Option<[Duration; 5]> {
    let profile = Profile::of(track)?;
    let mut secs = [0.0; 5];
    for (i, p) in track
        .points()
        .iter()
        .enumerate()
        .take(track.points().len() - 1)
    {
        if let Some(hr) = p.heart_rate {
            secs[zones.zone(hr) - 1] += profile.seconds[i + 1] - profile.seconds[i];
        }
    }
    Some(secs.map(Duration::from_secs_f64))
}

/// Average and maximum heart rate over the points that have one (time-weighted
/// average when timed, plain mean otherwise).
pub fn heart_rate_summary(track: &Track) -> Option<(Bpm, Bpm)> {
    let max = track.points().iter().filter_map(|p| p.heart_rate).max()?;
    let points = track.points();
    let timed = Profile::of(track).map(|profile| {
        let mut weighted = 0.0;
        let mut total = 0.0;
        for (p, t) in points.iter().zip(profile.seconds.windows(2)) {
            if let Some(hr) = p.heart_rate {
                let dt = t[1] - t[0];
                weighted += f64::from(hr.get()) * dt;
                total += dt;
            }
        }
        (total > 0.0).then(|| weighted / total)
    });
    let average = match timed.flatten() {
        Some(avg) => avg,
        None => {
            let hrs: Vec<f64> = points
                .iter()
                .filter_map(|p| p.heart_rate)
                .map(|h| f64::from(h.get()))
                .collect();
            hrs.iter().sum::<f64>() / hrs.len() as f64
        }
    };
    let average = Bpm::new(average.round() as u16).unwrap_or(max);
    Some((average, max))
}

/// The classic race distances for best efforts.
pub const BEST_EFFORT_DISTANCES: [(&str, f64); 5] = [
    ("1k", 1000.0),
    ("5k", 5000.0),
    ("10k", 10_000.0),
    ("half_marathon", 21_097.5),
    ("marathon", 42_195.0),
];

/// The fastest stretch of a given distance inside a track.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Effort {
    /// The effort's distance in metres.
    pub distance_m: f64,
    /// How long it took, in seconds.
    pub duration_s: f64,
    /// Where along the track it started, in metres.
    pub start_m: f64,
}

/// The fastest `length` inside the track, or `None` when the track is shorter or
/// untimed. The fastest window of a piecewise-linear profile starts or ends at a
/// recorded point, so both families of windows are tried (two monotone sweeps,
/// O(n log n)).
pub fn best_effort(track: &Track, length: Meters) -> Option<Effort> {
    let profile = Profile::of(track)?;
    best_effort_in(&profile, length.get())
}

/// [`best_effort`] on a precomputed profile (to try several distances cheaply).
pub fn best_effort_in(profile: &Profile, length: f64) -> Option<Effort> {
    if length <= 0.0 || profile.total_metres() < length {
        return None;
    }
    let mut best: Option<Effort> = None;
    let mut consider = |start_m: f64, start_t: f64, end_t: f64| {
        let duration_s = end_t - start_t;
        if best.as_ref().is_none_or(|b| duration_s < b.duration_s) {
            best = Some(Effort {
                distance_m: length,
                duration_s,
                start_m,
            });
        }
    };
    for (i, (&d, &t)) in profile.metres.iter().zip(&profile.seconds).enumerate() {
        // Windows starting at point i (leaving it at its time: for a stop, the last
        // point of the stop is the latest departure, and it is tried as well).
        if let Some(end) = profile.arrival(d + length) {
            consider(d, t, end);
        }
        // Windows ending at point i (arriving at its time).
        if d >= length && (i == 0 || profile.metres[i - 1] < d) {
            if let Some(start) = profile.departure(d - length) {
                consider(d - length, start, t);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::domain::track::TrackPoint;

    /// A point on the meridian λ = 10° at `metres` north of latitude 45°, at
    /// `secs` seconds: along a meridian the haversine distance is exactly R·Δφ.
    fn north(metres: f64, secs: i64, ele: Option<f64>, hr: Option<u16>) -> TrackPoint {
        let lat = 45.0 + (metres / EARTH_RADIUS_M).to_degrees();
        TrackPoint {
            position: LatLon::new(lat, 10.0).unwrap(),
            elevation: ele,
            time: DateTime::from_timestamp(1_700_000_000 + secs, 0),
            heart_rate: hr.map(|h| Bpm::new(h).unwrap()),
        }
    }

    fn track(points: Vec<TrackPoint>) -> Track {
        Track::new(points).unwrap()
    }

    #[test]
    fn haversine_worked_examples() {
        // One degree of latitude: R × π/180 = 6,371,000 × 0.0174533 = 111,194.93 m.
        let a = LatLon::new(0.0, 0.0).unwrap();
        let b = LatLon::new(1.0, 0.0).unwrap();
        assert!((haversine(a, b).get() - 111_194.93).abs() < 0.01);
        // One degree of longitude at 60° N: R × cos 60° × π/180 = 55,597.46 m along the
        // parallel; the great circle is a little shorter: 2R·asin(cos 60°·sin 0.5°)
        // = 2 × 6,371,000 × asin(0.5 × 0.00872654) = 2 × 6,371,000 × 0.00436326 = 55,596.93 m.
        let c = LatLon::new(60.0, 0.0).unwrap();
        let d = LatLon::new(60.0, 1.0).unwrap();
        assert!(
            (haversine(c, d).get() - 55_596.93).abs() < 0.01,
            "{}",
            haversine(c, d)
        );
        assert_eq!(haversine(a, a).get(), 0.0);
    }

    #[test]
    fn moving_time_leaves_out_stops() {
        // 0 → 100 m in 30 s (3.33 m/s, moving), 60 s standing (0 m/s), 100 m in 30 s.
        let t = track(vec![
            north(0.0, 0, None, None),
            north(100.0, 30, None, None),
            north(100.0, 90, None, None),
            north(200.0, 120, None, None),
        ]);
        assert!((distance(&t).get() - 200.0).abs() < 1e-6);
        assert_eq!(elapsed_time(&t), Some(Duration::from_secs(120)));
        assert_eq!(
            moving_time(&t, DEFAULT_MOVING_SPEED),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn elevation_gain_ignores_noise_below_the_threshold() {
        // 100 → 120 in 2 m steps, ±1 m noise around 120, then down to 95.
        // Threshold 3: counted climbs 100→104→108→112→116→120 = 20 m; the noise
        // (119 ↔ 121) never rises 3 m above its low; descents count nothing.
        // Threshold 0: 20 + (120→121: 1) + 4 × (119→121: 2) = 29 m.
        let mut eles: Vec<f64> = (0..=10).map(|i| 100.0 + 2.0 * f64::from(i)).collect();
        for i in 0..10 {
            eles.push(if i % 2 == 0 { 121.0 } else { 119.0 });
        }
        eles.extend([110.0, 95.0]);
        let points = eles
            .iter()
            .enumerate()
            .map(|(i, &e)| north(i as f64 * 10.0, i as i64 * 5, Some(e), None))
            .collect();
        let t = track(points);
        assert_eq!(elevation_gain(&t, Meters::new(3.0).unwrap()).get(), 20.0);
        assert_eq!(elevation_gain(&t, Meters::ZERO).get(), 29.0);
    }

    #[test]
    fn splits_interpolate_boundaries() {
        // 0 m at 0 s, 1,500 m at 450 s (3.33 m/s), 2,500 m at 700 s (4 m/s).
        // km 1 ends inside the first segment: 1000 / 1500 × 450 = 300 s.
        // km 2: 1,000 → 2,000 m = 200 s at 3.33 m/s (to 1,500 m at 450 s: 150 s)
        //       + 500 m at 4 m/s (125 s) = 275 s.
        // Rest: 500 m at 4 m/s = 125 s.
        let t = track(vec![
            north(0.0, 0, None, None),
            north(1500.0, 450, None, None),
            north(2500.0, 700, None, None),
        ]);
        let s = splits(&t, Meters::new(KILOMETRE).unwrap()).unwrap();
        let got: Vec<(u32, f64, f64)> = s
            .iter()
            .map(|s| {
                (
                    s.number,
                    (s.distance_m * 1e3).round() / 1e3,
                    (s.duration_s * 1e3).round() / 1e3,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![(1, 1000.0, 300.0), (2, 1000.0, 275.0), (3, 500.0, 125.0)]
        );
        assert!((s[2].pace_s_per_km - 250.0).abs() < 1e-6);
    }

    #[test]
    fn zones_split_time_by_heart_rate() {
        // Max 200: zone 2 from 120, zone 3 from 140, zone 4 from 160, zone 5 from 180.
        let zones = HeartRateZones::from_max(Bpm::new(200).unwrap());
        assert_eq!(zones.zone(Bpm::new(119).unwrap()), 1);
        assert_eq!(zones.zone(Bpm::new(120).unwrap()), 2);
        assert_eq!(zones.zone(Bpm::new(185).unwrap()), 5);
        // 60 s at 130 (zone 2), 120 s at 170 (zone 4); the last point closes the track.
        let t = track(vec![
            north(0.0, 0, None, Some(130)),
            north(200.0, 60, None, Some(170)),
            north(600.0, 180, None, Some(190)),
        ]);
        let z = time_in_zones(&t, &zones).unwrap();
        assert_eq!(z.map(|d| d.as_secs()), [0, 60, 0, 120, 0]);
        // Time-weighted average: (130 × 60 + 170 × 120) / 180 = 156.67 → 157; max 190.
        let (avg, max) = heart_rate_summary(&t).unwrap();
        assert_eq!((avg.get(), max.get()), (157, 190));
    }

    #[test]
    fn best_effort_finds_the_fastest_window_even_mid_segment() {
        // 0–1,000 m at 5:00/km (300 s), 1,000–2,000 m at 4:00/km (240 s),
        // 2,000–3,000 m at 6:00/km (360 s).
        let t = track(vec![
            north(0.0, 0, None, None),
            north(1000.0, 300, None, None),
            north(2000.0, 540, None, None),
            north(3000.0, 900, None, None),
        ]);
        // The fastest km is exactly the middle one: 240 s, starting at 1,000 m.
        let e = best_effort(&t, Meters::new(1000.0).unwrap()).unwrap();
        assert!(
            (e.duration_s - 240.0).abs() < 1e-9 && (e.start_m - 1000.0).abs() < 1e-6,
            "{e:?}"
        );
        // The fastest 1.5 km: the 4:00 km plus 500 m of the 5:00 km before it
        // (150 s) beats 500 m of the 6:00 km after it (180 s): 240 + 150 = 390 s.
        let e = best_effort(&t, Meters::new(1500.0).unwrap()).unwrap();
        assert!((e.duration_s - 390.0).abs() < 1e-9, "{e:?}");
        assert!((e.start_m - 500.0).abs() < 1e-6);
        assert_eq!(best_effort(&t, Meters::new(5000.0).unwrap()), None);
    }

    #[test]
    fn best_effort_starts_after_a_stop() {
        // A stop at 500 m from 150 s to 400 s; then 1 km in 250 s.
        let t = track(vec![
            north(0.0, 0, None, None),
            north(500.0, 150, None, None),
            north(500.0, 400, None, None),
            north(1500.0, 650, None, None),
        ]);
        let e = best_effort(&t, Meters::new(1000.0).unwrap()).unwrap();
        assert!((e.duration_s - 250.0).abs() < 1e-9, "{e:?}");
    }

    #[test]
    fn untimed_tracks_have_distance_but_no_time_analysis() {
        let mut a = north(0.0, 0, None, None);
        let mut b = north(1000.0, 0, None, None);
        a.time = None;
        b.time = None;
        let t = track(vec![a, b]);
        assert!((distance(&t).get() - 1000.0).abs() < 1e-6);
        assert_eq!(moving_time(&t, DEFAULT_MOVING_SPEED), None);
        assert_eq!(splits(&t, Meters::new(KILOMETRE).unwrap()), None);
        assert_eq!(best_effort(&t, Meters::new(1000.0).unwrap()), None);
    }
}
