//! `vigor backup` while Vigor serves under write load, and `vigor restore` into a
//! fresh data directory: every write acknowledged before the backup began comes
//! back, a Vigor started on it serves it, tokens issued before still verify (the
//! signing keys came back), and a damaged, partial or misplaced backup is refused
//! with a clear error, restoring nothing.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{command, http, password_token, rest, sign_up_and_get_token, Vigor, PASSWORD};

/// Both runs agree on the issuer, as a restarted deployment does.
const ISSUER: &str = "http://vigor.backup.test";

fn env() -> [(&'static str, &'static str); 2] {
    [
        ("VIGOR_AUTH_ISSUER", ISSUER),
        ("VIGOR_RATE_LIMIT_ENABLED", "false"),
    ]
}

/// Runs `vigor ARGS…`; its exit success and stderr.
fn vigor(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let output = command().args(args).output().expect("vigor runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn backup(data: &Path, to: &Path) -> (bool, String) {
    vigor(&[
        "backup".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--to".as_ref(),
        to.as_os_str(),
    ])
}

fn restore(from: &Path, data: &Path) -> (bool, String) {
    vigor(&[
        "restore".as_ref(),
        "--from".as_ref(),
        from.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ])
}

/// Logs a workout; its id once acknowledged.
async fn log_workout(base: &str, token: &str, n: usize) -> Option<String> {
    let (status, body) = rest(
        token,
        reqwest::Method::POST,
        &format!("{base}/v1/training/workouts"),
        Some(serde_json::json!({
            "sport": "run", "started_at": format!("2026-11-{:02}T07:00:00Z", 1 + n % 28),
            "duration_s": 1800 + n, "distance_m": 5000
        })),
    )
    .await;
    (status == 201).then(|| body["id"].as_str().unwrap().to_owned())
}

/// The writes acknowledged before `began`.
fn acknowledged_before(
    acknowledged: &Mutex<Vec<(String, std::time::Instant)>>,
    began: std::time::Instant,
) -> Vec<String> {
    acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at < began)
        .map(|(write, _)| write.clone())
        .collect()
}

async fn workout_ids(base: &str, token: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/training/workouts?limit=100");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = rest(token, reqwest::Method::GET, &url, None).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            ids.insert(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn a_backup_under_write_load_restores_every_acknowledged_write_and_the_keys() {
    let data = tempfile::tempdir().unwrap();
    let vigor = Vigor::serve_in(data.path(), &[], &env());
    let base = vigor.url.clone();
    let early_token = sign_up_and_get_token(&base, "before@example.org").await;
    let before_id = log_workout(&base, &early_token, 0).await.unwrap();

    // Writers: sign-ups and workouts, each remembered once acknowledged, until told
    // to stop.
    let acknowledged_accounts = Arc::new(Mutex::new(Vec::<(String, std::time::Instant)>::new()));
    let acknowledged_workouts = Arc::new(Mutex::new(Vec::<(String, std::time::Instant)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    {
        let (base, accounts, stop) = (base.clone(), acknowledged_accounts.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let email = format!("load-{n}@example.org");
                let signup = http()
                    .post(format!("{base}/v1/auth/signup"))
                    .json(&serde_json::json!({"email": email, "password": PASSWORD, "display_name": "Load"}))
                    .send()
                    .await
                    .unwrap();
                if signup.status() == 201 {
                    accounts
                        .lock()
                        .unwrap()
                        .push((email, std::time::Instant::now()));
                }
            }
        }));
    }
    for writer in 0..2 {
        let (base, token, workouts, stop) = (
            base.clone(),
            early_token.clone(),
            acknowledged_workouts.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = writer * 100_000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if let Some(id) = log_workout(&base, &token, n).await {
                    workouts
                        .lock()
                        .unwrap()
                        .push((id, std::time::Instant::now()));
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The backup, taken while the writers go on.
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().join("backup");
    let began = std::time::Instant::now();
    let (ok, stderr) = {
        let to = to.clone();
        let data = data.path().to_owned();
        tokio::task::spawn_blocking(move || backup(&data, &to))
            .await
            .unwrap()
    };
    assert!(ok, "vigor backup failed: {stderr}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let accounts: Vec<String> = acknowledged_before(&acknowledged_accounts, began);
    let mut workouts: BTreeSet<String> = acknowledged_before(&acknowledged_workouts, began)
        .into_iter()
        .collect();
    workouts.insert(before_id);
    assert!(
        !accounts.is_empty() && workouts.len() > 1,
        "the load wrote nothing before the backup began"
    );
    drop(vigor);

    // Restored into a fresh data dir, a new Vigor serves it.
    let restored = tempfile::tempdir().unwrap();
    let fresh = restored.path().join("data");
    let (ok, stderr) = restore(&to, &fresh);
    assert!(ok, "vigor restore failed: {stderr}");
    let again = Vigor::serve_in(&fresh, &[], &env());

    // The token issued before the backup verifies: the signing keys came back.
    let (status, me) = rest(
        &early_token,
        reqwest::Method::GET,
        &format!("{}/v1/users/me", again.url),
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    let stored = workout_ids(&again.url, &early_token).await;
    let lost: Vec<_> = workouts.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged workouts lost: {lost:?}");
    for email in &accounts {
        let token = password_token(&again.url, email).await;
        assert!(!token.is_empty());
    }
}

#[tokio::test]
async fn a_damaged_partial_or_misplaced_backup_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let mut vigor = Vigor::serve_in(data.path(), &[], &env());
    sign_up_and_get_token(&vigor.url, "someone@example.org").await;
    let backups = tempfile::tempdir().unwrap();
    let good = backups.path().join("good");
    let (ok, stderr) = backup(data.path(), &good);
    assert!(ok, "{stderr}");
    vigor.terminate(Duration::from_secs(10));

    // Into a directory that holds something: refused, nothing written.
    let (ok, stderr) = backup(data.path(), &good);
    assert!(!ok);
    assert!(stderr.contains("is not empty"), "{stderr}");
    let (ok, stderr) = restore(&good, data.path());
    assert!(!ok);
    assert!(stderr.contains("is not empty"), "{stderr}");

    let copy = |name: &str| {
        let dir = backups.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for entry in std::fs::read_dir(&good).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        dir
    };
    let target = |name: &str| backups.path().join(format!("restored-{name}"));

    // One flipped byte in the middle of a database.
    let damaged = copy("damaged");
    let mut bytes = std::fs::read(damaged.join("training.db")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(damaged.join("training.db"), bytes).unwrap();
    let (ok, stderr) = restore(&damaged, &target("damaged"));
    assert!(!ok);
    assert!(
        stderr.contains("training.db is damaged") && stderr.contains("SHA-256"),
        "{stderr}"
    );
    assert!(
        !target("damaged").exists(),
        "a refused restore wrote nothing"
    );

    // A truncated file.
    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("auth.db")).unwrap();
    std::fs::write(truncated.join("auth.db"), &bytes[..bytes.len() / 2]).unwrap();
    let (ok, stderr) = restore(&truncated, &target("truncated"));
    assert!(!ok);
    assert!(stderr.contains("auth.db is damaged"), "{stderr}");

    // A file missing, and a backup that never wrote its manifest.
    let missing = copy("missing");
    std::fs::remove_file(missing.join("social.db")).unwrap();
    let (ok, stderr) = restore(&missing, &target("missing"));
    assert!(!ok);
    assert!(stderr.contains("social.db is missing"), "{stderr}");
    let partial = copy("partial");
    std::fs::remove_file(partial.join("manifest.json")).unwrap();
    let (ok, stderr) = restore(&partial, &target("partial"));
    assert!(!ok);
    assert!(stderr.contains("not a complete Vigor backup"), "{stderr}");
    assert!(!target("partial").exists());

    // The good one restores.
    let (ok, stderr) = restore(&good, &target("good"));
    assert!(ok, "{stderr}");

    // A distributed configuration is refused, not half copied.
    let output = command()
        .args(["backup", "--to"])
        .arg(backups.path().join("distributed"))
        .env(
            "VIGOR_USERS_DATABASE_URL",
            "postgres://users@127.0.0.1:1/users",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("users.database_url is PostgreSQL"),
        "{stderr}"
    );
}
