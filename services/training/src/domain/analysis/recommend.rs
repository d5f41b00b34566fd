//! Recommendations: what the analysis advises today, each with its reason in
//! words and the numbers behind it.
//!
//! - **Deload** when the acute:chronic workload ratio stayed above 1.5 on each of
//!   the last three days, or when an exercise's best estimated 1RM dropped in two
//!   sessions in a row.
//! - **Load jump** when the last 7 days' load is more than 30 % above the 7 days
//!   before.
//! - **What to train today**: the scheduled session, else the least trained
//!   major muscle groups ([`super::today`]).
//! - **Next targets** for the exercises of the current plan, from their
//!   progression rule and the last sessions ([`super::progression`]).

use std::collections::BTreeMap;

use serde::Serialize;
use vigor_common::Id;

use super::progression::{next_target, LastSession, Target};
use super::stats::AcwrPoint;
use super::strength::{estimated_1rm, OneRepMaxFormula};
use crate::domain::history::LoggedSet;
use crate::domain::kinds::SetType;
use crate::domain::plan::{Plan, Progression};

/// The ACWR above which the injury risk rises sharply (Gabbett 2016).
pub const ACWR_DANGER: f64 = 1.5;
/// Days in a row above [`ACWR_DANGER`] before a deload is advised.
pub const ACWR_DAYS: usize = 3;
/// A week-over-week load increase above this fraction is a warning.
pub const LOAD_JUMP: f64 = 0.30;

/// What kind of advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationKind {
    /// Take an easier week.
    Deload,
    /// The weekly load rose too fast.
    LoadJump,
    /// An exercise's next targets.
    NextTarget,
    /// What to train today: the scheduled session, or the least trained muscle
    /// groups (see [`super::today`]).
    TrainToday,
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Recommendation {
    /// What kind.
    pub kind: RecommendationKind,
    /// Why, in words with the numbers.
    pub reason: String,
    /// The numbers behind it, by name.
    pub numbers: BTreeMap<String, f64>,
    /// The exercise it is about, if any.
    pub exercise_id: Option<Id>,
    /// The plan it comes from, if any.
    pub plan_id: Option<Id>,
    /// The next target, for `next_target`.
    pub target: Option<Target>,
}

impl Recommendation {
    /// A recommendation of `kind`, about nothing in particular yet.
    pub(crate) fn new(kind: RecommendationKind, reason: String, numbers: &[(&str, f64)]) -> Self {
        Recommendation {
            kind,
            reason,
            numbers: numbers.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            exercise_id: None,
            plan_id: None,
            target: None,
        }
    }
}

/// What the recommendations are made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// Daily ACWR, oldest first, ending today.
    pub acwr: &'a [AcwrPoint],
    /// Daily loads of the last 14 days, oldest first, ending today.
    pub daily_load: &'a [f64],
    /// Every logged set with a load, oldest first.
    pub sets: &'a [LoggedSet],
    /// The plan being followed, if any.
    pub plan: Option<&'a Plan>,
    /// What to train today, if known (see [`super::today::train_today`]).
    pub today: Option<Recommendation>,
}

/// The recommendations for today.
pub fn recommend(inputs: &Inputs<'_>) -> Vec<Recommendation> {
    let mut out = Vec::new();
    out.extend(acwr_deload(inputs.acwr));
    out.extend(load_jump(inputs.daily_load));
    out.extend(performance_drops(inputs.sets));
    out.extend(inputs.today.clone());
    if let Some(plan) = inputs.plan {
        out.extend(next_targets(plan, inputs.sets));
    }
    out
}

fn acwr_deload(acwr: &[AcwrPoint]) -> Option<Recommendation> {
    let last = acwr.get(acwr.len().checked_sub(ACWR_DAYS)?..)?;
    let ratios: Option<Vec<f64>> = last.iter().map(|p| p.ratio).collect();
    let ratios = ratios?;
    if !ratios.iter().all(|r| *r > ACWR_DANGER) {
        return None;
    }
    let today = last.last()?;
    let ratio = *ratios.last()?;
    Some(Recommendation::new(
        RecommendationKind::Deload,
        format!(
            "your acute:chronic workload ratio has been above {ACWR_DANGER} for {ACWR_DAYS} days \
             (today {ratio:.2}: {:.0} AU a day this week against {:.0} over four weeks); \
             take a lighter week to let fitness catch up with load",
            today.acute, today.chronic
        ),
        &[
            ("acwr", ratio),
            ("acute", today.acute),
            ("chronic", today.chronic),
        ],
    ))
}

fn load_jump(daily: &[f64]) -> Option<Recommendation> {
    if daily.len() < 14 {
        return None;
    }
    let n = daily.len();
    let this_week: f64 = daily[n - 7..].iter().sum();
    let last_week: f64 = daily[n - 14..n - 7].iter().sum();
    if last_week <= 0.0 || this_week <= last_week * (1.0 + LOAD_JUMP) {
        return None;
    }
    let rise = this_week / last_week - 1.0;
    Some(Recommendation::new(
        RecommendationKind::LoadJump,
        format!(
            "your load of the last 7 days ({this_week:.0} AU) is {:.0} % above the 7 days before \
             ({last_week:.0} AU); rises above {:.0} % a week raise the risk of injury",
            rise * 100.0,
            LOAD_JUMP * 100.0
        ),
        &[
            ("this_week", this_week),
            ("last_week", last_week),
            ("increase", rise),
        ],
    ))
}

/// Best Epley e1RM per (exercise, workout), in workout order.
fn session_bests(sets: &[LoggedSet]) -> BTreeMap<Id, Vec<(Id, f64)>> {
    let mut out: BTreeMap<Id, Vec<(Id, f64)>> = BTreeMap::new();
    for s in sets
        .iter()
        .filter(|s| s.done && s.set_type != SetType::WarmUp)
    {
        let (Some(w), Some(r)) = (s.weight, s.reps) else {
            continue;
        };
        let Some(e) = estimated_1rm(w, r, OneRepMaxFormula::Epley) else {
            continue;
        };
        let list = out.entry(s.exercise_id).or_default();
        match list.last_mut() {
            Some((workout, best)) if *workout == s.workout_id => *best = best.max(e.get()),
            _ => list.push((s.workout_id, e.get())),
        }
    }
    out
}

fn performance_drops(sets: &[LoggedSet]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for (exercise, bests) in session_bests(sets) {
        let [.., a, b, c] = bests.as_slice() else {
            continue;
        };
        if b.1 < a.1 && c.1 < b.1 {
            let mut r = Recommendation::new(
                RecommendationKind::Deload,
                format!(
                    "your best estimated 1RM (Epley) fell two sessions in a row: {:.1} → {:.1} → {:.1} kg; \
                     a lighter week usually brings it back",
                    a.1, b.1, c.1
                ),
                &[("e1rm_1", a.1), ("e1rm_2", b.1), ("e1rm_3", c.1)],
            );
            r.exercise_id = Some(exercise);
            out.push(r);
        }
    }
    out
}

/// The working sets of each session of `exercise`, oldest first: (load of the
/// heaviest set, reps of the sets at that load, top RPE).
fn sessions_of(sets: &[LoggedSet], exercise: Id) -> Vec<LastSession> {
    let mut out: Vec<(Id, Vec<&LoggedSet>)> = Vec::new();
    for s in sets
        .iter()
        .filter(|s| s.exercise_id == exercise && s.done && s.set_type == SetType::Working)
    {
        match out.last_mut() {
            Some((w, list)) if *w == s.workout_id => list.push(s),
            _ => out.push((s.workout_id, vec![s])),
        }
    }
    out.into_iter()
        .filter_map(|(_, list)| {
            let top = list
                .iter()
                .filter_map(|s| s.weight)
                .fold(None, |m: Option<f64>, w| {
                    Some(m.map_or(w.get(), |m| m.max(w.get())))
                })?;
            let at_top: Vec<&&LoggedSet> = list
                .iter()
                .filter(|s| s.weight.is_some_and(|w| w.get() == top))
                .collect();
            Some(LastSession {
                weight: at_top.first()?.weight?,
                reps: at_top
                    .iter()
                    .filter_map(|s| s.reps.map(|r| r.get()))
                    .collect(),
                top_rpe: None,
            })
        })
        .collect()
}

fn next_targets(plan: &Plan, sets: &[LoggedSet]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for e in plan.content.days.iter().flat_map(|d| &d.exercises) {
        if e.progression == Progression::None || seen.contains(&e.exercise_id) {
            continue;
        }
        seen.push(e.exercise_id);
        let Some(p) = e
            .prescriptions
            .iter()
            .find(|p| p.set_type == SetType::Working)
        else {
            continue;
        };
        let history = sessions_of(sets, e.exercise_id);
        let Some(last) = history.last() else { continue };
        let sets_needed = p.sets.get();
        let missed = |s: &LastSession| {
            s.reps.len() < usize::from(sets_needed) || s.reps.iter().any(|&r| r < p.reps.min)
        };
        let misses_before = match history.len().checked_sub(2).and_then(|i| history.get(i)) {
            Some(previous) if missed(previous) => 1,
            _ => 0,
        };
        let target = next_target(&e.progression, p.reps, sets_needed, last, misses_before);
        let mut r = Recommendation::new(
            RecommendationKind::NextTarget,
            target.reason.clone(),
            &[
                ("last_weight_kg", last.weight.get()),
                ("next_weight_kg", target.weight_kg),
            ],
        );
        r.exercise_id = Some(e.exercise_id);
        r.plan_id = Some(plan.id);
        r.target = Some(target);
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::analysis::progression::Action;
    use crate::domain::units::{Kilograms, Reps};

    fn point(ratio: Option<f64>) -> AcwrPoint {
        AcwrPoint {
            date: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            acute: 600.0,
            chronic: 375.0,
            ratio,
        }
    }

    fn set(workout: i64, exercise: i64, w: f64, r: u16) -> LoggedSet {
        LoggedSet {
            workout_id: Id::from_i64(workout),
            performed_at: chrono::DateTime::from_timestamp(1_700_000_000 + workout * 86_400, 0)
                .unwrap(),
            exercise_id: Id::from_i64(exercise),
            set_type: SetType::Working,
            weight: Some(Kilograms::new(w).unwrap()),
            reps: Some(Reps::new(r).unwrap()),
            done: true,
        }
    }

    fn inputs<'a>(acwr: &'a [AcwrPoint], daily: &'a [f64], sets: &'a [LoggedSet]) -> Inputs<'a> {
        Inputs {
            acwr,
            daily_load: daily,
            sets,
            plan: None,
            today: None,
        }
    }

    #[test]
    fn three_days_above_one_and_a_half_advise_a_deload() {
        let high = [
            point(Some(1.4)),
            point(Some(1.6)),
            point(Some(1.55)),
            point(Some(1.6)),
        ];
        let r = recommend(&inputs(&high, &[], &[]));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].kind, RecommendationKind::Deload);
        assert_eq!(r[0].numbers["acwr"], 1.6);
        assert!(r[0].reason.contains("today 1.60"), "{}", r[0].reason);
        // Two days are not enough; nor is a day without a ratio.
        let short = [point(Some(1.4)), point(Some(1.6)), point(Some(1.6))];
        assert!(recommend(&inputs(&short, &[], &[])).is_empty());
        let gap = [point(None), point(Some(1.6)), point(Some(1.6))];
        assert!(recommend(&inputs(&gap, &[], &[])).is_empty());
    }

    #[test]
    fn a_week_over_week_jump_is_a_warning() {
        // Last week 7 × 100 = 700 AU; this week 7 × 140 = 980 AU: +40 % > 30 %.
        let mut daily = vec![100.0; 7];
        daily.extend([140.0; 7]);
        let r = recommend(&inputs(&[], &daily, &[]));
        assert_eq!(r[0].kind, RecommendationKind::LoadJump);
        assert_eq!(
            (r[0].numbers["this_week"], r[0].numbers["last_week"]),
            (980.0, 700.0)
        );
        assert!((r[0].numbers["increase"] - 0.4).abs() < 1e-12);
        // +30 % exactly is not above the line.
        let mut daily = vec![100.0; 7];
        daily.extend([130.0; 7]);
        assert!(recommend(&inputs(&[], &daily, &[])).is_empty());
    }

    #[test]
    fn two_drops_in_a_row_advise_a_deload() {
        // Epley bests: 100×5 = 116.67, 100×4 = 113.33, 100×3 = 110: down twice.
        let sets = [
            set(1, 9, 100.0, 5),
            set(2, 9, 100.0, 4),
            set(3, 9, 100.0, 3),
        ];
        let r = recommend(&inputs(&[], &[], &sets));
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].kind, r[0].exercise_id),
            (RecommendationKind::Deload, Some(Id::from_i64(9)))
        );
        assert!(
            r[0].reason.contains("116.7 → 113.3 → 110.0"),
            "{}",
            r[0].reason
        );
        // Down then up is not a trend.
        let sets = [
            set(1, 9, 100.0, 5),
            set(2, 9, 100.0, 4),
            set(3, 9, 100.0, 5),
        ];
        assert!(recommend(&inputs(&[], &[], &sets)).is_empty());
    }

    #[test]
    fn plan_exercises_get_their_next_targets() {
        let plan: crate::domain::plan::PlanContent = serde_json::from_value(serde_json::json!({
            "name": "5×5",
            "days": [{"name": "A", "exercises": [
                {"exercise_id": "9", "prescriptions": [{"sets": 3, "reps": {"min": 5}}],
                 "progression": {"type": "linear", "increment_kg": 2.5}},
                {"exercise_id": "10", "prescriptions": [{"sets": 3, "reps": {"min": 5}}]}
            ]}]
        }))
        .unwrap();
        let plan = Plan {
            id: Id::from_i64(77),
            owner_id: Id::from_i64(1),
            assigned_by: None,
            content: plan,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        // Session 1 missed (5/5/4 at 100), session 2 missed again (5/4/4): reset
        // 100 × 0.9 = 90 kg. Exercise 10 has no progression: no target.
        let sets = [
            set(1, 9, 100.0, 5),
            set(1, 9, 100.0, 5),
            set(1, 9, 100.0, 4),
            set(2, 9, 100.0, 5),
            set(2, 9, 100.0, 4),
            set(2, 9, 100.0, 4),
            set(2, 10, 50.0, 5),
        ];
        let r = recommend(&Inputs {
            acwr: &[],
            daily_load: &[],
            sets: &sets,
            plan: Some(&plan),
            today: None,
        });
        let targets: Vec<&Recommendation> = r
            .iter()
            .filter(|r| r.kind == RecommendationKind::NextTarget)
            .collect();
        assert_eq!(targets.len(), 1);
        let t = targets[0].target.as_ref().unwrap();
        assert_eq!((t.weight_kg, t.action), (90.0, Action::Reduce));
        assert_eq!(targets[0].plan_id, Some(Id::from_i64(77)));
        assert_eq!(targets[0].numbers["last_weight_kg"], 100.0);
    }
}
