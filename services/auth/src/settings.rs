//! The auth service's settings, read once from the process configuration.

use vigor_common::auth::scopes;
use vigor_common::config::Config;

use crate::domain::client::{Client, ClientKind, GrantType, WEB_CLIENT_ID};

/// How long an authorization code may wait to be exchanged.
pub const CODE_TTL_SECS: i64 = 60;

/// What the service needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `iss` of tokens and base URL of the endpoints.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: chrono::Duration,
    /// Refresh-token lifetime (from each rotation).
    pub refresh_ttl: chrono::Duration,
    /// Absolute lifetime of a refresh family (from sign-in).
    pub refresh_max_age: chrono::Duration,
    /// Authorization-code lifetime.
    pub code_ttl: chrono::Duration,
    /// The built-in first-party web client.
    pub web_client: Client,
    /// Failed sign-ins at an account from one address within the window before
    /// that address is refused for it.
    pub max_failed_per_account: u32,
    /// Failed sign-ins at an account from all addresses within the window before
    /// sign-in to it is refused.
    pub max_failed_per_account_total: u32,
    /// Failed sign-ins per client address within the window before sign-in is refused.
    pub max_failed_per_address: u32,
    /// Sign-ups of taken emails per client address within the window before
    /// sign-up from the address is refused.
    pub max_taken_signups_per_address: u32,
    /// The window of those limits.
    pub failed_window: chrono::Duration,
}

impl Settings {
    /// The settings of `config`.
    pub fn from_config(config: &Config) -> Settings {
        let auth = &config.auth;
        let mut grants = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        if auth.password_grant {
            grants.push(GrantType::Password);
        }
        Settings {
            issuer: config.auth_issuer(),
            audience: auth.audience.clone(),
            access_ttl: chrono::Duration::seconds(secs(auth.access_token_ttl_secs)),
            refresh_ttl: chrono::Duration::seconds(secs(auth.refresh_token_ttl_secs)),
            refresh_max_age: chrono::Duration::seconds(secs(auth.refresh_family_max_age_secs)),
            code_ttl: chrono::Duration::seconds(CODE_TTL_SECS),
            web_client: Client {
                id: WEB_CLIENT_ID.to_owned(),
                name: "Vigor".to_owned(),
                kind: ClientKind::Public,
                secret_hash: None,
                redirect_uris: auth.web_redirect_uris.clone(),
                grant_types: grants,
                // Everything a user can do, `account` included: the web app deletes
                // accounts too (see `vigor_common::auth::scopes`).
                scopes: scopes::FIRST_PARTY
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                first_party: true,
                any_loopback_redirect: auth.web_loopback_redirects,
                created_at: chrono::DateTime::UNIX_EPOCH,
            },
            max_failed_per_account: auth.max_failed_logins_per_account,
            max_failed_per_account_total: auth.max_failed_logins_per_account_total,
            max_failed_per_address: auth.max_failed_logins_per_address,
            max_taken_signups_per_address: auth.max_taken_signups_per_address,
            failed_window: chrono::Duration::seconds(secs(auth.failed_login_window_secs)),
        }
    }

    /// An endpoint's absolute URL.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX / 1000)
}
