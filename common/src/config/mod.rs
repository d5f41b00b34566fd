//! Configuration: one typed struct, read from defaults, a TOML file, `VIGOR_*`
//! environment variables and command-line flags, in that order of precedence.
//!
//! Every key is listed once, in [`KEYS`], with its environment variable, kind,
//! default and documentation. That single list drives the environment overlay, the
//! `vigor config keys` listing, the README table and the check that `compose/` sets
//! only real keys — so a key cannot exist in one place and be missing in another (a
//! test compares [`KEYS`] with the fields of [`Config`]).
//!
//! A bad value is reported as one [`ConfigError`] naming the key, where it came
//! from and what is wrong; `vigor` prints it on one line and exits 2.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

pub mod hub;
mod keys;
pub mod social;

pub use hub::HubConfig;
pub use keys::{env_name, Key, Kind, KEYS};
pub use social::SocialConfig;

/// What one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Everything in one process, on embedded storage unless configured otherwise.
    #[default]
    All,
    /// The gateway alone, proxying each service to its configured URL.
    Gateway,
    /// One service alone.
    #[serde(untagged)]
    Service(ServiceName),
}

impl Target {
    /// Every target name, for help texts.
    pub const NAMES: &'static [&'static str] = &[
        "all",
        "gateway",
        "auth",
        "users",
        "training",
        "social",
        "gamification",
        "leaderboards",
    ];

    /// Whether this process serves the given service's routes itself.
    pub fn runs(self, service: ServiceName) -> bool {
        match self {
            Target::All => true,
            Target::Gateway => false,
            Target::Service(s) => s == service,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::Gateway => f.write_str("gateway"),
            Target::Service(s) => fmt::Display::fmt(s, f),
        }
    }
}

/// The services behind the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceName {
    /// The OAuth 2.0 authorization server.
    Auth,
    /// Accounts and profiles.
    Users,
    /// Exercises, plans, workouts and their analysis.
    Training,
    /// Follows, communities, chat.
    Social,
    /// XP, streaks, achievements.
    Gamification,
    /// Boards and ranks.
    Leaderboards,
}

impl ServiceName {
    /// Every service, in start-up order.
    pub const ALL: [ServiceName; 6] = [
        ServiceName::Auth,
        ServiceName::Users,
        ServiceName::Training,
        ServiceName::Social,
        ServiceName::Gamification,
        ServiceName::Leaderboards,
    ];

    /// The lowercase name, as in URLs, targets and configuration keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Auth => "auth",
            ServiceName::Users => "users",
            ServiceName::Training => "training",
            ServiceName::Social => "social",
            ServiceName::Gamification => "gamification",
            ServiceName::Leaderboards => "leaderboards",
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The whole configuration of one `vigor` process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// What this process runs.
    pub target: Target,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for embedded storage (SQLite files, signing keys).
    pub data_dir: PathBuf,
    /// Node id of this process for id generation (0–1023), unique per process.
    pub node_id: u16,
    /// Apply pending migrations at start.
    pub migrate_on_start: bool,
    /// Logging.
    pub log: LogConfig,
    /// TLS termination.
    pub tls: TlsConfig,
    /// HTTP server behaviour.
    pub http: HttpConfig,
    /// Per-client rate limit.
    pub rate_limit: RateLimitConfig,
    /// Redis, for the bus, broker and rate limits when distributed.
    pub redis: RedisConfig,
    /// How consumers treat events on the bus.
    pub bus: BusConfig,
    /// The gateway's proxy to services running as their own targets.
    pub proxy: ProxyConfig,
    /// The auth service.
    pub auth: AuthConfig,
    /// The users service.
    pub users: ServiceConfig,
    /// The training service.
    pub training: ServiceConfig,
    /// The social service (and where chat messages live).
    pub social: SocialConfig,
    /// The gamification service.
    pub gamification: GamificationConfig,
    /// The leaderboards service (its store is Redis or memory, not SQL).
    pub leaderboards: LeaderboardsConfig,
    /// The real-time hub (WebSockets at `/v1/ws`).
    pub hub: HubConfig,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `vigor_gateway=debug,info`.
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// TLS termination with rustls.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key`, serves HTTPS and WSS.
    pub cert: Option<PathBuf>,
    /// PEM private key for `cert`.
    pub key: Option<PathBuf>,
    /// Serve HTTPS with a fresh self-signed certificate (development only).
    pub self_signed: bool,
}

/// HTTP server behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: u64,
    /// Largest body of a file upload route ([`crate::service::ServiceSpec::uploads`]).
    pub upload_limit_bytes: u64,
    /// Longest a request may take before a 504.
    pub request_timeout_secs: u64,
    /// On SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_grace_secs: u64,
    /// Origins allowed by CORS (`*` for any); empty allows none.
    pub cors_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// A service target behind the gateway: the client address comes from the
    /// gateway's `X-Vigor-Client-Address` header.
    pub behind_gateway: bool,
    /// The built web app (`web/dist`), served at `/` by the edge; a relative
    /// path is taken from the working directory. Missing: `/` answers 404.
    pub web_dir: PathBuf,
}

/// Per-client token-bucket rate limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Whether requests are rate-limited at all.
    pub enabled: bool,
    /// Sustained requests per second per client.
    pub per_second: u32,
    /// Bucket size: requests a client may burst above the sustained rate.
    pub burst: u32,
}

/// Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:port/db`; when set, the bus, broker and rate limits use it.
    pub url: Option<String>,
    /// Prefix of every key and channel name, so deployments can share a Redis.
    pub prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            prefix: "vigor:".to_owned(),
        }
    }
}

/// How consumers treat events on the bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// Deliveries of one event to a consumer group before the group gives up on it
    /// and moves it to its dead letters.
    pub max_delivery_attempts: u32,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            max_delivery_attempts: crate::bus::DEFAULT_MAX_DELIVERY_ATTEMPTS,
        }
    }
}

/// The gateway's proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// How long to wait for a service's response headers before a 504.
    pub timeout_secs: u64,
    /// How long to wait for a connection to a service before a 502.
    pub connect_timeout_secs: u64,
}

/// A service with its own SQL database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// `postgres://…` or `sqlite://…`; unset: SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// A `postgres://…` read replica of that database for reads that tolerate
    /// lag (`vigor_common::db_replica`); unset: the primary serves every read.
    pub database_read_url: Option<String>,
    /// Where the gateway reaches the service when it runs as its own target.
    pub url: Option<String>,
}

/// The auth service: its storage and URL like every service, and how it issues
/// and verifies tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `postgres://…` or `sqlite://…`; unset: SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// Where the gateway reaches the service when it runs as its own target.
    pub url: Option<String>,
    /// Public base URL of the auth service: the `iss` of tokens and the base of the
    /// OAuth endpoints in its RFC 8414 metadata. Unset: `auth.url`, else this
    /// process's own `http(s)://listen`. Every process of a deployment must agree.
    pub issuer: Option<String>,
    /// The `aud` of access tokens, checked by every verifier.
    pub audience: String,
    /// Where targets that do not run auth read its signing keys. Unset:
    /// `<auth.url>/.well-known/jwks.json`.
    pub jwks_url: Option<String>,
    /// Lifetime of access tokens, in seconds (at most 900).
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds (each rotation starts a new one).
    pub refresh_token_ttl_secs: u64,
    /// Absolute lifetime of a refresh family (a sign-in), in seconds: rotation
    /// never extends a session beyond it.
    pub refresh_family_max_age_secs: u64,
    /// Whether first-party clients (`vigor-web`) may use the password grant.
    pub password_grant: bool,
    /// Extra redirect URIs of the built-in `vigor-web` client.
    pub web_redirect_uris: Vec<String>,
    /// Whether `vigor-web` accepts any `http://localhost` / `http://127.0.0.1` callback.
    pub web_loopback_redirects: bool,
    /// Failed sign-ins at one account from one client address within the window
    /// before that address may not sign in to it (from anywhere, when the
    /// address is unknown).
    pub max_failed_logins_per_account: u32,
    /// Failed sign-ins at one account from all addresses together within the
    /// window before sign-in to it is refused (a guess spread over many addresses).
    pub max_failed_logins_per_account_total: u32,
    /// Failed sign-ins per client address within the window before sign-in is refused.
    pub max_failed_logins_per_address: u32,
    /// The window of the failed sign-in limits, in seconds.
    pub failed_login_window_secs: u64,
    /// Sign-ups for emails that have an account (409) per client address within
    /// the failed sign-in window before every sign-up from the address is refused
    /// (bounds probing which emails have accounts).
    pub max_taken_signups_per_address: u32,
    /// Password hashes computed at once (each holds one argon2 memory block);
    /// unset: one per core.
    pub hash_concurrency: Option<u32>,
    /// How long a sign-up, sign-in or password change waits for a free hashing
    /// slot before it is refused with 503, in milliseconds.
    pub hash_queue_wait_ms: u64,
    /// Base64 of 32 random bytes: the private halves of the token signing keys
    /// are stored encrypted with it (AES-256-GCM). Unset or empty: stored as
    /// they are (see [`AuthConfig::key_encryption_key`]).
    pub key_encryption_key: Option<String>,
}

impl AuthConfig {
    /// `key_encryption_key` when it holds something (an empty value, as a
    /// deployment template passes for "not set", is unset).
    pub fn key_encryption_key(&self) -> Option<&str> {
        self.key_encryption_key
            .as_deref()
            .map(str::trim)
            .filter(|key| !key.is_empty())
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            database_url: None,
            url: None,
            issuer: None,
            audience: "vigor".to_owned(),
            jwks_url: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_family_max_age_secs: 90 * 24 * 3600,
            password_grant: true,
            web_redirect_uris: Vec::new(),
            web_loopback_redirects: true,
            max_failed_logins_per_account: 5,
            max_failed_logins_per_account_total: 100,
            max_failed_logins_per_address: 50,
            failed_login_window_secs: 900,
            max_taken_signups_per_address: 10,
            hash_concurrency: None,
            hash_queue_wait_ms: 1000,
            key_encryption_key: None,
        }
    }
}

/// The longest access-token lifetime `auth.access_token_ttl_secs` accepts.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u64 = 900;

/// The gamification service: its storage and URL like every service, its
/// achievement rules and the streak allowance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GamificationConfig {
    /// `postgres://…` or `sqlite://…`; unset: SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// A `postgres://…` read replica of that database for the leaderboards'
    /// rebuild reads; unset: the primary serves them.
    pub database_read_url: Option<String>,
    /// Where the gateway reaches the service when it runs as its own target.
    pub url: Option<String>,
    /// A TOML file of achievement rules in place of the built-in ones; unset:
    /// the built-in rules.
    pub rules_file: Option<String>,
    /// Days without activity a daily streak survives, for users who did not
    /// choose their own.
    pub streak_rest_days: u32,
}

/// The most rest days a streak may allow.
pub const MAX_STREAK_REST_DAYS: u32 = 6;

impl Default for GamificationConfig {
    fn default() -> Self {
        GamificationConfig {
            database_url: None,
            database_read_url: None,
            url: None,
            rules_file: None,
            streak_rest_days: 1,
        }
    }
}

/// Where the leaderboards keep their boards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoardStoreKind {
    /// In this process's memory (all-in-one; lost on restart, rebuilt from the
    /// gamification score log).
    Memory,
    /// Redis sorted sets (`leaderboards.redis_url`, else `redis.url`).
    Redis,
}

/// The leaderboards service: where the gateway reaches it and where it keeps
/// its boards.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaderboardsConfig {
    /// Where the gateway reaches the service when it runs as its own target.
    pub url: Option<String>,
    /// `memory` or `redis`; unset: `redis` when a Redis URL is configured.
    pub store: Option<BoardStoreKind>,
    /// Redis for the boards (`redis-cluster://…` shards them over a cluster);
    /// unset: `redis.url`.
    pub redis_url: Option<String>,
    /// How long a daily, weekly or monthly board stays readable after its
    /// period before its entries expire, in seconds.
    pub window_grace_secs: u64,
    /// How many entries above and below the caller `?around=me` shows.
    pub around_radius: u32,
    /// How often at most one board instance's live update goes out, in ms.
    pub live_interval_ms: u64,
    /// How many entries from the top a live update carries.
    pub live_top: u32,
    /// Longest a lookup in another service (follows, names, membership) may take, in ms.
    pub lookup_timeout_ms: u64,
}

impl Default for LeaderboardsConfig {
    fn default() -> Self {
        LeaderboardsConfig {
            url: None,
            store: None,
            redis_url: None,
            window_grace_secs: 7 * 24 * 3600,
            around_radius: 5,
            live_interval_ms: 500,
            live_top: 10,
            lookup_timeout_ms: 3000,
        }
    }
}

impl LeaderboardsConfig {
    /// The Redis URL of the boards: `leaderboards.redis_url`, else `redis.url`.
    pub fn redis_url<'a>(&'a self, redis: &'a RedisConfig) -> Option<&'a str> {
        self.redis_url.as_deref().or(redis.url.as_deref())
    }

    /// The store in use: as configured, else Redis when there is a URL for it.
    pub fn store_kind(&self, redis: &RedisConfig) -> BoardStoreKind {
        match (self.store, self.redis_url(redis)) {
            (Some(kind), _) => kind,
            (None, Some(_)) => BoardStoreKind::Redis,
            (None, None) => BoardStoreKind::Memory,
        }
    }

    /// The grace period of windowed boards.
    pub fn window_grace(&self) -> Duration {
        Duration::from_secs(self.window_grace_secs)
    }

    /// The shortest time between two live updates of one board instance.
    pub fn live_interval(&self) -> Duration {
        Duration::from_millis(self.live_interval_ms)
    }

    /// The longest a lookup in another service may take.
    pub fn lookup_timeout(&self) -> Duration {
        Duration::from_millis(self.lookup_timeout_ms)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: Target::All,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            node_id: 0,
            migrate_on_start: true,
            log: LogConfig::default(),
            tls: TlsConfig::default(),
            http: HttpConfig::default(),
            rate_limit: RateLimitConfig::default(),
            redis: RedisConfig::default(),
            bus: BusConfig::default(),
            proxy: ProxyConfig::default(),
            auth: AuthConfig::default(),
            users: ServiceConfig::default(),
            training: ServiceConfig::default(),
            social: SocialConfig::default(),
            gamification: GamificationConfig::default(),
            leaderboards: LeaderboardsConfig::default(),
            hub: HubConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 2 * 1024 * 1024,
            upload_limit_bytes: 25 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 8,
            cors_origins: Vec::new(),
            trust_forwarded_for: false,
            behind_gateway: false,
            web_dir: PathBuf::from("web/dist"),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            per_second: 50,
            burst: 100,
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            timeout_secs: 30,
            connect_timeout_secs: 3,
        }
    }
}

impl Config {
    /// The database URL of a service: configured, or a SQLite file under `data_dir`.
    pub fn database_url(&self, service: ServiceName) -> String {
        let configured = match service {
            ServiceName::Auth => &self.auth.database_url,
            ServiceName::Users => &self.users.database_url,
            ServiceName::Training => &self.training.database_url,
            ServiceName::Social => &self.social.database_url,
            ServiceName::Gamification => &self.gamification.database_url,
            ServiceName::Leaderboards => &None,
        };
        match configured {
            Some(url) => url.clone(),
            None => sqlite_url(&self.data_dir.join(format!("{service}.db"))),
        }
    }

    /// The read replica of a service's database, when one is configured (only
    /// users, training and gamification have reads that tolerate lag).
    pub fn database_read_url(&self, service: ServiceName) -> Option<&str> {
        match service {
            ServiceName::Users => self.users.database_read_url.as_deref(),
            ServiceName::Training => self.training.database_read_url.as_deref(),
            ServiceName::Gamification => self.gamification.database_read_url.as_deref(),
            ServiceName::Auth | ServiceName::Social | ServiceName::Leaderboards => None,
        }
    }

    /// Where the gateway reaches a service running as its own target.
    pub fn service_url(&self, service: ServiceName) -> Option<&str> {
        match service {
            ServiceName::Auth => self.auth.url.as_deref(),
            ServiceName::Users => self.users.url.as_deref(),
            ServiceName::Training => self.training.url.as_deref(),
            ServiceName::Social => self.social.url.as_deref(),
            ServiceName::Gamification => self.gamification.url.as_deref(),
            ServiceName::Leaderboards => self.leaderboards.url.as_deref(),
        }
    }

    /// The issuer of access tokens (`auth.issuer`, else `auth.url`, else this
    /// process's own URL), without a trailing slash.
    pub fn auth_issuer(&self) -> String {
        let configured = self.auth.issuer.as_deref().or(self.auth.url.as_deref());
        let issuer = match configured {
            Some(url) => url.to_owned(),
            None => {
                let scheme = if self.tls.cert.is_some() || self.tls.self_signed {
                    "https"
                } else {
                    "http"
                };
                let mut addr = self.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("{scheme}://{addr}")
            }
        };
        issuer.trim_end_matches('/').to_owned()
    }

    /// Where a process that does not run auth reads the token signing keys
    /// (`auth.jwks_url`, else `<auth.url>/.well-known/jwks.json`).
    pub fn auth_jwks_url(&self) -> Option<String> {
        match (&self.auth.jwks_url, &self.auth.url) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(base)) => Some(format!(
                "{}/.well-known/jwks.json",
                base.trim_end_matches('/')
            )),
            (None, None) => None,
        }
    }

    /// On SIGTERM, how long in-flight requests may take.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.http.shutdown_grace_secs)
    }

    /// Checks what types alone cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        if let Err((key, message)) = self.social.validate() {
            return Err(ConfigError::invalid(key, message));
        }
        if self.node_id > crate::id::MAX_NODE_ID {
            return Err(ConfigError::invalid(
                "node_id",
                format!(
                    "{} is out of range (0..={})",
                    self.node_id,
                    crate::id::MAX_NODE_ID
                ),
            ));
        }
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "tls.key",
                    "is required when tls.cert is set",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "tls.cert",
                    "is required when tls.key is set",
                ))
            }
            (Some(_), Some(_)) if self.tls.self_signed => {
                return Err(ConfigError::invalid(
                    "tls.self_signed",
                    "cannot be combined with tls.cert and tls.key",
                ))
            }
            _ => {}
        }
        if self.http.body_limit_bytes == 0 {
            return Err(ConfigError::invalid(
                "http.body_limit_bytes",
                "must be positive",
            ));
        }
        if self.http.upload_limit_bytes == 0 {
            return Err(ConfigError::invalid(
                "http.upload_limit_bytes",
                "must be positive",
            ));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "http.request_timeout_secs",
                "must be positive",
            ));
        }
        if self.rate_limit.enabled
            && (self.rate_limit.per_second == 0 || self.rate_limit.burst == 0)
        {
            return Err(ConfigError::invalid(
                "rate_limit.per_second",
                "per_second and burst must be positive while rate_limit.enabled is true",
            ));
        }
        if self.proxy.timeout_secs == 0 || self.proxy.connect_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "proxy.timeout_secs",
                "timeouts must be positive",
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(ConfigError::invalid("log.level", e.to_string()));
        }
        for service in ServiceName::ALL {
            let key = match service {
                ServiceName::Leaderboards => None,
                s => Some(format!("{s}.database_url")),
            };
            if let Some(key) = key {
                let url = self.database_url(service);
                if !(url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:"))
                {
                    return Err(ConfigError::invalid(
                        &key,
                        "must start with postgres://, postgresql:// or sqlite:",
                    ));
                }
            }
            if let Some(url) = self.database_read_url(service) {
                let key = format!("{service}.database_read_url");
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(ConfigError::invalid(
                        &key,
                        "must start with postgres:// or postgresql:// (a read replica is a PostgreSQL standby)",
                    ));
                }
                if self.database_url(service).starts_with("sqlite:") {
                    return Err(ConfigError::invalid(
                        &key,
                        format!(
                            "needs {service}.database_url to be PostgreSQL: SQLite has no replica"
                        ),
                    ));
                }
            }
            if let Some(url) = self.service_url(service) {
                check_http_url(&format!("{service}.url"), url)?;
            }
        }
        self.validate_auth()?;
        if let Some(url) = &self.redis.url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::invalid(
                    "redis.url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        self.validate_leaderboards()?;
        if self.gamification.streak_rest_days > MAX_STREAK_REST_DAYS {
            return Err(ConfigError::invalid(
                "gamification.streak_rest_days",
                format!("must be at most {MAX_STREAK_REST_DAYS}"),
            ));
        }
        if self.bus.max_delivery_attempts == 0 {
            return Err(ConfigError::invalid(
                "bus.max_delivery_attempts",
                "must be positive",
            ));
        }
        if self.target == Target::Gateway {
            for service in ServiceName::ALL {
                if self.service_url(service).is_none() {
                    return Err(ConfigError::invalid(
                        &format!("{service}.url"),
                        "is required with --target gateway (where the gateway proxies the service to)",
                    ));
                }
            }
        }
        if let Err(e) = self.hub.validate() {
            return Err(ConfigError::invalid(&format!("hub.{}", e.key), e.message));
        }
        if !self.target.runs(ServiceName::Auth) && self.auth_jwks_url().is_none() {
            return Err(ConfigError::invalid(
                "auth.jwks_url",
                format!(
                    "is required with --target {} (set auth.jwks_url or auth.url: where this process reads the token signing keys)",
                    self.target
                ),
            ));
        }
        Ok(())
    }
}

impl Config {
    fn validate_leaderboards(&self) -> Result<(), ConfigError> {
        let boards = &self.leaderboards;
        if let Some(url) = &boards.redis_url {
            let schemes = [
                "redis://",
                "rediss://",
                "redis-cluster://",
                "rediss-cluster://",
            ];
            if !schemes.iter().any(|s| url.starts_with(s)) {
                return Err(ConfigError::invalid(
                    "leaderboards.redis_url",
                    "must start with redis://, rediss://, redis-cluster:// or rediss-cluster://",
                ));
            }
        }
        if boards.store == Some(BoardStoreKind::Redis) && boards.redis_url(&self.redis).is_none() {
            return Err(ConfigError::invalid(
                "leaderboards.store",
                "is redis, but neither leaderboards.redis_url nor redis.url is set",
            ));
        }
        if !(1..=100).contains(&boards.around_radius) {
            return Err(ConfigError::invalid(
                "leaderboards.around_radius",
                "must be 1 to 100",
            ));
        }
        if !(50..=60_000).contains(&boards.live_interval_ms) {
            return Err(ConfigError::invalid(
                "leaderboards.live_interval_ms",
                "must be 50 to 60000",
            ));
        }
        if !(1..=100).contains(&boards.live_top) {
            return Err(ConfigError::invalid(
                "leaderboards.live_top",
                "must be 1 to 100",
            ));
        }
        if boards.lookup_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "leaderboards.lookup_timeout_ms",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        let auth = &self.auth;
        if let Some(issuer) = &auth.issuer {
            check_http_url("auth.issuer", issuer)?;
        }
        if let Some(url) = &auth.jwks_url {
            check_http_url("auth.jwks_url", url)?;
        }
        if auth.audience.trim().is_empty() {
            return Err(ConfigError::invalid("auth.audience", "must not be empty"));
        }
        let ttl = auth.access_token_ttl_secs;
        if ttl == 0 || ttl > MAX_ACCESS_TOKEN_TTL_SECS {
            return Err(ConfigError::invalid(
                "auth.access_token_ttl_secs",
                format!("must be between 1 and {MAX_ACCESS_TOKEN_TTL_SECS} (15 minutes)"),
            ));
        }
        if auth.refresh_token_ttl_secs == 0 {
            let key = "auth.refresh_token_ttl_secs";
            return Err(ConfigError::invalid(key, "must be positive"));
        }
        if auth.refresh_family_max_age_secs == 0 {
            let key = "auth.refresh_family_max_age_secs";
            return Err(ConfigError::invalid(key, "must be positive"));
        }
        if auth.hash_concurrency == Some(0) {
            let key = "auth.hash_concurrency";
            return Err(ConfigError::invalid(
                key,
                "must be positive (unset: one per core)",
            ));
        }
        for uri in &auth.web_redirect_uris {
            match url::Url::parse(uri) {
                Ok(u) if u.fragment().is_none() => {}
                Ok(_) => {
                    let message = format!("{uri} must not have a fragment");
                    return Err(ConfigError::invalid("auth.web_redirect_uris", message));
                }
                Err(e) => {
                    let message = format!("{uri} is not a URL: {e}");
                    return Err(ConfigError::invalid("auth.web_redirect_uris", message));
                }
            }
        }
        if auth.max_taken_signups_per_address == 0 {
            let key = "auth.max_taken_signups_per_address";
            return Err(ConfigError::invalid(key, "must be positive"));
        }
        if auth.max_failed_logins_per_account == 0
            || auth.max_failed_logins_per_account_total == 0
            || auth.max_failed_logins_per_address == 0
        {
            return Err(ConfigError::invalid(
                "auth.max_failed_logins_per_account",
                "the failed sign-in limits must be positive",
            ));
        }
        if auth.failed_login_window_secs == 0 {
            let key = "auth.failed_login_window_secs";
            return Err(ConfigError::invalid(key, "must be positive"));
        }
        if let Some(key) = auth.key_encryption_key() {
            if let Err(message) = decode_key_encryption_key(key) {
                return Err(ConfigError::invalid("auth.key_encryption_key", message));
            }
        }
        Ok(())
    }
}

/// The 32 bytes of `auth.key_encryption_key` (standard or URL-safe base64, padded
/// or not). Generate one with `openssl rand -base64 32`.
pub fn decode_key_encryption_key(value: &str) -> Result<[u8; 32], &'static str> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let value = value.trim();
    let bytes = GeneralPurpose::new(&base64::alphabet::STANDARD, lenient)
        .decode(value)
        .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient).decode(value))
        .map_err(|_| "must be base64 (e.g. `openssl rand -base64 32`)")?;
    bytes
        .try_into()
        .map_err(|_| "must be 32 bytes (256 bits) in base64")
}

fn check_http_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(ConfigError::invalid(
            key,
            "must be an http:// or https:// URL with a host",
        )),
        Err(e) => Err(ConfigError::invalid(key, format!("is not a URL: {e}"))),
    }
}

/// The sqlx URL of a SQLite file, created when missing.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built-in default.
    Default,
    /// The TOML file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A configuration that cannot be used; one line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}{}: {message}", source_suffix(.origin))]
pub struct ConfigError {
    /// The dotted key (or the file, for a file that cannot be read).
    pub key: String,
    /// Where the bad value came from, when known.
    pub origin: Option<Source>,
    /// What is wrong, on one line.
    pub message: String,
}

fn source_suffix(source: &Option<Source>) -> String {
    match source {
        Some(s) => format!(" (from {s})"),
        None => String::new(),
    }
}

impl ConfigError {
    fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_owned(),
            origin: None,
            message: one_line(&message.into()),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the configuration: defaults, then `file`, then the environment (`env`, a
/// list of variables, usually `std::env::vars()`), then `flags` (dotted key, value).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[(&str, &str, String)],
) -> Result<Config, ConfigError> {
    let mut table = Table::new();
    let mut sources: Vec<(String, Source)> = Vec::new();

    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            key: "config".to_owned(),
            origin: Some(Source::File(path.to_owned())),
            message: format!("cannot read the file: {e}"),
        })?;
        table = text.parse::<Table>().map_err(|e| ConfigError {
            key: "config".to_owned(),
            origin: Some(Source::File(path.to_owned())),
            message: one_line(&format!("not valid TOML: {}", e.message())),
        })?;
        for key in KEYS {
            if lookup(&table, key.path).is_some() {
                sources.push((key.path.to_owned(), Source::File(path.to_owned())));
            }
        }
    }

    let env: Vec<(String, String)> = env.into_iter().collect();
    for key in KEYS {
        let name = key.env();
        if let Some((_, raw)) = env.iter().find(|(k, _)| *k == name) {
            let value = typed_value(key, raw).map_err(|message| ConfigError {
                key: key.path.to_owned(),
                origin: Some(Source::Env(name.clone())),
                message,
            })?;
            insert(&mut table, key.path, value);
            sources.push((key.path.to_owned(), Source::Env(name)));
        }
    }

    for (path, flag, raw) in flags {
        let key = KEYS
            .iter()
            .find(|k| k.path == *path)
            .expect("every flag maps to a key in KEYS");
        let value = typed_value(key, raw).map_err(|message| ConfigError {
            key: key.path.to_owned(),
            origin: Some(Source::Flag((*flag).to_owned())),
            message,
        })?;
        insert(&mut table, key.path, value);
        sources.push((key.path.to_owned(), Source::Flag((*flag).to_owned())));
    }

    let source_of = |path: &str| {
        sources
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, s)| s.clone())
    };

    let config: Config = serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().message().to_owned();
        ConfigError {
            origin: source_of(&path),
            key: if path == "." {
                "config".to_owned()
            } else {
                path
            },
            message: one_line(&message),
        }
    })?;
    config.validate().map_err(|mut e| {
        e.origin = source_of(&e.key);
        e
    })?;
    Ok(config)
}

/// The environment variable naming the configuration file (`--config`).
pub const CONFIG_FILE_ENV: &str = "VIGOR_CONFIG";

/// Every environment variable `vigor` reads: [`CONFIG_FILE_ENV`] and one per key.
pub fn env_vars() -> Vec<String> {
    std::iter::once(CONFIG_FILE_ENV.to_owned())
        .chain(KEYS.iter().map(Key::env))
        .collect()
}

/// The `VIGOR_*` variables in `env` that `vigor` does not read (likely typos).
/// `VIGOR_TEST_*` variables belong to the test kit and are not reported.
pub fn unknown_env_vars(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let known = env_vars();
    env.into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("VIGOR_") && !k.starts_with("VIGOR_TEST_") && !known.contains(k))
        .collect()
}

fn typed_value(key: &Key, raw: &str) -> Result<Value, String> {
    match key.kind {
        Kind::Str => Ok(Value::String(raw.to_owned())),
        Kind::Int => raw
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("expected a whole number, got {raw:?}")),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err(format!("expected true or false, got {raw:?}")),
        },
        Kind::List => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
    }
}

fn lookup<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

fn insert(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("a key path is never empty");
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        current = entry.as_table_mut().expect("just made a table");
    }
    current.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn leaf_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Table(t) = value {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_table() {
                    leaf_paths(v, &path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }

    #[test]
    fn keys_list_exactly_the_fields_of_config() {
        // Fill every optional field so that it serialises, then compare the leaves.
        let mut config = Config::default();
        config.tls.cert = Some("c".into());
        config.tls.key = Some("k".into());
        config.redis.url = Some("redis://x".into());
        config.auth.database_url = Some("sqlite://x".into());
        config.auth.url = Some("http://x".into());
        config.auth.issuer = Some("http://x".into());
        config.auth.jwks_url = Some("http://x/jwks".into());
        config.auth.key_encryption_key = Some("x".into());
        config.auth.hash_concurrency = Some(2);
        for s in [&mut config.users, &mut config.training] {
            s.database_url = Some("sqlite://x".into());
            s.database_read_url = Some("postgres://x".into());
            s.url = Some("http://x".into());
        }
        config.gamification.database_url = Some("sqlite://x".into());
        config.gamification.database_read_url = Some("postgres://x".into());
        config.gamification.url = Some("http://x".into());
        config.gamification.rules_file = Some("rules.toml".into());
        config.social.database_url = Some("sqlite://x".into());
        config.social.url = Some("http://x".into());
        config.leaderboards.url = Some("http://x".into());
        config.leaderboards.store = Some(BoardStoreKind::Redis);
        config.leaderboards.redis_url = Some("redis://x".into());
        let value = Value::try_from(&config).unwrap();
        let mut fields = Vec::new();
        leaf_paths(&value, "", &mut fields);
        fields.sort();
        let mut keys: Vec<String> = KEYS.iter().map(|k| k.path.to_owned()).collect();
        keys.sort();
        assert_eq!(fields, keys);
    }

    #[test]
    fn the_chat_store_settings_are_checked_and_typed() {
        let with = |pairs: &[(&str, &str)]| load(None, env(pairs), &[]);
        let config = with(&[
            ("VIGOR_SOCIAL_MESSAGES", "cql"),
            ("VIGOR_SOCIAL_CQL_NODES", "a:9042,b:9042"),
            (
                "VIGOR_SOCIAL_CQL_REPLICATION",
                "NetworkTopologyStrategy:dc1=3",
            ),
            ("VIGOR_SOCIAL_CQL_CONSISTENCY", "QUORUM"),
        ])
        .unwrap();
        assert_eq!(config.social.messages, social::MessageBackend::Cql);
        assert_eq!(config.social.cql.nodes, vec!["a:9042", "b:9042"]);
        assert_eq!(config.social.cql.consistency, social::Consistency::Quorum);
        let defaults = with(&[]).unwrap().social;
        assert_eq!(defaults.messages, social::MessageBackend::Sql);
        assert_eq!(defaults.cql.consistency, social::Consistency::LocalQuorum);
        for (key, value, named) in [
            ("VIGOR_SOCIAL_MESSAGES", "mongo", "social.messages"),
            (
                "VIGOR_SOCIAL_CQL_REPLICATION",
                "SimpleStrategy",
                "social.cql.replication",
            ),
            (
                "VIGOR_SOCIAL_CQL_CONSISTENCY",
                "SOMETIMES",
                "social.cql.consistency",
            ),
            (
                "VIGOR_SOCIAL_CQL_KEYSPACE",
                "no-dashes",
                "social.cql.keyspace",
            ),
            (
                "VIGOR_SOCIAL_CHAT_BUCKET_HOURS",
                "0",
                "social.chat_bucket_hours",
            ),
        ] {
            let error = with(&[(key, value)]).unwrap_err().to_string();
            assert!(error.contains(named), "{key}={value}: {error}");
        }
    }

    #[test]
    fn the_leaderboard_store_follows_the_redis_urls() {
        let with = |pairs: &[(&str, &str)]| load(None, env(pairs), &[]);
        let c = with(&[]).unwrap();
        assert_eq!(c.leaderboards.store_kind(&c.redis), BoardStoreKind::Memory);
        assert_eq!(c.leaderboards.window_grace(), Duration::from_secs(604_800));
        let c = with(&[("VIGOR_REDIS_URL", "redis://r:6379")]).unwrap();
        assert_eq!(c.leaderboards.store_kind(&c.redis), BoardStoreKind::Redis);
        assert_eq!(c.leaderboards.redis_url(&c.redis), Some("redis://r:6379"));
        let cluster = "redis-cluster://a:7000?node=b:7001";
        let c = with(&[
            ("VIGOR_REDIS_URL", "redis://r:6379"),
            ("VIGOR_LEADERBOARDS_REDIS_URL", cluster),
            ("VIGOR_LEADERBOARDS_WINDOW_GRACE_SECS", "60"),
        ])
        .unwrap();
        assert_eq!(c.leaderboards.redis_url(&c.redis), Some(cluster));
        assert_eq!(c.leaderboards.window_grace(), Duration::from_secs(60));
        let c = with(&[
            ("VIGOR_REDIS_URL", "redis://r:6379"),
            ("VIGOR_LEADERBOARDS_STORE", "memory"),
        ])
        .unwrap();
        assert_eq!(c.leaderboards.store_kind(&c.redis), BoardStoreKind::Memory);

        let error = with(&[("VIGOR_LEADERBOARDS_STORE", "redis")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("leaderboards.store"), "{error}");
        let error = with(&[("VIGOR_LEADERBOARDS_STORE", "mongo")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("leaderboards.store"), "{error}");
        let error = with(&[("VIGOR_LEADERBOARDS_REDIS_URL", "http://r")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("leaderboards.redis_url"), "{error}");
    }

    #[test]
    fn the_key_encryption_key_must_be_32_bytes_of_base64() {
        let with = |value: &str| {
            let env = [("VIGOR_AUTH_KEY_ENCRYPTION_KEY".to_owned(), value.to_owned())];
            load(None, env, &[])
        };
        // Standard and URL-safe alphabets, padded or not.
        let standard = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";
        for good in [
            standard,
            standard.trim_end_matches('='),
            "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k",
        ] {
            let config = with(good).unwrap();
            assert_eq!(config.auth.key_encryption_key.as_deref(), Some(good));
            assert_eq!(decode_key_encryption_key(good).unwrap()[..2], [0xab, 0xcd]);
        }
        assert_eq!(
            decode_key_encryption_key("-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8").unwrap()[..3],
            [0xfb, 0xff, 0xbf]
        );
        for bad in ["not base64!", "c2hvcnQ="] {
            let error = with(bad).unwrap_err().to_string();
            assert!(error.contains("auth.key_encryption_key"), "{bad}: {error}");
        }
        // Empty, as a deployment template passes for "not set": unset.
        for empty in ["", "  "] {
            assert_eq!(with(empty).unwrap().auth.key_encryption_key(), None);
        }
    }

    #[test]
    fn defaults_run_all_in_one_on_loopback() {
        let config = load(None, Vec::new(), &[]).unwrap();
        assert_eq!(config.target, Target::All);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.database_url(ServiceName::Auth),
            "sqlite://./data/auth.db?mode=rwc"
        );
    }

    #[test]
    fn flags_beat_env_beats_file() {
        let dir = std::env::temp_dir().join(format!("vigor-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vigor.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\nnode_id = 5\n[http]\ncors_origins = [\"https://a\"]\n",
        )
        .unwrap();
        let config = load(
            Some(&file),
            env(&[
                ("VIGOR_LISTEN", "127.0.0.1:2"),
                ("VIGOR_HTTP_CORS_ORIGINS", "https://b, https://c"),
            ]),
            &[("listen", "--listen", "127.0.0.1:3".to_owned())],
        )
        .unwrap();
        assert_eq!(config.listen.port(), 3);
        assert_eq!(config.node_id, 5);
        assert_eq!(config.http.cors_origins, vec!["https://b", "https://c"]);
    }

    #[test]
    fn a_bad_flag_names_the_key_and_the_flag_on_one_line() {
        let err = load(
            None,
            Vec::new(),
            &[("listen", "--listen", "not-an-address".to_owned())],
        )
        .unwrap_err();
        assert_eq!(err.key, "listen");
        assert_eq!(err.origin, Some(Source::Flag("--listen".to_owned())));
        let line = err.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains("listen") && line.contains("--listen"),
            "{line}"
        );
    }

    #[test]
    fn a_bad_env_value_names_the_variable() {
        let err = load(None, env(&[("VIGOR_NODE_ID", "many")]), &[]).unwrap_err();
        assert_eq!(err.key, "node_id");
        assert!(err.to_string().contains("VIGOR_NODE_ID"));
        let err = load(None, env(&[("VIGOR_NODE_ID", "4096")]), &[]).unwrap_err();
        assert_eq!(err.key, "node_id");
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = load(None, env(&[("VIGOR_TARGET", "kitchen")]), &[]).unwrap_err();
        assert_eq!(err.key, "target");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = std::env::temp_dir().join(format!("vigor-config-u-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vigor.toml");
        std::fs::write(&file, "[http]\nbody_limit = 5\n").unwrap();
        let err = load(Some(&file), Vec::new(), &[]).unwrap_err();
        assert!(err.to_string().contains("body_limit"), "{err}");
    }

    #[test]
    fn gateway_target_needs_every_service_url() {
        let err = load(None, env(&[("VIGOR_TARGET", "gateway")]), &[]).unwrap_err();
        assert_eq!(err.key, "auth.url");
        let mut vars = vec![("VIGOR_TARGET".to_owned(), "gateway".to_owned())];
        for s in ServiceName::ALL {
            vars.push((
                env_name(&format!("{s}.url")),
                "http://127.0.0.1:9".to_owned(),
            ));
        }
        let config = load(None, vars, &[]).unwrap();
        assert_eq!(config.target, Target::Gateway);
        assert_eq!(
            config.service_url(ServiceName::Social),
            Some("http://127.0.0.1:9")
        );
    }

    #[test]
    fn targets_without_auth_need_the_signing_keys() {
        let err = load(None, env(&[("VIGOR_TARGET", "users")]), &[]).unwrap_err();
        assert_eq!(err.key, "auth.jwks_url");
        let config = load(
            None,
            env(&[
                ("VIGOR_TARGET", "users"),
                ("VIGOR_AUTH_URL", "http://auth:8080"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(
            config.auth_jwks_url().as_deref(),
            Some("http://auth:8080/.well-known/jwks.json")
        );
    }

    #[test]
    fn service_targets_parse() {
        let config = load(
            None,
            env(&[
                ("VIGOR_TARGET", "training"),
                ("VIGOR_AUTH_URL", "http://auth:8080"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(config.target, Target::Service(ServiceName::Training));
        assert!(config.target.runs(ServiceName::Training));
        assert!(!config.target.runs(ServiceName::Auth));
    }

    #[test]
    fn a_read_replica_is_postgresql_beside_a_postgresql_primary() {
        let primary = (
            "VIGOR_TRAINING_DATABASE_URL",
            "postgres://training@db/training",
        );
        let replica = (
            "VIGOR_TRAINING_DATABASE_READ_URL",
            "postgres://training@replica/training",
        );
        let config = load(None, env(&[primary, replica]), &[]).unwrap();
        assert_eq!(
            config.database_read_url(ServiceName::Training),
            Some("postgres://training@replica/training")
        );
        assert_eq!(config.database_read_url(ServiceName::Users), None);
        // SQLite has no replica, and a replica is no SQLite file.
        let err = load(None, env(&[replica]), &[]).unwrap_err();
        assert_eq!(err.key, "training.database_read_url");
        let sqlite = ("VIGOR_TRAINING_DATABASE_READ_URL", "sqlite:///tmp/x.db");
        let err = load(None, env(&[primary, sqlite]), &[]).unwrap_err();
        assert_eq!(err.key, "training.database_read_url");
    }

    #[test]
    fn tls_needs_cert_and_key_together() {
        let err = load(None, env(&[("VIGOR_TLS_CERT", "/x.pem")]), &[]).unwrap_err();
        assert_eq!(err.key, "tls.key");
    }

    #[test]
    fn the_token_issuer_and_jwks_url_are_derived_when_unset() {
        let config = load(None, Vec::new(), &[]).unwrap();
        assert_eq!(config.auth_issuer(), "http://127.0.0.1:8080");
        assert_eq!(config.auth_jwks_url(), None);
        let config = load(
            None,
            env(&[
                ("VIGOR_LISTEN", "0.0.0.0:9000"),
                ("VIGOR_TLS_SELF_SIGNED", "true"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(config.auth_issuer(), "https://127.0.0.1:9000");
        let config = load(None, env(&[("VIGOR_AUTH_URL", "http://auth:8081/")]), &[]).unwrap();
        assert_eq!(config.auth_issuer(), "http://auth:8081");
        assert_eq!(
            config.auth_jwks_url().as_deref(),
            Some("http://auth:8081/.well-known/jwks.json")
        );
        let config = load(
            None,
            env(&[
                ("VIGOR_AUTH_URL", "http://auth:8081"),
                ("VIGOR_AUTH_ISSUER", "https://vigor.example/"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(config.auth_issuer(), "https://vigor.example");
    }

    #[test]
    fn the_new_auth_limits_have_defaults_and_must_be_positive() {
        let config = load(None, env(&[]), &[]).unwrap();
        assert_eq!(config.auth.refresh_family_max_age_secs, 90 * 24 * 3600);
        assert_eq!(config.auth.max_taken_signups_per_address, 10);
        assert_eq!(config.auth.hash_concurrency, None);
        let config = load(None, env(&[("VIGOR_AUTH_HASH_CONCURRENCY", "3")]), &[]).unwrap();
        assert_eq!(config.auth.hash_concurrency, Some(3));
        for key in [
            "auth.refresh_family_max_age_secs",
            "auth.max_taken_signups_per_address",
            "auth.hash_concurrency",
        ] {
            let err = load(None, env(&[(&env_name(key), "0")]), &[]).unwrap_err();
            assert_eq!(err.key, key);
        }
    }

    #[test]
    fn access_tokens_live_at_most_fifteen_minutes() {
        let err = load(
            None,
            env(&[("VIGOR_AUTH_ACCESS_TOKEN_TTL_SECS", "901")]),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.key, "auth.access_token_ttl_secs");
        assert!(
            err.to_string().contains("VIGOR_AUTH_ACCESS_TOKEN_TTL_SECS"),
            "{err}"
        );
        let config = load(
            None,
            env(&[("VIGOR_AUTH_ACCESS_TOKEN_TTL_SECS", "60")]),
            &[],
        )
        .unwrap();
        assert_eq!(config.auth.access_token_ttl_secs, 60);
        let err = load(None, env(&[("VIGOR_AUTH_ISSUER", "vigor")]), &[]).unwrap_err();
        assert_eq!(err.key, "auth.issuer");
        let uris = env(&[(
            "VIGOR_AUTH_WEB_REDIRECT_URIS",
            "https://app.example/cb, https://b.example/cb",
        )]);
        assert_eq!(
            load(None, uris, &[]).unwrap().auth.web_redirect_uris.len(),
            2
        );
    }

    #[test]
    fn unknown_vigor_variables_are_reported() {
        let unknown = unknown_env_vars(env(&[
            ("VIGOR_LISTN", "x"),
            ("VIGOR_LISTEN", "y"),
            ("HOME", "/"),
        ]));
        assert_eq!(unknown, vec!["VIGOR_LISTN".to_owned()]);
    }
}
