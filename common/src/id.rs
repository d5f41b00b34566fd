//! 64-bit time-ordered ids, snowflake style.
//!
//! Layout, most significant first: 41 bits of milliseconds since [`EPOCH_MS`]
//! (good until 2093), 10 bits of node id, 12 bits of sequence. Ids from one node
//! are strictly increasing; ids from different nodes sort by time to the
//! millisecond. They fit in PostgreSQL `BIGINT`, SQLite `INTEGER` and CQL `bigint`,
//! and they sort, so they make good cursors.
//!
//! In JSON an id travels as a *string*: JavaScript numbers cannot hold 64 bits.
//!
//! The generator keeps its whole state (last millisecond and sequence) in one
//! `AtomicU64` updated by compare-and-swap, so it is lock-free and safe to share.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 2024-01-01T00:00:00Z, the zero of the id clock.
pub const EPOCH_MS: u64 = 1_704_067_200_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
/// The largest node id a generator accepts.
pub const MAX_NODE_ID: u16 = (1 << NODE_BITS) - 1;
const MAX_SEQ: u64 = (1 << SEQ_BITS) - 1;

/// A 64-bit time-ordered id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(i64);

impl Id {
    /// Wraps a raw value read from storage.
    pub const fn from_i64(raw: i64) -> Self {
        Id(raw)
    }

    /// The raw value, for storage.
    pub const fn as_i64(self) -> i64 {
        self.0
    }

    /// Milliseconds since the Unix epoch at which the id was made.
    pub fn unix_millis(self) -> u64 {
        ((self.0 as u64) >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS
    }

    /// The node that made the id.
    pub fn node(self) -> u16 {
        (((self.0 as u64) >> SEQ_BITS) & u64::from(MAX_NODE_ID)) as u16
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

/// Why a string is not an id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an id: expected a positive 64-bit integer in decimal")]
pub struct ParseIdError;

impl FromStr for Id {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only plain decimal digits: no sign, no spaces, no leading `+`.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseIdError);
        }
        match s.parse::<i64>() {
            Ok(v) if v > 0 => Ok(Id(v)),
            _ => Err(ParseIdError),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9]{1,19}$"))
            .description(Some("64-bit time-ordered id, as a decimal string"))
            .examples([serde_json::json!("139611232583749632")])
            .into()
    }
}

impl utoipa::ToSchema for Id {}

impl sqlx::Type<sqlx::Sqlite> for Id {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <i64 as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl sqlx::Type<sqlx::Postgres> for Id {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <i64 as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for Id
where
    i64: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        self.0.encode_by_ref(buf)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Id
where
    i64: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Id(i64::decode(value)?))
    }
}

/// Why a generator cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("node id {0} is out of range (0..={MAX_NODE_ID})")]
pub struct NodeIdOutOfRange(pub u16);

/// Makes ids for one node. Share it (`Arc`) across the whole process.
#[derive(Debug)]
pub struct IdGenerator {
    node: u64,
    /// `(millis since EPOCH_MS) << SEQ_BITS | sequence` of the last id made.
    state: AtomicU64,
}

impl IdGenerator {
    /// A generator for node `node` (0..=1023, unique per running process).
    pub fn new(node: u16) -> Result<Self, NodeIdOutOfRange> {
        if node > MAX_NODE_ID {
            return Err(NodeIdOutOfRange(node));
        }
        Ok(IdGenerator {
            node: u64::from(node),
            state: AtomicU64::new(0),
        })
    }

    /// The next id: strictly greater than every id this generator made before.
    pub fn next_id(&self) -> Id {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let now = now_millis();
            let last_ms = current >> SEQ_BITS;
            let next = if now > last_ms {
                now << SEQ_BITS
            } else if current & MAX_SEQ < MAX_SEQ {
                // Same millisecond (or the clock stepped back): next sequence.
                current + 1
            } else {
                // 4096 ids in one millisecond: borrow the next millisecond. The
                // clock catches up at once in practice; ids stay unique and ordered.
                (last_ms + 1) << SEQ_BITS
            };
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let ms = next >> SEQ_BITS;
                    let seq = next & MAX_SEQ;
                    let raw = (ms << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | seq;
                    return Id(raw as i64);
                }
                Err(actual) => current = actual,
            }
        }
    }
}

fn now_millis() -> u64 {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(EPOCH_MS);
    since_unix.saturating_sub(EPOCH_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn ids_are_unique_and_increasing_per_thread_under_concurrency() {
        let generator = Arc::new(IdGenerator::new(7).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let generator = Arc::clone(&generator);
                std::thread::spawn(move || {
                    let ids: Vec<Id> = (0..50_000).map(|_| generator.next_id()).collect();
                    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids went backwards");
                    ids
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert!(seen.insert(id), "duplicate id {id}");
                assert_eq!(id.node(), 7);
            }
        }
        assert_eq!(seen.len(), 400_000);
    }

    #[test]
    fn id_carries_its_time() {
        let generator = IdGenerator::new(1).unwrap();
        let before = now_millis() + EPOCH_MS;
        let id = generator.next_id();
        let after = now_millis() + EPOCH_MS;
        assert!(id.unix_millis() >= before && id.unix_millis() <= after + 1);
    }

    #[test]
    fn node_id_out_of_range_is_refused() {
        assert!(IdGenerator::new(1024).is_err());
        assert!(IdGenerator::new(1023).is_ok());
    }

    #[test]
    fn ids_travel_as_strings() {
        let id = Id::from_i64(139_611_232_583_749_632);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"139611232583749632\"");
        assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), id);
        assert!(serde_json::from_str::<Id>("139611232583749632").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_accepts_exactly_positive_decimal_i64(s in "\\PC{0,24}") {
            let parsed = s.parse::<Id>();
            let expected = !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && s.parse::<i64>().map(|v| v > 0).unwrap_or(false);
            proptest::prop_assert_eq!(parsed.is_ok(), expected);
            if let Ok(id) = parsed {
                proptest::prop_assert_eq!(id.to_string().parse::<Id>().unwrap(), id);
            }
        }
    }
}
