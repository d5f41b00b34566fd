//! The leaderboard store: one trait, [`BoardStore`], over an in-memory
//! implementation (all-in-one) and a Redis one (distributed, also on a Redis
//! Cluster), both checked by one conformance suite (`tests/conformance.rs`).
//!
//! The store is a cache: the durable truth is the score log in the gamification
//! database, which rebuilds a board window with [`BoardStore::load`].
//!
//! ## Order and ties
//!
//! An entry sorts by its *sort key* `(ordered score, achieved-at, user)`:
//! the ordered score is the score on ascending boards and its negation on
//! descending ones, so "first" is always "smallest" and both backends read one
//! way (Redis: `ZRANGE`/`ZRANK`, never the `REV` variants). Equal scores rank the
//! earlier achiever higher, and equal instants the smaller user id: a total,
//! deterministic order, so ranks never flicker between two reads.
//!
//! Redis sorted-set scores are f64. Folding the time into the score (score +
//! fraction) would lose precision exactly where totals are large, so the score
//! stays a plain integer, exact up to [`MAX_SCORE`] = 2^53 − 1, and the tie is
//! broken by the *member*: Redis orders equal scores by member bytes, so the
//! member is [`member`]`(achieved-at, user)`, 32 fixed-width hex digits of both
//! (sign-flipped so byte order is numeric order). A per-board hash maps each
//! user to their current member; a Lua script updates both at once, so they never
//! disagree. The memory store keeps the same sort key in its own structure.
//!
//! ## Pages
//!
//! A page resumes after a [`Position`] (the sort key of the last entry shown),
//! not after a rank: when entries move between two page requests, a rank
//! offset repeats or skips people, a position does not. [`top_page`] wraps it
//! into the API's opaque keyset cursor.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigor_common::api::{Cursor, Keyset, Page};
use vigor_common::config::{BoardStoreKind, Config};
use vigor_common::service::ReadinessCheck;
use vigor_common::{Id, Problem};

use crate::board::{BoardWindow, Operator, Order};

pub mod memory;
mod ranked;
pub mod redis;

pub use memory::MemoryBoardStore;
pub use redis::RedisBoardStore;

/// The largest absolute score a board holds: 2^53 − 1, the largest integer an
/// f64 (a Redis sorted-set score) holds exactly along with all below it.
pub const MAX_SCORE: i64 = (1 << 53) - 1;

/// A score or an increment: an integer (XP, metres, milliseconds) within
/// ±[`MAX_SCORE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Score(i64);

impl Score {
    /// `value` as a score, if within ±[`MAX_SCORE`].
    pub fn new(value: i64) -> Result<Score, StoreError> {
        if (-MAX_SCORE..=MAX_SCORE).contains(&value) {
            Ok(Score(value))
        } else {
            Err(StoreError::ScoreOutOfRange(i128::from(value)))
        }
    }

    /// The value.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A score, or the sum an increment would make, beyond ±[`MAX_SCORE`]; the
    /// entry is left as it was.
    #[error("score {0} is out of range (at most ±{MAX_SCORE})")]
    ScoreOutOfRange(i128),
    /// A bulk load that names one user twice.
    #[error("user {0} appears twice in one load")]
    DuplicateUser(Id),
    /// The backend failed (Redis unreachable, a script error).
    #[error("leaderboard store: {0}")]
    Backend(String),
}

/// One ranked entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1 for the first.
    pub rank: u64,
    /// Whose.
    pub user: Id,
    /// The score.
    pub score: i64,
    /// When this score was reached (ties rank the earlier first).
    pub achieved_at: DateTime<Utc>,
}

impl Entry {
    /// Where a page that ends with this entry resumes.
    pub fn position(&self) -> Position {
        Position {
            score: self.score,
            achieved_at_ms: self.achieved_at.timestamp_millis(),
            user: self.user,
        }
    }
}

/// A place in a board's order (the sort key of an entry): pages resume after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The entry's score.
    pub score: i64,
    /// Its achieved-at, in Unix milliseconds.
    pub achieved_at_ms: i64,
    /// Its user.
    pub user: Id,
}

/// The result of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submission {
    /// The user's score before (`None`: no entry).
    pub old: Option<i64>,
    /// The user's score now.
    pub new: i64,
    /// Whether the entry changed (score or achieved-at), i.e. whether ranks may
    /// have moved and a live update is due.
    pub changed: bool,
}

/// One entry of a bulk load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    /// Whose.
    pub user: Id,
    /// The score.
    pub score: Score,
    /// When it was reached.
    pub achieved_at: DateTime<Utc>,
}

/// The entries of a bulk load, each user at most once.
#[derive(Debug, Clone, Default)]
pub struct Seeds(Vec<Seed>);

impl Seeds {
    /// `seeds`, refused when a user appears twice.
    pub fn new(seeds: Vec<Seed>) -> Result<Seeds, StoreError> {
        let mut users: Vec<Id> = seeds.iter().map(|s| s.user).collect();
        users.sort_unstable();
        if let Some(w) = users.windows(2).find(|w| w[0] == w[1]) {
            return Err(StoreError::DuplicateUser(w[0]));
        }
        Ok(Seeds(seeds))
    }

    /// The entries.
    pub fn as_slice(&self) -> &[Seed] {
        &self.0
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A leaderboard store. Every method names one board instance (one window
/// period in one scope) except [`BoardStore::remove_user`], which spans all.
#[async_trait]
pub trait BoardStore: Send + Sync + 'static {
    /// Submits `score` for `user` reached at `at`, combined with the user's entry
    /// by the board's operator (`incr` adds `score`, which may be negative).
    async fn submit(
        &self,
        board: &BoardWindow,
        user: Id,
        score: Score,
        at: DateTime<Utc>,
    ) -> Result<Submission, StoreError>;

    /// Up to `limit` entries from the top, after `after` (the first page: `None`).
    async fn top(
        &self,
        board: &BoardWindow,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// The user's entry, if they have one.
    async fn rank(&self, board: &BoardWindow, user: Id) -> Result<Option<Entry>, StoreError>;

    /// The user's entry with up to `radius` entries above and below it, in
    /// order (empty when the user has no entry).
    async fn around(
        &self,
        board: &BoardWindow,
        user: Id,
        radius: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// The entries of `users` that exist, in rank order, with their ranks on
    /// the whole board (for `scope=friends`).
    async fn ranks_of(&self, board: &BoardWindow, users: &[Id]) -> Result<Vec<Entry>, StoreError>;

    /// Removes the user's entry from the instance (a deleted workout took the
    /// last of it away); answers the score it had, `None` when there was none.
    async fn remove(&self, board: &BoardWindow, user: Id) -> Result<Option<i64>, StoreError>;

    /// Removes the user's entries from every board instance (`user.deleted`);
    /// answers how many went. A submission for the user that runs at the same
    /// moment may still land (on Redis the per-user index and the board are in
    /// different hash slots, so no one script sees both): the caller stops
    /// submitting for a deleted user first, as gamification does by deleting
    /// the user's score log before it calls this.
    async fn remove_user(&self, user: Id) -> Result<u64, StoreError>;

    /// The number of entries.
    async fn count(&self, board: &BoardWindow) -> Result<u64, StoreError>;

    /// When the instance's entries expire (its period's end plus the store's
    /// grace); `None` for all-time boards and absent instances.
    async fn expires_at(&self, board: &BoardWindow) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Drops every entry of the instance.
    async fn drop_board(&self, board: &BoardWindow) -> Result<(), StoreError>;

    /// Whether the store answers (`/readyz`): Redis is reachable; memory always.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Replaces every entry of the instance with `seeds` at once (readers see the
    /// old entries or the new ones, never a mix): the rebuild from the durable
    /// score log. Submissions to the same instance during a load may be lost;
    /// the rebuild replays them from the log.
    async fn load(&self, board: &BoardWindow, seeds: Seeds) -> Result<(), StoreError>;
}

/// The store `config` asks for (`leaderboards.store`, `leaderboards.redis_url`,
/// `redis.prefix`, `leaderboards.window_grace_secs`).
pub async fn open(config: &Config) -> Result<Arc<dyn BoardStore>, StoreError> {
    let boards = &config.leaderboards;
    let grace = boards.window_grace();
    match (
        boards.store_kind(&config.redis),
        boards.redis_url(&config.redis),
    ) {
        (BoardStoreKind::Redis, Some(url)) => Ok(Arc::new(
            RedisBoardStore::connect(url, &config.redis.prefix, grace).await?,
        )),
        (BoardStoreKind::Redis, None) => Err(StoreError::Backend(
            "leaderboards.store is redis, but no Redis URL is configured".to_owned(),
        )),
        (BoardStoreKind::Memory, _) => Ok(Arc::new(MemoryBoardStore::new(grace))),
    }
}

/// The store of this process: opened from `ctx`'s configuration by the first
/// service that asks (gamification or leaderboards) and shared with the other
/// through [`vigor_common::service::Shared`], so that all-in-one both see one
/// in-memory store.
pub async fn shared(
    ctx: &vigor_common::service::ServiceContext,
) -> Result<Arc<dyn BoardStore>, StoreError> {
    ctx.shared.get_or_try_init(|| open(&ctx.config)).await
}

/// A `/readyz` check of `store`, for the service's `RunningService::checks`.
pub fn readiness_check(store: Arc<dyn BoardStore>) -> ReadinessCheck {
    Arc::new(move || {
        let store = store.clone();
        Box::pin(async move { store.ping().await.map_err(anyhow::Error::from) })
    })
}

/// The keyset of board pages: the key is `(score, achieved-at ms)`, the id the user.
pub const TOP_PAGES: Keyset<(i64, i64)> = Keyset::new("leaderboards.top");

/// A page of the top for the API: `limit` entries after the raw `cursor` (a
/// `next_cursor` of an earlier page; 422 problem+json when it is not one).
pub async fn top_page(
    store: &dyn BoardStore,
    board: &BoardWindow,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<Entry>, Problem> {
    let after = TOP_PAGES.parse(cursor)?.map(|c| Position {
        score: c.key.0,
        achieved_at_ms: c.key.1,
        user: c.id,
    });
    let rows = store
        .top(board, after.as_ref(), limit as usize + 1)
        .await
        .map_err(Problem::internal)?;
    Ok(TOP_PAGES.page(rows, limit, |e| {
        let p = e.position();
        Cursor::new((p.score, p.achieved_at_ms), p.user)
    }))
}

/// The score as the store orders it: smallest first.
pub(crate) fn ordered(order: Order, score: i64) -> i64 {
    match order {
        Order::Ascending => score,
        Order::Descending => -score,
    }
}

/// Flips the sign bit so that unsigned (and hex-text) order is signed order.
fn flip(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// The sorted-set member of an entry: achieved-at and user as 32 fixed-width
/// hex digits, whose byte order is the tie order.
pub(crate) fn member(achieved_at_ms: i64, user: Id) -> String {
    format!("{:016x}{:016x}", flip(achieved_at_ms), flip(user.as_i64()))
}

/// The achieved-at (ms) and user of a [`member`].
pub(crate) fn parse_member(raw: &str) -> Option<(i64, Id)> {
    if raw.len() != 32 || !raw.is_ascii() {
        return None;
    }
    let at = u64::from_str_radix(&raw[..16], 16).ok()?;
    let user = u64::from_str_radix(&raw[16..], 16).ok()?;
    Some((
        (at ^ (1 << 63)) as i64,
        Id::from_i64((user ^ (1 << 63)) as i64),
    ))
}

/// An instant from Unix milliseconds (clamped into chrono's range).
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The entry a user has after a submission: `(score, achieved-at ms)`, given
/// the entry before. The memory store applies it directly; the Redis store's
/// submit script is the same rule in Lua.
pub(crate) fn combine(
    operator: Operator,
    order: Order,
    old: Option<(i64, i64)>,
    score: Score,
    at_ms: i64,
) -> Result<((i64, i64), bool), StoreError> {
    let value = score.get();
    let Some((old_score, old_at)) = old else {
        return Ok(((value, at_ms), true));
    };
    let next = match operator {
        Operator::Best => {
            if ordered(order, value) < ordered(order, old_score) {
                Some(value)
            } else {
                None
            }
        }
        Operator::Set => (value != old_score).then_some(value),
        Operator::Incr => {
            if value == 0 {
                None
            } else {
                let sum = i128::from(old_score) + i128::from(value);
                if sum.abs() > i128::from(MAX_SCORE) {
                    return Err(StoreError::ScoreOutOfRange(sum));
                }
                Some(sum as i64)
            }
        }
    };
    Ok(match next {
        Some(s) => ((s, at_ms), true),
        None => ((old_score, old_at), false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_sort_as_their_instants_then_users() {
        let pairs = [
            (-5, 3),
            (-5, 4),
            (0, -1),
            (0, 0),
            (1_764_000_000_000, 1),
            (1_764_000_000_000, i64::MAX),
            (1_764_000_000_001, 0),
        ];
        let members: Vec<String> = pairs
            .iter()
            .map(|&(at, u)| member(at, Id::from_i64(u)))
            .collect();
        let mut sorted = members.clone();
        sorted.sort();
        assert_eq!(members, sorted);
        for (m, &(at, u)) in members.iter().zip(&pairs) {
            assert_eq!(parse_member(m), Some((at, Id::from_i64(u))));
        }
        assert_eq!(parse_member("zz"), None);
    }

    #[test]
    fn scores_beyond_2_pow_53_are_refused() {
        assert!(Score::new(MAX_SCORE).is_ok());
        assert!(Score::new(-MAX_SCORE).is_ok());
        assert!(Score::new(MAX_SCORE + 1).is_err());
        let big = Score::new(MAX_SCORE).unwrap();
        let one = Score::new(1).unwrap();
        assert!(matches!(
            combine(
                Operator::Incr,
                Order::Descending,
                Some((MAX_SCORE, 0)),
                one,
                1
            ),
            Err(StoreError::ScoreOutOfRange(_))
        ));
        assert_eq!(
            combine(Operator::Incr, Order::Descending, Some((-1, 0)), big, 1).unwrap(),
            ((MAX_SCORE - 1, 1), true)
        );
    }

    #[tokio::test]
    async fn open_wires_the_configured_store() {
        let board = crate::BoardDef::xp()
            .window_at(crate::Window::AllTime, crate::Scope::Global, Utc::now())
            .unwrap();
        let config = Config::default();
        let store = open(&config).await.unwrap();
        let s = store
            .submit(&board, Id::from_i64(1), Score::new(3).unwrap(), Utc::now())
            .await
            .unwrap();
        assert_eq!(s.new, 3);
        let mut config = Config::default();
        config.leaderboards.store = Some(BoardStoreKind::Redis);
        assert!(matches!(open(&config).await, Err(StoreError::Backend(_))));
    }

    #[test]
    fn seeds_refuse_a_user_twice() {
        let seed = |u| Seed {
            user: Id::from_i64(u),
            score: Score::new(1).unwrap(),
            achieved_at: from_millis(0),
        };
        assert!(Seeds::new(vec![seed(1), seed(2)]).is_ok());
        assert!(matches!(
            Seeds::new(vec![seed(1), seed(2), seed(1)]),
            Err(StoreError::DuplicateUser(u)) if u == Id::from_i64(1)
        ));
    }
}
