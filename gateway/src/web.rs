//! Serving the built web app (`web/dist`, `http.web_dir`) at `/`.
//!
//! The app is a single-page app: its own routes (`/training`, `/workouts/42`, …)
//! exist only in the browser, so a `GET` of a path that is neither a file of the
//! build nor one of the server's own prefixes answers the app's `index.html`,
//! and the router in the page takes over. The server's prefixes (`/v1`, `/docs`,
//! `/metrics`, `/healthz`, `/readyz`, `/.well-known`) never fall back: an unknown
//! API path stays a problem+json 404, and a missing hashed asset (`/assets/…`)
//! is a 404 too, not an HTML page a browser would try to run as a script.
//!
//! Caching follows how Vite names files: everything under `/assets/` carries a
//! content hash in its name, so it is `immutable` for a year; everything else
//! (`index.html`, the service worker, the manifest, icons) is `no-cache`, so a
//! new build reaches browsers at their next visit.
//!
//! The directory is read on every request (no cache in the server): a rebuild
//! shows without a restart, and a missing directory is only a 404, never a
//! failure to start. Paths are taken apart into plain segments before anything
//! touches the file system, so nothing outside the directory can be named.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::problems;

/// Path prefixes that belong to the server, never to the app.
const SERVER_PREFIXES: &[&str] = &[
    "/v1",
    "/docs",
    "/metrics",
    "/healthz",
    "/readyz",
    "/.well-known",
];

/// Where Vite puts content-hashed files.
const HASHED_PREFIX: &str = "/assets/";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

/// The built web app in a directory.
#[derive(Debug, Clone)]
pub struct WebApp {
    dir: PathBuf,
}

impl WebApp {
    /// The app built into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> WebApp {
        WebApp { dir: dir.into() }
    }

    /// The directory it is served from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Answers a request that no route of the server took: a file of the app,
    /// its `index.html` for the app's own routes, or the problem+json 404.
    pub async fn respond(&self, request: Request) -> Response {
        let uri = request.uri().clone();
        let path = uri.path();
        let method = request.method();
        if (method != Method::GET && method != Method::HEAD) || is_server_path(path) {
            return problems::not_found(uri).await.into_response();
        }
        let head = method == Method::HEAD;
        if let Some(segments) = segments(path) {
            if !segments.is_empty() {
                let file = segments.iter().fold(self.dir.clone(), |p, s| p.join(s));
                if let Some(response) = file_response(&file, head).await {
                    return response;
                }
            }
        }
        // A missing hashed asset, or a request for a file the build does not
        // have (it has an extension), is not an app route.
        let last = path.rsplit('/').next().unwrap_or_default();
        if path.starts_with(HASHED_PREFIX) || last.contains('.') {
            return problems::not_found(uri).await.into_response();
        }
        match file_response(&self.dir.join("index.html"), head).await {
            Some(response) => response,
            None => problems::not_found(uri).await.into_response(),
        }
    }
}

/// Whether `path` is under one of the server's own prefixes.
fn is_server_path(path: &str) -> bool {
    SERVER_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The plain segments of `path`, or `None` when one could name something
/// outside the directory or is not a name the build produces (`..`, `.`,
/// percent-escapes, backslashes, empty segments inside the path).
fn segments(path: &str) -> Option<Vec<&str>> {
    let trimmed = path.strip_prefix('/')?;
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    let plain = |s: &&str| {
        !s.is_empty()
            && *s != "."
            && *s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-~@+".contains(&b))
    };
    parts.iter().all(plain).then_some(parts)
}

/// The file at `file` with its type and cache policy, or `None` when there is
/// no such regular file.
async fn file_response(file: &Path, head: bool) -> Option<Response> {
    let metadata = tokio::fs::metadata(file).await.ok()?;
    if !metadata.is_file() {
        return None;
    }
    let body = if head {
        Body::empty()
    } else {
        match tokio::fs::read(file).await {
            Ok(bytes) => Body::from(bytes),
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "cannot read a file of the web app");
                return None;
            }
        }
    };
    let hashed = file
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "assets");
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(file)),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if hashed { IMMUTABLE } else { NO_CACHE }),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(metadata.len()));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(response)
}

/// The media type of a file of a Vite build, by its extension.
fn content_type(file: &Path) -> &'static str {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_prefixes_match_whole_segments_only() {
        for path in [
            "/v1",
            "/v1/users/me",
            "/metrics",
            "/healthz",
            "/docs/x",
            "/.well-known/jwks.json",
        ] {
            assert!(is_server_path(path), "{path}");
        }
        for path in ["/", "/v1x", "/training", "/metricsboard", "/docsy"] {
            assert!(!is_server_path(path), "{path}");
        }
    }

    #[test]
    fn paths_that_could_leave_the_directory_have_no_segments() {
        assert_eq!(segments("/"), Some(vec![]));
        assert_eq!(
            segments("/assets/index-abc.js"),
            Some(vec!["assets", "index-abc.js"])
        );
        for path in [
            "/../etc/passwd",
            "/assets/../../x",
            "/a//b",
            "/%2e%2e/x",
            "/a\\b",
            "/./x",
        ] {
            assert_eq!(segments(path), None, "{path}");
        }
    }
}
