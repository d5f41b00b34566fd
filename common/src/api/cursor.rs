//! Keyset cursors: the one `cursor` format of every list.
//!
//! A list ordered by `(sort key, id)` resumes a page *after* the values of the
//! last row of the page before, never after "wherever that row is now": a
//! cursor that only named a row broke when the row was deleted (the next page
//! came back empty, so the client believed the list had ended) or when its sort
//! key changed (pages skipped or repeated). So a [`Cursor`] carries the sort key
//! and the id themselves, and the store's SQL compares with them
//! (`key < $k OR (key = $k AND id < $id)`), which stays correct whatever
//! happened to that row since.
//!
//! On the wire a cursor is opaque: base64url (no padding) of a version byte, the
//! JSON of `[id, key]`, and the first 8 bytes of a SHA-256 over the list's name,
//! the version and that JSON. The version lets the encoding change without
//! misreading older cursors; the checksum refuses a cursor that was cut, edited
//! or made by another list (a search cursor on the workout list) with a clear
//! 422 instead of a page from a nonsense position. It is a checksum, not a
//! secret MAC: whoever forges one only picks where their own list resumes, since
//! every list still filters by what the caller may see.
//!
//! Each list declares itself once as a [`Keyset`] constant with its name and
//! key type, and parses and makes its cursors through it, so a list cannot mix
//! up the two.

use std::marker::PhantomData;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Page;
use crate::{Id, Problem};

/// The version byte of the cursors made now.
const VERSION: u8 = 1;
/// Bytes of the checksum at the end.
const CHECK_LEN: usize = 8;
/// Longer raw cursors are refused unread (real ones are well under this).
const MAX_RAW_LEN: usize = 1024;

/// A position in a list ordered by `(key, id)`: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor<K> {
    /// The sort key of the last row of the previous page.
    pub key: K,
    /// The id of that row, which breaks ties of the key.
    pub id: Id,
}

impl<K> Cursor<K> {
    /// The position after the row with sort key `key` and id `id`.
    pub fn new(key: K, id: Id) -> Self {
        Cursor { key, id }
    }
}

/// Why a raw cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not base64url, too short or long, or its content does not decode.
    #[error("is not a cursor this list gave")]
    Malformed,
    /// A version this server does not read (made by an older or newer one).
    #[error("is a cursor of an unknown version {0}; start from the first page")]
    UnknownVersion(u8),
    /// The checksum does not match: edited, cut, or made by another list.
    #[error("is not a cursor of this list (altered, or from another list)")]
    NotThisList,
}

/// A list paginated by keyset cursors: its name, bound into its cursors, and
/// the type of its sort key. Declare one constant per list.
#[derive(Debug)]
pub struct Keyset<K> {
    list: &'static str,
    key: PhantomData<fn() -> K>,
}

impl<K> Clone for Keyset<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Keyset<K> {}

impl<K: Serialize + DeserializeOwned> Keyset<K> {
    /// The list named `list` (e.g. `training.workouts`).
    pub const fn new(list: &'static str) -> Self {
        Keyset {
            list,
            key: PhantomData,
        }
    }

    /// The list's name.
    pub fn name(&self) -> &'static str {
        self.list
    }

    /// The opaque text of `cursor`.
    pub fn encode(&self, cursor: &Cursor<K>) -> String {
        let payload =
            serde_json::to_vec(&(&cursor.id, &cursor.key)).expect("a sort key serialises to JSON");
        let mut bytes = Vec::with_capacity(1 + payload.len() + CHECK_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&check(self.list, VERSION, &payload));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position `raw` stands for, if this list made it.
    pub fn decode(&self, raw: &str) -> Result<Cursor<K>, CursorError> {
        if raw.len() > MAX_RAW_LEN {
            return Err(CursorError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| CursorError::Malformed)?;
        let (&version, rest) = bytes.split_first().ok_or(CursorError::Malformed)?;
        if rest.len() < CHECK_LEN {
            return Err(CursorError::Malformed);
        }
        if version != VERSION {
            return Err(CursorError::UnknownVersion(version));
        }
        let (payload, sum) = rest.split_at(rest.len() - CHECK_LEN);
        if sum != check(self.list, version, payload) {
            return Err(CursorError::NotThisList);
        }
        let (id, key): (Id, K) =
            serde_json::from_slice(payload).map_err(|_| CursorError::Malformed)?;
        Ok(Cursor { key, id })
    }

    /// The `cursor` query parameter: absent or empty is the first page (`None`);
    /// anything this list did not make is a 422 naming the field.
    pub fn parse(&self, raw: Option<&str>) -> Result<Option<Cursor<K>>, Problem> {
        match raw.filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(c) => self
                .decode(c)
                .map(Some)
                .map_err(|e| Problem::invalid_field("cursor", e.to_string())),
        }
    }

    /// A page from `limit + 1` fetched rows (see [`Page::from_overfetch`]), its
    /// cursor the position of the last row kept.
    pub fn page<T>(&self, rows: Vec<T>, limit: u32, position: impl Fn(&T) -> Cursor<K>) -> Page<T> {
        Page::from_overfetch(rows, limit, |row| self.encode(&position(row)))
    }
}

/// The checksum binding `payload` to `list` and `version`.
fn check(list: &str, version: u8, payload: &[u8]) -> [u8; CHECK_LEN] {
    let mut hash = Sha256::new();
    hash.update(b"vigor.cursor\0");
    hash.update(list.as_bytes());
    hash.update([0, version]);
    hash.update(payload);
    let digest = hash.finalize();
    let mut out = [0; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Timestamp;

    const NAMES: Keyset<String> = Keyset::new("test.names");
    const TIMES: Keyset<Timestamp> = Keyset::new("test.times");
    const IDS: Keyset<()> = Keyset::new("test.ids");

    fn id(n: i64) -> Id {
        Id::from_i64(n)
    }

    #[test]
    fn cursors_round_trip_their_key_and_id() {
        let c = Cursor::new("zoë. x \"quoted\"".to_owned(), id(123_456_789));
        let raw = NAMES.encode(&c);
        assert!(raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(NAMES.decode(&raw), Ok(c));

        let at: Timestamp = "2024-05-06T07:08:09.123Z".parse().unwrap();
        let c = Cursor::new(at, id(i64::MAX));
        assert_eq!(TIMES.decode(&TIMES.encode(&c)), Ok(c));

        let c = Cursor::new((), id(1));
        assert_eq!(IDS.decode(&IDS.encode(&c)), Ok(c));
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["x", "zz", "!!!!", "a b", "AQ", &"A".repeat(MAX_RAW_LEN + 4)] {
            assert_eq!(NAMES.decode(bad), Err(CursorError::Malformed), "{bad}");
        }
        // The old cursors were a bare id: refused, not misread.
        assert!(NAMES.decode("123456789").is_err());
        // A right checksum over something that is not `[id, key]`.
        let payload = b"{\"not\":\"a cursor\"}";
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(&check(NAMES.name(), VERSION, payload));
        let raw = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(NAMES.decode(&raw), Err(CursorError::Malformed));
    }

    #[test]
    fn edited_or_foreign_cursors_are_refused() {
        let raw = NAMES.encode(&Cursor::new("ann".to_owned(), id(42)));
        let mut bytes = URL_SAFE_NO_PAD.decode(&raw).unwrap();
        // Any flipped bit of the content or of the checksum.
        for i in 1..bytes.len() {
            bytes[i] ^= 0x01;
            let edited = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(NAMES.decode(&edited), Err(CursorError::NotThisList), "{i}");
            bytes[i] ^= 0x01;
        }
        // Cut short.
        assert!(NAMES.decode(&raw[..raw.len() - 2]).is_err());
        // Another list with the same key type.
        let other: Keyset<String> = Keyset::new("test.other");
        assert_eq!(other.decode(&raw), Err(CursorError::NotThisList));
        // Another list with another key type.
        assert_eq!(TIMES.decode(&raw), Err(CursorError::NotThisList));
    }

    #[test]
    fn other_versions_are_refused() {
        let payload = serde_json::to_vec(&(id(42), "ann")).unwrap();
        for version in [0, 2, 255] {
            let mut bytes = vec![version];
            bytes.extend_from_slice(&payload);
            bytes.extend_from_slice(&check(NAMES.name(), version, &payload));
            let raw = URL_SAFE_NO_PAD.encode(bytes);
            assert_eq!(
                NAMES.decode(&raw),
                Err(CursorError::UnknownVersion(version))
            );
        }
    }

    #[test]
    fn the_parameter_is_optional_and_refusals_are_422() {
        assert_eq!(NAMES.parse(None).unwrap(), None);
        assert_eq!(NAMES.parse(Some("")).unwrap(), None);
        let c = Cursor::new("b".to_owned(), id(7));
        assert_eq!(NAMES.parse(Some(&NAMES.encode(&c))).unwrap(), Some(c));
        let problem = NAMES.parse(Some("garbage")).unwrap_err();
        assert_eq!(
            problem.status_code(),
            http::StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn a_page_carries_the_position_of_its_last_row() {
        let rows = vec![("a", 1), ("b", 2), ("c", 3)];
        let page = NAMES.page(rows, 2, |(k, i)| Cursor::new(k.to_string(), id(*i)));
        assert_eq!(page.items.len(), 2);
        let next = NAMES.decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next, Cursor::new("b".to_owned(), id(2)));
        let last = NAMES.page(vec![("a", 1)], 2, |(k, i)| {
            Cursor::new(k.to_string(), id(*i))
        });
        assert_eq!(last.next_cursor, None);
    }
}
