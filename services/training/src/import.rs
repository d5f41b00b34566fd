//! Reading activity files: GPX (with the `gpx` crate) and FIT (with `fitparser`)
//! into a [`Track`] for the analysis.
//!
//! The format is recognised from the bytes, not the file name (a FIT file carries
//! `.FIT` in its header; a GPX file is XML). Every failure is an [`ImportError`]
//! that names the problem in words a user can act on — the HTTP layer turns it into
//! a 422 — and parsing happens entirely before anything is stored.

use chrono::{DateTime, Utc};

use crate::domain::kinds::Sport;
use crate::domain::track::{LatLon, Track, TrackError, TrackPoint};
use crate::domain::units::Bpm;

/// The most track points a file may hold: 69 hours at one point a second. The
/// upload limit (`http.upload_limit_bytes`, 25 MiB by default: an 8-hour ride
/// with heart rate and cadence is about 7 MB of GPX) bounds what a parse reads;
/// this bounds what it keeps.
pub const MAX_POINTS: usize = 250_000;

/// A recognised file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GPS Exchange Format 1.0/1.1 (XML).
    Gpx,
    /// Garmin/ANT Flexible and Interoperable Data Transfer.
    Fit,
}

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Empty upload.
    #[error("the file is empty")]
    Empty,
    /// More track points than a workout may have ([`MAX_POINTS`]).
    #[error("the file has more track points than the {MAX_POINTS} a workout may have")]
    TooManyPoints,
    /// Neither GPX nor FIT.
    #[error("the file is neither GPX nor FIT")]
    UnknownFormat,
    /// The GPX parser refused it (malformed or truncated XML, bad values).
    #[error("the GPX file cannot be read: {0}")]
    Gpx(String),
    /// The FIT parser refused it (truncated, bad CRC, bad definitions).
    #[error("the FIT file cannot be read: {0}")]
    Fit(String),
    /// A file without any positions.
    #[error("the file has no track points with a position")]
    NoTrack,
    /// A point outside the globe.
    #[error("track point {index} has an impossible position")]
    BadPosition {
        /// Index among the points read.
        index: usize,
    },
    /// Points that do not form a track.
    #[error("the track is not usable: {0}")]
    Track(#[from] TrackError),
}

/// What an activity file holds.
#[derive(Debug, Clone)]
pub struct Activity {
    /// The route.
    pub track: Track,
    /// The sport the file names, when it names one we know.
    pub sport: Option<Sport>,
    /// The activity's name, when the file has one.
    pub name: Option<String>,
    /// Which format it was.
    pub format: Format,
}

/// The format of `bytes`, if recognised.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    // FIT: byte 0 is the header size (12 or 14), bytes 8..12 are ".FIT".
    if bytes.len() >= 12 && matches!(bytes[0], 12 | 14) && &bytes[8..12] == b".FIT" {
        return Some(Format::Fit);
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &text[start..text.len().min(start + 4096)];
    let head = String::from_utf8_lossy(head);
    (head.starts_with('<') && head.contains("<gpx")).then_some(Format::Gpx)
}

/// Reads an activity file of at most [`MAX_POINTS`] track points.
pub fn parse(bytes: &[u8]) -> Result<Activity, ImportError> {
    parse_at_most(bytes, MAX_POINTS)
}

/// Reads an activity file of at most `max_points` track points.
pub fn parse_at_most(bytes: &[u8], max_points: usize) -> Result<Activity, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    match detect(bytes).ok_or(ImportError::UnknownFormat)? {
        Format::Gpx => parse_gpx(bytes, max_points),
        Format::Fit => parse_fit(bytes, max_points),
    }
}

/// Reads a GPX file: the points of every segment of every track, in order (routes
/// as a fallback when there is no track).
pub fn parse_gpx(bytes: &[u8], max_points: usize) -> Result<Activity, ImportError> {
    let gpx = gpx::read(bytes).map_err(|e| ImportError::Gpx(e.to_string()))?;
    let mut waypoints: Vec<&gpx::Waypoint> = gpx
        .tracks
        .iter()
        .flat_map(|t| &t.segments)
        .flat_map(|s| &s.points)
        .collect();
    if waypoints.is_empty() {
        waypoints = gpx.routes.iter().flat_map(|r| &r.points).collect();
    }
    if waypoints.is_empty() {
        return Err(ImportError::NoTrack);
    }
    if waypoints.len() > max_points {
        return Err(ImportError::TooManyPoints);
    }
    let from_tracks = gpx
        .tracks
        .iter()
        .any(|t| t.segments.iter().any(|s| !s.points.is_empty()));
    let heart_rates = if from_tracks {
        gpx_heart_rates(bytes)
    } else {
        Vec::new()
    };
    // Heart rates are used only when they line up with the points one to one.
    let heart_rates = (heart_rates.len() == waypoints.len()).then_some(heart_rates);
    let mut points = Vec::with_capacity(waypoints.len());
    for (index, w) in waypoints.into_iter().enumerate() {
        let p = w.point();
        let position = LatLon::new(p.y(), p.x()).ok_or(ImportError::BadPosition { index })?;
        points.push(TrackPoint {
            position,
            elevation: w.elevation,
            time: w.time.map(gpx_time),
            heart_rate: heart_rates.as_ref().and_then(|h| h[index]),
        });
    }
    let first = gpx.tracks.first();
    Ok(Activity {
        track: Track::new(points)?,
        sport: first.and_then(|t| t.type_.as_deref()).and_then(sport_named),
        name: first
            .and_then(|t| t.name.clone())
            .or_else(|| gpx.metadata.as_ref().and_then(|m| m.name.clone())),
        format: Format::Gpx,
    })
}

/// Heart rates of the `trkpt`s in document order, from Garmin's
/// TrackPointExtension (`<gpxtpx:hr>`) or the older `<heartrate>`: the `gpx`
/// crate skips extensions, so they are read in a second, light pass. `None` for
/// a point without one; empty when the file has none at all.
fn gpx_heart_rates(bytes: &[u8]) -> Vec<Option<Bpm>> {
    use xml::reader::{EventReader, XmlEvent};
    if !bytes.windows(3).any(|w| w == b"hr>") && !bytes.windows(10).any(|w| w == b"heartrate>") {
        return Vec::new();
    }
    let mut out: Vec<Option<Bpm>> = Vec::new();
    let (mut in_point, mut in_hr) = (false, false);
    for event in EventReader::new(bytes) {
        match event {
            Ok(XmlEvent::StartElement { name, .. }) => match name.local_name.as_str() {
                "trkpt" => {
                    out.push(None);
                    in_point = true;
                }
                "hr" | "heartrate" if in_point => in_hr = true,
                _ => {}
            },
            Ok(XmlEvent::Characters(text)) if in_hr => {
                if let Some(last) = out.last_mut() {
                    *last = text
                        .trim()
                        .parse::<u16>()
                        .ok()
                        .and_then(|n| Bpm::new(n).ok());
                }
            }
            Ok(XmlEvent::EndElement { name }) => match name.local_name.as_str() {
                "trkpt" => in_point = false,
                "hr" | "heartrate" => in_hr = false,
                _ => {}
            },
            // The gpx parser already accepted the document; stop at anything odd.
            Err(_) => break,
            _ => {}
        }
    }
    out
}

fn gpx_time(t: gpx::Time) -> DateTime<Utc> {
    let t: time::OffsetDateTime = t.into();
    let nanos = t.unix_timestamp_nanos();
    // Times beyond ±292 years of 1970 cannot come from a device; clamp to the epoch.
    DateTime::from_timestamp_nanos(i64::try_from(nanos).unwrap_or(0))
}

/// Reads a FIT activity file: its `record` messages with a position.
pub fn parse_fit(bytes: &[u8], max_points: usize) -> Result<Activity, ImportError> {
    use fitparser::profile::MesgNum;
    let records = fitparser::from_bytes(bytes).map_err(|e| ImportError::Fit(e.to_string()))?;
    let mut points = Vec::new();
    let mut sport = None;
    for record in &records {
        match record.kind() {
            MesgNum::Record => {
                if let Some(point) = fit_point(record.fields(), points.len())? {
                    if points.len() == max_points {
                        return Err(ImportError::TooManyPoints);
                    }
                    points.push(point);
                }
            }
            MesgNum::Session | MesgNum::Sport if sport.is_none() => {
                sport = record
                    .fields()
                    .iter()
                    .find(|f| f.name() == "sport")
                    .and_then(|f| match f.value() {
                        fitparser::Value::String(s) => sport_named(s),
                        _ => None,
                    });
            }
            _ => {}
        }
    }
    if points.is_empty() {
        return Err(ImportError::NoTrack);
    }
    Ok(Activity {
        track: Track::new(points)?,
        sport,
        name: None,
        format: Format::Fit,
    })
}

/// One FIT `record` as a point; `None` for records without a position (FIT
/// devices log heart rate before the GPS has a fix).
fn fit_point(
    fields: &[fitparser::FitDataField],
    index: usize,
) -> Result<Option<TrackPoint>, ImportError> {
    let mut lat = None;
    let mut lon = None;
    let mut elevation = None;
    let mut enhanced_elevation = None;
    let mut time = None;
    let mut heart_rate = None;
    for f in fields {
        match (f.name(), f.value()) {
            ("position_lat", v) => lat = semicircles(v),
            ("position_long", v) => lon = semicircles(v),
            ("altitude", v) => elevation = number(v),
            ("enhanced_altitude", v) => enhanced_elevation = number(v),
            ("timestamp", fitparser::Value::Timestamp(t)) => time = Some(t.with_timezone(&Utc)),
            ("heart_rate", v) => {
                heart_rate = number(v).and_then(|hr| Bpm::new(hr.round() as u16).ok());
            }
            _ => {}
        }
    }
    let (Some(lat), Some(lon)) = (lat, lon) else {
        return Ok(None);
    };
    let position = LatLon::new(lat, lon).ok_or(ImportError::BadPosition { index })?;
    Ok(Some(TrackPoint {
        position,
        elevation: enhanced_elevation.or(elevation).filter(|e| e.is_finite()),
        time,
        heart_rate,
    }))
}

/// FIT positions are in semicircles: 2³¹ semicircles = 180°.
fn semicircles(v: &fitparser::Value) -> Option<f64> {
    match v {
        fitparser::Value::SInt32(s) => Some(f64::from(*s) * 180.0 / 2_147_483_648.0),
        _ => None,
    }
}

fn number(v: &fitparser::Value) -> Option<f64> {
    use fitparser::Value as V;
    match v {
        V::UInt8(n) | V::UInt8z(n) | V::Byte(n) => Some(f64::from(*n)),
        V::UInt16(n) | V::UInt16z(n) => Some(f64::from(*n)),
        V::SInt16(n) => Some(f64::from(*n)),
        V::UInt32(n) | V::UInt32z(n) => Some(f64::from(*n)),
        V::SInt32(n) => Some(f64::from(*n)),
        V::Float32(n) => Some(f64::from(*n)),
        V::Float64(n) => Some(*n),
        _ => None,
    }
}

/// The sport a file's free-text type or FIT sport names.
fn sport_named(name: &str) -> Option<Sport> {
    let lower = name.trim().to_ascii_lowercase();
    Some(match lower.as_str() {
        "running" | "run" | "9" => Sport::Run,
        "trail_running" | "trail running" | "trailrun" => Sport::TrailRun,
        "cycling" | "biking" | "ride" | "1" => Sport::Ride,
        "walking" | "walk" => Sport::Walk,
        "hiking" | "hike" => Sport::Hike,
        "swimming" | "swim" => Sport::Swim,
        "rowing" | "row" => Sport::Row,
        "cross_country_skiing" | "alpine_skiing" | "skiing" => Sport::Ski,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_from_bytes() {
        assert_eq!(
            detect(b"\xEF\xBB\xBF  <?xml version=\"1.0\"?><gpx>"),
            Some(Format::Gpx)
        );
        assert_eq!(detect(b"<html></html>"), None);
        let mut fit = vec![14u8, 0x10, 0, 0, 0, 0, 0, 0];
        fit.extend(b".FIT\0\0");
        assert_eq!(detect(&fit), Some(Format::Fit));
        assert!(matches!(parse(b""), Err(ImportError::Empty)));
        assert!(matches!(parse(b"hello"), Err(ImportError::UnknownFormat)));
    }

    #[test]
    fn truncated_gpx_names_the_problem() {
        let gpx = br#"<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="1" lon="2"><ele>3</ele>"#;
        let e = parse(gpx).unwrap_err();
        assert!(matches!(e, ImportError::Gpx(_)), "{e}");
        assert!(
            e.to_string().starts_with("the GPX file cannot be read"),
            "{e}"
        );
    }

    #[test]
    fn gpx_without_points_is_refused() {
        let gpx = br#"<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg></trkseg></trk></gpx>"#;
        assert!(matches!(parse(gpx), Err(ImportError::NoTrack)));
        let one = br#"<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>"#;
        assert!(matches!(
            parse(one),
            Err(ImportError::Track(TrackError::TooShort(1)))
        ));
    }

    #[test]
    fn gpx_heart_rate_extensions_are_read() {
        let gpx = br#"<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"
     xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">
 <trk><trkseg>
  <trkpt lat="45" lon="10"><time>2024-05-04T07:00:00Z</time>
   <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>128</gpxtpx:hr></gpxtpx:TrackPointExtension></extensions></trkpt>
  <trkpt lat="45.001" lon="10"><time>2024-05-04T07:00:30Z</time></trkpt>
  <trkpt lat="45.002" lon="10"><time>2024-05-04T07:01:00Z</time>
   <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>141</gpxtpx:hr></gpxtpx:TrackPointExtension></extensions></trkpt>
 </trkseg></trk>
</gpx>"#;
        let a = parse(gpx).unwrap();
        let hrs: Vec<Option<u16>> = a
            .track
            .points()
            .iter()
            .map(|p| p.heart_rate.map(Bpm::get))
            .collect();
        assert_eq!(hrs, vec![Some(128), None, Some(141)]);
    }

    #[test]
    fn sports_are_mapped_from_their_names() {
        assert_eq!(sport_named("Running"), Some(Sport::Run));
        assert_eq!(sport_named("cycling"), Some(Sport::Ride));
        assert_eq!(sport_named("curling"), None);
    }
}
