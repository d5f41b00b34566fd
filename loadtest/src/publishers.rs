//! Sending: each publisher sends its share of the rate on a fixed schedule,
//! stamping every message immediately before it is sent.
//!
//! The schedule is absolute (`start + offset + k × interval`), so a publisher
//! that falls behind catches up rather than silently lowering the rate; publishers
//! are offset from each other so that the total is spread evenly over time. Each
//! publisher sends a fixed number of messages and never past the deadline: the
//! loop is bounded by both.
//!
//! - **Vigor**: a message is a `POST /v1/hub/publish` (the hub's server API, the
//!   way a backend pushes an event), authorized by a client-credentials token with
//!   the `hub.publish` scope. All publishers share one HTTP client whose pool keeps
//!   one keep-alive connection per publisher (each publisher has one request in
//!   flight at a time; the pool is warmed before the clock starts, so no message
//!   pays for a TCP handshake). A `202` is accepted; any other answer, or a
//!   transport error, is a refusal, counted by code and not expected at any
//!   subscriber.
//! - **Baseline**: a message is `ROOM|{"lt":[…]}` on a send-only WebSocket.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::chat::ChatTargets;
use crate::session::{self, Endpoint, Target, Ws};
use crate::stamp::{Clock, Stamp};
use crate::subscribers::ChannelNames;

/// How long one publish request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One publisher's part of the run.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The channels it sends to, in rotation (indices into the channel names).
    pub channels: Vec<usize>,
    /// How many messages it sends.
    pub count: u64,
    /// Time between two of its messages.
    pub interval: Duration,
    /// When its first message is due, after the common start.
    pub offset: Duration,
}

/// Splits `total` messages over `publishers` sending to `channels`: publisher `p`
/// sends to the channels `c` with `c % publishers == p` (or to channel
/// `p % channels` when there are more publishers than channels).
pub fn schedules(total: u64, rate: f64, publishers: usize, channels: usize) -> Vec<Schedule> {
    let publishers = publishers.max(1);
    let interval = Duration::from_secs_f64(publishers as f64 / rate.max(f64::MIN_POSITIVE));
    (0..publishers)
        .map(|p| {
            let channels = if publishers <= channels {
                (p..channels).step_by(publishers).collect()
            } else {
                vec![p % channels.max(1)]
            };
            let count =
                total / publishers as u64 + u64::from((p as u64) < total % publishers as u64);
            Schedule {
                channels,
                count,
                interval,
                offset: interval.mul_f64(p as f64 / publishers as f64),
            }
        })
        .collect()
}

/// What one publisher did.
#[derive(Debug, Default)]
pub struct Sent {
    /// Messages sent, per channel index.
    pub per_channel: BTreeMap<usize, u64>,
    /// Messages the hub refused (or that failed), per channel index.
    pub refused_per_channel: BTreeMap<usize, u64>,
    /// Refusals by code: `http_<status>`, or `request_failed`.
    pub refusals: BTreeMap<String, u64>,
    /// The first refusal's message.
    pub first_refusal: Option<String>,
    /// Messages the hub accepted (`202`).
    pub acked: u64,
    /// Why it stopped early, if it did.
    pub failure: Option<String>,
}

impl Sent {
    /// Messages sent.
    pub fn total(&self) -> u64 {
        self.per_channel.values().sum()
    }

    fn refuse(&mut self, channel: usize, code: String, message: impl FnOnce() -> String) {
        if self.first_refusal.is_none() {
            self.first_refusal = Some(format!("{code}: {}", message()));
        }
        *self.refusals.entry(code).or_default() += 1;
        *self.refused_per_channel.entry(channel).or_default() += 1;
    }
}

/// The hub's server API, as the publishers use it.
#[derive(Debug, Clone)]
pub struct HttpPublish {
    client: reqwest::Client,
    url: String,
    health_url: String,
    authorization: HeaderValue,
}

impl HttpPublish {
    /// A client for `POST {endpoint}/v1/hub/publish` with `token` (a
    /// client-credentials token with the `hub.publish` scope), keeping up to
    /// `connections` keep-alive connections.
    pub fn new(endpoint: &Endpoint, token: &str, connections: usize) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections.max(1))
            .pool_idle_timeout(None)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the publish token is not a valid header value")?;
        authorization.set_sensitive(true);
        Ok(HttpPublish {
            client,
            url: format!("{}/v1/hub/publish", endpoint.http_base),
            health_url: format!("{}/healthz", endpoint.http_base),
            authorization,
        })
    }

    /// Opens (or reuses) one pooled connection with a `GET /healthz`.
    async fn warm(&self) -> anyhow::Result<()> {
        let response = self
            .client
            .get(&self.health_url)
            .send()
            .await
            .with_context(|| format!("GET {}", self.health_url))?;
        // Reading the body to its end hands the connection back to the pool.
        let _ = response.bytes().await;
        Ok(())
    }
}

/// How a publisher reaches the server.
enum Link {
    /// Vigor: requests through the shared HTTP client.
    Http,
    /// The baseline: a send-only WebSocket.
    Ws(Box<Ws>),
}

/// A connected publisher, ready to run its schedule.
pub struct Publisher {
    link: Link,
    schedule: Schedule,
}

/// Everything the publishers share.
pub struct Shared {
    /// Where they send.
    pub endpoint: Endpoint,
    /// The channels.
    pub channels: ChannelNames,
    /// The event name of Vigor publishes.
    pub event: String,
    /// Padding added to each message, in bytes.
    pub padding: String,
    /// This run's stamp tag.
    pub run: u32,
    /// The shared clock.
    pub clock: Clock,
    /// The server API client (Vigor only).
    pub http: Option<HttpPublish>,
    /// Chat: each channel's messages go to social as one of its members,
    /// instead of to the hub's publish endpoint.
    pub chat: Option<ChatTargets>,
}

impl Publisher {
    /// Gets a publisher ready: against Vigor, one warm keep-alive connection in
    /// the shared pool; against the baseline, a send-only WebSocket to the room
    /// of its first channel.
    pub async fn connect(
        shared: &Shared,
        schedule: Schedule,
        buffer_bytes: usize,
    ) -> anyhow::Result<Publisher> {
        let link = match shared.endpoint.target {
            Target::Vigor => {
                let http = shared
                    .http
                    .as_ref()
                    .context("Vigor publishers need a publish token")?;
                http.warm().await?;
                Link::Http
            }
            Target::Baseline => {
                let room = shared
                    .channels
                    .name(schedule.channels.first().copied().unwrap_or(0));
                let url = shared.endpoint.baseline_url(room, true);
                Link::Ws(Box::new(
                    session::open(shared.endpoint.addr, &url, None, buffer_bytes).await?,
                ))
            }
        };
        Ok(Publisher { link, schedule })
    }

    /// Sends the schedule from `start`, never after `deadline`.
    pub async fn run(
        self,
        shared: Arc<Shared>,
        start: Instant,
        deadline: Instant,
        stop: CancellationToken,
    ) -> Sent {
        match self.link {
            Link::Http => match &shared.http {
                Some(http) => run_http(http, &shared, &self.schedule, start, deadline, &stop).await,
                None => Sent {
                    failure: Some("no publish token".to_owned()),
                    ..Sent::default()
                },
            },
            Link::Ws(mut ws) => {
                let sent = run_ws(&mut ws, &shared, &self.schedule, start, deadline, &stop).await;
                let _ = (*ws).close(None).await;
                sent
            }
        }
    }
}

/// The channel message `k` of `schedule` goes to.
fn channel_of(schedule: &Schedule, k: u64) -> usize {
    schedule.channels[(k % schedule.channels.len() as u64) as usize]
}

/// Vigor: one `POST /v1/hub/publish` (chat: one `POST
/// /v1/social/channels/{id}/messages`) at a time, each stamped just before it is
/// sent.
async fn run_http(
    http: &HttpPublish,
    shared: &Shared,
    schedule: &Schedule,
    start: Instant,
    deadline: Instant,
    stop: &CancellationToken,
) -> Sent {
    let mut sent = Sent::default();
    let capacity = 128 + shared.padding.len();
    for k in 0..schedule.count {
        let due = start + schedule.offset + schedule.interval.mul_f64(k as f64);
        if due > deadline {
            break;
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(due) => {}
        }
        let channel = channel_of(schedule, k);
        let stamp = Stamp {
            run: shared.run,
            sent_nanos: shared.clock.now_nanos(),
        };
        let (url, authorization, body, accepted) = match &shared.chat {
            Some(chat) => (
                &chat.urls[channel],
                &chat.authorizations[channel],
                ChatTargets::body(stamp, &shared.padding),
                reqwest::StatusCode::CREATED,
            ),
            None => {
                let mut body = String::with_capacity(capacity);
                write_message(shared, channel, stamp, &mut body);
                (
                    &http.url,
                    &http.authorization,
                    body,
                    reqwest::StatusCode::ACCEPTED,
                )
            }
        };
        let request = http
            .client
            .post(url)
            .header(AUTHORIZATION, authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send();
        *sent.per_channel.entry(channel).or_default() += 1;
        let response = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            response = request => response,
        };
        match response {
            Ok(response) if response.status() == accepted => {
                // Read to the end so that the connection goes back to the pool.
                let _ = response.bytes().await;
                sent.acked += 1;
            }
            Ok(response) => {
                let code = format!("http_{}", response.status().as_u16());
                let text = response.text().await.unwrap_or_default();
                sent.refuse(channel, code, || text);
            }
            Err(error) => {
                sent.refuse(channel, "request_failed".to_owned(), || {
                    format!("{error:#}")
                });
            }
        }
    }
    sent
}

/// The baseline: one text frame per message on the publisher's WebSocket.
async fn run_ws(
    ws: &mut Ws,
    shared: &Shared,
    schedule: &Schedule,
    start: Instant,
    deadline: Instant,
    stop: &CancellationToken,
) -> Sent {
    let mut sent = Sent::default();
    let mut frame = String::with_capacity(128 + shared.padding.len());
    let mut k: u64 = 0;
    while k < schedule.count {
        let due = start + schedule.offset + schedule.interval.mul_f64(k as f64);
        if due > deadline {
            break;
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            incoming = ws.next() => {
                if let Err(error) = on_incoming(incoming) {
                    sent.failure = Some(error);
                    return sent;
                }
            }
            _ = tokio::time::sleep_until(due) => {
                let channel = channel_of(schedule, k);
                frame.clear();
                let stamp = Stamp { run: shared.run, sent_nanos: shared.clock.now_nanos() };
                write_message(shared, channel, stamp, &mut frame);
                if let Err(error) = ws.send(Message::text(frame.as_str())).await {
                    sent.failure = Some(format!("sending: {error}"));
                    return sent;
                }
                *sent.per_channel.entry(channel).or_default() += 1;
                k += 1;
            }
        }
    }
    sent
}

/// Writes the message for `channel` into `out`: the body of a `POST
/// /v1/hub/publish` for Vigor, `ROOM|{…}` for the baseline.
fn write_message(shared: &Shared, channel: usize, stamp: Stamp, out: &mut String) {
    let name = shared.channels.name(channel);
    match shared.endpoint.target {
        Target::Vigor => {
            // Channel and event names need no JSON escaping (the protocol's grammar).
            let _ = write!(
                out,
                r#"{{"channel":"{name}","event":"{}","data":{{"#,
                shared.event
            );
        }
        Target::Baseline => {
            let _ = write!(out, "{name}|{{");
        }
    }
    stamp.write_member(out);
    if !shared.padding.is_empty() {
        let _ = write!(out, r#","pad":"{}""#, shared.padding);
    }
    out.push('}');
    if shared.endpoint.target == Target::Vigor {
        out.push('}');
    }
}

/// What a baseline publisher may receive: nothing but control frames; a close
/// or an error ends it.
fn on_incoming(
    incoming: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> Result<(), String> {
    match incoming {
        Some(Ok(Message::Close(frame))) => Err(format!(
            "the server closed the publisher: {}",
            frame
                .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                .unwrap_or_default()
        )),
        Some(Ok(_)) => Ok(()),
        Some(Err(error)) => Err(format!("reading: {error}")),
        None => Err("the publisher's connection ended".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::session::Target;
    use crate::stamp::StampFinder;

    #[test]
    fn schedules_split_messages_and_channels_evenly() {
        let plans = schedules(1_000, 500.0, 3, 7);
        assert_eq!(plans.iter().map(|s| s.count).sum::<u64>(), 1_000);
        assert_eq!(
            plans.iter().map(|s| s.count).collect::<Vec<_>>(),
            [334, 333, 333]
        );
        assert_eq!(plans[0].channels, [0, 3, 6]);
        assert_eq!(plans[2].channels, [2, 5]);
        assert_eq!(plans[0].interval, Duration::from_millis(6));
        assert_eq!(plans[1].offset, Duration::from_millis(2));
        // More publishers than channels: each sends to one.
        let plans = schedules(10, 10.0, 4, 2);
        let channels: Vec<_> = plans.iter().map(|s| s.channels.clone()).collect();
        assert_eq!(channels, [vec![0], vec![1], vec![0], vec![1]]);
    }

    fn shared(target: Target, padding: usize) -> Shared {
        Shared {
            endpoint: Endpoint::parse("ws://127.0.0.1:1", target).unwrap(),
            channels: ChannelNames::new("leaderboard:loadtest:{n}", 1, 2).unwrap(),
            event: "loadtest.stamp".to_owned(),
            padding: "x".repeat(padding),
            run: 9,
            clock: Clock::start(),
            http: None,
            chat: None,
        }
    }

    #[test]
    fn vigor_messages_are_server_api_bodies_carrying_the_stamp() {
        let shared = shared(Target::Vigor, 3);
        let stamp = Stamp {
            run: 9,
            sent_nanos: 42,
        };
        let mut out = String::new();
        write_message(&shared, 1, stamp, &mut out);
        let body: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "channel": "leaderboard:loadtest:2",
                "event": "loadtest.stamp",
                "data": {"lt": [9, 42], "pad": "xxx"},
            })
        );
        assert_eq!(StampFinder::new().find(out.as_bytes()), Some(stamp));
    }

    #[test]
    fn baseline_messages_name_their_room() {
        let shared = shared(Target::Baseline, 0);
        let stamp = Stamp {
            run: 9,
            sent_nanos: 42,
        };
        let mut out = String::new();
        write_message(&shared, 0, stamp, &mut out);
        assert_eq!(out, r#"leaderboard:loadtest:1|{"lt":[9,42]}"#);
    }

    #[test]
    fn refusals_are_counted_per_channel_and_code() {
        let mut sent = Sent::default();
        sent.refuse(1, "http_403".to_owned(), || "no scope".to_owned());
        sent.refuse(1, "http_403".to_owned(), || {
            unreachable!("only the first is kept")
        });
        sent.refuse(0, "request_failed".to_owned(), || "reset".to_owned());
        assert_eq!(sent.refusals["http_403"], 2);
        assert_eq!(sent.refusals["request_failed"], 1);
        assert_eq!(sent.refused_per_channel[&1], 2);
        assert_eq!(sent.first_refusal.as_deref(), Some("http_403: no scope"));
    }

    #[test]
    fn a_baseline_publisher_stops_when_the_server_closes() {
        assert!(on_incoming(Some(Ok(Message::Ping(Vec::new().into())))).is_ok());
        assert!(on_incoming(Some(Ok(Message::Close(None)))).is_err());
        assert!(on_incoming(None).is_err());
    }
}
