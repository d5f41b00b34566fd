//! Live updates: from gamification's `leaderboard.scores_changed` events to
//! `leaderboard.update` pushes on the board's hub channel and
//! `leaderboard.rank` pushes on the changed users' own `user:{id}` channels.
//!
//! Scores can change thousands of times a second, while a watcher needs to
//! see a board a few times a second at most. So the consumer only *notes* which
//! board instances (and which users on them) changed, and one task flushes the
//! noted instances every `leaderboards.live_interval_ms`: per instance, one read
//! of the top N and one push, however many events arrived in between. A push
//! goes out only when the top N differs from the last one pushed for that
//! board, window and scope, or when the period changed (a new week).
//!
//! Channels: a global board instance goes to `leaderboard:{board}:{window}`; a
//! community or challenge board instance to
//! `leaderboard:{board}:{window}:community:{id}` /
//! `…:challenge:{id}` (`hub/PROTOCOL.md`).
//!
//! Live pushes are at-most-once, like the broker: an update lost to a restart
//! is superseded by the next, and a client that needs the whole board reads the
//! REST route. A user hears their own rank when their score changes, and when
//! others move them within the top N; being overtaken below the top N is not
//! pushed (it would take one read per entry passed). The state kept here (the last top N per board, the last rank
//! pushed per user) is bounded and lost on restart, which costs at most one
//! repeated push.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::bus::consumer::Undecodable;
use vigor_common::bus::{spawn_consumer, ConsumerOptions, EventBus};
use vigor_common::events::{ScoreChange, ScoresChanged, SCORES_CHANGED};
use vigor_common::live::LivePublisher;
use vigor_common::Id;

use crate::board::{BoardId, BoardWindow, Scope, Window};
use crate::http::Boards;
use crate::store::{BoardStore, Entry, Submission};

/// The consumer group of the leaderboards service.
pub const GROUP: &str = "leaderboards";
/// The event on a board's channel.
pub const UPDATE_EVENT: &str = "leaderboard.update";
/// The event on a user's channel.
pub const RANK_EVENT: &str = "leaderboard.rank";
/// The most changed users noted per board instance between two flushes; their
/// own rank pushes beyond it are skipped (the board's push is not).
const MAX_NOTED_USERS: usize = 10_000;

/// How live updates are paced and sized.
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    /// The shortest time between two pushes of one instance.
    pub interval: Duration,
    /// How many entries from the top a push carries.
    pub top: usize,
}

/// The `leaderboard.scores_changed` entry of a submission `submitted` to
/// `board` at `at` (what a producer announces after writing the store).
pub fn score_change(
    board: &BoardWindow,
    submitted: &Submission,
    at: chrono::DateTime<chrono::Utc>,
) -> ScoreChange {
    ScoreChange {
        board: board.board.to_string(),
        window: board.window.to_string(),
        scope: board.scope.to_string(),
        period: board.period.label.clone(),
        old: submitted.old,
        new: Some(submitted.new),
        at,
    }
}

/// The hub channel of a board instance's live updates.
pub fn channel(board: &BoardId, window: Window, scope: Scope) -> String {
    match scope {
        Scope::Global => format!("leaderboard:{board}:{window}"),
        other => format!("leaderboard:{board}:{window}:{other}"),
    }
}

/// An entry as pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveEntry {
    /// 1 for the first.
    pub rank: u64,
    /// Whose.
    pub user_id: Id,
    /// The score.
    pub score: i64,
}

/// An entry that moved into or within the top N since the last push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// Its rank now.
    pub rank: u64,
    /// Whose.
    pub user_id: Id,
    /// The score now.
    pub score: i64,
    /// Its rank in the last push (`null`: it was not in the top N).
    pub previous_rank: Option<u64>,
}

/// The data of `leaderboard.update`.
#[derive(Debug, Clone, Serialize)]
pub struct Update {
    /// The board.
    pub board: String,
    /// The window.
    pub window: String,
    /// `global`, `community:{id}` or `challenge:{id}`.
    pub scope: String,
    /// The period the entries belong to (`2026-W49`).
    pub period: String,
    /// The top N now, best first.
    pub top: Vec<LiveEntry>,
    /// The entries of `top` that are new or moved since the last push of the
    /// same period (all of `top` when the period is new).
    pub moved: Vec<Moved>,
    /// Users who were in the last push's top N and are not now.
    pub left: Vec<Id>,
}

/// The data of `leaderboard.rank`.
#[derive(Debug, Clone, Serialize)]
pub struct RankChange {
    /// The board.
    pub board: String,
    /// The window.
    pub window: String,
    /// The scope.
    pub scope: String,
    /// The period.
    pub period: String,
    /// The user's rank now (`null`: their entry is gone).
    pub rank: Option<u64>,
    /// The rank last pushed to them for this instance (`null`: none yet).
    pub previous_rank: Option<u64>,
    /// The score now (`null`: their entry is gone).
    pub score: Option<i64>,
}

/// What a board's channel was last told.
struct Pushed {
    period: String,
    top: Vec<LiveEntry>,
}

/// The noted changes and what was pushed; see the module docs.
pub struct Live {
    store: Arc<dyn BoardStore>,
    boards: Boards,
    publisher: Arc<dyn LivePublisher>,
    settings: LiveSettings,
    noted: Mutex<HashMap<BoardWindow, HashSet<Id>>>,
    pushed: Mutex<HashMap<String, Pushed>>,
    ranks: Cache<(String, Id), Option<u64>>,
}

impl Live {
    /// Live updates of `boards` in `store`, pushed through `publisher`.
    pub fn new(
        store: Arc<dyn BoardStore>,
        boards: Boards,
        publisher: Arc<dyn LivePublisher>,
        settings: LiveSettings,
    ) -> Arc<Live> {
        Arc::new(Live {
            store,
            boards,
            publisher,
            settings,
            noted: Mutex::new(HashMap::new()),
            pushed: Mutex::new(HashMap::new()),
            ranks: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
        })
    }

    /// Joins the service's consumer group on `bus` (before serving, so no
    /// event is missed) and runs the consumer and the flush task on `tasks`
    /// until `shutdown`.
    pub async fn start(
        self: &Arc<Live>,
        bus: &dyn EventBus,
        consumer: &str,
        options: ConsumerOptions,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> anyhow::Result<()> {
        let subscription = bus
            .subscribe(&[SCORES_CHANGED.name()], GROUP, consumer, options)
            .await?;
        let live = self.clone();
        spawn_consumer(subscription, shutdown.clone(), tasks, move |event| {
            let live = live.clone();
            async move {
                if !SCORES_CHANGED.is(&event) {
                    return Ok(());
                }
                let changed = SCORES_CHANGED.decode(&event).map_err(|e| Undecodable {
                    topic: event.name.clone(),
                    event: event.id,
                    reason: e.to_string(),
                })?;
                live.note(&changed);
                Ok(())
            }
        });
        let live = self.clone();
        tasks.spawn(async move {
            let mut ticks = tokio::time::interval(live.settings.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = ticks.tick() => live.flush().await,
                }
            }
        });
        Ok(())
    }

    /// Notes the instances `changed` names; an instance of a board this
    /// service does not know, or whose period does not match its `at`, is
    /// skipped (logged).
    pub fn note(&self, changed: &ScoresChanged) {
        let instances: Vec<BoardWindow> = changed
            .changes
            .iter()
            .filter_map(|change| match self.instance(change) {
                Ok(instance) => Some(instance),
                Err(reason) => {
                    tracing::debug!(board = %change.board, reason, "score change skipped");
                    None
                }
            })
            .collect();
        let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
        for instance in instances {
            let users = noted.entry(instance).or_default();
            if users.len() < MAX_NOTED_USERS {
                users.insert(changed.user_id);
            }
        }
    }

    fn instance(&self, change: &ScoreChange) -> Result<BoardWindow, &'static str> {
        let id = BoardId::parse(&change.board).map_err(|_| "a bad board id")?;
        let def = self.boards.get(&id).ok_or("an unknown board")?;
        let window: Window = change.window.parse().map_err(|_| "a bad window")?;
        let scope: Scope = change.scope.parse().map_err(|_| "a bad scope")?;
        let instance = def
            .window_at(window, scope, change.at)
            .map_err(|_| "a window or scope the board does not have")?;
        if instance.period.label != change.period {
            return Err("a period that is not the one of its instant");
        }
        Ok(instance)
    }

    /// Pushes what the noted instances look like now, and forgets the notes.
    pub async fn flush(&self) {
        let noted = std::mem::take(&mut *self.noted.lock().unwrap_or_else(|p| p.into_inner()));
        for (instance, users) in noted {
            if let Err(error) = self.flush_instance(&instance, users).await {
                tracing::warn!(board = %instance.name(), error = format!("{error:#}"), "live update failed");
            }
        }
    }

    async fn flush_instance(&self, board: &BoardWindow, users: HashSet<Id>) -> anyhow::Result<()> {
        let channel = channel(&board.board, board.window, board.scope);
        let top: Vec<LiveEntry> = self
            .store
            .top(board, None, self.settings.top)
            .await?
            .into_iter()
            .map(live_entry)
            .collect();
        let update = {
            let pushed = self.pushed.lock().unwrap_or_else(|p| p.into_inner());
            diff(board, pushed.get(&channel), &top)
        };
        if let Some(update) = &update {
            let data = serde_json::to_value(update)?;
            self.publisher
                .publish(&channel, UPDATE_EVENT, &data)
                .await?;
            self.pushed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    channel,
                    Pushed {
                        period: board.period.label.clone(),
                        top,
                    },
                );
        }
        for &user in &users {
            let entry = self.store.rank(board, user).await?;
            self.push_rank(board, user, entry.map(|e| (e.rank, e.score)))
                .await?;
        }
        // Those the changes moved within the top N hear it too (below the top,
        // being overtaken is not pushed: it would take a read per entry passed).
        for moved in update.iter().flat_map(|u| &u.moved) {
            if !users.contains(&moved.user_id) {
                self.push_rank(board, moved.user_id, Some((moved.rank, moved.score)))
                    .await?;
            }
        }
        Ok(())
    }

    /// Pushes `user`'s `(rank, score)` now on `board` to `user:{id}`, unless it
    /// is the rank last pushed to them.
    async fn push_rank(
        &self,
        board: &BoardWindow,
        user: Id,
        entry: Option<(u64, i64)>,
    ) -> anyhow::Result<()> {
        let rank = entry.map(|(rank, _)| rank);
        let key = (board.name(), user);
        let previous = self.ranks.get(&key);
        if previous == Some(rank) {
            return Ok(());
        }
        let change = RankChange {
            board: board.board.to_string(),
            window: board.window.to_string(),
            scope: board.scope.to_string(),
            period: board.period.label.clone(),
            rank,
            previous_rank: previous.flatten(),
            score: entry.map(|(_, score)| score),
        };
        let data = serde_json::to_value(&change)?;
        self.publisher
            .publish(&format!("user:{user}"), RANK_EVENT, &data)
            .await?;
        self.ranks.insert(key, rank);
        Ok(())
    }
}

fn live_entry(e: Entry) -> LiveEntry {
    LiveEntry {
        rank: e.rank,
        user_id: e.user,
        score: e.score,
    }
}

/// The update to push for `board`'s `top` after `last`, or `None` when the top
/// and the period are as last pushed.
fn diff(board: &BoardWindow, last: Option<&Pushed>, top: &[LiveEntry]) -> Option<Update> {
    let same_period = last.filter(|l| l.period == board.period.label);
    if same_period.is_some_and(|l| l.top == top) {
        return None;
    }
    let before: HashMap<Id, &LiveEntry> = same_period
        .map(|l| l.top.iter().map(|e| (e.user_id, e)).collect())
        .unwrap_or_default();
    let moved = top
        .iter()
        .filter(|e| before.get(&e.user_id).is_none_or(|b| *b != *e))
        .map(|e| Moved {
            rank: e.rank,
            user_id: e.user_id,
            score: e.score,
            previous_rank: before.get(&e.user_id).map(|b| b.rank),
        })
        .collect();
    let now: HashSet<Id> = top.iter().map(|e| e.user_id).collect();
    let left = same_period
        .map(|l| {
            l.top
                .iter()
                .map(|e| e.user_id)
                .filter(|u| !now.contains(u))
                .collect()
        })
        .unwrap_or_default();
    Some(Update {
        board: board.board.to_string(),
        window: board.window.to_string(),
        scope: board.scope.to_string(),
        period: board.period.label.clone(),
        top: top.to_vec(),
        moved,
        left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoardDef;
    use vigor_common::Id;

    fn entry(rank: u64, user: i64, score: i64) -> LiveEntry {
        LiveEntry {
            rank,
            user_id: Id::from_i64(user),
            score,
        }
    }

    #[test]
    fn only_a_changed_top_or_a_new_period_is_pushed() {
        let at = "2026-12-05T10:00:00Z".parse().unwrap();
        let board = BoardDef::xp()
            .window_at(Window::Weekly, Scope::Global, at)
            .unwrap();
        let top = vec![entry(1, 1, 30), entry(2, 2, 20)];
        let first = diff(&board, None, &top).unwrap();
        assert_eq!(first.moved.len(), 2);
        let last = Pushed {
            period: board.period.label.clone(),
            top: top.clone(),
        };
        assert!(diff(&board, Some(&last), &top).is_none());
        // User 3 overtakes user 2, who drops out of a top 2.
        let now = vec![entry(1, 1, 30), entry(2, 3, 25)];
        let update = diff(&board, Some(&last), &now).unwrap();
        assert_eq!(update.moved.len(), 1);
        assert_eq!(update.moved[0].user_id, Id::from_i64(3));
        assert_eq!(update.moved[0].previous_rank, None);
        assert_eq!(update.left, vec![Id::from_i64(2)]);
        // The same top in a new week is pushed, everything "moved".
        let old_week = Pushed {
            period: "2026-W48".to_owned(),
            top: top.clone(),
        };
        let update = diff(&board, Some(&old_week), &top).unwrap();
        assert_eq!(update.moved.len(), 2);
        assert!(update.left.is_empty());
    }

    #[test]
    fn channels_keep_the_global_form_and_name_other_scopes() {
        let xp = BoardId::parse("xp").unwrap();
        assert_eq!(
            channel(&xp, Window::Weekly, Scope::Global),
            "leaderboard:xp:weekly"
        );
        assert_eq!(
            channel(&xp, Window::AllTime, Scope::Community(Id::from_i64(7))),
            "leaderboard:xp:all_time:community:7"
        );
    }
}
