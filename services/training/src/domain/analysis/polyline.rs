//! A track kept small: Douglas–Peucker simplification and the encoded polyline
//! format (Google's, precision 5) that map libraries read.
//!
//! A 10,000-point run becomes a few hundred points within a few metres of the
//! original, stored and sent as one compact string. Simplification measures
//! distances in a local flat projection (equirectangular around the track's
//! first point), which is accurate to well under a metre at the scale of a route.

use crate::domain::track::LatLon;
use crate::domain::units::Meters;

use super::track::EARTH_RADIUS_M;

/// The tolerance tracks are simplified to before storing.
pub const DEFAULT_TOLERANCE_M: f64 = 5.0;

/// The points of `points` that Douglas–Peucker keeps with `tolerance`: every
/// dropped point lies within `tolerance` of the kept line. The first and last
/// points are always kept. Iterative, so long tracks cannot overflow the stack.
pub fn simplify(points: &[LatLon], tolerance: Meters) -> Vec<LatLon> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let origin = points[0];
    let scale_x = EARTH_RADIUS_M * origin.lat.to_radians().cos();
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| {
            (
                (p.lon - origin.lon).to_radians() * scale_x,
                (p.lat - origin.lat).to_radians() * EARTH_RADIUS_M,
            )
        })
        .collect();
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0, points.len() - 1)];
    while let Some((first, last)) = stack.pop() {
        let mut farthest = (0.0, first);
        for (i, &p) in xy.iter().enumerate().take(last).skip(first + 1) {
            let d = segment_distance(p, xy[first], xy[last]);
            if d > farthest.0 {
                farthest = (d, i);
            }
        }
        if farthest.0 > tolerance.get() {
            keep[farthest.1] = true;
            stack.push((first, farthest.1));
            stack.push((farthest.1, last));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(*p))
        .collect()
}

/// Distance from `p` to the segment `a`–`b` in the plane.
fn segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt()
}

/// Encodes positions in the encoded polyline algorithm format (precision 1e-5).
pub fn encode(points: &[LatLon]) -> String {
    let mut out = String::new();
    let (mut last_lat, mut last_lon) = (0i64, 0i64);
    for p in points {
        let lat = (p.lat * 1e5).round() as i64;
        let lon = (p.lon * 1e5).round() as i64;
        encode_value(lat - last_lat, &mut out);
        encode_value(lon - last_lon, &mut out);
        (last_lat, last_lon) = (lat, lon);
    }
    out
}

fn encode_value(delta: i64, out: &mut String) {
    let mut v = if delta < 0 { !(delta << 1) } else { delta << 1 } as u64;
    while v >= 0x20 {
        out.push(char::from((0x20 | (v & 0x1f)) as u8 + 63));
        v >>= 5;
    }
    out.push(char::from(v as u8 + 63));
}

/// Why a string is not an encoded polyline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an encoded polyline (bad character or truncated at byte {0})")]
pub struct PolylineError(pub usize);

/// Decodes an encoded polyline (precision 1e-5).
pub fn decode(encoded: &str) -> Result<Vec<LatLon>, PolylineError> {
    let bytes = encoded.as_bytes();
    let mut at = 0;
    let mut out = Vec::new();
    let (mut lat, mut lon) = (0i64, 0i64);
    while at < bytes.len() {
        let start = at;
        lat += read_value(bytes, &mut at)?;
        lon += read_value(bytes, &mut at)?;
        let p = LatLon::new(lat as f64 / 1e5, lon as f64 / 1e5).ok_or(PolylineError(start))?;
        out.push(p);
    }
    Ok(out)
}

/// Reads one zig-zag, 5-bit-chunked value starting at `bytes[*at]`.
fn read_value(bytes: &[u8], at: &mut usize) -> Result<i64, PolylineError> {
    let mut result: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *bytes.get(*at).ok_or(PolylineError(*at))?;
        if !(63..127).contains(&b) || shift > 60 {
            return Err(PolylineError(*at));
        }
        *at += 1;
        let chunk = u64::from(b - 63);
        result |= (chunk & 0x1f) << shift;
        shift += 5;
        if chunk < 0x20 {
            break;
        }
    }
    let value = (result >> 1) as i64;
    Ok(if result & 1 == 1 { !value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn encodes_googles_documented_example() {
        // The worked example of the format's documentation.
        let points = [p(38.5, -120.2), p(40.7, -120.95), p(43.252, -126.453)];
        assert_eq!(encode(&points), "_p~iF~ps|U_ulLnnqC_mqNvxq`@");
        let back = decode("_p~iF~ps|U_ulLnnqC_mqNvxq`@").unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in back.iter().zip(points) {
            assert!((a.lat - b.lat).abs() < 1e-9 && (a.lon - b.lon).abs() < 1e-9);
        }
        assert!(decode("_p~iF~ps|U_").is_err());
    }

    #[test]
    fn simplification_drops_points_within_tolerance() {
        // At the equator 1e-5° is 6,371,000 × 1.745e-7 = 1.11 m. Eastwards along the
        // equator with a 1.11 m wiggle, then a 111 m turn north:
        let points = [
            p(0.0, 0.0),
            p(0.00001, 0.001), // 1.11 m off the line 0–3: dropped at 5 m tolerance
            p(0.0, 0.002),
            p(0.0, 0.003), // the corner: ~105 m off the line 0–4, kept
            p(0.001, 0.003),
        ];
        let kept = simplify(&points, Meters::new(5.0).unwrap());
        assert_eq!(kept, vec![points[0], points[3], points[4]]);
        // At 0.3 m the wiggle stays, and then point 2 is 0.56 m off the line 1–3.
        let kept = simplify(&points, Meters::new(0.3).unwrap());
        assert_eq!(kept, points.to_vec());
    }

    #[test]
    fn short_inputs_are_kept_as_they_are() {
        let two = [p(1.0, 1.0), p(2.0, 2.0)];
        assert_eq!(simplify(&two, Meters::new(100.0).unwrap()), two.to_vec());
        assert_eq!(encode(&[]), "");
        assert_eq!(decode("").unwrap(), vec![]);
    }

    proptest::proptest! {
        #[test]
        fn encode_decode_round_trips(coords in proptest::collection::vec((-90.0f64..90.0, -180.0f64..180.0), 0..50)) {
            let points: Vec<LatLon> = coords.iter().map(|&(a, b)| p(a, b)).collect();
            let back = decode(&encode(&points)).unwrap();
            proptest::prop_assert_eq!(back.len(), points.len());
            for (a, b) in back.iter().zip(&points) {
                proptest::prop_assert!((a.lat - b.lat).abs() <= 0.5e-5 + 1e-12);
                proptest::prop_assert!((a.lon - b.lon).abs() <= 0.5e-5 + 1e-12);
            }
        }
    }
}
