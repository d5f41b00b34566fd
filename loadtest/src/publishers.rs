//! Sending connections: each publisher sends its share of the rate on a fixed
//! schedule, stamping every message immediately before writing it.
//!
//! The schedule is absolute (`start + offset + k × interval`), so a publisher
//! that falls behind catches up rather than silently lowering the rate; publishers
//! are offset from each other so that the total is spread evenly over time. Each
//! publisher sends a fixed number of messages and never past the deadline: the
//! loop is bounded by both.
//!
//! Against Vigor a message is a `publish` frame and the hub answers each with an
//! `ack` or an `error`; a refused publish is not expected at any subscriber. The
//! hub limits each connection to 20 frames/s (burst 40), so the rate is split over
//! enough publishers to stay under it (`--per-publisher-rate`, 15 by default).
//! Against the baseline a message is `ROOM|{"lt":[…]}`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::session::{self, Endpoint, Target, Ws};
use crate::stamp::{Clock, Stamp};
use crate::subscribers::ChannelNames;

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
    /// Messages written, per channel index.
    pub per_channel: BTreeMap<usize, u64>,
    /// Messages the hub refused, per channel index.
    pub refused_per_channel: BTreeMap<usize, u64>,
    /// Refusals by error code.
    pub refusals: BTreeMap<String, u64>,
    /// The first refusal's message.
    pub first_refusal: Option<String>,
    /// Acks received.
    pub acked: u64,
    /// Why it stopped early, if it did.
    pub failure: Option<String>,
}

impl Sent {
    /// Messages written.
    pub fn total(&self) -> u64 {
        self.per_channel.values().sum()
    }
}

/// A connected publisher, ready to run its schedule.
pub struct Publisher {
    ws: Ws,
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
}

impl Publisher {
    /// Connects a publisher (authenticated with `token` against Vigor).
    pub async fn connect(
        shared: &Shared,
        schedule: Schedule,
        token: Option<&str>,
        buffer_bytes: usize,
    ) -> anyhow::Result<Publisher> {
        let ws = match shared.endpoint.target {
            Target::Vigor => {
                let token =
                    token.ok_or_else(|| anyhow::anyhow!("Vigor publishers need a token"))?;
                session::open_vigor(&shared.endpoint, token, buffer_bytes)
                    .await?
                    .0
            }
            Target::Baseline => {
                let room = shared
                    .channels
                    .name(schedule.channels.first().copied().unwrap_or(0));
                let url = shared.endpoint.baseline_url(room, true);
                session::open(shared.endpoint.addr, &url, None, buffer_bytes).await?
            }
        };
        Ok(Publisher { ws, schedule })
    }

    /// Sends the schedule from `start`, never after `deadline`; then waits up to
    /// `drain` for the remaining answers (Vigor).
    pub async fn run(
        mut self,
        shared: Arc<Shared>,
        start: Instant,
        deadline: Instant,
        drain: Duration,
        stop: CancellationToken,
    ) -> Sent {
        let mut sent = Sent::default();
        let mut frame = String::with_capacity(256 + shared.padding.len());
        let schedule = &self.schedule;
        let mut k: u64 = 0;
        while k < schedule.count {
            let due = start + schedule.offset + schedule.interval.mul_f64(k as f64);
            if due > deadline {
                break;
            }
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                incoming = self.ws.next() => {
                    if let Err(error) = on_answer(incoming, schedule, &mut sent) {
                        sent.failure = Some(error);
                        return sent;
                    }
                }
                _ = tokio::time::sleep_until(due) => {
                    let channel = schedule.channels[(k % schedule.channels.len() as u64) as usize];
                    frame.clear();
                    let stamp = Stamp { run: shared.run, sent_nanos: shared.clock.now_nanos() };
                    write_message(&shared, channel, k, stamp, &mut frame);
                    if let Err(error) = self.ws.send(Message::text(frame.as_str())).await {
                        sent.failure = Some(format!("sending: {error}"));
                        return sent;
                    }
                    *sent.per_channel.entry(channel).or_default() += 1;
                    k += 1;
                }
            }
        }
        if shared.endpoint.target == Target::Vigor {
            let until = Instant::now() + drain;
            while sent.acked + sent.refusals.values().sum::<u64>() < sent.total() {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep_until(until) => break,
                    incoming = self.ws.next() => {
                        if let Err(error) = on_answer(incoming, schedule, &mut sent) {
                            sent.failure = Some(error);
                            break;
                        }
                    }
                }
            }
        }
        let _ = self.ws.close(None).await;
        sent
    }
}

/// Writes message `k` to `channel` into `out`.
fn write_message(shared: &Shared, channel: usize, k: u64, stamp: Stamp, out: &mut String) {
    let name = shared.channels.name(channel);
    match shared.endpoint.target {
        Target::Vigor => {
            // Channel and event names need no JSON escaping (the protocol's grammar).
            let _ = write!(
                out,
                r#"{{"type":"publish","id":{k},"channel":"{name}","event":"{}","data":{{"#,
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

/// Counts an answer of the hub; an error ends the publisher.
fn on_answer(
    incoming: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    schedule: &Schedule,
    sent: &mut Sent,
) -> Result<(), String> {
    let text = match incoming {
        Some(Ok(Message::Text(text))) => text,
        Some(Ok(Message::Close(frame))) => {
            return Err(format!(
                "the server closed the publisher: {}",
                frame
                    .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_default()
            ))
        }
        Some(Ok(_)) => return Ok(()),
        Some(Err(error)) => return Err(format!("reading: {error}")),
        None => return Err("the publisher's connection ended".to_owned()),
    };
    // Answers are few (one per publish): parsing them is not the hot path.
    let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
        return Ok(());
    };
    match frame["type"].as_str() {
        Some("ack") => sent.acked += 1,
        Some("error") => {
            let code = frame["code"].as_str().unwrap_or("unknown").to_owned();
            if sent.first_refusal.is_none() {
                sent.first_refusal = Some(format!(
                    "{code}: {}",
                    frame["message"].as_str().unwrap_or("")
                ));
            }
            *sent.refusals.entry(code).or_default() += 1;
            if let Some(k) = frame["id"].as_u64() {
                let channel = schedule.channels[(k % schedule.channels.len() as u64) as usize];
                *sent.refused_per_channel.entry(channel).or_default() += 1;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
            channels: ChannelNames::new("community:{n}", 1, 2).unwrap(),
            event: "loadtest.stamp".to_owned(),
            padding: "x".repeat(padding),
            run: 9,
            clock: Clock::start(),
        }
    }

    #[test]
    fn vigor_messages_are_publish_frames_carrying_the_stamp() {
        let shared = shared(Target::Vigor, 3);
        let stamp = Stamp {
            run: 9,
            sent_nanos: 42,
        };
        let mut out = String::new();
        write_message(&shared, 1, 5, stamp, &mut out);
        let frame: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(frame["type"], "publish");
        assert_eq!(frame["id"], 5);
        assert_eq!(frame["channel"], "community:2");
        assert_eq!(frame["event"], "loadtest.stamp");
        assert_eq!(frame["data"]["lt"], serde_json::json!([9, 42]));
        assert_eq!(frame["data"]["pad"], "xxx");
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
        write_message(&shared, 0, 0, stamp, &mut out);
        assert_eq!(out, r#"community:1|{"lt":[9,42]}"#);
    }

    #[test]
    fn refusals_are_counted_per_channel_and_code() {
        let schedule = schedules(4, 4.0, 1, 2).remove(0);
        let mut sent = Sent::default();
        let ack =
            Message::text(r#"{"type":"ack","id":0,"result":{"channel":"community:1","seq":1}}"#);
        let refused = Message::text(
            r#"{"type":"error","id":3,"code":"forbidden","message":"no publishes here"}"#,
        );
        on_answer(Some(Ok(ack)), &schedule, &mut sent).unwrap();
        on_answer(Some(Ok(refused)), &schedule, &mut sent).unwrap();
        assert_eq!(sent.acked, 1);
        assert_eq!(sent.refusals["forbidden"], 1);
        assert_eq!(sent.refused_per_channel[&1], 1);
        assert_eq!(
            sent.first_refusal.as_deref(),
            Some("forbidden: no publishes here")
        );
        assert!(on_answer(None, &schedule, &mut sent).is_err());
    }
}
