//! A synthetic GPX track, shared by the import test and the import benchmark: one
//! point a second, heading north about 3.3 m a step with a sine wobble east–west
//! and a rolling profile (±30 m).

/// A GPX document with `points` track points.
#[allow(clippy::cast_precision_loss)]
pub fn gpx(points: usize) -> String {
    let mut gpx = String::from(
        "<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"bench\" xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>",
    );
    for i in 0..points {
        let lat = 45.0 + i as f64 * 0.00003;
        let lon = 10.0 + (i as f64 / 50.0).sin() * 0.001;
        let ele = 100.0 + (i as f64 / 100.0).sin() * 30.0;
        let (m, s) = (i / 60, i % 60);
        gpx.push_str(&format!(
            "<trkpt lat=\"{lat:.7}\" lon=\"{lon:.7}\"><ele>{ele:.1}</ele><time>2024-05-04T{:02}:{:02}:{:02}Z</time></trkpt>",
            6 + m / 60,
            m % 60,
            s
        ));
    }
    gpx.push_str("</trkseg></trk></gpx>");
    gpx
}
