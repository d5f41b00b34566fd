//! Personal records: per exercise (heaviest weight, best estimated 1RM, most reps
//! at each weight, biggest session volume) and for endurance (fastest standard
//! distances from running tracks, longest distance per sport), each with the
//! workout and date that set it.
//!
//! Only sets that [count](super::strength::SetRecord::counts) (done, not warm-up)
//! can set a record. A tie keeps the earlier record: matching a best is not
//! beating it.

use std::collections::BTreeMap;

use serde::Serialize;
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::strength::{estimated_1rm, OneRepMaxFormula};
use crate::domain::history::{LoggedSet, SessionSummary};
use crate::domain::kinds::{SetType, Sport};

/// A best value and where it was set.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = RecordAchievement)]
pub struct Achievement {
    /// The value (kg, reps, metres or seconds, as the field says).
    pub value: f64,
    /// The workout that set it.
    pub workout_id: Id,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub achieved_at: Timestamp,
}

/// The best estimated one-repetition maximum.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OneRepMaxRecord {
    /// The estimate in kg.
    pub value_kg: f64,
    /// The formula that made it.
    pub formula: OneRepMaxFormula,
    /// The set it comes from: load…
    pub weight_kg: f64,
    /// …and repetitions.
    pub reps: u16,
    /// The workout.
    pub workout_id: Id,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub achieved_at: Timestamp,
}

/// The most repetitions done at one load.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RepsAtWeight {
    /// The load in kg.
    pub weight_kg: f64,
    /// Repetitions.
    pub reps: u16,
    /// The workout.
    pub workout_id: Id,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub achieved_at: Timestamp,
}

/// The records of one exercise.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ExerciseRecords {
    /// The exercise.
    pub exercise_id: Id,
    /// Heaviest load lifted for at least one rep (kg).
    pub max_weight: Option<Achievement>,
    /// Best estimated 1RM.
    pub best_e1rm: Option<OneRepMaxRecord>,
    /// Most reps at each load, lightest first.
    pub max_reps_at_weight: Vec<RepsAtWeight>,
    /// Biggest volume in one session (kg).
    pub max_session_volume: Option<Achievement>,
}

/// Strength records from logged sets, one entry per exercise (by exercise id).
pub fn strength_records(sets: &[LoggedSet], formula: OneRepMaxFormula) -> Vec<ExerciseRecords> {
    let mut sets: Vec<&LoggedSet> = sets.iter().collect();
    sets.sort_by_key(|s| (s.performed_at, s.workout_id));
    let mut by_exercise: BTreeMap<Id, ExerciseRecords> = BTreeMap::new();
    // Volume per (exercise, workout), summed first, compared after.
    let mut volumes: BTreeMap<(Id, Id), (f64, Timestamp)> = BTreeMap::new();
    let mut reps_at: BTreeMap<(Id, u64), RepsAtWeight> = BTreeMap::new();
    for s in sets {
        let counts = s.done && s.set_type != SetType::WarmUp;
        let (Some(weight), Some(reps)) = (s.weight, s.reps) else {
            continue;
        };
        if !counts || reps.get() == 0 {
            continue;
        }
        let r = by_exercise
            .entry(s.exercise_id)
            .or_insert_with(|| ExerciseRecords {
                exercise_id: s.exercise_id,
                max_weight: None,
                best_e1rm: None,
                max_reps_at_weight: Vec::new(),
                max_session_volume: None,
            });
        let w = weight.get();
        if r.max_weight.as_ref().is_none_or(|m| w > m.value) {
            r.max_weight = Some(Achievement {
                value: w,
                workout_id: s.workout_id,
                achieved_at: s.performed_at,
            });
        }
        if let Some(e) = estimated_1rm(weight, reps, formula) {
            if r.best_e1rm.as_ref().is_none_or(|b| e.get() > b.value_kg) {
                r.best_e1rm = Some(OneRepMaxRecord {
                    value_kg: e.get(),
                    formula,
                    weight_kg: w,
                    reps: reps.get(),
                    workout_id: s.workout_id,
                    achieved_at: s.performed_at,
                });
            }
        }
        // Loads are compared to the gram.
        let key = (s.exercise_id, (w * 1000.0).round() as u64);
        if reps_at.get(&key).is_none_or(|best| reps.get() > best.reps) {
            reps_at.insert(
                key,
                RepsAtWeight {
                    weight_kg: w,
                    reps: reps.get(),
                    workout_id: s.workout_id,
                    achieved_at: s.performed_at,
                },
            );
        }
        let v = volumes
            .entry((s.exercise_id, s.workout_id))
            .or_insert((0.0, s.performed_at));
        v.0 += w * f64::from(reps.get());
    }
    let mut volumes: Vec<((Id, Id), (f64, Timestamp))> = volumes.into_iter().collect();
    volumes.sort_by_key(|((_, workout), (_, at))| (*at, *workout));
    for ((exercise, workout), (volume, at)) in volumes {
        if let Some(r) = by_exercise.get_mut(&exercise) {
            if r.max_session_volume
                .as_ref()
                .is_none_or(|m| volume > m.value)
            {
                r.max_session_volume = Some(Achievement {
                    value: volume,
                    workout_id: workout,
                    achieved_at: at,
                });
            }
        }
    }
    for ((exercise, _), best) in reps_at {
        if let Some(r) = by_exercise.get_mut(&exercise) {
            r.max_reps_at_weight.push(best);
        }
    }
    by_exercise.into_values().collect()
}

/// The fastest time over a standard distance.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EffortAchievement {
    /// `1k`, `5k`, `10k`, `half_marathon`, `marathon`.
    pub name: String,
    /// Metres.
    pub distance_m: f64,
    /// Seconds.
    pub duration_s: f64,
    /// The workout.
    pub workout_id: Id,
    /// When the workout started.
    #[schema(value_type = String, format = DateTime)]
    pub achieved_at: Timestamp,
}

/// The longest session of a sport.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LongestDistance {
    /// The sport.
    pub sport: Sport,
    /// Metres.
    pub distance_m: f64,
    /// The workout.
    pub workout_id: Id,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub achieved_at: Timestamp,
}

/// Endurance records: fastest efforts from running sessions' tracks (in the
/// order of the standard distances) and the longest distance per sport.
pub fn endurance_records(
    sessions: &[SessionSummary],
) -> (Vec<EffortAchievement>, Vec<LongestDistance>) {
    let mut sessions: Vec<&SessionSummary> = sessions.iter().collect();
    sessions.sort_by_key(|s| (s.started_at, s.workout_id));
    let mut efforts: Vec<EffortAchievement> = Vec::new();
    let mut longest: BTreeMap<&'static str, LongestDistance> = BTreeMap::new();
    for s in sessions {
        if let Some(d) = s.distance {
            let best = longest.get(s.sport.as_str());
            if best.is_none_or(|b| d.get() > b.distance_m) && d.get() > 0.0 {
                longest.insert(
                    s.sport.as_str(),
                    LongestDistance {
                        sport: s.sport,
                        distance_m: d.get(),
                        workout_id: s.workout_id,
                        achieved_at: s.started_at,
                    },
                );
            }
        }
        if !s.sport.is_running() {
            continue;
        }
        for e in &s.best_efforts {
            match efforts.iter_mut().find(|b| b.name == e.name) {
                Some(b) if e.duration_s >= b.duration_s => {}
                Some(b) => {
                    b.duration_s = e.duration_s;
                    b.workout_id = s.workout_id;
                    b.achieved_at = s.started_at;
                }
                None => efforts.push(EffortAchievement {
                    name: e.name.clone(),
                    distance_m: e.distance_m,
                    duration_s: e.duration_s,
                    workout_id: s.workout_id,
                    achieved_at: s.started_at,
                }),
            }
        }
    }
    efforts.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    (efforts, longest.into_values().collect())
}

// The record types travel in `workout.*` events, so they are part of the event
// contracts and live there; training uses them under this path as before.
pub use vigor_common::events::{RecordKind, RecordSet};

/// The records workout `workout` (started `at`) set, judged against the history
/// up to it: later workouts do not take its flags away.
pub fn records_set_by(
    workout: Id,
    at: Timestamp,
    sets: &[LoggedSet],
    sessions: &[SessionSummary],
    formula: OneRepMaxFormula,
) -> Vec<RecordSet> {
    let upto = |t: Timestamp, id: Id| (t, id) <= (at, workout);
    let before = |t: Timestamp, id: Id| (t, id) < (at, workout);
    let sets_upto: Vec<LoggedSet> = sets
        .iter()
        .filter(|s| upto(s.performed_at, s.workout_id))
        .cloned()
        .collect();
    let sets_before: Vec<LoggedSet> = sets
        .iter()
        .filter(|s| before(s.performed_at, s.workout_id))
        .cloned()
        .collect();
    let sessions_upto: Vec<SessionSummary> = sessions
        .iter()
        .filter(|s| upto(s.started_at, s.workout_id))
        .cloned()
        .collect();
    let sessions_before: Vec<SessionSummary> = sessions
        .iter()
        .filter(|s| before(s.started_at, s.workout_id))
        .cloned()
        .collect();

    let mut out = Vec::new();
    let previous_strength = strength_records(&sets_before, formula);
    for r in strength_records(&sets_upto, formula) {
        let prev = previous_strength
            .iter()
            .find(|p| p.exercise_id == r.exercise_id);
        let mut flag = |kind, value: f64, previous: Option<f64>| {
            out.push(RecordSet {
                kind,
                exercise_id: Some(r.exercise_id),
                name: None,
                value,
                previous,
            })
        };
        if let Some(m) = r.max_weight.as_ref().filter(|m| m.workout_id == workout) {
            flag(
                RecordKind::MaxWeight,
                m.value,
                prev.and_then(|p| p.max_weight.as_ref()).map(|a| a.value),
            );
        }
        if let Some(e) = r.best_e1rm.as_ref().filter(|e| e.workout_id == workout) {
            flag(
                RecordKind::BestE1rm,
                e.value_kg,
                prev.and_then(|p| p.best_e1rm.as_ref()).map(|b| b.value_kg),
            );
        }
        if let Some(v) = r
            .max_session_volume
            .as_ref()
            .filter(|v| v.workout_id == workout)
        {
            flag(
                RecordKind::MaxSessionVolume,
                v.value,
                prev.and_then(|p| p.max_session_volume.as_ref())
                    .map(|a| a.value),
            );
        }
    }
    let (efforts_before, longest_before) = endurance_records(&sessions_before);
    let (efforts, longest) = endurance_records(&sessions_upto);
    for e in efforts.into_iter().filter(|e| e.workout_id == workout) {
        let previous = efforts_before
            .iter()
            .find(|b| b.name == e.name)
            .map(|b| b.duration_s);
        out.push(RecordSet {
            kind: RecordKind::FastestEffort,
            exercise_id: None,
            name: Some(e.name),
            value: e.duration_s,
            previous,
        });
    }
    for l in longest.into_iter().filter(|l| l.workout_id == workout) {
        let previous = longest_before
            .iter()
            .find(|b| b.sport == l.sport)
            .map(|b| b.distance_m);
        out.push(RecordSet {
            kind: RecordKind::LongestDistance,
            exercise_id: None,
            name: Some(l.sport.as_str().to_owned()),
            value: l.distance_m,
            previous,
        });
    }
    out
}

/// The best of one exercise so far: heaviest load, best e1RM, biggest session volume.
#[derive(Default)]
struct StrengthBests {
    weight: Option<f64>,
    e1rm: Option<f64>,
    volume: Option<f64>,
}

/// What one workout did with one exercise.
struct SessionBest {
    weight: f64,
    e1rm: Option<f64>,
    volume: f64,
}

/// The record flags of every workout in the history, in one pass in time
/// order: for each workout exactly what [`records_set_by`] says of it (judged
/// against the workouts before it only), for all at once. Every workout of
/// `sessions` or `sets` has an entry, empty when it set nothing.
///
/// This is what is stored on the workouts: when one changes or goes, its owner's
/// flags are recomputed with this and the ones that differ rewritten.
pub fn flags_by_workout(
    sets: &[LoggedSet],
    sessions: &[SessionSummary],
    formula: OneRepMaxFormula,
) -> BTreeMap<Id, Vec<RecordSet>> {
    let mut order: Vec<(Timestamp, Id)> = sessions
        .iter()
        .map(|s| (s.started_at, s.workout_id))
        .chain(sets.iter().map(|s| (s.performed_at, s.workout_id)))
        .collect();
    order.sort();
    order.dedup();
    let mut sets_of: BTreeMap<Id, Vec<&LoggedSet>> = BTreeMap::new();
    for s in sets {
        sets_of.entry(s.workout_id).or_default().push(s);
    }
    let session_of: BTreeMap<Id, &SessionSummary> =
        sessions.iter().map(|s| (s.workout_id, s)).collect();

    let mut strength: BTreeMap<Id, StrengthBests> = BTreeMap::new();
    let mut efforts: BTreeMap<String, f64> = BTreeMap::new();
    let mut longest: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (_, workout) in order {
        let mut flags = Vec::new();
        let mut here: BTreeMap<Id, SessionBest> = BTreeMap::new();
        for s in sets_of.get(&workout).into_iter().flatten() {
            let (Some(weight), Some(reps)) = (s.weight, s.reps) else {
                continue;
            };
            if !s.done || s.set_type == SetType::WarmUp || reps.get() == 0 {
                continue;
            }
            let w = weight.get();
            let e = estimated_1rm(weight, reps, formula).map(|e| e.get());
            let b = here.entry(s.exercise_id).or_insert(SessionBest {
                weight: w,
                e1rm: None,
                volume: 0.0,
            });
            b.weight = b.weight.max(w);
            b.e1rm = match (b.e1rm, e) {
                (Some(a), Some(e)) => Some(a.max(e)),
                (a, e) => a.or(e),
            };
            b.volume += w * f64::from(reps.get());
        }
        for (exercise, best) in here {
            let before = strength.entry(exercise).or_default();
            let mut flag = |kind, value: f64, previous: Option<f64>| {
                flags.push(RecordSet {
                    kind,
                    exercise_id: Some(exercise),
                    name: None,
                    value,
                    previous,
                })
            };
            if before.weight.is_none_or(|m| best.weight > m) {
                flag(RecordKind::MaxWeight, best.weight, before.weight);
                before.weight = Some(best.weight);
            }
            if let Some(e) = best.e1rm {
                if before.e1rm.is_none_or(|m| e > m) {
                    flag(RecordKind::BestE1rm, e, before.e1rm);
                    before.e1rm = Some(e);
                }
            }
            if before.volume.is_none_or(|m| best.volume > m) {
                flag(RecordKind::MaxSessionVolume, best.volume, before.volume);
                before.volume = Some(best.volume);
            }
        }
        if let Some(session) = session_of.get(&workout) {
            if session.sport.is_running() {
                // The fastest of each distance in this session, shortest distance first.
                let mut fastest: Vec<(f64, &str, f64)> = Vec::new();
                for e in &session.best_efforts {
                    match fastest.iter_mut().find(|f| f.1 == e.name) {
                        Some(f) => f.2 = f.2.min(e.duration_s),
                        None => fastest.push((e.distance_m, &e.name, e.duration_s)),
                    }
                }
                fastest.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (_, name, duration) in fastest {
                    let previous = efforts.get(name).copied();
                    if previous.is_none_or(|p| duration < p) {
                        flags.push(RecordSet {
                            kind: RecordKind::FastestEffort,
                            exercise_id: None,
                            name: Some(name.to_owned()),
                            value: duration,
                            previous,
                        });
                        efforts.insert(name.to_owned(), duration);
                    }
                }
            }
            if let Some(d) = session.distance.map(|d| d.get()).filter(|d| *d > 0.0) {
                let previous = longest.get(session.sport.as_str()).copied();
                if previous.is_none_or(|p| d > p) {
                    flags.push(RecordSet {
                        kind: RecordKind::LongestDistance,
                        exercise_id: None,
                        name: Some(session.sport.as_str().to_owned()),
                        value: d,
                        previous,
                    });
                    longest.insert(session.sport.as_str(), d);
                }
            }
        }
        out.insert(workout, flags);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::units::{Kilograms, Meters, Reps};
    use crate::domain::workout::EffortRecord;

    fn at(day: u32) -> Timestamp {
        format!("2024-05-{day:02}T07:00:00Z").parse().unwrap()
    }

    fn set(workout: i64, day: u32, exercise: i64, w: f64, r: u16, set_type: SetType) -> LoggedSet {
        LoggedSet {
            workout_id: Id::from_i64(workout),
            performed_at: at(day),
            exercise_id: Id::from_i64(exercise),
            set_type,
            weight: Some(Kilograms::new(w).unwrap()),
            reps: Some(Reps::new(r).unwrap()),
            done: true,
        }
    }

    #[test]
    fn strength_records_worked_example() {
        use SetType::*;
        let sets = vec![
            // Day 1: squat 100×5 twice, a 140×1 warm-up-labelled set (not counted).
            set(1, 1, 10, 100.0, 5, Working),
            set(1, 1, 10, 100.0, 5, Working),
            set(1, 1, 10, 140.0, 1, WarmUp),
            // Day 2: 110×3 and 90×10.
            set(2, 2, 10, 110.0, 3, Working),
            set(2, 2, 10, 90.0, 10, Failure),
            // Day 3: 110×3 again (a tie: the record stays on day 2), 100×6.
            set(3, 3, 10, 110.0, 3, Working),
            set(3, 3, 10, 100.0, 6, Working),
        ];
        let records = strength_records(&sets, OneRepMaxFormula::Epley);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        let max = r.max_weight.as_ref().unwrap();
        assert_eq!((max.value, max.workout_id), (110.0, Id::from_i64(2)));
        // Epley: 100×5 → 116.67; 110×3 → 110 × 1.1 = 121; 90×10 → 90 × 1.3333 = 120;
        // 100×6 → 100 × 1.2 = 120. Best: 121 kg from 110×3 on day 2.
        let e = r.best_e1rm.as_ref().unwrap();
        assert!((e.value_kg - 121.0).abs() < 1e-9, "{e:?}");
        assert_eq!(
            (e.weight_kg, e.reps, e.workout_id),
            (110.0, 3, Id::from_i64(2))
        );
        assert_eq!(e.formula, OneRepMaxFormula::Epley);
        // Reps at weight: 90 → 10, 100 → 6 (day 3), 110 → 3 (day 2, the first).
        let reps: Vec<(f64, u16, i64)> = r
            .max_reps_at_weight
            .iter()
            .map(|x| (x.weight_kg, x.reps, x.workout_id.as_i64()))
            .collect();
        assert_eq!(reps, vec![(90.0, 10, 2), (100.0, 6, 3), (110.0, 3, 2)]);
        // Session volume: day 1 = 1000; day 2 = 330 + 900 = 1230; day 3 = 330 + 600 = 930.
        let v = r.max_session_volume.as_ref().unwrap();
        assert_eq!((v.value, v.workout_id), (1230.0, Id::from_i64(2)));
    }

    #[test]
    fn a_workout_keeps_the_flags_of_the_records_it_set() {
        use SetType::*;
        let sets = vec![
            set(1, 1, 10, 100.0, 5, Working),
            set(2, 2, 10, 110.0, 3, Working),
            set(3, 3, 10, 120.0, 1, Working),
        ];
        let flags = |workout: i64, day: u32| {
            records_set_by(
                Id::from_i64(workout),
                at(day),
                &sets,
                &[],
                OneRepMaxFormula::Epley,
            )
            .into_iter()
            .map(|r| (r.kind, r.value, r.previous))
            .collect::<Vec<_>>()
        };
        // Day 1 was first at everything: 100 kg, e1RM 116.67, volume 500.
        let first = flags(1, 1);
        assert_eq!(first.len(), 3);
        assert_eq!(first[0], (RecordKind::MaxWeight, 100.0, None));
        // Day 2: 110 kg beats 100; e1RM 121 beats 116.67; volume 330 does not beat 500.
        let second = flags(2, 2);
        assert_eq!(second.len(), 2, "{second:?}");
        assert_eq!(second[0], (RecordKind::MaxWeight, 110.0, Some(100.0)));
        assert_eq!(second[1].0, RecordKind::BestE1rm);
        assert!((second[1].1 - 121.0).abs() < 1e-9);
        // Day 3 (120×1, e1RM 120 < 121): only the heaviest weight. Day 2 keeps its
        // flags although day 3 later beat its weight.
        assert_eq!(
            flags(3, 3),
            vec![(RecordKind::MaxWeight, 120.0, Some(110.0))]
        );
        assert_eq!(flags(2, 2).len(), 2);
    }

    #[test]
    fn brzycki_records_name_their_formula() {
        let sets = vec![set(1, 1, 10, 100.0, 5, SetType::Working)];
        let r = strength_records(&sets, OneRepMaxFormula::Brzycki);
        // 100 × 36 / 32 = 112.5.
        let e = r[0].best_e1rm.as_ref().unwrap();
        assert_eq!((e.value_kg, e.formula), (112.5, OneRepMaxFormula::Brzycki));
    }

    fn session(
        id: i64,
        day: u32,
        sport: Sport,
        km: f64,
        efforts: &[(&str, f64, f64)],
    ) -> SessionSummary {
        SessionSummary {
            workout_id: Id::from_i64(id),
            sport,
            started_at: at(day),
            ended_at: at(day + 1),
            distance: Some(Meters::new(km * 1000.0).unwrap()),
            moving_time_s: None,
            rpe: None,
            avg_heart_rate: None,
            volume_kg: 0.0,
            best_efforts: efforts
                .iter()
                .map(|(n, d, t)| EffortRecord {
                    name: (*n).to_owned(),
                    distance_m: *d,
                    duration_s: *t,
                    start_m: 0.0,
                })
                .collect(),
        }
    }

    #[test]
    fn endurance_records_take_the_fastest_run_and_the_longest_per_sport() {
        let sessions = vec![
            session(
                1,
                1,
                Sport::Run,
                5.2,
                &[("1k", 1000.0, 250.0), ("5k", 5000.0, 1400.0)],
            ),
            session(
                2,
                2,
                Sport::Run,
                10.1,
                &[
                    ("1k", 1000.0, 245.0),
                    ("5k", 5000.0, 1420.0),
                    ("10k", 10_000.0, 2900.0),
                ],
            ),
            // A ride's "efforts" are not running records.
            session(3, 3, Sport::Ride, 40.0, &[("1k", 1000.0, 80.0)]),
            session(4, 4, Sport::Ride, 35.0, &[]),
        ];
        let (efforts, longest) = endurance_records(&sessions);
        let e: Vec<(&str, f64, i64)> = efforts
            .iter()
            .map(|e| (e.name.as_str(), e.duration_s, e.workout_id.as_i64()))
            .collect();
        assert_eq!(
            e,
            vec![("1k", 245.0, 2), ("5k", 1400.0, 1), ("10k", 2900.0, 2)]
        );
        let l: Vec<(Sport, f64, i64)> = longest
            .iter()
            .map(|l| (l.sport, l.distance_m, l.workout_id.as_i64()))
            .collect();
        assert_eq!(
            l,
            vec![(Sport::Ride, 40_000.0, 3), (Sport::Run, 10_100.0, 2)]
        );
    }

    #[test]
    fn flags_of_all_workouts_match_the_flags_of_each() {
        use SetType::*;
        // A mixed history, including ties, warm-ups, a not-done set, a workout
        // with two efforts of one distance, a ride and a strength-only day.
        let mut sets = vec![
            set(1, 1, 10, 100.0, 5, Working),
            set(1, 1, 11, 60.0, 8, Working),
            set(2, 2, 10, 110.0, 3, Working),
            set(2, 2, 10, 140.0, 1, WarmUp),
            set(3, 3, 10, 110.0, 3, Working),
            set(3, 3, 11, 62.5, 8, Failure),
            set(5, 5, 10, 90.0, 12, Working),
            set(6, 6, 10, 120.0, 2, Working),
        ];
        let mut skipped = set(6, 6, 11, 200.0, 1, Working);
        skipped.done = false;
        sets.push(skipped);
        let sessions = vec![
            session(1, 1, Sport::Strength, 0.0, &[]),
            session(2, 2, Sport::Strength, 0.0, &[]),
            session(3, 3, Sport::Strength, 0.0, &[]),
            session(
                4,
                4,
                Sport::Run,
                5.2,
                &[
                    ("1k", 1000.0, 250.0),
                    ("1k", 1000.0, 240.0),
                    ("5k", 5000.0, 1400.0),
                ],
            ),
            session(5, 5, Sport::Strength, 0.0, &[]),
            session(6, 6, Sport::Strength, 0.0, &[]),
            session(
                7,
                7,
                Sport::Run,
                10.1,
                &[("1k", 1000.0, 240.0), ("5k", 5000.0, 1390.0)],
            ),
            session(8, 8, Sport::Ride, 40.0, &[("1k", 1000.0, 80.0)]),
            session(9, 9, Sport::Run, 3.0, &[]),
        ];
        let all = flags_by_workout(&sets, &sessions, OneRepMaxFormula::Epley);
        assert_eq!(all.len(), 9);
        for s in &sessions {
            let one = records_set_by(
                s.workout_id,
                s.started_at,
                &sets,
                &sessions,
                OneRepMaxFormula::Epley,
            );
            assert_eq!(all[&s.workout_id], one, "workout {}", s.workout_id);
        }
        // Worked values: day 4's 1k is its faster effort (240 s), day 7's equal
        // 1k is no record but its 5k (1390 < 1400) and its 10.1 km are.
        let day4: Vec<(RecordKind, f64)> = all[&Id::from_i64(4)]
            .iter()
            .map(|r| (r.kind, r.value))
            .collect();
        assert_eq!(
            day4,
            vec![
                (RecordKind::FastestEffort, 240.0),
                (RecordKind::FastestEffort, 1400.0),
                (RecordKind::LongestDistance, 5200.0)
            ]
        );
        let day7: Vec<(RecordKind, f64, Option<f64>)> = all[&Id::from_i64(7)]
            .iter()
            .map(|r| (r.kind, r.value, r.previous))
            .collect();
        assert_eq!(
            day7,
            vec![
                (RecordKind::FastestEffort, 1390.0, Some(1400.0)),
                (RecordKind::LongestDistance, 10_100.0, Some(5200.0))
            ]
        );
        assert!(all[&Id::from_i64(9)].is_empty());
    }
}
