//! File uploads through the gateway: the import route takes bodies up to
//! `http.upload_limit_bytes` (an 8-hour ride with sensor data is several MB of
//! GPX), every other route stays at `http.body_limit_bytes`.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

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
    let answer = head_only(
        &vigor.url,
        &token,
        "/v1/training/workouts",
        "application/json",
        3 * 1024 * 1024,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

#[tokio::test]
async fn an_upload_declared_over_its_limit_is_refused_before_its_body() {
    let vigor = Vigor::serve(&[], &[("VIGOR_HTTP_UPLOAD_LIMIT_BYTES", "1048576")]);
    let token = sign_up_and_get_token(&vigor.url, "uploads-limit@example.org").await;
    let answer = head_only(
        &vigor.url,
        &token,
        "/v1/training/workouts/import",
        "multipart/form-data; boundary=x",
        2 * 1024 * 1024,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

/// Sends only the head of a POST declaring `length` bytes and returns the
/// answer's start: a refusal must not wait for the body (and a client sending it
/// could be cut off mid-body).
async fn head_only(
    base: &str,
    token: &str,
    path: &str,
    content_type: &str,
    length: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer without the body")
        .unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}
