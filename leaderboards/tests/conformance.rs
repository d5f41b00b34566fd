//! The `BoardStore` conformance suite, run on the in-memory store, on Redis and
//! on a 3-node Redis Cluster (the server-backed ones are skipped outside the
//! test script, see the testkit).
//!
//! Each Redis test gets its own fresh key prefix, so tests run in parallel on
//! one server without seeing each other; on the cluster the instances of one
//! test land on different nodes, which is the point.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vigor_common::{testkit, Id};
use vigor_leaderboards::board::{BoardDef, BoardId, Metric, ScopeKind};
use vigor_leaderboards::store::{readiness_check, top_page, MAX_SCORE};
use vigor_leaderboards::{
    BoardStore, BoardWindow, Entry, MemoryBoardStore, Operator, Order, Position, RedisBoardStore,
    Scope, Score, Seed, Seeds, StoreError, Window,
};

/// The grace every store of the suite keeps windowed instances for.
const GRACE: Duration = Duration::from_secs(3600);

type Store = Arc<dyn BoardStore>;

fn memory() -> Store {
    Arc::new(MemoryBoardStore::new(GRACE))
}

async fn redis_at(url: Option<String>) -> Option<Store> {
    let url = url?;
    let prefix = format!("{}:", testkit::unique_name("lb"));
    let store = RedisBoardStore::connect(&url, &prefix, GRACE)
        .await
        .expect("Redis connects");
    Some(Arc::new(store))
}

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::memory()).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::redis_at(vigor_common::testkit::redis_url()).await else { return };
                    super::$name(store).await;
                }
            )+
        }
        mod redis_cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::redis_at(vigor_common::testkit::redis_cluster_url()).await else { return };
                    super::$name(store).await;
                }
            )+
        }
    };
}

conformance!(
    incr_adds_and_reports_the_old_and_new_score,
    best_keeps_the_better_score_by_the_boards_order,
    set_replaces_the_score,
    ascending_boards_rank_the_lowest_first,
    ties_rank_the_earlier_achiever_first,
    around_me_is_clipped_at_the_top_and_bottom,
    pages_have_no_gaps_or_repeats_even_when_entries_move,
    friends_get_their_ranks_on_the_whole_board,
    a_deleted_user_leaves_every_board,
    a_removed_entry_leaves_its_instance_only,
    windows_and_scopes_do_not_see_each_other,
    a_bulk_load_replaces_the_board_and_ranks_like_submissions,
    windowed_instances_expire_after_their_period_and_grace,
    scores_near_2_pow_53_stay_exact,
    a_ready_store_answers_its_readiness_check,
);

fn user(n: i64) -> Id {
    Id::from_i64(n)
}

fn score(v: i64) -> Score {
    Score::new(v).expect("a score in range")
}

/// `base` plus `ms` milliseconds.
fn at(ms: i64) -> DateTime<Utc> {
    let base: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    base + chrono::Duration::milliseconds(ms)
}

fn def(id: &str, order: Order, operator: Operator) -> BoardDef {
    BoardDef {
        id: BoardId::parse(id).unwrap(),
        metric: Metric::Xp,
        order,
        operator,
        windows: Window::ALL.to_vec(),
        time_zone: chrono_tz::Tz::UTC,
        scope: ScopeKind::Global,
    }
}

/// The all-time instance of a global board.
fn board(id: &str, order: Order, operator: Operator) -> BoardWindow {
    def(id, order, operator)
        .window_at(Window::AllTime, Scope::Global, Utc::now())
        .unwrap()
}

/// (user, score) of entries, in order.
fn scores(entries: &[Entry]) -> Vec<(i64, i64)> {
    entries.iter().map(|e| (e.user.as_i64(), e.score)).collect()
}

fn ranks(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.rank).collect()
}

async fn all(store: &Store, board: &BoardWindow) -> Vec<Entry> {
    store.top(board, None, 10_000).await.unwrap()
}

async fn incr_adds_and_reports_the_old_and_new_score(store: Store) {
    let b = board("xp", Order::Descending, Operator::Incr);
    let first = store.submit(&b, user(1), score(30), at(0)).await.unwrap();
    assert_eq!((first.old, first.new, first.changed), (None, 30, true));
    let second = store.submit(&b, user(1), score(12), at(1)).await.unwrap();
    assert_eq!(
        (second.old, second.new, second.changed),
        (Some(30), 42, true)
    );
    // A deleted workout takes XP back.
    let back = store.submit(&b, user(1), score(-2), at(2)).await.unwrap();
    assert_eq!((back.old, back.new), (Some(42), 40));
    let nothing = store.submit(&b, user(1), score(0), at(3)).await.unwrap();
    assert_eq!(
        (nothing.old, nothing.new, nothing.changed),
        (Some(40), 40, false)
    );
    store.submit(&b, user(2), score(41), at(4)).await.unwrap();
    assert_eq!(scores(&all(&store, &b).await), vec![(2, 41), (1, 40)]);
    let mine = store.rank(&b, user(1)).await.unwrap().unwrap();
    assert_eq!((mine.rank, mine.score, mine.achieved_at), (2, 40, at(2)));
    assert_eq!(store.count(&b).await.unwrap(), 2);
    assert_eq!(store.rank(&b, user(3)).await.unwrap(), None);
}

async fn best_keeps_the_better_score_by_the_boards_order(store: Store) {
    let high = board("longest", Order::Descending, Operator::Best);
    store
        .submit(&high, user(1), score(100), at(0))
        .await
        .unwrap();
    let worse = store
        .submit(&high, user(1), score(90), at(1))
        .await
        .unwrap();
    assert_eq!(
        (worse.old, worse.new, worse.changed),
        (Some(100), 100, false)
    );
    let same = store
        .submit(&high, user(1), score(100), at(2))
        .await
        .unwrap();
    assert!(
        !same.changed,
        "an equal score keeps the earlier achievement"
    );
    let better = store
        .submit(&high, user(1), score(120), at(3))
        .await
        .unwrap();
    assert_eq!((better.new, better.changed), (120, true));
    let e = store.rank(&high, user(1)).await.unwrap().unwrap();
    assert_eq!((e.score, e.achieved_at), (120, at(3)));

    let fast = board("fastest-5k", Order::Ascending, Operator::Best);
    store
        .submit(&fast, user(1), score(1_500_000), at(0))
        .await
        .unwrap();
    let slower = store
        .submit(&fast, user(1), score(1_600_000), at(1))
        .await
        .unwrap();
    assert_eq!((slower.new, slower.changed), (1_500_000, false));
    let faster = store
        .submit(&fast, user(1), score(1_400_000), at(2))
        .await
        .unwrap();
    assert_eq!(
        (faster.old, faster.new, faster.changed),
        (Some(1_500_000), 1_400_000, true)
    );
}

async fn set_replaces_the_score(store: Store) {
    let b = board("weight", Order::Descending, Operator::Set);
    store.submit(&b, user(1), score(80), at(0)).await.unwrap();
    let lower = store.submit(&b, user(1), score(75), at(1)).await.unwrap();
    assert_eq!((lower.old, lower.new, lower.changed), (Some(80), 75, true));
    let again = store.submit(&b, user(1), score(75), at(2)).await.unwrap();
    assert!(!again.changed);
    let e = store.rank(&b, user(1)).await.unwrap().unwrap();
    assert_eq!((e.score, e.achieved_at), (75, at(1)));
    assert_eq!(store.count(&b).await.unwrap(), 1);
}

async fn ascending_boards_rank_the_lowest_first(store: Store) {
    let b = board("fastest-5k", Order::Ascending, Operator::Best);
    for (u, ms) in [(1, 1_700_000), (2, 1_200_000), (3, 1_450_000), (4, -5)] {
        store.submit(&b, user(u), score(ms), at(u)).await.unwrap();
    }
    let top = all(&store, &b).await;
    assert_eq!(
        scores(&top),
        vec![(4, -5), (2, 1_200_000), (3, 1_450_000), (1, 1_700_000)]
    );
    assert_eq!(ranks(&top), vec![1, 2, 3, 4]);
    assert_eq!(store.rank(&b, user(3)).await.unwrap().unwrap().rank, 3);
}

async fn ties_rank_the_earlier_achiever_first(store: Store) {
    for order in [Order::Descending, Order::Ascending] {
        let b = board(
            &format!("ties-{order:?}").to_lowercase(),
            order,
            Operator::Set,
        );
        // Submitted in an order that is neither the user nor the time order.
        for (u, t) in [(5, 30), (2, 10), (9, 20), (1, 40), (7, 20)] {
            store.submit(&b, user(u), score(50), at(t)).await.unwrap();
        }
        let top = all(&store, &b).await;
        let users: Vec<i64> = top.iter().map(|e| e.user.as_i64()).collect();
        // Earlier first; the same instant: the smaller user id first.
        assert_eq!(users, vec![2, 7, 9, 5, 1], "{order:?}");
        assert_eq!(ranks(&top), vec![1, 2, 3, 4, 5]);
        assert_eq!(store.rank(&b, user(9)).await.unwrap().unwrap().rank, 3);
    }
    // `best`: reaching the same score again later does not lose the earlier tie.
    let b = board("best-ties", Order::Descending, Operator::Best);
    store.submit(&b, user(1), score(10), at(5)).await.unwrap();
    store.submit(&b, user(2), score(10), at(6)).await.unwrap();
    store.submit(&b, user(1), score(10), at(7)).await.unwrap();
    let users: Vec<i64> = all(&store, &b)
        .await
        .iter()
        .map(|e| e.user.as_i64())
        .collect();
    assert_eq!(users, vec![1, 2]);
}

async fn around_me_is_clipped_at_the_top_and_bottom(store: Store) {
    let b = board("xp", Order::Descending, Operator::Incr);
    // Users 1..=10, user n scoring 100 - n: user 1 first.
    for n in 1..=10 {
        store
            .submit(&b, user(n), score(100 - n), at(n))
            .await
            .unwrap();
    }
    let users = |es: Vec<Entry>| {
        es.iter()
            .map(|e| (e.rank, e.user.as_i64()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        users(store.around(&b, user(5), 2).await.unwrap()),
        vec![(3, 3), (4, 4), (5, 5), (6, 6), (7, 7)]
    );
    assert_eq!(
        users(store.around(&b, user(1), 2).await.unwrap()),
        vec![(1, 1), (2, 2), (3, 3)]
    );
    assert_eq!(
        users(store.around(&b, user(10), 2).await.unwrap()),
        vec![(8, 8), (9, 9), (10, 10)]
    );
    assert_eq!(
        users(store.around(&b, user(4), 0).await.unwrap()),
        vec![(4, 4)]
    );
    assert!(store.around(&b, user(99), 2).await.unwrap().is_empty());
    let wide = store.around(&b, user(5), 50).await.unwrap();
    assert_eq!(ranks(&wide), (1..=10).collect::<Vec<_>>());
    // Absurd sizes are clipped, not overflowed.
    let huge = store.around(&b, user(5), usize::MAX).await.unwrap();
    assert_eq!(ranks(&huge), (1..=10).collect::<Vec<_>>());
    assert_eq!(store.top(&b, None, usize::MAX).await.unwrap().len(), 10);
}

async fn pages_have_no_gaps_or_repeats_even_when_entries_move(store: Store) {
    let b = board("xp", Order::Descending, Operator::Incr);
    // 40 users with many ties (scores 0..=9), so pages end inside tied groups.
    for n in 1..=40 {
        store
            .submit(&b, user(n), score(n % 10), at(n))
            .await
            .unwrap();
    }
    let everyone = all(&store, &b).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = top_page(store.as_ref(), &b, 7, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|e| (e.user.as_i64(), e.rank)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let want: Vec<(i64, u64)> = everyone.iter().map(|e| (e.user.as_i64(), e.rank)).collect();
    assert_eq!(seen, want, "pages concatenate to the whole board");

    // Between two pages, the last entry of the first page moves to the top and
    // someone new joins at the very bottom: the next pages start right after
    // where the first ended, with nobody repeated and nobody who stayed skipped.
    let first = top_page(store.as_ref(), &b, 10, None).await.unwrap();
    let last = first.items.last().unwrap().clone();
    store
        .submit(&b, last.user, score(1000), at(100))
        .await
        .unwrap();
    store
        .submit(&b, user(41), score(-1), at(101))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let mut cursor = first.next_cursor.clone();
    while let Some(c) = cursor {
        let page = top_page(store.as_ref(), &b, 10, Some(&c)).await.unwrap();
        rest.extend(page.items.iter().map(|e| e.user.as_i64()));
        cursor = page.next_cursor;
    }
    let want: Vec<i64> = everyone[10..]
        .iter()
        .map(|e| e.user.as_i64())
        .chain([41])
        .collect();
    assert_eq!(rest, want);

    // A cursor of another list is refused with a 422, not a page from nowhere.
    let problem = top_page(store.as_ref(), &b, 10, Some("bm90IGEgY3Vyc29y"))
        .await
        .unwrap_err();
    assert_eq!(problem.status_code(), http_status_422());
    // A position past the end is an empty page.
    let end = Position {
        score: -1_000,
        achieved_at_ms: 0,
        user: user(0),
    };
    assert!(store.top(&b, Some(&end), 10).await.unwrap().is_empty());
}

fn http_status_422() -> axum::http::StatusCode {
    axum::http::StatusCode::UNPROCESSABLE_ENTITY
}

async fn friends_get_their_ranks_on_the_whole_board(store: Store) {
    let b = board("distance", Order::Descending, Operator::Incr);
    for n in 1..=20 {
        store
            .submit(&b, user(n), score(n * 1000), at(n))
            .await
            .unwrap();
    }
    // Friends in any order, one without an entry, one named twice.
    let friends = [user(3), user(17), user(99), user(10), user(3)];
    let got = store.ranks_of(&b, &friends).await.unwrap();
    assert_eq!(
        got.iter()
            .map(|e| (e.rank, e.user.as_i64(), e.score))
            .collect::<Vec<_>>(),
        vec![(4, 17, 17_000), (11, 10, 10_000), (18, 3, 3_000)]
    );
    assert!(store.ranks_of(&b, &[]).await.unwrap().is_empty());
}

async fn a_deleted_user_leaves_every_board(store: Store) {
    let xp = def("xp", Order::Descending, Operator::Incr);
    let now = Utc::now();
    let mut instances = xp.windows_at(Scope::Global, now).unwrap();
    let mut community = def("club-xp", Order::Descending, Operator::Incr);
    community.scope = ScopeKind::Community;
    instances.push(
        community
            .window_at(Window::Weekly, Scope::Community(user(77)), now)
            .unwrap(),
    );
    for b in &instances {
        store.submit(b, user(1), score(10), now).await.unwrap();
        store.submit(b, user(2), score(20), now).await.unwrap();
    }
    assert_eq!(
        store.remove_user(user(1)).await.unwrap(),
        instances.len() as u64
    );
    for b in &instances {
        assert_eq!(store.rank(b, user(1)).await.unwrap(), None, "{}", b.name());
        assert_eq!(scores(&all(&store, b).await), vec![(2, 20)], "{}", b.name());
    }
    assert_eq!(store.remove_user(user(1)).await.unwrap(), 0);
    // A user who comes back starts afresh.
    let b = &instances[0];
    let again = store.submit(b, user(1), score(5), now).await.unwrap();
    assert_eq!(again.old, None);
}

async fn a_removed_entry_leaves_its_instance_only(store: Store) {
    let xp = def("xp", Order::Descending, Operator::Incr);
    let now = Utc::now();
    let instances = xp.windows_at(Scope::Global, now).unwrap();
    for b in &instances {
        store.submit(b, user(1), score(10), at(1)).await.unwrap();
        store.submit(b, user(2), score(20), at(2)).await.unwrap();
        store.submit(b, user(3), score(5), at(3)).await.unwrap();
    }
    let weekly = &instances[1];
    assert_eq!(store.remove(weekly, user(1)).await.unwrap(), Some(10));
    assert_eq!(store.rank(weekly, user(1)).await.unwrap(), None);
    let rest = all(&store, weekly).await;
    assert_eq!(scores(&rest), vec![(2, 20), (3, 5)]);
    assert_eq!(ranks(&rest), vec![1, 2]);
    assert_eq!(store.count(weekly).await.unwrap(), 2);
    // Only that instance: the other windows keep the entry.
    for b in instances.iter().filter(|b| *b != weekly) {
        assert_eq!(store.rank(b, user(1)).await.unwrap().unwrap().score, 10);
    }
    // Again, or someone without an entry: nothing to remove.
    assert_eq!(store.remove(weekly, user(1)).await.unwrap(), None);
    assert_eq!(store.remove(weekly, user(9)).await.unwrap(), None);
    // An ascending board answers the score as submitted, not as ordered.
    let times = board("fastest", Order::Ascending, Operator::Best);
    store
        .submit(&times, user(4), score(1500), at(4))
        .await
        .unwrap();
    assert_eq!(store.remove(&times, user(4)).await.unwrap(), Some(1500));
    assert_eq!(store.count(&times).await.unwrap(), 0);
    assert!(all(&store, &times).await.is_empty());
    // Removing the last entries empties the instance; a later submission starts afresh.
    store.remove(weekly, user(2)).await.unwrap();
    store.remove(weekly, user(3)).await.unwrap();
    assert_eq!(store.count(weekly).await.unwrap(), 0);
    let back = store
        .submit(weekly, user(1), score(7), at(9))
        .await
        .unwrap();
    assert_eq!((back.old, back.new), (None, 7));
    // remove_user still finds the entries left elsewhere.
    assert_eq!(store.remove_user(user(1)).await.unwrap(), 4);
}

async fn windows_and_scopes_do_not_see_each_other(store: Store) {
    let mut d = def("xp", Order::Descending, Operator::Incr);
    let day1 = d
        .window_at(Window::Daily, Scope::Global, Utc::now())
        .unwrap();
    let day2 = d
        .window_at(
            Window::Daily,
            Scope::Global,
            Utc::now() + chrono::Duration::days(1),
        )
        .unwrap();
    let week = d
        .window_at(Window::Weekly, Scope::Global, Utc::now())
        .unwrap();
    d.scope = ScopeKind::Challenge;
    let challenge = d
        .window_at(Window::Daily, Scope::Challenge(user(5)), Utc::now())
        .unwrap();
    let other_challenge = d
        .window_at(Window::Daily, Scope::Challenge(user(6)), Utc::now())
        .unwrap();
    let other_board = board("distance", Order::Descending, Operator::Incr);
    store
        .submit(&day1, user(1), score(10), Utc::now())
        .await
        .unwrap();
    store
        .submit(&day2, user(1), score(20), Utc::now())
        .await
        .unwrap();
    store
        .submit(&challenge, user(1), score(30), Utc::now())
        .await
        .unwrap();
    assert_eq!(scores(&all(&store, &day1).await), vec![(1, 10)]);
    assert_eq!(scores(&all(&store, &day2).await), vec![(1, 20)]);
    assert_eq!(scores(&all(&store, &challenge).await), vec![(1, 30)]);
    for empty in [&week, &other_challenge, &other_board] {
        assert_eq!(store.count(empty).await.unwrap(), 0, "{}", empty.name());
        assert_eq!(store.rank(empty, user(1)).await.unwrap(), None);
    }
}

async fn a_bulk_load_replaces_the_board_and_ranks_like_submissions(store: Store) {
    let b = board("xp", Order::Descending, Operator::Incr);
    store
        .submit(&b, user(999_999), score(5), at(0))
        .await
        .unwrap();
    let n = 5_000;
    // Scores with ties (n / 7 distinct values), times in reverse of user order.
    let seeds: Vec<Seed> = (1..=n)
        .map(|u| Seed {
            user: user(u),
            score: score((u * 13) % (n / 7)),
            achieved_at: at(n - u),
        })
        .collect();
    let mut want = seeds.clone();
    want.sort_by_key(|s| (-s.score.get(), s.achieved_at, s.user));
    store.load(&b, Seeds::new(seeds).unwrap()).await.unwrap();

    assert_eq!(store.count(&b).await.unwrap(), n as u64);
    assert_eq!(
        store.rank(&b, user(999_999)).await.unwrap(),
        None,
        "the load replaced the board"
    );
    let got = all(&store, &b).await;
    let got: Vec<(Id, i64)> = got.iter().map(|e| (e.user, e.score)).collect();
    let want_pairs: Vec<(Id, i64)> = want.iter().map(|s| (s.user, s.score.get())).collect();
    assert_eq!(got, want_pairs);
    for probe in [0, 1, 2_500, n as usize - 1] {
        let seed = &want[probe];
        let e = store.rank(&b, seed.user).await.unwrap().unwrap();
        assert_eq!(
            (e.rank, e.score, e.achieved_at),
            (probe as u64 + 1, seed.score.get(), seed.achieved_at)
        );
    }
    // Loaded entries take submissions and deletions like any other.
    let top = want[0].user;
    let s = store.submit(&b, top, score(1), at(n + 1)).await.unwrap();
    assert_eq!(s.old, Some(want[0].score.get()));
    assert_eq!(store.remove_user(want[1].user).await.unwrap(), 1);
    assert_eq!(store.count(&b).await.unwrap(), n as u64 - 1);

    // An empty load empties it; a repeated user is refused before touching it.
    assert!(matches!(
        Seeds::new(vec![want[0], want[0]]),
        Err(StoreError::DuplicateUser(_))
    ));
    store.load(&b, Seeds::default()).await.unwrap();
    assert_eq!(store.count(&b).await.unwrap(), 0);
    store.drop_board(&b).await.unwrap();
    assert_eq!(store.count(&b).await.unwrap(), 0);
}

async fn windowed_instances_expire_after_their_period_and_grace(store: Store) {
    let d = def("xp", Order::Descending, Operator::Incr);
    let now = Utc::now();
    let grace = chrono::Duration::from_std(GRACE).unwrap();
    for window in [Window::Daily, Window::Weekly, Window::Monthly] {
        let b = d.window_at(window, Scope::Global, now).unwrap();
        assert_eq!(store.expires_at(&b).await.unwrap(), None, "absent");
        store.submit(&b, user(1), score(1), now).await.unwrap();
        let end = b.period.ends_at.unwrap();
        assert!(end > now);
        assert_eq!(
            store.expires_at(&b).await.unwrap(),
            Some(end + grace),
            "{window}"
        );
    }
    let all_time = d.window_at(Window::AllTime, Scope::Global, now).unwrap();
    store
        .submit(&all_time, user(1), score(1), now)
        .await
        .unwrap();
    assert_eq!(store.expires_at(&all_time).await.unwrap(), None);
    // A bulk load expires too.
    let week = d.window_at(Window::Weekly, Scope::Global, now).unwrap();
    let seed = Seed {
        user: user(2),
        score: score(3),
        achieved_at: now,
    };
    store
        .load(&week, Seeds::new(vec![seed]).unwrap())
        .await
        .unwrap();
    assert_eq!(
        store.expires_at(&week).await.unwrap(),
        Some(week.period.ends_at.unwrap() + grace)
    );
    // A period that ended longer ago than the grace is gone at once.
    let old = d
        .window_at(
            Window::Daily,
            Scope::Global,
            now - chrono::Duration::days(3),
        )
        .unwrap();
    store.submit(&old, user(1), score(1), now).await.unwrap();
    assert_eq!(store.count(&old).await.unwrap(), 0);
    assert_eq!(store.rank(&old, user(1)).await.unwrap(), None);
}

async fn scores_near_2_pow_53_stay_exact(store: Store) {
    let b = board("xp", Order::Descending, Operator::Incr);
    store
        .submit(&b, user(1), score(MAX_SCORE), at(0))
        .await
        .unwrap();
    store
        .submit(&b, user(2), score(MAX_SCORE - 1), at(0))
        .await
        .unwrap();
    store
        .submit(&b, user(3), score(-MAX_SCORE), at(0))
        .await
        .unwrap();
    assert_eq!(
        scores(&all(&store, &b).await),
        vec![(1, MAX_SCORE), (2, MAX_SCORE - 1), (3, -MAX_SCORE)]
    );
    // One more would not be exact in Redis: refused, and the entry is untouched.
    let over = store.submit(&b, user(1), score(1), at(1)).await;
    assert!(
        matches!(over, Err(StoreError::ScoreOutOfRange(_))),
        "{over:?}"
    );
    let e = store.rank(&b, user(1)).await.unwrap().unwrap();
    assert_eq!((e.score, e.achieved_at), (MAX_SCORE, at(0)));
    let down = store.submit(&b, user(3), score(-1), at(1)).await;
    assert!(matches!(down, Err(StoreError::ScoreOutOfRange(_))));
    let s = store.submit(&b, user(2), score(1), at(2)).await.unwrap();
    assert_eq!(s.new, MAX_SCORE);
    // Equal now, user 1 reached it first.
    let top = all(&store, &b).await;
    assert_eq!(scores(&top[..2]), vec![(1, MAX_SCORE), (2, MAX_SCORE)]);
    let around = store.around(&b, user(2), 1).await.unwrap();
    assert_eq!(
        scores(&around),
        vec![(1, MAX_SCORE), (2, MAX_SCORE), (3, -MAX_SCORE)]
    );
    assert!(Score::new(MAX_SCORE + 1).is_err());
}

async fn a_ready_store_answers_its_readiness_check(store: Store) {
    store.ping().await.unwrap();
    let check = readiness_check(store);
    check().await.unwrap();
}
