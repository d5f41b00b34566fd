//! The real-time hub's settings: the `[hub]` section of the configuration (the
//! `hub/` crate re-exports them).
//!
//! Durations are whole milliseconds or seconds (the unit is in the name) so that a
//! test can shrink a timeout to a few hundred milliseconds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the hub behaves. Every field has a default; see `hub/PROTOCOL.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// Largest client frame, in bytes; a larger one closes the connection with 1009.
    pub max_frame_bytes: usize,
    /// Initial read buffer of a connection, in bytes (it grows for larger frames).
    pub read_buffer_bytes: usize,
    /// Bytes a connection buffers before writing to the socket (a flush writes sooner).
    pub write_buffer_bytes: usize,
    /// Frames queued for one connection before it counts as a slow consumer (4008).
    pub outbound_queue: usize,
    /// Most frames written to a socket before one flush.
    pub write_batch: usize,
    /// Client frames per second a connection may send, on average.
    pub rate_per_sec: u32,
    /// Client frames a connection may send in a burst.
    pub rate_burst: u32,
    /// Time a new connection has to authenticate before it is closed with 4001.
    pub auth_timeout_ms: u64,
    /// Interval of the server's WebSocket pings.
    pub heartbeat_ms: u64,
    /// A connection that sends nothing (not even a pong) for this long is closed (1001).
    pub idle_timeout_ms: u64,
    /// Most channels one connection may subscribe to.
    pub max_subscriptions: usize,
    /// Most open sessions one user may have on one node (0: no limit); one more
    /// is closed with 4008. A stolen or shared token cannot hold thousands of
    /// connections.
    pub max_sessions_per_user: usize,
    /// Events each channel keeps for resume.
    pub ring_capacity: usize,
    /// A channel's history is dropped after this long without a new event.
    pub ring_ttl_secs: u64,
    /// How long a granted channel authorization is reused.
    pub authz_cache_ttl_ms: u64,
    /// Most cached authorizations.
    pub authz_cache_capacity: usize,
    /// A session sends at most one `typing` per channel in this interval.
    pub typing_interval_ms: u64,
    /// Presence entries of a node that stopped refreshing them expire after this long.
    pub presence_ttl_secs: u64,
    /// Most members a `presence` answer lists.
    pub presence_members_limit: usize,
    /// On shutdown or a policy close, how long the close frame may take to send.
    pub close_grace_ms: u64,
    /// Longest the hub waits for a service it asks on a session's behalf (chat
    /// membership, `chat.send`) before answering `unavailable`.
    pub service_timeout_ms: u64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_frame_bytes: 64 * 1024,
            // Client frames are small; 1 KiB keeps an idle session near 7 KiB of
            // RSS (4 KiB: 10 KiB; BENCHMARKS.md, ws-connections).
            read_buffer_bytes: 1024,
            write_buffer_bytes: 4 * 1024,
            outbound_queue: 1024,
            write_batch: 64,
            rate_per_sec: 20,
            rate_burst: 40,
            auth_timeout_ms: 10_000,
            heartbeat_ms: 25_000,
            idle_timeout_ms: 60_000,
            max_subscriptions: 200,
            max_sessions_per_user: 100,
            ring_capacity: 256,
            ring_ttl_secs: 24 * 3600,
            authz_cache_ttl_ms: 10_000,
            authz_cache_capacity: 100_000,
            typing_interval_ms: 1_000,
            presence_ttl_secs: 60,
            presence_members_limit: 1_000,
            close_grace_ms: 1_000,
            service_timeout_ms: 3_000,
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hub.{key}: {message}")]
pub struct InvalidHubConfig {
    /// The offending key.
    pub key: &'static str,
    /// What is wrong.
    pub message: &'static str,
}

/// The most events a channel's ring may keep (a replay is one Redis reply).
pub const MAX_RING_CAPACITY: usize = 4096;

impl HubConfig {
    /// Checks the values that would make the hub misbehave.
    pub fn validate(&self) -> Result<(), InvalidHubConfig> {
        let invalid = |key, message| Err(InvalidHubConfig { key, message });
        if self.max_frame_bytes < 1024 {
            return invalid("max_frame_bytes", "must be at least 1024");
        }
        if self.outbound_queue == 0 || self.write_batch == 0 {
            return invalid("outbound_queue", "queue and write batch must be positive");
        }
        if self.rate_per_sec == 0 || self.rate_burst == 0 {
            return invalid("rate_per_sec", "rate and burst must be positive");
        }
        if self.auth_timeout_ms == 0 || self.heartbeat_ms == 0 || self.idle_timeout_ms == 0 {
            return invalid("auth_timeout_ms", "timeouts must be positive");
        }
        if self.idle_timeout_ms <= self.heartbeat_ms {
            return invalid(
                "idle_timeout_ms",
                "must be longer than heartbeat_ms, or pongs cannot keep a connection alive",
            );
        }
        if self.ring_capacity == 0 || self.ring_capacity > MAX_RING_CAPACITY {
            return invalid("ring_capacity", "must be between 1 and 4096");
        }
        if self.max_subscriptions == 0 {
            return invalid("max_subscriptions", "must be positive");
        }
        if self.service_timeout_ms == 0 {
            return invalid("service_timeout_ms", "must be positive");
        }
        if self.presence_ttl_secs < 3 {
            return invalid("presence_ttl_secs", "must be at least 3");
        }
        Ok(())
    }

    /// [`HubConfig::auth_timeout_ms`] as a duration.
    pub fn auth_timeout(&self) -> Duration {
        Duration::from_millis(self.auth_timeout_ms)
    }

    /// [`HubConfig::heartbeat_ms`] as a duration.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// [`HubConfig::idle_timeout_ms`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// [`HubConfig::ring_ttl_secs`] as a duration.
    pub fn ring_ttl(&self) -> Duration {
        Duration::from_secs(self.ring_ttl_secs)
    }

    /// [`HubConfig::authz_cache_ttl_ms`] as a duration.
    pub fn authz_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.authz_cache_ttl_ms)
    }

    /// [`HubConfig::typing_interval_ms`] as a duration.
    pub fn typing_interval(&self) -> Duration {
        Duration::from_millis(self.typing_interval_ms)
    }

    /// [`HubConfig::presence_ttl_secs`] as a duration.
    pub fn presence_ttl(&self) -> Duration {
        Duration::from_secs(self.presence_ttl_secs)
    }

    /// [`HubConfig::close_grace_ms`] as a duration.
    pub fn close_grace(&self) -> Duration {
        Duration::from_millis(self.close_grace_ms)
    }

    /// [`HubConfig::service_timeout_ms`] as a duration.
    pub fn service_timeout(&self) -> Duration {
        Duration::from_millis(self.service_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_partial_tables_fill_in() {
        HubConfig::default().validate().unwrap();
        let config: HubConfig = serde_json::from_str(r#"{"auth_timeout_ms": 300}"#).unwrap();
        assert_eq!(config.auth_timeout(), Duration::from_millis(300));
        assert_eq!(config.max_frame_bytes, 64 * 1024);
        assert!(serde_json::from_str::<HubConfig>(r#"{"no_such_key": 1}"#).is_err());
    }

    #[test]
    fn nonsense_is_refused() {
        let bad = [
            HubConfig {
                ring_capacity: 0,
                ..HubConfig::default()
            },
            HubConfig {
                idle_timeout_ms: 1_000,
                heartbeat_ms: 2_000,
                ..HubConfig::default()
            },
            HubConfig {
                rate_burst: 0,
                ..HubConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }
}
