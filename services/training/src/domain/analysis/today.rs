//! "What to train today": the session the schedule plans for today when there is
//! one, else the major muscle groups least trained in the last days.
//!
//! Muscle load counts hard sets (done, not warm-ups) of the last
//! [`WINDOW_DAYS`] days: a set counts 1 for each primary muscle of its exercise
//! and ½ for each secondary one — the "sets per muscle group" that
//! hypertrophy programming counts. Sets without a load (bodyweight reps, timed
//! holds) count like any other.

use std::collections::BTreeMap;

use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::recommend::{Recommendation, RecommendationKind};
use crate::domain::history::LoggedSet;
use crate::domain::kinds::SetType;

/// The days of recent load considered.
pub const WINDOW_DAYS: i64 = 7;
/// The groups suggested from: the major ones (the catalogue's finer muscles,
/// such as brachialis or soleus, still count towards the load shown).
pub const MAJOR_MUSCLES: &[&str] = &[
    "abs",
    "biceps",
    "calves",
    "chest",
    "glutes",
    "hamstrings",
    "lats",
    "quads",
    "shoulders",
    "triceps",
];
/// How many groups are suggested.
pub const SUGGESTED: usize = 3;

/// Today's session on the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedToday {
    /// The plan.
    pub plan_id: Id,
    /// Its name.
    pub plan_name: String,
    /// The plan day's name.
    pub day_name: String,
    /// The day's exercises, by name, in order.
    pub exercises: Vec<String>,
}

/// An exercise's muscles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Muscles {
    /// Primary movers.
    pub primary: Vec<String>,
    /// Helpers.
    pub secondary: Vec<String>,
}

/// Hard sets per muscle since `since`, from `sets` of exercises with `muscles`;
/// every major group is present (0 when untrained).
pub fn muscle_load(
    sets: &[LoggedSet],
    muscles: &BTreeMap<Id, Muscles>,
    since: Timestamp,
) -> BTreeMap<String, f64> {
    let mut load: BTreeMap<String, f64> = MAJOR_MUSCLES
        .iter()
        .map(|m| ((*m).to_owned(), 0.0))
        .collect();
    for s in sets
        .iter()
        .filter(|s| s.performed_at >= since && s.done && s.set_type != SetType::WarmUp)
    {
        let Some(m) = muscles.get(&s.exercise_id) else {
            continue;
        };
        for p in &m.primary {
            *load.entry(p.clone()).or_default() += 1.0;
        }
        for p in &m.secondary {
            *load.entry(p.clone()).or_default() += 0.5;
        }
    }
    load
}

fn sets(n: f64) -> String {
    if n == 1.0 {
        "1 set".to_owned()
    } else {
        format!("{n} sets")
    }
}

/// What to train today: the scheduled session, else the least loaded major groups.
pub fn train_today(planned: Option<&PlannedToday>, load: &BTreeMap<String, f64>) -> Recommendation {
    if let Some(p) = planned {
        let mut r = Recommendation::new(
            RecommendationKind::TrainToday,
            format!(
                "today is day \"{}\" of your plan \"{}\" on your schedule: {} ({} exercises)",
                p.day_name,
                p.plan_name,
                p.exercises.join(", "),
                p.exercises.len()
            ),
            &[("exercises", p.exercises.len() as f64)],
        );
        r.plan_id = Some(p.plan_id);
        return r;
    }
    let mut major: Vec<(&str, f64)> = MAJOR_MUSCLES
        .iter()
        .map(|m| (*m, load.get(*m).copied().unwrap_or(0.0)))
        .collect();
    // Least loaded first; ties in alphabetical order (MAJOR_MUSCLES is sorted).
    major.sort_by(|a, b| a.1.total_cmp(&b.1));
    let fresh = &major[..SUGGESTED];
    let most = major
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("there are major muscle groups");
    let listed: Vec<String> = fresh
        .iter()
        .map(|(m, n)| format!("{m} ({})", sets(*n)))
        .collect();
    let reason = if most.1 == 0.0 {
        format!(
            "nothing is scheduled today and no sets were logged in the last {WINDOW_DAYS} days: \
             any session is a good start, for example {}",
            listed.join(", ")
        )
    } else {
        format!(
            "nothing is scheduled today; in the last {WINDOW_DAYS} days these groups got the fewest \
             hard sets: {} — against {} for {}; train them today",
            listed.join(", "),
            sets(most.1),
            most.0
        )
    };
    let mut numbers: Vec<(String, f64)> = fresh
        .iter()
        .map(|(m, n)| (format!("sets_{m}"), *n))
        .collect();
    numbers.push((format!("sets_{}", most.0), most.1));
    numbers.push(("window_days".to_owned(), WINDOW_DAYS as f64));
    let numbers: Vec<(&str, f64)> = numbers.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    Recommendation::new(RecommendationKind::TrainToday, reason, &numbers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::units::{Kilograms, Reps};

    fn at(day: u32) -> Timestamp {
        format!("2024-05-{day:02}T07:00:00Z").parse().unwrap()
    }

    fn set(day: u32, exercise: i64, set_type: SetType) -> LoggedSet {
        LoggedSet {
            workout_id: Id::from_i64(i64::from(day)),
            performed_at: at(day),
            exercise_id: Id::from_i64(exercise),
            set_type,
            weight: Some(Kilograms::new(100.0).unwrap()),
            reps: Some(Reps::new(5).unwrap()),
            done: true,
        }
    }

    fn muscles() -> BTreeMap<Id, Muscles> {
        let m = |p: &[&str], s: &[&str]| Muscles {
            primary: p.iter().map(|x| (*x).to_owned()).collect(),
            secondary: s.iter().map(|x| (*x).to_owned()).collect(),
        };
        BTreeMap::from([
            // Squat: quads; glutes and hamstrings help.
            (Id::from_i64(1), m(&["quads"], &["glutes", "hamstrings"])),
            // Bench: chest; triceps and shoulders help.
            (Id::from_i64(2), m(&["chest"], &["triceps", "shoulders"])),
            // Row: lats; biceps help.
            (Id::from_i64(3), m(&["lats"], &["biceps"])),
        ])
    }

    #[test]
    fn the_least_trained_groups_are_suggested_with_their_numbers() {
        // Since 1 May: squat 4 sets (day 2), bench 3 (day 3), row 2 (day 4), plus a
        // warm-up and an older set that do not count.
        let mut sets = vec![set(20, 1, SetType::Working)];
        sets[0].performed_at = "2024-04-20T07:00:00Z".parse().unwrap();
        sets.extend((0..4).map(|_| set(2, 1, SetType::Working)));
        sets.push(set(2, 1, SetType::WarmUp));
        sets.extend((0..3).map(|_| set(3, 2, SetType::Working)));
        sets.extend((0..2).map(|_| set(4, 3, SetType::Working)));
        let load = muscle_load(&sets, &muscles(), at(1));
        // quads 4, glutes 2, hamstrings 2, chest 3, triceps 1.5, shoulders 1.5,
        // lats 2, biceps 1; abs and calves 0.
        assert_eq!(load["quads"], 4.0);
        assert_eq!(load["hamstrings"], 2.0);
        assert_eq!(load["triceps"], 1.5);
        assert_eq!(load["biceps"], 1.0);
        assert_eq!(load["abs"], 0.0);
        let r = train_today(None, &load);
        assert_eq!(r.kind, RecommendationKind::TrainToday);
        assert_eq!(r.numbers["sets_abs"], 0.0);
        assert_eq!(r.numbers["sets_calves"], 0.0);
        assert_eq!(r.numbers["sets_biceps"], 1.0);
        assert_eq!(r.numbers["sets_quads"], 4.0);
        assert!(
            r.reason.contains(
                "abs (0 sets), calves (0 sets), biceps (1 set) — against 4 sets for quads"
            ),
            "{}",
            r.reason
        );
    }

    #[test]
    fn a_scheduled_session_comes_first() {
        let planned = PlannedToday {
            plan_id: Id::from_i64(9),
            plan_name: "5×5".into(),
            day_name: "A".into(),
            exercises: vec!["Squat".into(), "Bench Press".into()],
        };
        let r = train_today(Some(&planned), &BTreeMap::new());
        assert_eq!(r.plan_id, Some(Id::from_i64(9)));
        assert_eq!(r.numbers["exercises"], 2.0);
        assert!(
            r.reason
                .contains("day \"A\" of your plan \"5×5\" on your schedule: Squat, Bench Press"),
            "{}",
            r.reason
        );
        // Nothing logged: any start is good.
        let r = train_today(None, &muscle_load(&[], &muscles(), at(1)));
        assert!(r.reason.contains("no sets were logged"), "{}", r.reason);
    }
}
