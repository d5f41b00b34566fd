//! The conformance suite of [`GamificationStore`], run on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use vigor_common::api::Timestamp;
use vigor_common::db::Database;
use vigor_common::events::{
    AchievementRevoked, AchievementUnlocked, ChallengeCompleted, ACHIEVEMENT_REVOKED,
    ACHIEVEMENT_UNLOCKED, CHALLENGE_COMPLETED,
};
use vigor_common::{Id, IdGenerator};

use super::*;
use crate::domain::challenge::{Challenge, ChallengeMetric};

fn store(db: Database) -> SqlStore {
    SqlStore::new(db)
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn contribution(user: i64, workout: i64, started: &str, xp: i64) -> Contribution {
    Contribution {
        workout_id: Id::from_i64(workout),
        user_id: Id::from_i64(user),
        sport: "run".into(),
        started_at: t(started),
        xp,
        distance_m: 5000,
        duration_s: 1800,
        volume_kg: 0,
        records: 1,
    }
}

/// A plan that keeps the snapshot's XP total and does nothing else.
fn keep(s: &Snapshot, _: Option<&[Contribution]>) -> Plan {
    Plan {
        xp: s.contributions.iter().map(|c| c.xp).sum(),
        level: 1,
        best_level: s.best_level,
        at: Utc::now(),
        ..Plan::default()
    }
}

fn unlock(ids: &IdGenerator, user: Id, key: &str) -> PlannedUnlock {
    let at = Utc::now();
    let data = AchievementUnlocked {
        user_id: user,
        achievement: key.into(),
        name: key.into(),
        tier: 1,
        points: 10,
        unlocked_at: at,
    };
    PlannedUnlock {
        unlock: Unlock {
            achievement: key.into(),
            tier: 1,
            points: 10,
            unlocked_at: at,
        },
        ledger_id: ids.next_id(),
        badge: Some("b".into()),
        event: ACHIEVEMENT_UNLOCKED.event(ids, &data),
    }
}

fn key(board: &str, period: &str) -> ScoreKey {
    ScoreKey {
        board: board.into(),
        scope: "global".into(),
        period: period.into(),
        window: "weekly".into(),
        period_at: t("2026-12-01T10:00:00Z"),
    }
}

async fn a_workout_change_replaces_its_contribution_once_per_event(db: Database) {
    let s = store(db);
    let user = Id::from_i64(1);
    let logged = Change::Workout {
        upsert: Some(contribution(1, 10, "2026-12-01T10:00:00Z", 70)),
        remove: None,
        records_moved: vec![],
    };
    let applied = s
        .apply(user, Some(("g", Id::from_i64(100))), &logged, &keep)
        .await
        .unwrap();
    assert!(applied.is_some());
    // The same event again changes nothing.
    assert!(s
        .apply(user, Some(("g", Id::from_i64(100))), &logged, &keep)
        .await
        .unwrap()
        .is_none());
    let snap = s.snapshot(user).await.unwrap();
    assert_eq!(
        snap.contributions,
        vec![contribution(1, 10, "2026-12-01T10:00:00Z", 70)]
    );
    assert_eq!(snap.xp, 70);

    // An update replaces it and hands the decision the row before.
    let seen = std::sync::Mutex::new(None);
    let record = |s: &Snapshot, before: Option<&[Contribution]>| {
        *seen.lock().unwrap() = before.map(<[Contribution]>::to_vec);
        keep(s, before)
    };
    let updated = Change::Workout {
        upsert: Some(contribution(1, 10, "2026-12-02T10:00:00Z", 90)),
        remove: None,
        records_moved: vec![(Id::from_i64(11), 3)],
    };
    s.apply(user, Some(("g", Id::from_i64(101))), &updated, &record)
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().as_deref(),
        Some(&[contribution(1, 10, "2026-12-01T10:00:00Z", 70)][..])
    );
    let snap = s.snapshot(user).await.unwrap();
    assert_eq!((snap.contributions.len(), snap.xp), (1, 90));

    // Another user's workout of the same id is not taken over.
    let other = Change::Workout {
        upsert: Some(contribution(2, 10, "2026-12-02T10:00:00Z", 5)),
        remove: None,
        records_moved: vec![],
    };
    s.apply(Id::from_i64(2), None, &other, &keep).await.unwrap();
    assert_eq!(s.snapshot(user).await.unwrap().contributions[0].xp, 90);
    assert!(s
        .snapshot(Id::from_i64(2))
        .await
        .unwrap()
        .contributions
        .is_empty());

    let deleted = Change::Workout {
        upsert: None,
        remove: Some(Id::from_i64(10)),
        records_moved: vec![],
    };
    s.apply(user, Some(("g", Id::from_i64(102))), &deleted, &keep)
        .await
        .unwrap();
    let snap = s.snapshot(user).await.unwrap();
    assert!(snap.contributions.is_empty());
    assert_eq!(snap.xp, 0);
    assert_eq!(
        s.players().await.unwrap(),
        vec![Id::from_i64(1), Id::from_i64(2)]
    );
}

async fn an_unlock_is_written_once_even_when_decided_concurrently(db: Database) {
    let s = Arc::new(store(db));
    let ids = Arc::new(IdGenerator::new(3).unwrap());
    let user = Id::from_i64(7);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (s, ids) = (s.clone(), ids.clone());
        tasks.spawn(async move {
            // Every decision plans the unlock, as two processes could: only the
            // insert that lands writes the ledger row and the event.
            let decide = move |snap: &Snapshot, before: Option<&[Contribution]>| Plan {
                unlocks: vec![unlock(&ids, user, "first_workout")],
                ..keep(snap, before)
            };
            let change = Change::Workout {
                upsert: Some(contribution(7, 100 + n, "2026-12-01T10:00:00Z", 10)),
                remove: None,
                records_moved: vec![],
            };
            s.apply(user, Some(("g", Id::from_i64(1000 + n))), &change, &decide)
                .await
                .unwrap()
                .unwrap()
        });
    }
    let mut unlocked = 0;
    while let Some(applied) = tasks.join_next().await {
        unlocked += applied.unwrap().unlocked.len();
    }
    assert_eq!(unlocked, 1);
    let snap = s.snapshot(user).await.unwrap();
    assert_eq!(snap.unlocks.len(), 1);
    assert_eq!(snap.contributions.len(), 8);
    let ledger = s.ledger(user, None, 10).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (
            ledger[0].kind.as_str(),
            ledger[0].source.as_str(),
            ledger[0].points
        ),
        ("achievement", "first_workout:1", 10)
    );
    assert_eq!(ledger[0].badge.as_deref(), Some("b"));
}

fn revocation(ids: &IdGenerator, user: Id, key: &str) -> PlannedRevocation {
    let at = Utc::now();
    let data = AchievementRevoked {
        user_id: user,
        achievement: key.into(),
        name: key.into(),
        tier: 1,
        points: 10,
        revoked_at: at,
    };
    PlannedRevocation {
        achievement: key.into(),
        tier: 1,
        points: 10,
        ledger_id: ids.next_id(),
        at,
        event: ACHIEVEMENT_REVOKED.event(ids, &data),
    }
}

/// Applies `change` in 6 tasks at once (events 1..=6 from `first_event`), each
/// deciding with `plan(ids)` on top of the snapshot; what they wrote, together.
async fn at_once(
    s: &Arc<SqlStore>,
    ids: &Arc<IdGenerator>,
    user: Id,
    first_event: i64,
    change: Change,
    plan: fn(&IdGenerator, Id) -> Plan,
) -> Applied {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..6 {
        let (s, ids, change) = (s.clone(), ids.clone(), change.clone());
        tasks.spawn(async move {
            let decide = move |snap: &Snapshot, before: Option<&[Contribution]>| {
                let decided = plan(&ids, user);
                Plan {
                    unlocks: decided.unlocks,
                    revocations: decided.revocations,
                    ..keep(snap, before)
                }
            };
            s.apply(
                user,
                Some(("g", Id::from_i64(first_event + n))),
                &change,
                &decide,
            )
            .await
            .unwrap()
            .unwrap()
        });
    }
    let mut all = Applied::default();
    while let Some(applied) = tasks.join_next().await {
        let applied = applied.unwrap();
        all.unlocked.extend(applied.unlocked);
        all.revoked.extend(applied.revoked);
    }
    all
}

async fn a_revoked_unlock_is_taken_back_once_and_earned_again_once(db: Database) {
    let s = Arc::new(store(db));
    let ids = Arc::new(IdGenerator::new(3).unwrap());
    let user = Id::from_i64(9);
    let log = Change::Workout {
        upsert: Some(contribution(9, 90, "2026-12-01T10:00:00Z", 10)),
        remove: None,
        records_moved: vec![],
    };
    let earn: fn(&IdGenerator, Id) -> Plan = |ids, user| Plan {
        unlocks: vec![unlock(ids, user, "first_workout")],
        ..Plan::default()
    };
    let lose: fn(&IdGenerator, Id) -> Plan = |ids, user| Plan {
        revocations: vec![revocation(ids, user, "first_workout")],
        ..Plan::default()
    };
    assert_eq!(
        at_once(&s, &ids, user, 2000, log.clone(), earn)
            .await
            .unlocked
            .len(),
        1
    );

    // Deleted: however many decide the revocation at once, it is written once.
    let delete = Change::Workout {
        upsert: None,
        remove: Some(Id::from_i64(90)),
        records_moved: vec![],
    };
    let revoked = at_once(&s, &ids, user, 3000, delete, lose).await;
    assert_eq!(revoked.revoked.len(), 1);
    assert_eq!(
        ACHIEVEMENT_REVOKED
            .decode(&revoked.revoked[0])
            .unwrap()
            .achievement,
        "first_workout"
    );
    assert!(s.snapshot(user).await.unwrap().unlocks.is_empty());
    // The reward is reversed by a new row; the row that granted it stays.
    let ledger = s.ledger(user, None, 10).await.unwrap();
    let rows: Vec<(&str, &str, i64)> = ledger
        .iter()
        .map(|e| (e.kind.as_str(), e.source.as_str(), e.points))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("revocation", "first_workout:1", -10),
            ("achievement", "first_workout:1", 10)
        ]
    );

    // Earned again: unlocked again, exactly once.
    let again = at_once(&s, &ids, user, 4000, log, earn).await;
    assert_eq!(again.unlocked.len(), 1);
    assert_eq!(s.snapshot(user).await.unwrap().unlocks.len(), 1);
    let ledger = s.ledger(user, None, 10).await.unwrap();
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger.iter().map(|e| e.points).sum::<i64>(), 10);
}

async fn the_score_log_keeps_each_entry_and_what_changed(db: Database) {
    let s = store(db);
    let (a, b) = (Id::from_i64(1), Id::from_i64(2));
    let scores = |v: Option<i64>| {
        move |snap: &Snapshot, before: Option<&[Contribution]>| Plan {
            scores: vec![
                (key("xp", "2026-W49"), v),
                (key("distance", "2026-W49"), Some(5000)),
            ],
            ..keep(snap, before)
        }
    };
    let first = s
        .apply(a, None, &Change::Judge, &scores(Some(70)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.scores.len(), 2);
    assert_eq!((first.scores[0].old, first.scores[0].new), (None, Some(70)));
    // Unchanged entries are not written again.
    let again = s
        .apply(a, None, &Change::Judge, &scores(Some(90)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.scores.len(), 1);
    assert_eq!(
        (again.scores[0].old, again.scores[0].new),
        (Some(70), Some(90))
    );
    s.apply(b, None, &Change::Judge, &scores(Some(30)))
        .await
        .unwrap();

    let instances = s.score_instances().await.unwrap();
    assert_eq!(
        instances,
        vec![key("distance", "2026-W49"), key("xp", "2026-W49")]
    );
    let rows = s.scores_of(&key("xp", "2026-W49")).await.unwrap();
    let values: Vec<(Id, i64)> = rows.iter().map(|r| (r.user_id, r.score)).collect();
    assert_eq!(values, vec![(a, 90), (b, 30)]);

    // An entry that goes (`None`) leaves the log, once; the others stay.
    let gone = s
        .apply(b, None, &Change::Judge, &scores(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.scores.len(), 1);
    assert_eq!((gone.scores[0].old, gone.scores[0].new), (Some(30), None));
    let rows = s.scores_of(&key("xp", "2026-W49")).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.user_id).collect::<Vec<_>>(), vec![a]);
    let again = s
        .apply(b, None, &Change::Judge, &scores(None))
        .await
        .unwrap()
        .unwrap();
    assert!(again.scores.is_empty());

    let erased = s.erase_user(a).await.unwrap();
    assert_eq!(erased.scores, 2);
    let rows = s.scores_of(&key("xp", "2026-W49")).await.unwrap();
    assert!(rows.is_empty());
    assert_eq!(
        s.scores_of(&key("distance", "2026-W49"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.snapshot(a).await.unwrap(), Snapshot::empty(a));
    assert_eq!(s.players().await.unwrap(), vec![b]);
    // A late event of the erased user (from another stream) starts nothing.
    let late = s
        .apply(a, None, &Change::Social(SocialAct::KudosGiven), &keep)
        .await
        .unwrap();
    assert!(late.is_none());
    assert_eq!(s.snapshot(a).await.unwrap(), Snapshot::empty(a));
    assert_eq!(s.players().await.unwrap(), vec![b]);
}

async fn social_acts_settings_and_memberships_are_kept(db: Database) {
    let s = store(db);
    let user = Id::from_i64(5);
    for act in [
        SocialAct::KudosReceived,
        SocialAct::KudosReceived,
        SocialAct::KudosGiven,
        SocialAct::Commented,
    ] {
        s.apply(user, None, &Change::Social(act), &keep)
            .await
            .unwrap();
    }
    // Joining the same community twice counts once.
    for _ in 0..2 {
        s.apply(
            user,
            None,
            &Change::Social(SocialAct::Joined(Id::from_i64(9))),
            &keep,
        )
        .await
        .unwrap();
    }
    let settings = SavedSettings {
        time_zone: Some("Europe/Berlin".into()),
        rest_days: Some(2),
    };
    s.apply(user, None, &Change::Settings(settings.clone()), &keep)
        .await
        .unwrap();
    let snap = s.snapshot(user).await.unwrap();
    assert_eq!(
        snap.social,
        SocialCounts {
            kudos_received: 2,
            kudos_given: 1,
            comments_written: 1,
            communities_joined: 1
        }
    );
    assert_eq!(snap.settings, settings);
    assert_eq!(s.communities_of(user).await.unwrap(), vec![Id::from_i64(9)]);
    // Leaving ends the membership (its challenges are no longer the user's to
    // see); the count of communities joined stays.
    s.apply(
        user,
        None,
        &Change::Social(SocialAct::Left(Id::from_i64(9))),
        &keep,
    )
    .await
    .unwrap();
    assert!(s.communities_of(user).await.unwrap().is_empty());
    assert_eq!(s.snapshot(user).await.unwrap().social.communities_joined, 1);
}

fn challenge(id: i64, community: Option<i64>, ends_in_days: i64) -> Challenge {
    let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    Challenge {
        id: Id::from_i64(id),
        name: format!("c{id}"),
        description: String::new(),
        metric: ChallengeMetric::DistanceM,
        goal: 10_000,
        starts_at: now - Duration::days(30),
        ends_at: now + Duration::days(ends_in_days),
        community_id: community.map(Id::from_i64),
        points: 100,
        created_by: Id::from_i64(1),
        created_at: now,
    }
}

async fn challenges_are_listed_joined_progressed_and_left(db: Database) {
    let s = store(db);
    let ids = IdGenerator::new(4).unwrap();
    let (global, club, other, ended) = (
        challenge(1, None, 5),
        challenge(2, Some(9), 5),
        challenge(3, Some(8), 5),
        challenge(4, None, -1),
    );
    for c in [&global, &club, &other, &ended] {
        s.insert_challenge(c).await.unwrap();
    }
    assert_eq!(
        s.challenge(Id::from_i64(2)).await.unwrap().as_ref(),
        Some(&club)
    );
    let open = s
        .open_challenges(Utc::now(), &[Id::from_i64(9)], None, 10)
        .await
        .unwrap();
    let listed: Vec<i64> = open.iter().map(|c| c.id.as_i64()).collect();
    assert_eq!(listed, vec![2, 1]);
    let page = s
        .open_challenges(Utc::now(), &[], Some(Id::from_i64(2)), 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);

    let user = Id::from_i64(5);
    let complete = |snap: &Snapshot, before: Option<&[Contribution]>| {
        let mut plan = keep(snap, before);
        for p in &snap.challenges {
            plan.progress.push((p.challenge.id, 12_000));
            plan.completions.push(PlannedCompletion {
                challenge_id: p.challenge.id,
                points: p.challenge.points,
                ledger_id: ids.next_id(),
                at: plan.at,
                event: CHALLENGE_COMPLETED.event(
                    &ids,
                    &ChallengeCompleted {
                        user_id: user,
                        challenge_id: p.challenge.id,
                        name: p.challenge.name.clone(),
                        community_id: None,
                        completed_at: plan.at,
                    },
                ),
            });
        }
        plan
    };
    let joined = s
        .apply(user, None, &Change::Join(global.id), &complete)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(joined.completed.len(), 1);
    // Completed once: planned again, nothing is written.
    let again = s
        .apply(user, None, &Change::Join(global.id), &complete)
        .await
        .unwrap()
        .unwrap();
    assert!(again.completed.is_empty());
    let snap = s.snapshot(user).await.unwrap();
    assert_eq!(snap.challenges.len(), 1);
    assert_eq!(snap.challenges[0].challenge, global);
    assert_eq!(snap.challenges[0].progress, 12_000);
    assert!(snap.challenges[0].completed_at.is_some());
    let ledger = s.ledger(user, None, 10).await.unwrap();
    assert_eq!(
        (ledger[0].kind.as_str(), ledger[0].points),
        ("challenge", 100)
    );

    assert!(s.leave(user, global.id).await.unwrap());
    assert!(!s.leave(user, global.id).await.unwrap());
    assert!(s.snapshot(user).await.unwrap().challenges.is_empty());
}

vigor_common::sql_conformance!(Some(&crate::MIGRATIONS);
    a_workout_change_replaces_its_contribution_once_per_event,
    an_unlock_is_written_once_even_when_decided_concurrently,
    a_revoked_unlock_is_taken_back_once_and_earned_again_once,
    the_score_log_keeps_each_entry_and_what_changed,
    social_acts_settings_and_memberships_are_kept,
    challenges_are_listed_joined_progressed_and_left,
);
