//! Account export: everything Vigor holds about the caller, gathered from every service.
//!
//! Design: each service that keeps data about users owns its part of the export
//! and serves it at its own `GET /v1/<service>/me/export`, authorised by the
//! caller's access token like any other endpoint (so each service decides, with
//! its own data, what is the caller's). `GET /v1/users/me/export` answers
//! `{"exported_at", "users": {...}, "<service>": {...}, ...}`: its own part plus
//! each part in [`PARTS`], fetched in parallel with the caller's token forwarded.
//!
//! Why HTTP and not an in-process call: a service never knows whether the others
//! run in its process, and the same path works in both modes — a part's base URL
//! is the service's configured URL (`<service>.url`) when it runs as its own
//! target, else this process's own public URL, where the gateway mounts it (for
//! auth: the token issuer's URL, which is auth's public base).
//!
//! A service adds its part by serving the endpoint and appending a line to
//! [`PARTS`]. A part that cannot be fetched fails the whole export (502): an
//! export that silently leaves out data would mislead its reader.

use std::time::Duration;

use serde_json::{Map, Value};
use vigor_common::config::{Config, ServiceName};

/// The other services' parts: the service and the path of its export endpoint.
pub const PARTS: &[(ServiceName, &str)] = &[
    (ServiceName::Auth, "/v1/auth/me/export"),
    (ServiceName::Training, "/v1/training/me/export"),
    (ServiceName::Social, "/v1/social/me/export"),
    (ServiceName::Gamification, "/v1/gamification/me/export"),
];

/// One service's part, fetched over HTTP.
#[derive(Debug, Clone)]
struct Part {
    name: &'static str,
    url: String,
    /// Served by this process itself (at its own URL).
    own: bool,
}

/// Gathers the other services' parts of an export.
#[derive(Debug, Clone)]
pub struct Exporter {
    parts: Vec<Part>,
    /// For parts served elsewhere: certificates checked.
    http: reqwest::Client,
    /// For parts this process serves itself: with `tls.self_signed` (development
    /// only) its own certificate cannot be checked, and nothing else is reached
    /// through this client.
    own_http: reqwest::Client,
}

/// Why a part could not be fetched.
#[derive(Debug, thiserror::Error)]
#[error("the {service} part of the export could not be fetched: {reason}")]
pub struct PartError {
    /// The service.
    pub service: &'static str,
    /// What went wrong.
    pub reason: String,
}

/// This process's own base URL: `http(s)://listen`, loopback for an unspecified address.
fn own_url(config: &Config) -> String {
    let scheme = if config.tls.cert.is_some() || config.tls.self_signed {
        "https"
    } else {
        "http"
    };
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("{scheme}://{addr}")
}

impl Exporter {
    /// The parts' URLs from `config`.
    pub fn from_config(config: &Config) -> anyhow::Result<Exporter> {
        let own = own_url(config);
        let parts = PARTS
            .iter()
            .map(|(service, path)| {
                let base = match (service, config.service_url(*service)) {
                    (_, Some(url)) => url.to_owned(),
                    (ServiceName::Auth, None) => config.auth_issuer(),
                    (_, None) => own.clone(),
                };
                let base = base.trim_end_matches('/');
                Part {
                    name: service.as_str(),
                    url: format!("{base}{path}"),
                    own: base == own,
                }
            })
            .collect();
        let client = || reqwest::Client::builder().timeout(Duration::from_secs(20));
        Ok(Exporter {
            parts,
            http: client().build()?,
            own_http: client()
                .danger_accept_invalid_certs(config.tls.self_signed)
                .build()?,
        })
    }

    /// Every part for the holder of `bearer`, by service name.
    pub async fn gather(&self, bearer: &str) -> Result<Map<String, Value>, PartError> {
        let fetches = self.parts.iter().map(|part| self.fetch(part, bearer));
        let mut gathered = Map::new();
        for result in futures::future::join_all(fetches).await {
            let (name, value) = result?;
            gathered.insert(name.to_owned(), value);
        }
        Ok(gathered)
    }

    async fn fetch(&self, part: &Part, bearer: &str) -> Result<(&'static str, Value), PartError> {
        let failed = |reason: String| PartError {
            service: part.name,
            reason,
        };
        let http = if part.own { &self.own_http } else { &self.http };
        let response = http
            .get(&part.url)
            .bearer_auth(bearer)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!(
                "{} answered {}",
                part.url,
                response.status()
            )));
        }
        let value = response
            .json::<Value>()
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok((part.name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_found_at_the_service_url_or_here() {
        let mut config = Config::default();
        config.auth.issuer = Some("https://id.example.com/".to_owned());
        let exporter = Exporter::from_config(&config).unwrap();
        assert_eq!(
            exporter.parts[0].url,
            "https://id.example.com/v1/auth/me/export"
        );
        config.auth.url = Some("http://auth.internal:8080".to_owned());
        let exporter = Exporter::from_config(&config).unwrap();
        assert_eq!(
            exporter.parts[0].url,
            "http://auth.internal:8080/v1/auth/me/export"
        );
    }

    #[test]
    fn only_parts_served_here_skip_the_certificate_check() {
        // Development TLS: this process's own certificate is self-signed.
        let mut config = Config::default();
        config.tls.self_signed = true;
        config.training.url = Some("https://training.internal:8443/".to_owned());
        let exporter = Exporter::from_config(&config).unwrap();
        let own: Vec<(&str, bool)> = exporter.parts.iter().map(|p| (p.name, p.own)).collect();
        // Auth is served here (its issuer is this process), and so is
        // social and gamification (no URLs of their own); training elsewhere, so its
        // certificate is checked.
        assert_eq!(
            own,
            vec![
                ("auth", true),
                ("training", false),
                ("social", true),
                ("gamification", true)
            ]
        );
        assert_eq!(
            exporter.parts[0].url,
            "https://127.0.0.1:8080/v1/auth/me/export"
        );
    }
}
