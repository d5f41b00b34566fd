//! The hub's metrics, recorded through the `metrics` facade (the process's
//! Prometheus recorder renders them at `/metrics`).

use metrics::Unit;

/// Open WebSocket sessions (gauge).
pub const WEBSOCKETS_OPEN: &str = "vigor_websockets_open";
/// Sessions closed because their outbound queue was full (counter).
pub const SLOW_CONSUMERS: &str = "vigor_hub_slow_consumers_total";
/// Sessions closed by the server, by close code (counter).
pub const CLOSES: &str = "vigor_hub_closes_total";
/// Client frames refused by the per-connection rate limit (counter).
pub const RATE_LIMITED: &str = "vigor_hub_rate_limited_total";
/// Events published through this process, sequenced or ephemeral (counter).
pub const EVENTS_PUBLISHED: &str = "vigor_hub_events_published_total";
/// Event frames queued to sessions (counter).
pub const DELIVERIES: &str = "vigor_hub_deliveries_total";
/// Events fetched from the history because the broker skipped them (counter).
pub const GAP_FILLS: &str = "vigor_hub_gap_fills_total";
/// Broker messages this version cannot decode (counter).
pub const UNDECODABLE: &str = "vigor_hub_undecodable_messages_total";
/// Channels with local subscribers on this node (gauge).
pub const CHANNELS: &str = "vigor_hub_channels";

/// Registers the descriptions; call once per process (more is harmless).
pub fn describe() {
    metrics::describe_gauge!(WEBSOCKETS_OPEN, Unit::Count, "Open WebSocket sessions.");
    metrics::describe_counter!(
        SLOW_CONSUMERS,
        Unit::Count,
        "Sessions closed with 4008 because they read too slowly."
    );
    metrics::describe_counter!(
        CLOSES,
        Unit::Count,
        "Sessions closed by the server, by close code."
    );
    metrics::describe_counter!(
        RATE_LIMITED,
        Unit::Count,
        "Client frames refused by the per-connection rate limit."
    );
    metrics::describe_counter!(
        EVENTS_PUBLISHED,
        Unit::Count,
        "Events published through this process."
    );
    metrics::describe_counter!(DELIVERIES, Unit::Count, "Event frames queued to sessions.");
    metrics::describe_counter!(
        GAP_FILLS,
        Unit::Count,
        "Events read back from the history because the broker skipped them."
    );
    metrics::describe_counter!(
        UNDECODABLE,
        Unit::Count,
        "Broker messages that could not be decoded."
    );
    metrics::describe_gauge!(
        CHANNELS,
        Unit::Count,
        "Channels with local subscribers on this node."
    );
}

/// Counts a server-side close with `code`.
pub(crate) fn counter_close(code: u16) {
    metrics::counter!(CLOSES, "code" => code.to_string()).increment(1);
}
