//! The one conformance suite of [`TrainingStore`], run on SQLite and on PostgreSQL.

#![cfg(test)]

use std::time::Duration;

use chrono::Utc;
use vigor_common::api::{Cursor, Timestamp};
use vigor_common::bus::Event;
use vigor_common::db::Database;
use vigor_common::{Id, IdGenerator};

use super::rows::{instant, millis};
use super::*;
use crate::domain::analysis::records::RecordKind;
use crate::domain::exercise::catalogue;
use crate::domain::kinds::{ExerciseCategory, Measurement, Mechanics, Privacy, SetType, Sport};
use crate::domain::units::{Bpm, Kilograms, Meters, Reps, Rpe};
use crate::domain::workout::{
    EffortRecord, SplitRecord, TrackAnalysis, WorkoutContent, WorkoutExercise, WorkoutSet,
    WorkoutSource,
};

fn now() -> Timestamp {
    instant(millis(Utc::now())).unwrap()
}

fn custom(ids: &IdGenerator, owner: Id, name: &str) -> Exercise {
    Exercise {
        id: ids.next_id(),
        owner_id: Some(owner),
        slug: None,
        name: name.to_owned(),
        description: String::new(),
        category: ExerciseCategory::Strength,
        primary_muscles: vec!["quads".into()],
        secondary_muscles: vec!["glutes".into(), "lower_back".into()],
        equipment: vec!["barbell".into()],
        mechanics: Mechanics::Compound,
        unilateral: false,
        measurement: Measurement::WeightReps,
        source: None,
        created_at: now(),
    }
}

async fn seeded(db: Database) -> (SqlStore, Vec<Exercise>) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(2).unwrap();
    let t = now();
    let all: Vec<Exercise> = catalogue()
        .unwrap()
        .into_iter()
        .map(|e| e.into_exercise(ids.next_id(), t))
        .collect();
    assert_eq!(store.seed_catalogue(&all).await.unwrap(), all.len() as u64);
    (store, all)
}

fn query(viewer: Id) -> ExerciseQuery {
    ExerciseQuery {
        viewer,
        text: None,
        muscle: None,
        equipment: None,
        after: None,
        limit: 1000,
    }
}

async fn the_catalogue_is_seeded_once(db: Database) {
    let (store, all) = seeded(db).await;
    // A second seed (another node starting, a restart) inserts nothing.
    let ids = IdGenerator::new(3).unwrap();
    let again: Vec<Exercise> = catalogue()
        .unwrap()
        .into_iter()
        .map(|e| e.into_exercise(ids.next_id(), now()))
        .collect();
    assert_eq!(store.seed_catalogue(&again).await.unwrap(), 0);
    let viewer = Id::from_i64(42);
    let found = store.search_exercises(&query(viewer)).await.unwrap();
    assert_eq!(found.len(), all.len());
    let first = &all[0];
    assert_eq!(
        store.exercise(first.id, viewer).await.unwrap().as_ref(),
        Some(first)
    );
}

async fn search_matches_words_muscles_and_equipment(db: Database) {
    let (store, all) = seeded(db).await;
    let viewer = Id::from_i64(42);
    let q = ExerciseQuery {
        text: Some("bench PRESS".into()),
        ..query(viewer)
    };
    let found = store.search_exercises(&q).await.unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|e| {
        let n = e.name.to_lowercase();
        n.find("bench").is_some_and(|i| n[i..].contains("press"))
    }));
    let expected = all
        .iter()
        .filter(|e| {
            let n = e.name.to_lowercase();
            n.find("bench").is_some_and(|i| n[i..].contains("press"))
        })
        .count();
    assert_eq!(found.len(), expected);
    // Ordered by name.
    let names: Vec<String> = found.iter().map(|e| e.name.to_lowercase()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");

    let q = ExerciseQuery {
        muscle: Some("chest".into()),
        equipment: Some("dumbbell".into()),
        ..query(viewer)
    };
    let found = store.search_exercises(&q).await.unwrap();
    let expected = all
        .iter()
        .filter(|e| {
            (e.primary_muscles.contains(&"chest".to_owned())
                || e.secondary_muscles.contains(&"chest".to_owned()))
                && e.equipment.contains(&"dumbbell".to_owned())
        })
        .count();
    assert!(expected > 0);
    assert_eq!(found.len(), expected);
    // Wildcards in the text are literal.
    let q = ExerciseQuery {
        text: Some("%".into()),
        ..query(viewer)
    };
    assert!(store.search_exercises(&q).await.unwrap().is_empty());
}

async fn pages_follow_the_cursor_without_gaps(db: Database) {
    let (store, all) = seeded(db).await;
    let viewer = Id::from_i64(42);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .search_exercises(&ExerciseQuery {
                after,
                limit: 40,
                ..query(viewer)
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(exercise_position);
        seen.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(seen.len(), all.len());
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
}

async fn exercise_pages_go_on_after_the_cursor_row_is_gone(db: Database) {
    let (store, _) = seeded(db.clone()).await;
    let ids = IdGenerator::new(14).unwrap();
    let ann = Id::from_i64(1001);
    let mine: Vec<Exercise> = ["Zq Alpha", "Zq Beta", "Zq Gamma", "Zq Delta", "Zq Epsilon"]
        .into_iter()
        .map(|name| custom(&ids, ann, name))
        .collect();
    for e in &mine {
        store.insert_exercise(e).await.unwrap();
    }
    let page = |after: Option<Cursor<String>>| {
        let store = store.clone();
        async move {
            let q = ExerciseQuery {
                text: Some("zq".into()),
                after,
                limit: 2,
                ..query(ann)
            };
            let found = store.search_exercises(&q).await.unwrap();
            found.into_iter().map(|e| e.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None).await, ["Zq Alpha", "Zq Beta"]);
    // The row behind the cursor goes (custom exercises go with their owner's
    // erasure); the next page starts after where it stood, not at the end.
    let beta = &mine[1];
    let sql = "DELETE FROM exercises WHERE id = $1";
    vigor_common::on_pool!(&db, pool => sqlx::query(sql).bind(beta.id).execute(pool).await.map(drop))
    .unwrap();
    let after_beta = Some(exercise_position(beta));
    assert_eq!(page(after_beta).await, ["Zq Delta", "Zq Epsilon"]);
    let after_epsilon = Some(exercise_position(&mine[4]));
    assert_eq!(page(after_epsilon).await, ["Zq Gamma"]);
}

async fn custom_exercises_are_their_owners_only(db: Database) {
    let (store, _) = seeded(db).await;
    let ids = IdGenerator::new(4).unwrap();
    let (ann, bob) = (Id::from_i64(1001), Id::from_i64(1002));
    let mine = custom(&ids, ann, "Zercher Squat");
    store.insert_exercise(&mine).await.unwrap();
    assert_eq!(
        store.exercise(mine.id, ann).await.unwrap(),
        Some(mine.clone())
    );
    assert_eq!(store.exercise(mine.id, bob).await.unwrap(), None);
    let q = |viewer| ExerciseQuery {
        text: Some("zercher".into()),
        ..query(viewer)
    };
    assert_eq!(
        store.search_exercises(&q(ann)).await.unwrap(),
        vec![mine.clone()]
    );
    assert!(store.search_exercises(&q(bob)).await.unwrap().is_empty());
    let q = ExerciseQuery {
        muscle: Some("lower_back".into()),
        ..query(ann)
    };
    assert!(store.search_exercises(&q).await.unwrap().contains(&mine));
    let unknown = ids.next_id();
    assert_eq!(
        store
            .visible_exercise_ids(&[mine.id, unknown], ann)
            .await
            .unwrap(),
        vec![mine.id]
    );
    assert!(store
        .visible_exercise_ids(&[mine.id], bob)
        .await
        .unwrap()
        .is_empty());
}

fn workout(ids: &IdGenerator, owner: Id, exercise: Id) -> Workout {
    let t = now();
    let start = instant(millis(t) - 3_600_000).unwrap();
    let set = |w: f64, r: u16, set_type, rpe: Option<f64>| WorkoutSet {
        set_type,
        weight_kg: Some(Kilograms::new(w).unwrap()),
        reps: Some(Reps::new(r).unwrap()),
        rpe: rpe.map(|x| Rpe::new(x).unwrap()),
        duration_s: None,
        distance_m: None,
        done: true,
    };
    Workout {
        id: ids.next_id(),
        owner_id: owner,
        content: WorkoutContent {
            sport: Sport::Run,
            title: "Brick".into(),
            notes: "legs heavy".into(),
            privacy: Privacy::Private,
            started_at: start,
            ended_at: t,
            moving_time: Some(Duration::from_millis(3_000_500)),
            distance: Some(Meters::new(10_000.5).unwrap()),
            elevation_gain: Some(Meters::new(120.0).unwrap()),
            avg_heart_rate: Some(Bpm::new(150).unwrap()),
            max_heart_rate: Some(Bpm::new(181).unwrap()),
            calories: Some(700),
            rpe: Some(Rpe::new(7.5).unwrap()),
            exercises: vec![
                WorkoutExercise {
                    exercise_id: exercise,
                    sets: vec![
                        set(60.0, 10, SetType::WarmUp, None),
                        set(100.0, 5, SetType::Working, Some(8.0)),
                    ],
                },
                WorkoutExercise {
                    exercise_id: exercise,
                    sets: vec![],
                },
            ],
        },
        source: WorkoutSource::Gpx,
        track: Some(TrackAnalysis {
            polyline: "_p~iF~ps|U".into(),
            splits_km: vec![SplitRecord {
                number: 1,
                distance_m: 1000.0,
                duration_s: 300.0,
                pace_s_per_km: 300.0,
            }],
            splits_mile: vec![],
            best_efforts: vec![EffortRecord {
                name: "1k".into(),
                distance_m: 1000.0,
                duration_s: 280.0,
                start_m: 10.0,
            }],
            heart_rate_zones_s: Some([60.0, 120.5, 0.0, 30.0, 0.0]),
        }),
        version: 1,
        created_at: t,
        updated_at: t,
    }
}

fn event(ids: &IdGenerator, name: &str, w: &Workout) -> Event {
    Event {
        id: ids.next_id(),
        name: name.to_owned(),
        occurred_at: Utc::now(),
        data: serde_json::json!({"workout_id": w.id, "user_id": w.owner_id}),
    }
}

async fn outbox_topics(db: &Database) -> Vec<String> {
    let sql = "SELECT topic FROM outbox ORDER BY id";
    vigor_common::on_pool!(db, pool => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap())
}

async fn workouts_round_trip_with_their_events(db: Database) {
    let (store, all) = seeded(db.clone()).await;
    let ids = IdGenerator::new(5).unwrap();
    let owner = Id::from_i64(7);
    let w = workout(&ids, owner, all[0].id);
    store
        .insert_workout(&w, &|_| event(&ids, "workout.logged", &w))
        .await
        .unwrap();
    assert_eq!(store.workout(w.id).await.unwrap(), Some(w.clone()));
    assert_eq!(outbox_topics(&db).await, vec!["workout.logged"]);

    // Update with the right version: stored, sets replaced, event enqueued.
    let mut changed = w.clone();
    changed.version = 2;
    changed.content.title = "Long run".into();
    changed.content.exercises.truncate(1);
    changed.content.exercises[0].sets.pop();
    changed.track = None;
    assert!(store
        .update_workout(&changed, 1, &|_| event(&ids, "workout.updated", &changed))
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.workout(w.id).await.unwrap(), Some(changed.clone()));
    // A stale version changes nothing and enqueues nothing.
    let mut stale = changed.clone();
    stale.version = 3;
    stale.content.title = "Lost update".into();
    assert!(store
        .update_workout(&stale, 1, &|_| event(&ids, "workout.updated", &stale))
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.workout(w.id).await.unwrap(), Some(changed.clone()));
    assert_eq!(
        outbox_topics(&db).await,
        vec!["workout.logged", "workout.updated"]
    );

    assert!(store
        .delete_workout(w.owner_id, w.id, &|_| event(&ids, "workout.deleted", &w))
        .await
        .unwrap());
    assert_eq!(store.workout(w.id).await.unwrap(), None);
    assert!(!store
        .delete_workout(w.owner_id, w.id, &|_| event(&ids, "workout.deleted", &w))
        .await
        .unwrap());
    assert_eq!(
        outbox_topics(&db).await,
        vec!["workout.logged", "workout.updated", "workout.deleted"]
    );
}

async fn workouts_list_newest_first_per_owner(db: Database) {
    let (store, all) = seeded(db).await;
    let ids = IdGenerator::new(9).unwrap();
    let (ann, bob) = (Id::from_i64(7), Id::from_i64(8));
    // Four of Ann's workouts: two at the same start (ordered by id), one earlier,
    // one later; and one of Bob's.
    let base = workout(&ids, ann, all[0].id);
    let at = |w: &Workout, offset_ms: i64| {
        let mut w = w.clone();
        w.id = ids.next_id();
        w.content.started_at = instant(millis(base.content.started_at) + offset_ms).unwrap();
        w.content.ended_at = instant(millis(base.content.ended_at) + offset_ms).unwrap();
        w
    };
    let (early, same1, same2, late) = (
        at(&base, -86_400_000),
        at(&base, 0),
        at(&base, 0),
        at(&base, 3_600_000),
    );
    let other = workout(&ids, bob, all[0].id);
    for w in [&same1, &late, &other, &early, &same2] {
        store
            .insert_workout(w, &|_| event(&ids, "workout.logged", w))
            .await
            .unwrap();
    }
    let page = store.workouts_of(ann, None, 3).await.unwrap();
    assert_eq!(
        page,
        vec![late.clone(), same2.clone(), same1.clone()],
        "sets come along"
    );
    let rest = store
        .workouts_of(ann, Some(&workout_position(&same1)), 3)
        .await
        .unwrap();
    assert_eq!(rest, vec![early]);
    assert_eq!(store.workouts_of(bob, None, 10).await.unwrap(), vec![other]);
}

async fn workout_pages_neither_end_early_nor_repeat_when_rows_change(db: Database) {
    let (store, all) = seeded(db).await;
    let ids = IdGenerator::new(15).unwrap();
    let ann = Id::from_i64(7);
    // Six workouts an hour apart, newest first: w[0] .. w[5].
    let base = workout(&ids, ann, all[0].id);
    let w: Vec<Workout> = (0..6)
        .map(|i| {
            let mut w = base.clone();
            w.id = ids.next_id();
            w.content.started_at =
                instant(millis(base.content.started_at) - i * 3_600_000).unwrap();
            w
        })
        .collect();
    for x in &w {
        store
            .insert_workout(x, &|_| event(&ids, "workout.logged", x))
            .await
            .unwrap();
    }
    let page = |after: Option<Cursor<Timestamp>>| {
        let store = store.clone();
        async move {
            let found = store.workouts_of(ann, after.as_ref(), 2).await.unwrap();
            found.into_iter().map(|w| w.id).collect::<Vec<_>>()
        }
    };
    let mut seen = page(None).await;
    assert_eq!(seen, [w[0].id, w[1].id]);

    // The last row of the page is deleted before the next page is asked for:
    // the list goes on after where it stood (it used to come back empty).
    assert!(store
        .delete_workout(w[1].owner_id, w[1].id, &|_| event(
            &ids,
            "workout.deleted",
            &w[1]
        ))
        .await
        .unwrap());
    let next = page(Some(workout_position(&w[1]))).await;
    assert_eq!(next, [w[2].id, w[3].id]);
    seen.extend(next);

    // The last row of that page moves to the top (its start edited): the next
    // page still goes on after where it stood, repeating nothing.
    let mut moved = w[3].clone();
    moved.version = 2;
    moved.content.started_at = instant(millis(w[0].content.started_at) + 3_600_000).unwrap();
    assert!(store
        .update_workout(&moved, 1, &|_| event(&ids, "workout.updated", &moved))
        .await
        .unwrap()
        .is_some());
    let last = page(Some(workout_position(&w[3]))).await;
    assert_eq!(last, [w[4].id, w[5].id]);
    seen.extend(last);
    assert!(page(Some(workout_position(&w[5]))).await.is_empty());

    // w[1] was read before it went, w[3] before it moved: each once, in order.
    let expected: Vec<Id> = w.iter().map(|x| x.id).collect();
    assert_eq!(seen, expected);
}

async fn a_failed_insert_leaves_nothing_behind(db: Database) {
    let (store, all) = seeded(db.clone()).await;
    let ids = IdGenerator::new(6).unwrap();
    let w = workout(&ids, Id::from_i64(7), all[0].id);
    store
        .insert_workout(&w, &|_| event(&ids, "workout.logged", &w))
        .await
        .unwrap();
    // The same event id again: the outbox insert fails after the workout row went in,
    // so the whole transaction rolls back.
    let mut second = workout(&ids, Id::from_i64(7), all[0].id);
    second.content.title = "Twin".into();
    let mut duplicate = event(&ids, "workout.logged", &second);
    duplicate.id = Id::from_i64(outbox_first_id(&db).await);
    assert!(store
        .insert_workout(&second, &|_| duplicate.clone())
        .await
        .is_err());
    assert_eq!(store.workout(second.id).await.unwrap(), None);
    assert_eq!(outbox_topics(&db).await.len(), 1);
}

async fn outbox_first_id(db: &Database) -> i64 {
    let sql = "SELECT id FROM outbox ORDER BY id LIMIT 1";
    vigor_common::on_pool!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap())
}

async fn history_reads_sets_and_sessions_of_one_owner(db: Database) {
    let (store, all) = seeded(db).await;
    let ids = IdGenerator::new(7).unwrap();
    let (ann, bob) = (Id::from_i64(7), Id::from_i64(8));
    let mut lift = workout(&ids, ann, all[0].id);
    lift.content.sport = Sport::Strength;
    lift.track = None;
    let run = {
        let mut w = workout(&ids, ann, all[1].id);
        w.content.exercises.clear();
        w.content.started_at = instant(millis(lift.content.started_at) + 1000).unwrap();
        w
    };
    let other = workout(&ids, bob, all[0].id);
    for w in [&lift, &run, &other] {
        store
            .insert_workout(w, &|_| event(&ids, "workout.logged", w))
            .await
            .unwrap();
    }

    let sets = store.logged_sets(ann).await.unwrap();
    // The lift's two sets (60×10 warm-up, 100×5); the set-less entry is not a set.
    let got: Vec<(Id, f64, u16, SetType)> = sets
        .iter()
        .map(|s| {
            (
                s.workout_id,
                s.weight.unwrap().get(),
                s.reps.unwrap().get(),
                s.set_type,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (lift.id, 60.0, 10, SetType::WarmUp),
            (lift.id, 100.0, 5, SetType::Working)
        ]
    );
    assert!(sets
        .iter()
        .all(|s| s.performed_at == lift.content.started_at));

    // Recent sets include those without a load; older workouts and others' do not.
    let mut bodyweight = lift.clone();
    bodyweight.id = ids.next_id();
    bodyweight.content.started_at = instant(millis(run.content.started_at) + 1000).unwrap();
    for set in &mut bodyweight.content.exercises[0].sets {
        set.weight_kg = None;
    }
    store
        .insert_workout(&bodyweight, &|_| event(&ids, "workout.logged", &bodyweight))
        .await
        .unwrap();
    let since = instant(millis(lift.content.started_at) + 1).unwrap();
    let recent = store.sets_since(ann, since).await.unwrap();
    let got: Vec<(Id, Option<f64>, Option<u16>)> = recent
        .iter()
        .map(|s| {
            (
                s.workout_id,
                s.weight.map(|w| w.get()),
                s.reps.map(|r| r.get()),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (bodyweight.id, None, Some(10)),
            (bodyweight.id, None, Some(5))
        ]
    );
    assert_eq!(
        store
            .sets_since(ann, instant(0).unwrap())
            .await
            .unwrap()
            .len(),
        4
    );
    // `logged_sets` stays what records are judged on: loaded sets only.
    assert_eq!(store.logged_sets(ann).await.unwrap().len(), 2);

    let from = instant(millis(lift.content.started_at) - 1).unwrap();
    let to = instant(millis(run.content.started_at) + 1).unwrap();
    let sessions = store.sessions(ann, from, to).await.unwrap();
    assert_eq!(
        sessions.iter().map(|s| s.workout_id).collect::<Vec<_>>(),
        vec![lift.id, run.id]
    );
    // The warm-up does not count: 100 × 5 = 500 kg, as `WorkoutContent::volume` says.
    assert_eq!(sessions[0].volume_kg, 500.0);
    assert_eq!(sessions[0].volume_kg, lift.content.volume().get());
    assert_eq!(sessions[1].volume_kg, 0.0);
    assert_eq!(
        sessions[1].best_efforts,
        run.track.as_ref().unwrap().best_efforts
    );
    assert_eq!(sessions[1].distance, run.content.distance);
    assert_eq!(sessions[1].rpe, run.content.rpe);
    // The range is half-open and per owner.
    let only_lift = store
        .sessions(ann, from, run.content.started_at)
        .await
        .unwrap();
    assert_eq!(only_lift.len(), 1);
    assert_eq!(store.sessions(bob, from, to).await.unwrap().len(), 1);
}

async fn plans_and_schedules_round_trip_per_owner(db: Database) {
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(8).unwrap();
    let (ann, bob) = (Id::from_i64(7), Id::from_i64(8));
    let content: crate::domain::plan::PlanContent = serde_json::from_value(serde_json::json!({
        "name": "5×5",
        "description": "Strength base",
        "days": [{"name": "A", "exercises": [{
            "exercise_id": "7",
            "superset": 1,
            "prescriptions": [{"sets": 5, "reps": {"min": 5}, "load": {"type": "absolute", "kg": 100}, "rest_s": 180}],
            "progression": {"type": "linear", "increment_kg": 2.5}
        }]}]
    }))
    .unwrap();
    let plan = |owner| crate::domain::plan::Plan {
        id: ids.next_id(),
        owner_id: owner,
        assigned_by: None,
        content: content.clone(),
        created_at: now(),
        updated_at: now(),
    };
    let (a1, a2, a3, b1) = (plan(ann), plan(ann), plan(ann), plan(bob));
    for p in [&a1, &b1, &a2, &a3] {
        store.insert_plan(p).await.unwrap();
    }
    assert_eq!(store.plan(a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.plan(ids.next_id()).await.unwrap(), None);
    let page = store.plans_of(ann, None, 2).await.unwrap();
    assert_eq!(page, vec![a1.clone(), a2.clone()]);
    let rest = store.plans_of(ann, Some(a2.id), 2).await.unwrap();
    assert_eq!(rest, vec![a3.clone()]);
    assert_eq!(
        store.plans_of(bob, None, 10).await.unwrap(),
        vec![b1.clone()]
    );

    // Schedules of those plans.
    let schedule = |owner, plan: &crate::domain::plan::Plan, days: &[chrono::Weekday]| {
        crate::domain::schedule::Schedule {
            id: ids.next_id(),
            owner_id: owner,
            plan_id: plan.id,
            start_date: "2024-05-06".parse().unwrap(),
            weekdays: days.to_vec(),
            time_zone: chrono_tz::America::New_York,
            created_at: now(),
        }
    };
    use chrono::Weekday::{Fri, Mon, Wed};
    let s1 = schedule(ann, &a1, &[Mon, Wed, Fri]);
    let s2 = schedule(ann, &a2, &[Wed]);
    let s3 = schedule(bob, &b1, &[Mon]);
    for s in [&s1, &s3, &s2] {
        store.insert_schedule(s).await.unwrap();
    }
    assert_eq!(
        store.schedules_of(ann).await.unwrap(),
        vec![s1.clone(), s2.clone()]
    );
    assert_eq!(store.schedules_of(bob).await.unwrap(), vec![s3.clone()]);

    // An edit replaces the content and the change time, nothing else.
    let mut edited = a1.clone();
    edited.content.name = "5×5, heavier".into();
    edited.content.days[0].name = "Heavy".into();
    edited.updated_at = instant(millis(a1.updated_at) + 60_000).unwrap();
    assert!(store.update_plan(&edited).await.unwrap());
    assert_eq!(store.plan(a1.id).await.unwrap(), Some(edited.clone()));
    let gone = plan(ann);
    assert!(!store.update_plan(&gone).await.unwrap());
    assert_eq!(store.plan(gone.id).await.unwrap(), None);

    // Deleting a plan deletes its schedules, and only those.
    assert!(store.delete_plan(a1.id).await.unwrap());
    assert_eq!(store.plan(a1.id).await.unwrap(), None);
    assert_eq!(store.schedules_of(ann).await.unwrap(), vec![s2]);
    assert_eq!(store.schedules_of(bob).await.unwrap(), vec![s3]);
    assert!(!store.delete_plan(a1.id).await.unwrap());
    assert_eq!(
        store.plans_of(ann, None, 10).await.unwrap(),
        vec![a2.clone(), a3.clone()]
    );
    // A page after the deleted plan goes on with the ones after it.
    assert_eq!(
        store.plans_of(ann, Some(a1.id), 10).await.unwrap(),
        vec![a2.clone(), a3.clone()]
    );
}

async fn count(db: &Database, sql: &str) -> i64 {
    vigor_common::on_pool!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap())
}

async fn erasing_a_user_removes_their_data_once(db: Database) {
    let (store, all) = seeded(db.clone()).await;
    let ids = IdGenerator::new(10).unwrap();
    let (ann, bob) = (Id::from_i64(7), Id::from_i64(8));
    let mine = custom(&ids, ann, "Ann's Squat");
    let theirs = custom(&ids, bob, "Bob's Squat");
    store.insert_exercise(&mine).await.unwrap();
    store.insert_exercise(&theirs).await.unwrap();
    assert_eq!(
        store.custom_exercises(ann).await.unwrap(),
        vec![mine.clone()]
    );
    let (wa, wb) = (workout(&ids, ann, mine.id), workout(&ids, bob, all[0].id));
    for w in [&wa, &wb] {
        store
            .insert_workout(w, &|_| event(&ids, "workout.logged", w))
            .await
            .unwrap();
    }
    let content: crate::domain::plan::PlanContent = serde_json::from_value(
        serde_json::json!({"name": "P", "days": [{"name": "A", "exercises": []}]}),
    )
    .unwrap();
    let plan = |owner| crate::domain::plan::Plan {
        id: ids.next_id(),
        owner_id: owner,
        assigned_by: None,
        content: content.clone(),
        created_at: now(),
        updated_at: now(),
    };
    let (pa, pb) = (plan(ann), plan(bob));
    for p in [&pa, &pb] {
        store.insert_plan(p).await.unwrap();
        store
            .insert_schedule(&crate::domain::schedule::Schedule {
                id: ids.next_id(),
                owner_id: p.owner_id,
                plan_id: p.id,
                start_date: "2024-05-06".parse().unwrap(),
                weekdays: vec![chrono::Weekday::Mon],
                time_zone: chrono_tz::UTC,
                created_at: now(),
            })
            .await
            .unwrap();
    }
    let idem = |user: Id| {
        format!(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) \
             VALUES ('{user}:POST /v1/training/workouts', 'k', 'h', '2024-01-01T00:00:00Z')"
        )
    };
    for user in [ann, bob] {
        match &db {
            Database::Sqlite(pool) => {
                sqlx::query(&idem(user)).execute(pool).await.unwrap();
            }
            Database::Postgres(pool) => {
                sqlx::query(&idem(user).replace("'2024-01-01T00:00:00Z'", "now()"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    let event_id = ids.next_id();
    let erased = store.erase_user("training", event_id, ann).await.unwrap();
    assert_eq!(
        erased,
        Some(Erased {
            workouts: 1,
            plans: 1,
            schedules: 1,
            exercises: 1
        })
    );
    assert_eq!(store.workout(wa.id).await.unwrap(), None);
    assert!(store.workouts_of(ann, None, 10).await.unwrap().is_empty());
    assert!(store.logged_sets(ann).await.unwrap().is_empty());
    assert!(store.plans_of(ann, None, 10).await.unwrap().is_empty());
    assert!(store.schedules_of(ann).await.unwrap().is_empty());
    assert!(store.custom_exercises(ann).await.unwrap().is_empty());
    assert_eq!(store.exercise(mine.id, ann).await.unwrap(), None);
    let orphan_sets = format!(
        "SELECT COUNT(*) FROM workout_sets WHERE workout_id = {}",
        wa.id
    );
    assert_eq!(count(&db, &orphan_sets).await, 0);
    let keys =
        |user: Id| format!("SELECT COUNT(*) FROM idempotency_keys WHERE scope LIKE '{user}:%'");
    assert_eq!(count(&db, &keys(ann)).await, 0);
    // Bob's data is untouched, the catalogue too.
    assert_eq!(store.workout(wb.id).await.unwrap(), Some(wb.clone()));
    assert_eq!(store.plans_of(bob, None, 10).await.unwrap(), vec![pb]);
    assert_eq!(store.schedules_of(bob).await.unwrap().len(), 1);
    assert_eq!(store.custom_exercises(bob).await.unwrap(), vec![theirs]);
    assert_eq!(count(&db, &keys(bob)).await, 1);
    assert_eq!(
        store.search_exercises(&query(ann)).await.unwrap().len(),
        all.len()
    );

    // The same event again: already processed, nothing erased, even data that
    // came after it (a redelivery must not act twice).
    let again = workout(&ids, ann, all[0].id);
    store
        .insert_workout(&again, &|_| event(&ids, "workout.logged", &again))
        .await
        .unwrap();
    assert_eq!(
        store.erase_user("training", event_id, ann).await.unwrap(),
        None
    );
    assert_eq!(store.workout(again.id).await.unwrap(), Some(again));
    // A new deletion event for someone without data erases nothing, once.
    let nobody = Id::from_i64(999);
    assert_eq!(
        store
            .erase_user("training", ids.next_id(), nobody)
            .await
            .unwrap(),
        Some(Erased::default())
    );
}

/// `owner`'s strength workout at `hour` (after a fixed start): one working set
/// of `kg` × 5 of `exercise`.
fn lift(ids: &IdGenerator, owner: Id, exercise: Id, hour: i64, kg: f64) -> Workout {
    let mut w = workout(ids, owner, exercise);
    let start = instant(1_714_550_400_000 + hour * 3_600_000).unwrap();
    let c = &mut w.content;
    c.sport = Sport::Strength;
    c.started_at = start;
    c.ended_at = instant(millis(start) + 3_600_000).unwrap();
    (c.moving_time, c.distance, c.elevation_gain) = (None, None, None);
    c.exercises = vec![WorkoutExercise {
        exercise_id: exercise,
        sets: vec![WorkoutSet {
            set_type: SetType::Working,
            weight_kg: Some(Kilograms::new(kg).unwrap()),
            reps: Some(Reps::new(5).unwrap()),
            rpe: None,
            duration_s: None,
            distance_m: None,
            done: true,
        }],
    }];
    w.source = WorkoutSource::Manual;
    w.track = None;
    w
}

/// The flags of `owner`'s workouts judged afresh from the whole stored history.
async fn fresh_flags(store: &SqlStore, owner: Id) -> FlagMap {
    let history = store.history(owner).await.unwrap();
    history.flags().into_iter().collect()
}

/// `(kind, value, previous)` of each record.
fn kinds(records: &[RecordSet]) -> Vec<(RecordKind, f64, Option<f64>)> {
    records
        .iter()
        .map(|r| (r.kind, r.value, r.previous))
        .collect()
}

/// The workouts whose flags a write stored.
fn ids_of(r: &Reflagged) -> Vec<Id> {
    let mut ids: Vec<Id> = r.changed.iter().map(|f| f.workout_id).collect();
    ids.sort();
    ids
}

/// An event maker that keeps the flags it was given, to compare with what the
/// write answers: the event is made from the same judgement.
struct Seen(std::sync::Mutex<Vec<Reflagged>>);

impl Seen {
    fn new() -> Seen {
        Seen(std::sync::Mutex::new(Vec::new()))
    }

    fn event(&self, ids: &IdGenerator, name: &str, w: &Workout, r: &Reflagged) -> Event {
        self.0.lock().unwrap().push(r.clone());
        event(ids, name, w)
    }

    fn taken(&self) -> Vec<Reflagged> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn record_flags_are_judged_and_written_with_the_change(db: Database) {
    use RecordKind::{BestE1rm, MaxSessionVolume, MaxWeight};
    let (store, all) = seeded(db.clone()).await;
    let ids = IdGenerator::new(11).unwrap();
    let (ann, bob) = (Id::from_i64(7), Id::from_i64(8));
    let squat = all[0].id;
    let e1 = |kg: f64| kg * (1.0 + 5.0 / 30.0);
    let seen = Seen::new();
    let logged = |w: &Workout| {
        let w = w.clone();
        let (store, seen, ids) = (&store, &seen, &ids);
        async move {
            let made = |r: &Reflagged| seen.event(ids, "workout.logged", &w, r);
            let r = store.insert_workout(&w, &made).await.unwrap();
            assert_eq!(
                seen.taken(),
                vec![r.clone()],
                "the event saw the flags written"
            );
            r
        }
    };

    let first = lift(&ids, ann, squat, 0, 100.0);
    let r = logged(&first).await;
    assert_eq!(
        kinds(&r.records),
        vec![
            (MaxWeight, 100.0, None),
            (BestE1rm, e1(100.0), None),
            (MaxSessionVolume, 500.0, None)
        ]
    );
    assert_eq!(ids_of(&r), vec![first.id]);
    logged(&lift(&ids, bob, squat, 0, 50.0)).await;

    // A heavier workout after it sets records against it; the first keeps its own.
    let second = lift(&ids, ann, squat, 2, 110.0);
    let r = logged(&second).await;
    assert_eq!(kinds(&r.records)[0], (MaxWeight, 110.0, Some(100.0)));
    assert_eq!(ids_of(&r), vec![second.id]);
    assert_eq!(
        store.record_flags_of(ann).await.unwrap(),
        fresh_flags(&store, ann).await
    );

    // A heavier one back-dated between them takes the second's records away,
    // in the same write.
    let third = lift(&ids, ann, squat, 1, 120.0);
    let r = logged(&third).await;
    assert_eq!(kinds(&r.records)[0], (MaxWeight, 120.0, Some(100.0)));
    assert_eq!(ids_of(&r), vec![second.id, third.id]);
    let stored = store.record_flags_of(ann).await.unwrap();
    assert_eq!(stored[&second.id], vec![]);
    assert_eq!(stored, fresh_flags(&store, ann).await);

    // Editing it down to 90 kg gives them back; a stale edit writes nothing.
    let mut lighter = lift(&ids, ann, squat, 1, 90.0);
    (lighter.id, lighter.version) = (third.id, 2);
    let made = |r: &Reflagged| seen.event(&ids, "workout.updated", &lighter, r);
    let r = store
        .update_workout(&lighter, 1, &made)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.taken(), vec![r.clone()]);
    assert_eq!(r.records, vec![]);
    assert_eq!(ids_of(&r), vec![second.id, third.id]);
    assert_eq!(
        kinds(&store.record_flags_of(ann).await.unwrap()[&second.id])[0],
        (MaxWeight, 110.0, Some(100.0))
    );
    let before = store.record_flags_of(ann).await.unwrap();
    assert_eq!(store.update_workout(&third, 1, &made).await.unwrap(), None);
    assert!(seen.taken().is_empty(), "no event for a stale edit");
    assert_eq!(store.record_flags_of(ann).await.unwrap(), before);
    assert_eq!(before, fresh_flags(&store, ann).await);

    // Deleting the first workout removes its flags and passes its records on:
    // the edited one (90 kg) is now the first, the second beats it.
    assert!(
        !store
            .delete_workout(bob, first.id, &|_| event(&ids, "workout.deleted", &first))
            .await
            .unwrap(),
        "not Bob's to delete"
    );
    let made = |r: &Reflagged| seen.event(&ids, "workout.deleted", &first, r);
    assert!(store.delete_workout(ann, first.id, &made).await.unwrap());
    let r = seen.taken().pop().unwrap();
    assert_eq!(r.records, vec![]);
    assert_eq!(ids_of(&r), vec![second.id, third.id]);
    let stored = store.record_flags_of(ann).await.unwrap();
    assert!(!stored.contains_key(&first.id));
    assert_eq!(kinds(&stored[&third.id])[0], (MaxWeight, 90.0, None));
    assert_eq!(
        kinds(&stored[&second.id])[0],
        (MaxWeight, 110.0, Some(90.0))
    );
    assert_eq!(stored, fresh_flags(&store, ann).await);
    // Deleting what is gone writes nothing.
    assert!(!store.delete_workout(ann, first.id, &made).await.unwrap());
    assert!(seen.taken().is_empty());

    // Erasing Ann erases her flags, not Bob's.
    store
        .erase_user("training", ids.next_id(), ann)
        .await
        .unwrap();
    assert!(store.record_flags_of(ann).await.unwrap().is_empty());
    assert_eq!(store.record_flags_of(bob).await.unwrap().len(), 1);
}

/// Many writes of one owner's workouts at once (creates with rising loads,
/// edits and deletions): each judges the flags from the history as the writes
/// before it left it, so what is stored equals a judgement of the final history.
async fn concurrent_writes_of_one_owner_leave_the_flags_of_the_final_history(db: Database) {
    let (store, all) = seeded(db.clone()).await;
    let ids = std::sync::Arc::new(IdGenerator::new(13).unwrap());
    let owner = Id::from_i64(7);
    let squat = all[0].id;
    let early: Vec<Workout> = (0..6)
        .map(|i| lift(&ids, owner, squat, 100 + i, 150.0 - i as f64))
        .collect();
    for w in &early {
        store
            .insert_workout(w, &|_| event(&ids, "workout.logged", w))
            .await
            .unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (store, ids) = (store.clone(), ids.clone());
        let w = lift(&ids, owner, squat, i * 2, 100.0 + 5.0 * i as f64);
        tasks.spawn(async move {
            store
                .insert_workout(&w, &|_| event(&ids, "workout.logged", &w))
                .await
                .map(drop)
        });
    }
    for (i, w) in early.iter().enumerate() {
        let (store, ids, w) = (store.clone(), ids.clone(), w.clone());
        tasks.spawn(async move {
            if i % 2 == 0 {
                store
                    .delete_workout(owner, w.id, &|_| event(&ids, "workout.deleted", &w))
                    .await
                    .map(drop)
            } else {
                let mut heavier = lift(&ids, owner, squat, 2 * i as i64 + 1, 300.0 - i as f64);
                (heavier.id, heavier.version) = (w.id, 2);
                store
                    .update_workout(&heavier, 1, &|_| event(&ids, "workout.updated", &heavier))
                    .await
                    .map(drop)
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let stored = store.record_flags_of(owner).await.unwrap();
    assert_eq!(stored.len(), 23);
    assert_eq!(stored, fresh_flags(&store, owner).await);
}

async fn coaching_links_move_one_way_and_one_is_open_per_pair(db: Database) {
    use crate::domain::coaching::CoachLink;
    use crate::domain::kinds::LinkStatus::{Accepted, Declined, Ended, Pending};
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(12).unwrap();
    let (coach, ann, bob, other) = (
        Id::from_i64(1),
        Id::from_i64(2),
        Id::from_i64(3),
        Id::from_i64(4),
    );
    let link = |c, a| CoachLink {
        id: ids.next_id(),
        coach_id: c,
        athlete_id: a,
        status: Pending,
        created_at: now(),
        updated_at: now(),
    };
    let first = link(coach, ann);
    assert!(store.insert_link(&first).await.unwrap());
    assert_eq!(store.link(first.id).await.unwrap(), Some(first.clone()));
    // A second open one for the same pair is refused; other pairs are fine.
    assert!(!store.insert_link(&link(coach, ann)).await.unwrap());
    let to_bob = link(coach, bob);
    // Another unique key in the same insert (an id that is taken, as after a
    // clash of id generators) is an error, not "already open".
    let clash = CoachLink {
        id: first.id,
        ..to_bob.clone()
    };
    assert!(matches!(
        store.insert_link(&clash).await,
        Err(StoreError::Backend(_))
    ));
    assert!(store.insert_link(&to_bob).await.unwrap());
    assert!(store.insert_link(&link(other, ann)).await.unwrap());
    assert!(!store.coaches(coach, ann).await.unwrap());

    let later = instant(millis(first.created_at) + 1000).unwrap();
    assert!(store
        .set_link_status(first.id, Pending, Accepted, later)
        .await
        .unwrap());
    // From a state it is no longer in: nothing.
    assert!(!store
        .set_link_status(first.id, Pending, Declined, later)
        .await
        .unwrap());
    let stored = store.link(first.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.updated_at), (Accepted, later));
    assert!(store.coaches(coach, ann).await.unwrap());
    assert!(!store.coaches(ann, coach).await.unwrap(), "one way");
    assert!(
        !store.coaches(coach, bob).await.unwrap(),
        "bob's is pending"
    );
    assert!(!store.insert_link(&link(coach, ann)).await.unwrap());

    // Ended: no access, and the pair may start again.
    assert!(store
        .set_link_status(first.id, Accepted, Ended, later)
        .await
        .unwrap());
    assert!(!store.coaches(coach, ann).await.unwrap());
    let again = link(coach, ann);
    assert!(store.insert_link(&again).await.unwrap());

    // Both sides list theirs, newest first.
    let of_ann: Vec<Id> = store
        .links_of(ann)
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(of_ann.len(), 3);
    assert_eq!(of_ann[0], again.id);
    assert!(of_ann.contains(&first.id));
    let of_coach: Vec<Id> = store
        .links_of(coach)
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(of_coach, vec![again.id, to_bob.id, first.id]);

    // Assigned plans: the athlete owns them, the coach finds them.
    let content: crate::domain::plan::PlanContent = serde_json::from_value(
        serde_json::json!({"name": "P", "days": [{"name": "A", "exercises": []}]}),
    )
    .unwrap();
    let plan = |owner, assigned_by| crate::domain::plan::Plan {
        id: ids.next_id(),
        owner_id: owner,
        assigned_by,
        content: content.clone(),
        created_at: now(),
        updated_at: now(),
    };
    let assigned = plan(ann, Some(coach));
    let own = plan(ann, None);
    for p in [&assigned, &own, &plan(bob, Some(coach))] {
        store.insert_plan(p).await.unwrap();
    }
    assert_eq!(
        store.plan(assigned.id).await.unwrap(),
        Some(assigned.clone())
    );
    assert_eq!(
        store.plans_assigned(coach, ann).await.unwrap(),
        vec![assigned.clone()]
    );
    assert!(store.plans_assigned(other, ann).await.unwrap().is_empty());

    // Erasing the coach: their relationships go, the plan stays the athlete's,
    // unattributed.
    store
        .erase_user("training", ids.next_id(), coach)
        .await
        .unwrap();
    assert!(store.links_of(coach).await.unwrap().is_empty());
    assert_eq!(store.links_of(ann).await.unwrap().len(), 1, "other's stays");
    let kept = store.plan(assigned.id).await.unwrap().unwrap();
    assert_eq!(kept.assigned_by, None);
    assert_eq!(kept.owner_id, ann);
}

async fn settings_are_saved_per_user(db: Database) {
    use crate::domain::settings::AthleteSettings;
    let store = SqlStore::new(db);
    let ids = IdGenerator::new(13).unwrap();
    let (ann, bob) = (Id::from_i64(7), Id::from_i64(8));
    assert_eq!(
        store.settings(ann).await.unwrap(),
        AthleteSettings::default()
    );
    let own = AthleteSettings {
        max_hr: Some(Bpm::new(182).unwrap()),
        resting_hr: Some(Bpm::new(48).unwrap()),
    };
    store.put_settings(ann, &own, now()).await.unwrap();
    assert_eq!(store.settings(ann).await.unwrap(), own);
    // Saving again replaces (an upsert), unset values included.
    let changed = AthleteSettings {
        max_hr: None,
        ..own
    };
    store.put_settings(ann, &changed, now()).await.unwrap();
    assert_eq!(store.settings(ann).await.unwrap(), changed);
    store.put_settings(bob, &own, now()).await.unwrap();
    store
        .erase_user("training", ids.next_id(), ann)
        .await
        .unwrap();
    assert_eq!(
        store.settings(ann).await.unwrap(),
        AthleteSettings::default()
    );
    assert_eq!(store.settings(bob).await.unwrap(), own);
}

/// Erasing a user is serialised with the user's writes (`in_owner_tx!`): while a
/// write of theirs holds its transaction, the erasure waits, and then erases
/// what that write left too. (Without the owner's lock, PostgreSQL's erasure
/// ran at once, missed the uncommitted row, and the row outlived the user.)
async fn erasing_a_user_waits_for_their_write_in_flight(db: Database) {
    let store = SqlStore::new(db.clone());
    let ann = Id::from_i64(7);
    let (began, began_rx) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            let written: Result<(), sqlx::Error> = async {
                vigor_common::in_owner_tx!(&db, ann, tx => {
                    sqlx::query(
                        "INSERT INTO athlete_settings (user_id, max_hr, resting_hr, updated_at) \
                         VALUES ($1, 190, 50, 0)",
                    )
                    .bind(ann)
                    .execute(&mut *tx)
                    .await?;
                    let _ = began.send(());
                    let _ = released.await;
                });
                Ok(())
            }
            .await;
            written.unwrap();
        })
    };
    began_rx.await.unwrap();
    let erase = {
        let store = store.clone();
        tokio::spawn(async move { store.erase_user("training", Id::from_i64(99), ann).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !erase.is_finished(),
        "the erasure waits for the user's write in flight"
    );
    release.send(()).unwrap();
    writer.await.unwrap();
    assert!(erase.await.unwrap().unwrap().is_some());
    assert_eq!(
        store.settings(ann).await.unwrap(),
        AthleteSettings::default(),
        "what the write in flight stored is erased with the rest"
    );
}

vigor_common::sql_conformance!(Some(&crate::MIGRATIONS);
    the_catalogue_is_seeded_once,
    search_matches_words_muscles_and_equipment,
    pages_follow_the_cursor_without_gaps,
    exercise_pages_go_on_after_the_cursor_row_is_gone,
    workout_pages_neither_end_early_nor_repeat_when_rows_change,
    custom_exercises_are_their_owners_only,
    workouts_round_trip_with_their_events,
    a_failed_insert_leaves_nothing_behind,
    workouts_list_newest_first_per_owner,
    history_reads_sets_and_sessions_of_one_owner,
    plans_and_schedules_round_trip_per_owner,
    erasing_a_user_removes_their_data_once,
    record_flags_are_judged_and_written_with_the_change,
    concurrent_writes_of_one_owner_leave_the_flags_of_the_final_history,
    coaching_links_move_one_way_and_one_is_open_per_pair,
    settings_are_saved_per_user,
    erasing_a_user_waits_for_their_write_in_flight,
);
