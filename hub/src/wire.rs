//! What the hub sends through the [`vigor_common::broker::Broker`] between nodes.
//!
//! A broker message is one byte of kind, eight bytes of big-endian number, then
//! UTF-8 text:
//!
//! | kind | number | text |
//! |---|---|---|
//! | `1` sequenced event | its `seq` | the event frame after the seq (`,"event":…,"data":…}`), as kept in the history |
//! | `2` ephemeral event | the session that caused it, or 0 | the whole event frame (typing, presence) |
//!
//! Sequenced events carry only the suffix so that the broker message and the ring
//! entry are the same bytes; every node rebuilds the frame as prefix + seq +
//! suffix (the prefix depends only on the channel). The session number of an
//! ephemeral event lets its own session skip it (you do not see yourself typing).

use bytes::{BufMut, Bytes, BytesMut};
use vigor_common::Id;

const SEQUENCED: u8 = 1;
const EPHEMERAL: u8 = 2;
const HEADER: usize = 9;

/// A decoded broker message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireMessage {
    /// An event with a seq, kept in the history.
    Sequenced {
        /// The seq.
        seq: u64,
        /// The frame after the seq.
        suffix: Bytes,
    },
    /// An event without seq, not kept.
    Ephemeral {
        /// The session that caused it.
        origin: Option<Id>,
        /// The whole frame.
        frame: Bytes,
    },
}

fn encode(kind: u8, number: u64, text: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(HEADER + text.len());
    buf.put_u8(kind);
    buf.put_u64(number);
    buf.put_slice(text);
    buf.freeze()
}

/// A sequenced event's broker message.
pub(crate) fn sequenced(seq: u64, suffix: &[u8]) -> Bytes {
    encode(SEQUENCED, seq, suffix)
}

/// An ephemeral event's broker message.
pub(crate) fn ephemeral(origin: Option<Id>, frame: &str) -> Bytes {
    let origin = origin.map_or(0, |id| id.as_i64() as u64);
    encode(EPHEMERAL, origin, frame.as_bytes())
}

/// Decodes a broker message; `None` for anything this version does not know.
pub(crate) fn decode(payload: &Bytes) -> Option<WireMessage> {
    if payload.len() < HEADER {
        return None;
    }
    let mut number = [0u8; 8];
    number.copy_from_slice(&payload[1..HEADER]);
    let number = u64::from_be_bytes(number);
    let text = payload.slice(HEADER..);
    match payload[0] {
        SEQUENCED if number > 0 => Some(WireMessage::Sequenced {
            seq: number,
            suffix: text,
        }),
        EPHEMERAL => Some(WireMessage::Ephemeral {
            origin: i64::try_from(number)
                .ok()
                .filter(|n| *n > 0)
                .map(Id::from_i64),
            frame: text,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let message = sequenced(1_700_000_000_000_001, b",\"event\":\"x\",\"data\":{}}");
        assert_eq!(
            decode(&message),
            Some(WireMessage::Sequenced {
                seq: 1_700_000_000_000_001,
                suffix: Bytes::from_static(b",\"event\":\"x\",\"data\":{}}"),
            })
        );
        let message = ephemeral(Some(Id::from_i64(42)), "{}");
        assert_eq!(
            decode(&message),
            Some(WireMessage::Ephemeral {
                origin: Some(Id::from_i64(42)),
                frame: Bytes::from_static(b"{}"),
            })
        );
        let message = ephemeral(None, "{}");
        assert!(matches!(
            decode(&message),
            Some(WireMessage::Ephemeral { origin: None, .. })
        ));
    }

    #[test]
    fn foreign_payloads_are_refused() {
        assert_eq!(decode(&Bytes::from_static(b"")), None);
        assert_eq!(decode(&Bytes::from_static(b"\x01short")), None);
        assert_eq!(
            decode(&Bytes::from_static(b"\x09\0\0\0\0\0\0\0\x01text")),
            None
        );
        assert_eq!(
            decode(&Bytes::from_static(b"\x01\0\0\0\0\0\0\0\0text")),
            None,
            "seq 0"
        );
    }
}
