//! Import of the shipped fixtures, checked against their hand-computed analysis
//! (see `tests/fixtures/make_run_gpx.py` for the arithmetic).

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

#[path = "support/synthetic.rs"]
mod synthetic;

use std::time::Duration;

use vigor_training::domain::analysis::summary::summarize;
use vigor_training::domain::analysis::track::{self, DEFAULT_MOVING_SPEED};
use vigor_training::domain::kinds::Sport;
use vigor_training::domain::units::Meters;
use vigor_training::import::{self, Format, ImportError};

const RUN_GPX: &[u8] = include_bytes!("fixtures/run-2500m.gpx");
const FENIX_FIT: &[u8] = include_bytes!("fixtures/garmin-fenix-5-bike.fit");

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

#[test]
fn the_known_gpx_run_has_its_hand_computed_analysis() {
    let activity = import::parse(RUN_GPX).unwrap();
    assert_eq!(activity.format, Format::Gpx);
    assert_eq!(activity.sport, Some(Sport::Run));
    assert_eq!(activity.name.as_deref(), Some("Morning run"));
    assert_eq!(activity.track.points().len(), 27);

    let s = summarize(&activity.track);
    assert!(close(s.distance.get(), 2500.0, 0.01), "{}", s.distance);
    assert_eq!(s.elapsed, Some(Duration::from_secs(780)));
    assert_eq!(s.moving, Some(Duration::from_secs(720)));
    assert_eq!(s.elevation_gain.get(), 20.0);

    let km: Vec<(f64, f64)> = s
        .splits_km
        .iter()
        .map(|x| (x.distance_m, x.duration_s))
        .collect();
    assert_eq!(km.len(), 3, "{km:?}");
    for (got, want) in km
        .iter()
        .zip([(1000.0, 300.0), (1000.0, 300.0), (500.0, 180.0)])
    {
        assert!(
            close(got.0, want.0, 0.01) && close(got.1, want.1, 0.01),
            "{km:?}"
        );
    }
    let mile: Vec<(f64, f64)> = s
        .splits_mile
        .iter()
        .map(|x| (x.distance_m, x.duration_s))
        .collect();
    assert_eq!(mile.len(), 2, "{mile:?}");
    assert!(
        close(mile[0].0, 1609.344, 0.01) && close(mile[0].1, 506.24256, 0.01),
        "{mile:?}"
    );
    assert!(
        close(mile[1].0, 890.656, 0.01) && close(mile[1].1, 273.75744, 0.01),
        "{mile:?}"
    );

    assert_eq!(s.best_efforts.len(), 1, "only 1 km fits in 2.5 km");
    let (name, effort) = &s.best_efforts[0];
    assert_eq!(name, "1k");
    assert!(close(effort.duration_s, 240.0, 0.01), "{effort:?}");
    assert!(close(effort.start_m, 1000.0, 0.01), "{effort:?}");
    // A straight line simplifies to its two ends.
    let line = vigor_training::domain::analysis::polyline::decode(&s.polyline).unwrap();
    assert_eq!(line.len(), 2);
}

#[test]
fn a_fit_file_from_a_real_device_imports() {
    // garmin-fenix-5-bike.fit ships with the fitparser crate (MIT): a short ride.
    let activity = import::parse(FENIX_FIT).unwrap();
    assert_eq!(activity.format, Format::Fit);
    let t = &activity.track;
    assert!(t.is_timed());
    assert!(t.points().len() >= 2);
    assert_eq!(t.points().len(), 19);
    assert_eq!(activity.sport, Some(Sport::Ride));
    let s = summarize(t);
    // The device's own session summary says 459.52 m, 60.363 s, max 114 bpm and a
    // mean of 101 bpm: our haversine distance agrees within 1 %, the time to the
    // second (record timestamps are whole seconds), the heart rate to its rounding.
    assert!(close(s.distance.get(), 459.52, 4.6), "{}", s.distance);
    assert_eq!(s.elapsed, Some(Duration::from_secs(61)));
    let (avg, max) = s.heart_rate.unwrap();
    assert_eq!(max.get(), 114);
    assert!((99..=102).contains(&avg.get()), "{avg:?}");
    assert_eq!(s.elevation_gain.get(), 0.0);
}

#[test]
fn a_truncated_fit_file_names_the_problem() {
    let cut = &FENIX_FIT[..FENIX_FIT.len() / 2];
    let e = import::parse(cut).unwrap_err();
    assert!(matches!(e, ImportError::Fit(_)), "{e}");
    assert!(
        e.to_string().starts_with("the FIT file cannot be read"),
        "{e}"
    );
}

#[test]
fn a_truncated_gpx_file_names_the_problem() {
    let cut = &RUN_GPX[..RUN_GPX.len() * 2 / 3];
    let e = import::parse(cut).unwrap_err();
    assert!(matches!(e, ImportError::Gpx(_)), "{e}");
}

/// The budget: a 10,000-point GPX imports and analyses in under 200 ms
/// (measured here in a debug build, where it is slower than in release).
#[test]
fn a_ten_thousand_point_gpx_imports_whole() {
    let gpx = synthetic::gpx(10_000);
    // Its speed is a benchmark's business (BENCHMARKS.md), not a test's.
    let activity = import::parse(gpx.as_bytes()).unwrap();
    let s = summarize(&activity.track);
    assert_eq!(activity.track.points().len(), 10_000);
    assert!(s.distance.get() > 30_000.0);
    assert!(track::moving_time(&activity.track, DEFAULT_MOVING_SPEED).is_some());
    assert!(s.best_efforts.iter().any(|(n, _)| n == "10k"));
    assert!(Meters::new(s.distance.get()).is_ok());
}

#[test]
fn files_with_too_many_points_are_refused_in_either_format() {
    let points = import::parse(RUN_GPX).unwrap().track.points().len();
    let e = import::parse_at_most(RUN_GPX, points - 1).unwrap_err();
    assert!(matches!(e, ImportError::TooManyPoints), "{e}");
    assert!(import::parse_at_most(RUN_GPX, points).is_ok());
    let points = import::parse(FENIX_FIT).unwrap().track.points().len();
    let e = import::parse_at_most(FENIX_FIT, points - 1).unwrap_err();
    assert!(matches!(e, ImportError::TooManyPoints), "{e}");
    assert!(import::parse_at_most(FENIX_FIT, points).is_ok());
}
