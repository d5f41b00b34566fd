//! The distributed leaderboard store: Redis sorted sets through `fred`, on one
//! Redis or a Redis Cluster without code changes.
//!
//! A board instance is two keys that share a hash slot through the hash tag
//! `{lb:<board>:<period>:<scope>}`: `…:z`, the sorted set of members (see the
//! store's module docs for the member encoding) by ordered score, and `…:m`, a
//! hash from user id to their current member. Because both are in one slot,
//! each operation is one Lua script (`EVALSHA`, loaded on first use and again
//! after `NOSCRIPT`, e.g. after a restart or on a new cluster node) that reads
//! and writes both atomically, and the same script runs on a cluster, routed to
//! the node of the slot. A cursor page finds its start with two `ZCOUNT`s and a
//! binary search over the tied scores (O(log² n)), so it resumes exactly after
//! the last entry shown even when that entry has since moved.
//!
//! `remove_user` needs every instance a user is on; a per-user sorted set
//! `{lbu:<user>}` lists them (scored by when the instance expires, so entries of
//! expired instances are pruned). It lives in the user's own slot, so it is
//! written next to, not inside, the instance's script.
//!
//! A bulk load writes staging keys in the same slot with pipelined `ZADD`/`HSET`
//! batches and then renames them over the live keys in one script, so readers
//! never see a half-loaded board.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fred::interfaces::ClientLike;
use fred::prelude::{Client, Value};
use fred::types::{ClusterHash, CustomCommand};
use vigor_common::bus::redis::redis_client;
use vigor_common::Id;

use super::{
    from_millis, member, ordered, parse_member, BoardStore, Entry, Position, Score, Seeds,
    StoreError, Submission, MAX_SCORE,
};
use crate::board::BoardWindow;

mod scripts;

use scripts::{AROUND, RANKS, REMOVE, SUBMIT, SWAP, TOP};

/// The largest limit or radius sent to a script: Lua numbers are doubles and
/// Redis indexes are integers, so an absurd `usize` must not reach them.
const MAX_SPAN: usize = 1 << 31;

/// Members per `ZADD`/`HSET` of a bulk load, and commands per pipeline.
const LOAD_BATCH: usize = 1000;
const LOAD_PIPELINE: usize = 64;

/// A Lua script and its SHA-1 once Redis told it.
struct Script {
    lua: &'static str,
    sha: OnceLock<String>,
}

impl Script {
    const fn new(lua: &'static str) -> Self {
        Script {
            lua,
            sha: OnceLock::new(),
        }
    }
}

/// The store's scripts.
struct Scripts {
    submit: Script,
    ranks: Script,
    around: Script,
    top: Script,
    remove: Script,
    swap: Script,
}

/// The Redis [`BoardStore`].
pub struct RedisBoardStore {
    client: Client,
    prefix: String,
    grace: chrono::Duration,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisBoardStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBoardStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn backend(error: fred::error::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn bad_reply(what: &str) -> StoreError {
    StoreError::Backend(format!("unexpected reply to {what}"))
}

/// The keys of one board instance.
struct Keys {
    z: String,
    m: String,
    slot: u16,
}

impl RedisBoardStore {
    /// Connects to `url` (`redis://…`, or `redis-cluster://host:port?node=host:port&…`
    /// for a cluster); every key starts with `prefix`, and windowed instances
    /// expire `grace` after their period.
    pub async fn connect(url: &str, prefix: &str, grace: Duration) -> Result<Self, StoreError> {
        let client = redis_client(url, 16).map_err(backend)?;
        client.init().await.map_err(backend)?;
        Ok(RedisBoardStore {
            client,
            prefix: prefix.to_owned(),
            grace: chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX),
            scripts: Scripts {
                submit: Script::new(SUBMIT),
                ranks: Script::new(RANKS),
                around: Script::new(AROUND),
                top: Script::new(TOP),
                remove: Script::new(REMOVE),
                swap: Script::new(SWAP),
            },
        })
    }

    /// The keys of the instance named `name` (see [`BoardWindow::name`]).
    fn keys_named(&self, name: &str) -> Keys {
        let tag = format!("{}{{lb:{name}}}", self.prefix);
        Keys {
            slot: fred::util::redis_keyslot(tag.as_bytes()),
            z: format!("{tag}:z"),
            m: format!("{tag}:m"),
        }
    }

    fn keys(&self, board: &BoardWindow) -> Keys {
        self.keys_named(&board.name())
    }

    fn user_index(&self, user: Id) -> String {
        format!("{}{{lbu:{user}}}", self.prefix)
    }

    /// Runs `script` on the node of `slot`, loading it there first when needed.
    async fn eval(
        &self,
        script: &Script,
        slot: u16,
        keys: &[&str],
        args: Vec<String>,
    ) -> Result<Value, StoreError> {
        let sha = match script.sha.get() {
            Some(sha) => sha.clone(),
            None => self.load_script(script, slot).await?,
        };
        let mut all: Vec<String> = Vec::with_capacity(2 + keys.len() + args.len());
        all.push(sha);
        all.push(keys.len().to_string());
        all.extend(keys.iter().map(|k| (*k).to_owned()));
        all.extend(args);
        let evalsha = CustomCommand::new_static("EVALSHA", ClusterHash::Custom(slot), false);
        match self
            .client
            .custom::<Value, _>(evalsha.clone(), all.clone())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                self.load_script(script, slot).await?;
                self.client.custom(evalsha, all).await.map_err(backend)
            }
            Err(e) if e.details().contains("ERR_SCORE_RANGE") => {
                let value = e
                    .details()
                    .rsplit(' ')
                    .next()
                    .and_then(|v| v.trim().parse::<i128>().ok())
                    .unwrap_or(i128::from(MAX_SCORE) + 1);
                Err(StoreError::ScoreOutOfRange(value))
            }
            other => other.map_err(backend),
        }
    }

    /// `SCRIPT LOAD` on the node of `slot`.
    async fn load_script(&self, script: &Script, slot: u16) -> Result<String, StoreError> {
        let load = CustomCommand::new_static("SCRIPT", ClusterHash::Custom(slot), false);
        let sha: String = self
            .client
            .custom(load, vec!["LOAD", script.lua])
            .await
            .map_err(backend)?;
        let _ = script.sha.set(sha.clone());
        Ok(sha)
    }

    /// Removes `user`'s entry from the instance named `name`; the ordered
    /// score it had (`None`: no entry).
    async fn remove_entry(&self, name: &str, user: Id) -> Result<Option<i64>, StoreError> {
        let keys = self.keys_named(name);
        let reply = self
            .eval(
                &self.scripts.remove,
                keys.slot,
                &[&keys.z, &keys.m],
                vec![user.to_string()],
            )
            .await?;
        match reply {
            Value::Null => Ok(None),
            score => int(&score).map(Some).ok_or_else(|| bad_reply("remove")),
        }
    }

    /// Entries from a `{start, {member, score, …}}` reply.
    fn rows(
        &self,
        board: &BoardWindow,
        reply: Value,
        what: &str,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut parts = array(reply, what)?.into_iter();
        let (Some(start), Some(rows)) = (parts.next(), parts.next()) else {
            return Ok(Vec::new());
        };
        let start = int(&start).ok_or_else(|| bad_reply(what))?;
        let rows = array(rows, what)?;
        rows.chunks(2)
            .enumerate()
            .map(|(i, pair)| match pair {
                [member, score] => {
                    entry(board, member, start + i as i64, score).ok_or_else(|| bad_reply(what))
                }
                _ => Err(bad_reply(what)),
            })
            .collect()
    }
}

/// An expiry as a script or `ZADD` argument: Unix milliseconds, or `never`.
fn expiry_arg(expiry: Option<DateTime<Utc>>, never: &str) -> String {
    expiry.map_or_else(|| never.to_owned(), |e| e.timestamp_millis().to_string())
}

fn array(value: Value, what: &str) -> Result<Vec<Value>, StoreError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        _ => Err(bad_reply(what)),
    }
}

/// An integer from an integer or decimal-text reply (scores come as text).
fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(i) => Some(*i),
        Value::Double(d) if d.fract() == 0.0 && d.abs() <= MAX_SCORE as f64 => Some(*d as i64),
        Value::String(s) => s.parse().ok(),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn entry(board: &BoardWindow, member: &Value, rank0: i64, score: &Value) -> Option<Entry> {
    let (at_ms, user) = parse_member(&member.as_string()?)?;
    Some(Entry {
        rank: u64::try_from(rank0).ok()? + 1,
        user,
        score: ordered(board.order, int(score)?),
        achieved_at: from_millis(at_ms),
    })
}

#[async_trait]
impl BoardStore for RedisBoardStore {
    async fn submit(
        &self,
        board: &BoardWindow,
        user: Id,
        score: Score,
        at: DateTime<Utc>,
    ) -> Result<Submission, StoreError> {
        let keys = self.keys(board);
        let expiry = board.expires_at(self.grace);
        let args = vec![
            user.to_string(),
            board.operator.as_str().to_owned(),
            ordered(board.order, score.get()).to_string(),
            member(at.timestamp_millis(), user),
            expiry_arg(expiry, ""),
            MAX_SCORE.to_string(),
        ];
        let reply = self
            .eval(&self.scripts.submit, keys.slot, &[&keys.z, &keys.m], args)
            .await?;
        let parts = array(reply, "submit")?;
        let [had, old, new, changed] = parts.as_slice() else {
            return Err(bad_reply("submit"));
        };
        let n = |v: &Value| int(v).ok_or_else(|| bad_reply("submit"));
        let old = (n(had)? == 1).then(|| n(old)).transpose()?;
        let submission = Submission {
            old: old.map(|o| ordered(board.order, o)),
            new: ordered(board.order, n(new)?),
            changed: n(changed)? == 1,
        };
        if old.is_none() {
            // A new entry: list the instance under the user for `remove_user`,
            // and prune instances that have expired since.
            let index = self.user_index(user);
            let until = expiry_arg(expiry, "+inf");
            let pipeline = self.client.pipeline();
            let _: () = pipeline
                .custom(fred::cmd!("ZADD"), vec![index.clone(), until, board.name()])
                .await
                .map_err(backend)?;
            let _: () = pipeline
                .custom(
                    fred::cmd!("ZREMRANGEBYSCORE"),
                    vec![
                        index,
                        "-inf".to_owned(),
                        format!("({}", Utc::now().timestamp_millis()),
                    ],
                )
                .await
                .map_err(backend)?;
            let _: Vec<Value> = pipeline.all().await.map_err(backend)?;
        }
        Ok(submission)
    }

    async fn top(
        &self,
        board: &BoardWindow,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let keys = self.keys(board);
        let limit = limit.min(MAX_SPAN);
        let args = match after {
            Some(p) => vec![
                "1".to_owned(),
                ordered(board.order, p.score).to_string(),
                member(p.achieved_at_ms, p.user),
                limit.to_string(),
            ],
            None => vec![
                "0".to_owned(),
                String::new(),
                String::new(),
                limit.to_string(),
            ],
        };
        let reply = self
            .eval(&self.scripts.top, keys.slot, &[&keys.z], args)
            .await?;
        self.rows(board, reply, "top")
    }

    async fn rank(&self, board: &BoardWindow, user: Id) -> Result<Option<Entry>, StoreError> {
        Ok(self.ranks_of(board, &[user]).await?.into_iter().next())
    }

    async fn around(
        &self,
        board: &BoardWindow,
        user: Id,
        radius: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let keys = self.keys(board);
        let args = vec![user.to_string(), radius.min(MAX_SPAN).to_string()];
        let reply = self
            .eval(&self.scripts.around, keys.slot, &[&keys.z, &keys.m], args)
            .await?;
        self.rows(board, reply, "around")
    }

    async fn ranks_of(&self, board: &BoardWindow, users: &[Id]) -> Result<Vec<Entry>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.keys(board);
        let args = users.iter().map(Id::to_string).collect();
        let reply = self
            .eval(&self.scripts.ranks, keys.slot, &[&keys.z, &keys.m], args)
            .await?;
        let rows = array(reply, "ranks")?;
        let mut entries = rows
            .chunks(3)
            .map(|row| match row {
                [member, rank, score] => int(rank)
                    .and_then(|r| entry(board, member, r, score))
                    .ok_or_else(|| bad_reply("ranks")),
                _ => Err(bad_reply("ranks")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.rank);
        entries.dedup_by_key(|e| e.rank);
        Ok(entries)
    }

    async fn remove(&self, board: &BoardWindow, user: Id) -> Result<Option<i64>, StoreError> {
        // The user's index keeps naming the instance: `remove_user` skips
        // instances without their entry, and the index expires with the period.
        let removed = self.remove_entry(&board.name(), user).await?;
        Ok(removed.map(|s| ordered(board.order, s)))
    }

    async fn remove_user(&self, user: Id) -> Result<u64, StoreError> {
        let index = self.user_index(user);
        let names: Vec<String> = self
            .client
            .custom(
                fred::cmd!("ZRANGE"),
                vec![index.clone(), "0".to_owned(), "-1".to_owned()],
            )
            .await
            .map_err(backend)?;
        let mut removed = 0;
        for name in names {
            if self.remove_entry(&name, user).await?.is_some() {
                removed += 1;
            }
        }
        let _: Value = self
            .client
            .custom(fred::cmd!("DEL"), vec![index])
            .await
            .map_err(backend)?;
        Ok(removed)
    }

    async fn count(&self, board: &BoardWindow) -> Result<u64, StoreError> {
        let keys = self.keys(board);
        let n: i64 = self
            .client
            .custom(fred::cmd!("ZCARD"), vec![keys.z])
            .await
            .map_err(backend)?;
        Ok(n.max(0) as u64)
    }

    async fn expires_at(&self, board: &BoardWindow) -> Result<Option<DateTime<Utc>>, StoreError> {
        let keys = self.keys(board);
        let ms: i64 = self
            .client
            .custom(fred::cmd!("PEXPIRETIME"), vec![keys.z])
            .await
            .map_err(backend)?;
        // -1: no expiry; -2: no such key.
        Ok((ms >= 0).then(|| from_millis(ms)))
    }

    async fn drop_board(&self, board: &BoardWindow) -> Result<(), StoreError> {
        let keys = self.keys(board);
        let _: Value = self
            .client
            .custom(fred::cmd!("DEL"), vec![keys.z, keys.m])
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: Value = self
            .client
            .custom(fred::cmd!("PING"), Vec::<String>::new())
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, board: &BoardWindow, seeds: Seeds) -> Result<(), StoreError> {
        let keys = self.keys(board);
        let staged_z = format!("{}:load", keys.z);
        let staged_m = format!("{}:load", keys.m);
        let _: Value = self
            .client
            .custom(fred::cmd!("DEL"), vec![staged_z.clone(), staged_m.clone()])
            .await
            .map_err(backend)?;
        let expiry = board.expires_at(self.grace);
        let until = expiry_arg(expiry, "+inf");
        let name = board.name();
        for batches in seeds.as_slice().chunks(LOAD_BATCH * LOAD_PIPELINE) {
            let pipeline = self.client.pipeline();
            for batch in batches.chunks(LOAD_BATCH) {
                let mut zadd = Vec::with_capacity(1 + 2 * batch.len());
                let mut hset = Vec::with_capacity(1 + 2 * batch.len());
                zadd.push(staged_z.clone());
                hset.push(staged_m.clone());
                for seed in batch {
                    let m = member(seed.achieved_at.timestamp_millis(), seed.user);
                    zadd.push(ordered(board.order, seed.score.get()).to_string());
                    zadd.push(m.clone());
                    hset.push(seed.user.to_string());
                    hset.push(m);
                }
                let _: () = pipeline
                    .custom(fred::cmd!("ZADD"), zadd)
                    .await
                    .map_err(backend)?;
                let _: () = pipeline
                    .custom(fred::cmd!("HSET"), hset)
                    .await
                    .map_err(backend)?;
                for seed in batch {
                    let _: () = pipeline
                        .custom(
                            fred::cmd!("ZADD"),
                            vec![self.user_index(seed.user), until.clone(), name.clone()],
                        )
                        .await
                        .map_err(backend)?;
                }
            }
            let _: Vec<Value> = pipeline.all().await.map_err(backend)?;
        }
        let args = vec![expiry_arg(expiry, "")];
        self.eval(
            &self.scripts.swap,
            keys.slot,
            &[&keys.z, &keys.m, &staged_z, &staged_m],
            args,
        )
        .await?;
        Ok(())
    }
}
