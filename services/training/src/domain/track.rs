//! A recorded route: GPS points with optional elevation, time and heart rate.
//!
//! GPX and FIT files both become a [`Track`] ([`crate::import`]); the track
//! analysis ([`crate::domain::analysis::track`]) reads only this type. A track is
//! parsed, not validated: [`Track::new`] refuses points outside the globe, times
//! that go backwards and tracks of fewer than two points, so the analysis never
//! has to.

use chrono::{DateTime, Utc};

use super::units::Bpm;

/// A position on the WGS 84 ellipsoid, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    /// Latitude, −90 to 90.
    pub lat: f64,
    /// Longitude, −180 to 180.
    pub lon: f64,
}

impl LatLon {
    /// A position, if it is on the globe.
    pub fn new(lat: f64, lon: f64) -> Option<LatLon> {
        let ok = lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0;
        ok.then_some(LatLon { lat, lon })
    }
}

/// One recorded point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    /// Where.
    pub position: LatLon,
    /// Elevation above sea level in metres, when recorded.
    pub elevation: Option<f64>,
    /// When, when recorded.
    pub time: Option<DateTime<Utc>>,
    /// Heart rate, when recorded.
    pub heart_rate: Option<Bpm>,
}

/// Why points do not make a track.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrackError {
    /// Fewer than two points.
    #[error("a track needs at least two points, this one has {0}")]
    TooShort(usize),
    /// A point's time is before the previous point's.
    #[error("point {index} is earlier than the point before it")]
    TimeGoesBackwards {
        /// The index of the offending point.
        index: usize,
    },
    /// An elevation that is not a finite number.
    #[error("point {index} has an elevation that is not a number")]
    BadElevation {
        /// The index of the offending point.
        index: usize,
    },
}

/// At least two points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    points: Vec<TrackPoint>,
}

impl Track {
    /// A track from `points`, checked once.
    pub fn new(points: Vec<TrackPoint>) -> Result<Track, TrackError> {
        if points.len() < 2 {
            return Err(TrackError::TooShort(points.len()));
        }
        let mut last_time = None;
        for (index, p) in points.iter().enumerate() {
            if p.elevation.is_some_and(|e| !e.is_finite()) {
                return Err(TrackError::BadElevation { index });
            }
            if let Some(t) = p.time {
                if last_time.is_some_and(|last| t < last) {
                    return Err(TrackError::TimeGoesBackwards { index });
                }
                last_time = Some(t);
            }
        }
        Ok(Track { points })
    }

    /// The points, in order.
    pub fn points(&self) -> &[TrackPoint] {
        &self.points
    }

    /// Whether every point has a time (needed for moving time, splits, efforts).
    pub fn is_timed(&self) -> bool {
        self.points.iter().all(|p| p.time.is_some())
    }

    /// Time of the first point.
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.points.first().and_then(|p| p.time)
    }

    /// Time of the last point.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.points.last().and_then(|p| p.time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(lat: f64, secs: i64) -> TrackPoint {
        TrackPoint {
            position: LatLon::new(lat, 0.0).unwrap(),
            elevation: None,
            time: DateTime::from_timestamp(secs, 0),
            heart_rate: None,
        }
    }

    #[test]
    fn tracks_are_checked_once() {
        assert!(LatLon::new(91.0, 0.0).is_none());
        assert!(LatLon::new(0.0, f64::NAN).is_none());
        assert_eq!(
            Track::new(vec![point(0.0, 0)]),
            Err(TrackError::TooShort(1))
        );
        assert_eq!(
            Track::new(vec![point(0.0, 10), point(0.1, 5)]),
            Err(TrackError::TimeGoesBackwards { index: 1 })
        );
        let track = Track::new(vec![point(0.0, 0), point(0.1, 5)]).unwrap();
        assert!(track.is_timed());
        assert_eq!(track.points().len(), 2);
    }
}
