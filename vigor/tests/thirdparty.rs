//! A real third-party OAuth 2.0 client library (Python `authlib`) completes the
//! authorization code grant with PKCE, refresh and revocation against a running
//! Vigor, knowing only its RFC 8414 metadata (`services/auth/tests/thirdparty/`).
//!
//! `.ci/test` installs the pinned client into a venv and names its interpreter in
//! `VIGOR_TEST_PYTHON`.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use support::Vigor;

#[tokio::test]
async fn authlib_completes_code_pkce_refresh_and_revocation() {
    let Some(python) = vigor_common::testkit::server_url("VIGOR_TEST_PYTHON") else {
        return;
    };
    let vigor = Vigor::serve(&[], &[]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../services/auth/tests/thirdparty/authlib_client.py"
    );
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(&vigor.url)
        .output()
        .await
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
