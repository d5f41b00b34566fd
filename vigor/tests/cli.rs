//! The binary as a user meets it: flags, configuration errors, serving, stopping.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::{command, http, Vigor};

#[test]
fn a_bad_listen_address_is_one_line_naming_the_key_and_exit_2() {
    let output = command()
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("listen") && lines[0].contains("--listen"),
        "{stderr}"
    );
}

#[test]
fn a_bad_environment_value_names_the_variable_and_exits_2() {
    let output = command()
        .args(["serve"])
        .env("VIGOR_NODE_ID", "lots")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("node_id") && stderr.contains("VIGOR_NODE_ID"),
        "{stderr}"
    );
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigor.toml");
    std::fs::write(&file, "[http]\nbody_limit = 1\n").unwrap();
    let output = command()
        .args(["config", "check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("body_limit"));
}

#[test]
fn config_check_shows_no_secrets() {
    let key = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";
    let output = command()
        .args(["config", "check"])
        .env("VIGOR_AUTH_KEY_ENCRYPTION_KEY", key)
        .env("VIGOR_REDIS_URL", "redis://:hunter2@127.0.0.1:6379")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    assert!(
        shown.contains("key_encryption_key = \"<redacted>\""),
        "{shown}"
    );
    assert!(
        !shown.contains(key) && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[test]
fn config_keys_lists_every_variable() {
    let output = command()
        .args(["config", "keys", "--env-only"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let names: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    for expected in [
        "VIGOR_CONFIG",
        "VIGOR_LISTEN",
        "VIGOR_TARGET",
        "VIGOR_DATA_DIR",
        "VIGOR_REDIS_URL",
        "VIGOR_AUTH_DATABASE_URL",
        "VIGOR_LEADERBOARDS_URL",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(names.iter().all(|n| n.starts_with("VIGOR_")));
}

#[test]
fn version_and_help_work() {
    let version = command().arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    let help = command().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    for flag in ["--target", "--listen", "--data-dir", "--config"] {
        assert!(help.contains(flag), "{flag} not in help");
    }
}

#[tokio::test]
async fn all_in_one_serves_operations_endpoints_and_stops_on_sigterm() {
    let mut vigor = Vigor::serve(&[], &[]);
    let client = http();

    let health = client
        .get(format!("{}/healthz", vigor.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let ready = client
        .get(format!("{}/readyz", vigor.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    for check in [
        "auth database",
        "users database",
        "training database",
        "social database",
        "gamification database",
        "bus",
        "broker",
    ] {
        assert_eq!(ready["checks"][check], "ok", "{ready}");
    }

    let doc: serde_json::Value = client
        .get(format!("{}/v1/openapi.json", vigor.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/readyz"].is_object());
    // Generated clients name their functions after operation ids: one each, and
    // every operation documents the answers of the layers it passes through.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            assert!(ids.insert(id.to_owned()), "{method} {path}: {id} twice");
            let answers = &operation["responses"];
            assert!(answers["429"].is_object(), "{method} {path}: no 429");
            if operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                assert!(answers["401"].is_object(), "{method} {path}: no 401");
            }
            if operation["requestBody"].is_object() {
                assert!(answers["415"].is_object(), "{method} {path}: no 415");
            }
        }
    }
    assert!(ids.len() > 100, "{} operations", ids.len());

    let docs = client
        .get(format!("{}/docs", vigor.url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
    let bundle = client
        .get(format!("{}/docs/swagger-ui-bundle.js", vigor.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);

    let metrics = client
        .get(format!("{}/metrics", vigor.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("vigor_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/readyz\""), "{metrics}");
    assert!(metrics.contains("vigor_build_info"), "{metrics}");

    let started = Instant::now();
    let status = vigor
        .terminate(Duration::from_secs(10))
        .expect("vigor stops within 10 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn self_signed_tls_serves_https() {
    let vigor = Vigor::serve(&["--tls-self-signed"], &[]);
    assert!(vigor.url.starts_with("https://"), "{}", vigor.url);
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/healthz", vigor.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
}

#[test]
fn the_readme_documents_every_configuration_variable() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let output = command()
        .args(["config", "keys", "--markdown"])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert_eq!(table.lines().count(), vigor_common::config::KEYS.len() + 2);
    assert!(
        readme.contains(&table),
        "README's configuration table is out of date: paste `vigor config keys --markdown`"
    );
}
