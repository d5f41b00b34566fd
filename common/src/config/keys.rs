//! The registry of configuration keys: each key once, with its environment
//! variable, kind, default and meaning. The environment overlay, `vigor config keys`,
//! the README table and the compose validation all read this list.

/// How a key's value is written in an environment variable or flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Str,
    /// A whole number.
    Int,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// Comma-separated text values.
    List,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path in the TOML file, e.g. `tls.cert`.
    pub path: &'static str,
    /// How the value is written in the environment.
    pub kind: Kind,
    /// The default, as shown in documentation (`""` for none).
    pub default: &'static str,
    /// One line of documentation.
    pub doc: &'static str,
}

impl Key {
    /// The environment variable: `VIGOR_` and the path in capitals, dots as `_`.
    pub fn env(&self) -> String {
        env_name(self.path)
    }
}

/// The environment variable of a dotted key path.
pub fn env_name(path: &str) -> String {
    format!("VIGOR_{}", path.replace('.', "_").to_ascii_uppercase())
}

const fn key(path: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> Key {
    Key {
        path,
        kind,
        default,
        doc,
    }
}

/// Every configuration key.
pub const KEYS: &[Key] = &[
    key("target", Kind::Str, "all", "What this process runs: all, gateway, auth, users, training, social, gamification or leaderboards."),
    key("listen", Kind::Str, "127.0.0.1:8080", "Address and port to listen on."),
    key("data_dir", Kind::Str, "./data", "Directory for embedded storage: SQLite files and signing keys."),
    key("node_id", Kind::Int, "0", "Node id for 64-bit ids (0-1023), unique per running process."),
    key("migrate_on_start", Kind::Bool, "true", "Apply pending migrations when a target starts (distributed deployments may run `vigor migrate` once instead)."),
    key("log.level", Kind::Str, "info", "Log filter, e.g. `info` or `vigor_gateway=debug,info`."),
    key("log.format", Kind::Str, "text", "Log format: `text` or `json`."),
    key("tls.cert", Kind::Str, "", "PEM certificate chain; with tls.key the server speaks HTTPS and WSS."),
    key("tls.key", Kind::Str, "", "PEM private key (PKCS#8, PKCS#1 or SEC1) for tls.cert."),
    key("tls.self_signed", Kind::Bool, "false", "Serve HTTPS with a fresh self-signed certificate (development)."),
    key("http.body_limit_bytes", Kind::Int, "2097152", "Largest request body accepted, in bytes (413 beyond)."),
    key("http.upload_limit_bytes", Kind::Int, "26214400", "Largest body of a file upload route (GPX/FIT import), in bytes (413 beyond)."),
    key("http.request_timeout_secs", Kind::Int, "30", "Longest a request may run before a 504."),
    key("http.shutdown_grace_secs", Kind::Int, "8", "On SIGTERM/SIGINT, how long in-flight requests may take to finish."),
    key("http.cors_origins", Kind::List, "", "Origins allowed by CORS, comma-separated; `*` allows any."),
    key("http.trust_forwarded_for", Kind::Bool, "false", "Take the client address from X-Forwarded-For (only behind a trusted load balancer)."),
    key("http.behind_gateway", Kind::Bool, "false", "A service target behind Vigor's gateway: take the client address from the gateway's X-Vigor-Client-Address header (never expose such a target to clients directly)."),
    key("http.web_dir", Kind::Str, "web/dist", "Directory of the built web app (`npm run build` in `web/`), served at `/` with a fallback to its `index.html` for the app's own routes; relative to the working directory. When it is missing, `/` answers 404."),
    key("rate_limit.enabled", Kind::Bool, "true", "Rate-limit requests per client (token bucket; Redis when redis.url is set)."),
    key("rate_limit.per_second", Kind::Int, "50", "Sustained requests per second per client."),
    key("rate_limit.burst", Kind::Int, "100", "Requests a client may burst above the sustained rate."),
    key("redis.url", Kind::Str, "", "Redis URL; when set, the event bus, broker and rate limits use it."),
    key("redis.prefix", Kind::Str, "vigor:", "Prefix of every Redis key and channel, so deployments can share one Redis."),
    key("bus.max_delivery_attempts", Kind::Int, "10", "Deliveries of one event to a consumer group before it goes to the group's dead letters (`vigor admin events dead-letters`)."),
    key("proxy.timeout_secs", Kind::Int, "30", "Gateway target: how long a service may take to answer before a 504."),
    key("proxy.connect_timeout_secs", Kind::Int, "3", "Gateway target: how long to wait for a connection to a service before a 502."),
    key("auth.database_url", Kind::Str, "sqlite: <data_dir>/auth.db", "Auth database: postgres://… or sqlite://…"),
    key("auth.url", Kind::Str, "", "Where the gateway reaches the auth target."),
    key("auth.issuer", Kind::Str, "<auth.url>, else http(s)://<listen>", "Public base URL of the auth service: the `iss` of access tokens and the base of its OAuth endpoints. Set it in distributed deployments (every process must agree)."),
    key("auth.audience", Kind::Str, "vigor", "The `aud` of access tokens, checked by every verifier."),
    key("auth.jwks_url", Kind::Str, "<auth.url>/.well-known/jwks.json", "Where targets that do not run auth read the token signing keys."),
    key("auth.access_token_ttl_secs", Kind::Int, "900", "Lifetime of access tokens in seconds (at most 900)."),
    key("auth.refresh_token_ttl_secs", Kind::Int, "2592000", "Lifetime of a refresh token in seconds; every use rotates it."),
    key("auth.refresh_family_max_age_secs", Kind::Int, "7776000", "Absolute lifetime of a session (refresh-token family) in seconds (90 days): rotation never extends it; then the user signs in again."),
    key("auth.password_grant", Kind::Bool, "true", "Allow the OAuth password grant for first-party clients (vigor-web, load tests)."),
    key("auth.web_redirect_uris", Kind::List, "", "Extra redirect URIs of the built-in vigor-web client, comma-separated."),
    key("auth.web_loopback_redirects", Kind::Bool, "true", "Let vigor-web redirect to any http://localhost or http://127.0.0.1 callback (development)."),
    key("auth.max_failed_logins_per_account", Kind::Int, "5", "Failed sign-ins at one account from one client address within the window before that address may not sign in to it."),
    key("auth.max_failed_logins_per_account_total", Kind::Int, "100", "Failed sign-ins at one account from all addresses within the window before sign-in to it is refused."),
    key("auth.max_failed_logins_per_address", Kind::Int, "50", "Failed sign-ins per client address within the window before sign-in is refused."),
    key("auth.failed_login_window_secs", Kind::Int, "900", "Window of the failed sign-in limits, in seconds."),
    key("auth.max_taken_signups_per_address", Kind::Int, "10", "Sign-ups for an email that has an account (answered 409) per client address within the failed sign-in window before every sign-up from that address is refused (429): bounds probing which emails have accounts."),
    key("auth.hash_concurrency", Kind::Int, "<cores>", "Password hashes computed at once (sign-up, sign-in, password change); each holds one reused argon2 memory block (19 MiB)."),
    key("auth.hash_queue_wait_ms", Kind::Int, "1000", "How long a request waits for a free hashing slot before it is refused with 503 and Retry-After, in milliseconds."),
    key("auth.key_encryption_key", Kind::Str, "", "Base64 of 32 random bytes (e.g. `openssl rand -base64 32`): token signing keys are stored encrypted with it (AES-256-GCM). Unset or empty: stored as they are."),
    key("users.database_url", Kind::Str, "sqlite: <data_dir>/users.db", "Users database: postgres://… or sqlite://…"),
    key("users.database_read_url", Kind::Str, "", "A PostgreSQL read replica of the users database (postgres://…) for reads that tolerate lag (people search); while it is down they go to the primary and /readyz says degraded."),
    key("users.url", Kind::Str, "", "Where the gateway reaches the users target."),
    key("training.database_url", Kind::Str, "sqlite: <data_dir>/training.db", "Training database: postgres://… or sqlite://…"),
    key("training.database_read_url", Kind::Str, "", "A PostgreSQL read replica of the training database (postgres://…) for reads that tolerate lag (statistics, records, recommendations, schedule and exercise search); while it is down they go to the primary and /readyz says degraded."),
    key("training.url", Kind::Str, "", "Where the gateway reaches the training target."),
    key("social.database_url", Kind::Str, "sqlite: <data_dir>/social.db", "Social database: postgres://… or sqlite://…"),
    key("social.url", Kind::Str, "", "Where the gateway reaches the social target."),
    key("social.messages", Kind::Str, "sql", "Where chat messages are stored: `sql` (the social database) or `cql` (a ScyllaDB or Cassandra keyspace at social.cql.nodes)."),
    key("social.chat_bucket_hours", Kind::Int, "24", "Time window of one CQL message partition (a channel's messages of this many hours); fixed once messages are stored."),
    key("social.send_rate_per_sec", Kind::Int, "5", "Chat messages, posts and comments one person may send per second on average (429 beyond); 0 turns the limit off (load tests)."),
    key("social.send_burst", Kind::Int, "20", "How many of them may come at once."),
    key("social.cql.nodes", Kind::List, "127.0.0.1:9042", "CQL contact points of the chat store (host:port), comma-separated."),
    key("social.cql.keyspace", Kind::Str, "vigor_social", "Keyspace of the chat tables; `vigor migrate` creates it and them."),
    key("social.cql.replication", Kind::Str, "SimpleStrategy:1", "Replication of the chat keyspace when `vigor migrate` creates it: `SimpleStrategy:<factor>` or `NetworkTopologyStrategy:<dc>=<factor>,…`."),
    key("social.cql.consistency", Kind::Str, "LOCAL_QUORUM", "Consistency of chat reads and writes: ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE or ANY."),
    key("gamification.database_url", Kind::Str, "sqlite: <data_dir>/gamification.db", "Gamification database: postgres://… or sqlite://…"),
    key("gamification.database_read_url", Kind::Str, "", "A PostgreSQL read replica of the gamification database (postgres://…) for reads that tolerate lag (the leaderboards' rebuild from the score log); while it is down they go to the primary and /readyz says degraded."),
    key("gamification.url", Kind::Str, "", "Where the gateway reaches the gamification target."),
    key("gamification.rules_file", Kind::Str, "", "A TOML file of achievement rules in place of the built-in ones (format: services/gamification/src/domain/rules.rs); a bad file stops the start, naming the line and the rule."),
    key("gamification.streak_rest_days", Kind::Int, "1", "Days without activity a daily streak survives (0-6), for users who did not set their own."),
    key("leaderboards.url", Kind::Str, "", "Where the gateway reaches the leaderboards target."),
    key("leaderboards.store", Kind::Str, "<redis with a Redis URL, else memory>", "Where boards are kept: `memory` (this process; rebuilt from the gamification score log) or `redis` (sorted sets)."),
    key("leaderboards.redis_url", Kind::Str, "<redis.url>", "Redis of the boards; `redis-cluster://host:port?node=host:port&node=…` shards them over a Redis Cluster."),
    key("leaderboards.window_grace_secs", Kind::Int, "604800", "How long a daily, weekly or monthly board stays readable after its period ends before its entries expire, in seconds."),
    key("leaderboards.around_radius", Kind::Int, "5", "How many entries above and below the caller `?around=me` shows (1-100)."),
    key("leaderboards.live_interval_ms", Kind::Int, "500", "Shortest time between two `leaderboard.update` pushes of one board instance, in ms (50-60000): score changes in between are coalesced."),
    key("leaderboards.live_top", Kind::Int, "10", "How many entries from the top a `leaderboard.update` carries (1-100)."),
    key("leaderboards.lookup_timeout_ms", Kind::Int, "3000", "Longest the leaderboards wait for another service (follows, display names, community membership), in ms."),
    key("hub.max_frame_bytes", Kind::Int, "65536", "Largest client frame, in bytes; a larger one closes the connection with 1009."),
    key("hub.read_buffer_bytes", Kind::Int, "1024", "Initial read buffer of a connection, in bytes (it grows for larger frames)."),
    key("hub.write_buffer_bytes", Kind::Int, "4096", "Bytes a connection buffers before writing to the socket (a flush writes sooner)."),
    key("hub.outbound_queue", Kind::Int, "1024", "Frames queued for one connection before it counts as a slow consumer (4008)."),
    key("hub.write_batch", Kind::Int, "64", "Most frames written to a socket before one flush."),
    key("hub.rate_per_sec", Kind::Int, "20", "Client frames per second a connection may send, on average."),
    key("hub.rate_burst", Kind::Int, "40", "Client frames a connection may send in a burst."),
    key("hub.auth_timeout_ms", Kind::Int, "10000", "Time a new connection has to authenticate before it is closed with 4001."),
    key("hub.heartbeat_ms", Kind::Int, "25000", "Interval of the server's WebSocket pings."),
    key("hub.idle_timeout_ms", Kind::Int, "60000", "A connection that sends nothing (not even a pong) for this long is closed (1001)."),
    key("hub.max_subscriptions", Kind::Int, "200", "Most channels one connection may subscribe to."),
    key("hub.max_sessions_per_user", Kind::Int, "100", "Most open sessions one user may have on one node (0: no limit); one more is closed with 4008."),
    key("hub.ring_capacity", Kind::Int, "256", "Events each channel keeps for resume."),
    key("hub.ring_ttl_secs", Kind::Int, "86400", "A channel's history is dropped after this long without a new event."),
    key("hub.authz_cache_ttl_ms", Kind::Int, "10000", "How long a granted channel authorization is reused."),
    key("hub.authz_cache_capacity", Kind::Int, "100000", "Most cached authorizations."),
    key("hub.typing_interval_ms", Kind::Int, "1000", "A session sends at most one `typing` per channel in this interval."),
    key("hub.presence_ttl_secs", Kind::Int, "60", "Presence entries of a node that stopped refreshing them expire after this long."),
    key("hub.presence_members_limit", Kind::Int, "1000", "Most members a `presence` answer lists."),
    key("hub.close_grace_ms", Kind::Int, "1000", "On shutdown or a policy close, how long the close frame may take to send."),
    key("hub.service_timeout_ms", Kind::Int, "3000", "Longest the hub waits for a service it asks for a session (chat membership, `chat.send`) before answering `unavailable`."),
];

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::KEYS;
    use crate::config::Config;

    /// A default as the registry writes it.
    fn written(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(written).collect::<Vec<_>>().join(","),
            other => other.to_string(),
        }
    }

    /// Each default is written twice (the `Default` impls, which the program
    /// uses, and this registry, which documents them and makes the README
    /// table): they must agree.
    #[test]
    fn every_documented_default_is_the_default() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut wrong = Vec::new();
        for key in KEYS {
            let value = key
                .path
                .split('.')
                .try_fold(&defaults, |v, part| v.get(part));
            let Some(value) = value else {
                wrong.push(format!("{}: not in Config", key.path));
                continue;
            };
            // Unset in `Config` and derived at start (`<data_dir>/auth.db`,
            // `<cores>`): the registry describes the derivation.
            let derived = value.is_null() && key.default.contains('<');
            if !derived && written(value) != key.default {
                wrong.push(format!(
                    "{}: {:?} vs {:?}",
                    key.path,
                    written(value),
                    key.default
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
