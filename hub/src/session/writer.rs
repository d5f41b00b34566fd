//! The writing half of a connection.
//!
//! It drains the session's bounded outbound queue in batches — up to
//! `write_batch` frames are `feed`ed and then flushed once, so a burst of events
//! costs one write syscall, not one per frame — and sends the server's heartbeat
//! pings. When the session is asked to close it stops writing queued frames, sends
//! the close frame (bounded by the close grace, as the peer may not be reading)
//! and ends. Every socket operation is raced against the close request, so a
//! writer stuck on a peer that stopped reading still ends promptly.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};

use crate::registry::SessionControl;

/// How the writer behaves.
pub(crate) struct WriterSettings {
    pub(crate) batch: usize,
    pub(crate) heartbeat: Duration,
    pub(crate) close_grace: Duration,
}

/// Writes queued frames until the session closes.
pub(crate) async fn run(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Utf8Bytes>,
    control: Arc<SessionControl>,
    settings: WriterSettings,
) {
    // Grows with the largest burst (at most `batch` frames); see the heartbeat.
    // (`recv_many`, not `try_recv` per frame: that parks the thread while a send
    // is in progress.)
    let mut batch = Vec::new();
    let mut heartbeat = interval_at(Instant::now() + settings.heartbeat, settings.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Created once, and the writer's own cheap signal: it is polled on every
    // wake-up (the hot path of fan-out).
    let closed = control.writer_closed();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            biased;
            _ = &mut closed => break,
            received = queue.recv_many(&mut batch, settings.batch) => {
                if received == 0 {
                    break;
                }
                let write = async {
                    for frame in batch.drain(..) {
                        sink.feed(Message::Text(frame)).await?;
                    }
                    sink.flush().await
                };
                let written = tokio::select! {
                    biased;
                    _ = &mut closed => break,
                    written = write => written,
                };
                if written.is_err() {
                    break;
                }
            }
            _ = heartbeat.tick() => {
                // A connection gone quiet gives back what its last burst grew.
                if queue.is_empty() {
                    batch = Vec::new();
                }
                let ping = tokio::select! {
                    biased;
                    _ = &mut closed => break,
                    sent = sink.send(Message::Ping(Default::default())) => sent,
                };
                if ping.is_err() {
                    break;
                }
            }
        }
    }
    // The socket may have failed under the writer: stop the reader too.
    control.stop();
    if let Some((code, reason)) = control.reason() {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = timeout(settings.close_grace, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = timeout(settings.close_grace, sink.close()).await;
}
