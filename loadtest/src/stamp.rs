//! The stamp every published message carries, and finding it again on arrival.
//!
//! Latency is measured end to end inside one process: a publisher writes the time
//! it sends a message into the message itself, and the subscriber that receives it
//! subtracts that from its own clock. Both read the same monotonic [`Clock`], so no
//! clock synchronisation is involved, and the stamp is taken immediately before
//! the frame is written (a stamp taken when the message was *scheduled* would
//! hide the generator's own backlog).
//!
//! The stamp is a JSON member, `"lt":[RUN,NANOS]`, anywhere in the frame: in the
//! `data` object of a hub event, or the whole text of a baseline message. A
//! receiver does not parse the frame's JSON — at a million deliveries a second that
//! would be most of the generator's work — it looks for the marker with a
//! precomputed substring search and reads two integers. `RUN` tells this run's
//! messages from anything else on the same server.

use std::time::Instant;

use memchr::memmem;

/// What precedes the two numbers of a stamp.
pub const MARKER: &str = "\"lt\":[";
/// The marker inside a JSON string (a chat message's body carries the stamp
/// as its text, so the frame has it escaped).
pub const ESCAPED_MARKER: &str = "\\\"lt\\\":[";

/// The monotonic clock publishers and subscribers share: nanoseconds since an origin.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    /// Nanoseconds since the origin.
    pub fn now_nanos(&self) -> u64 {
        // u64 nanoseconds last 584 years.
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A message's stamp: the run that sent it and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The run that sent the message.
    pub run: u32,
    /// When it was sent, in [`Clock`] nanoseconds.
    pub sent_nanos: u64,
}

impl Stamp {
    /// Appends `"lt":[RUN,NANOS]` to `out`.
    pub fn write_member(&self, out: &mut String) {
        use std::fmt::Write;
        // Writing to a String cannot fail.
        let _ = write!(out, "{MARKER}{},{}]", self.run, self.sent_nanos);
    }
}

/// Finds stamps in frames; build one per task and reuse it.
#[derive(Clone)]
pub struct StampFinder {
    marker: memmem::Finder<'static>,
    escaped: memmem::Finder<'static>,
}

impl Default for StampFinder {
    fn default() -> Self {
        StampFinder::new()
    }
}

impl StampFinder {
    /// A finder for [`MARKER`].
    pub fn new() -> StampFinder {
        StampFinder {
            marker: memmem::Finder::new(MARKER.as_bytes()),
            escaped: memmem::Finder::new(ESCAPED_MARKER.as_bytes()),
        }
    }

    /// The first well-formed stamp in `frame`, if any (as a member, else inside
    /// a string).
    pub fn find(&self, frame: &[u8]) -> Option<Stamp> {
        let start = match self.marker.find(frame) {
            Some(at) => at + MARKER.len(),
            None => self.escaped.find(frame)? + ESCAPED_MARKER.len(),
        };
        let rest = &frame[start..];
        let (run, used) = read_decimal(rest, b',')?;
        let (sent_nanos, _) = read_decimal(&rest[used..], b']')?;
        Some(Stamp {
            run: u32::try_from(run).ok()?,
            sent_nanos,
        })
    }
}

/// Reads the digits at the start of `bytes` up to `end`: the value and the bytes
/// used, `end` included. At least one digit, no sign, no overflow.
fn read_decimal(bytes: &[u8], end: u8) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            }
            _ if b == end && i > 0 => return Some((value, i + 1)),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn written(stamp: Stamp) -> String {
        let mut out = String::new();
        stamp.write_member(&mut out);
        out
    }

    #[test]
    fn a_stamp_is_found_inside_a_hub_event() {
        let stamp = Stamp {
            run: 7,
            sent_nanos: 1_234_567_890,
        };
        let frame = format!(
            r#"{{"type":"event","channel":"community:1","seq":1718000000000123,"event":"loadtest.stamp","data":{{{},"pad":"xx"}}}}"#,
            written(stamp)
        );
        assert_eq!(StampFinder::new().find(frame.as_bytes()), Some(stamp));
    }

    #[test]
    fn frames_without_a_stamp_or_with_a_broken_one_have_none() {
        let finder = StampFinder::new();
        for frame in [
            r#"{"type":"ack","id":1,"result":{"channel":"community:1","seq":5}}"#,
            r#"{"lt":[1,]}"#,
            r#"{"lt":[,5]}"#,
            r#"{"lt":[1,5"#,
            r#"{"lt":[-1,5]}"#,
            r#"{"lt":[1 ,5]}"#,
            r#"{"lt":[4294967296,5]}"#,
            r#"{"lt":[1,18446744073709551616]}"#,
            r#""lt":["#,
        ] {
            assert_eq!(finder.find(frame.as_bytes()), None, "{frame}");
        }
    }

    #[test]
    fn the_largest_values_fit() {
        let stamp = Stamp {
            run: u32::MAX,
            sent_nanos: u64::MAX,
        };
        let frame = format!("{{{}}}", written(stamp));
        assert_eq!(StampFinder::new().find(frame.as_bytes()), Some(stamp));
    }

    #[test]
    fn the_clock_does_not_go_backwards() {
        let clock = Clock::start();
        let a = clock.now_nanos();
        let b = clock.now_nanos();
        assert!(b >= a);
    }

    proptest! {
        #[test]
        fn every_stamp_round_trips(run: u32, sent_nanos: u64, prefix in "[a-z{\":,]{0,40}", suffix in "[a-z}\":,]{0,40}") {
            let stamp = Stamp { run, sent_nanos };
            let frame = format!("{prefix}{}{suffix}", written(stamp));
            // The prefix may not contain the marker itself.
            prop_assume!(!prefix.contains("\"lt\":["));
            prop_assert_eq!(StampFinder::new().find(frame.as_bytes()), Some(stamp));
        }
    }
}
