//! File uploads through the gateway: the import route takes bodies up to
//! `http.upload_limit_bytes` (an 8-hour ride with sensor data is several MB of
//! GPX), every other route stays at `http.body_limit_bytes`.

mod support;

use std::fmt::Write;

use support::{http, sign_up_and_get_token, Vigor};

/// A GPX ride of one point a second with heart rate and cadence, of at least
/// `bytes` bytes.
fn ride(bytes: usize) -> String {
    let mut gpx = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="vigor-test" xmlns="http://www.topografix.com/GPX/1/1" xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">
<trk><name>Long ride</name><type>cycling</type><trkseg>
"#,
    );
    let start = chrono::DateTime::parse_from_rfc3339("2026-06-01T05:00:00Z").unwrap();
    let mut second = 0i64;
    while gpx.len() < bytes {
        // About 8 m/s northwards.
        let lat = 46.0 + second as f64 * 8.0 / 111_000.0;
        let time = start + chrono::Duration::seconds(second);
        writeln!(
            gpx,
            r#"<trkpt lat="{lat:.7}" lon="8.0000000"><ele>{:.1}</ele><time>{}</time><extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{}</gpxtpx:hr><gpxtpx:cad>{}</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions></trkpt>"#,
            400.0 + (second % 600) as f64 / 10.0,
            time.format("%Y-%m-%dT%H:%M:%SZ"),
            130 + second % 30,
            80 + second % 10,
        )
        .unwrap();
        second += 1;
    }
    gpx.push_str("</trkseg></trk></gpx>\n");
    gpx
}

async fn import(base: &str, token: &str, gpx: String) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(gpx.into_bytes())
        .file_name("ride.gpx")
        .mime_str("application/gpx+xml")
        .unwrap();
    http()
        .post(format!("{base}/v1/training/workouts/import"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_five_megabyte_gpx_imports_and_the_other_routes_keep_their_limit() {
    let vigor = Vigor::serve(&[], &[]);
    let token = sign_up_and_get_token(&vigor.url, "uploads@example.org").await;

    let gpx = ride(5 * 1024 * 1024);
    assert!(
        gpx.len() > 2 * 1024 * 1024,
        "larger than the default body limit"
    );
    let imported = import(&vigor.url, &token, gpx).await;
    let status = imported.status();
    let body: serde_json::Value = imported.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(body["distance_m"].as_f64().unwrap() > 100_000.0, "{body}");

    // A JSON route still refuses a body over `http.body_limit_bytes`.
    let big = serde_json::json!({"title": "x".repeat(3 * 1024 * 1024)});
    let refused = http()
        .post(format!("{}/v1/training/workouts", vigor.url))
        .bearer_auth(&token)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 413);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn an_upload_over_its_limit_is_refused_with_413() {
    let vigor = Vigor::serve(&[], &[("VIGOR_HTTP_UPLOAD_LIMIT_BYTES", "1048576")]);
    let token = sign_up_and_get_token(&vigor.url, "uploads-limit@example.org").await;
    let refused = import(&vigor.url, &token, ride(2 * 1024 * 1024)).await;
    assert_eq!(refused.status(), 413);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
}
