//! The rules of the game, without I/O: XP per workout and the level curve
//! ([`xp_for`], [`level_for`]), streaks ([`streak`]), the achievement rules
//! ([`rules`]), the totals they are judged on ([`Totals`]) and challenges
//! ([`challenge`]).
//!
//! Everything is a pure function of what a user did, kept per source (one
//! contribution per workout, counters per social act): an edited or deleted
//! workout changes its contribution and everything here is computed again, so it
//! moves back exactly instead of drifting through increments.

pub mod challenge;
pub mod rules;
pub mod streak;

use chrono::{NaiveDate, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::events::WorkoutWritten;
use vigor_common::Id;

pub use rules::{Achievement, Metric, Rules, RulesError, Tier};
pub use streak::{Streak, StreakSummary};

/// What one workout contributes, kept per workout so that a change replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    /// The workout.
    pub workout_id: Id,
    /// Its owner.
    pub user_id: Id,
    /// Its sport as training names it (`run`, `strength`, …).
    pub sport: String,
    /// When it started.
    pub started_at: Timestamp,
    /// XP it earned ([`xp_for`]).
    pub xp: i64,
    /// Metres covered.
    pub distance_m: i64,
    /// Seconds long.
    pub duration_s: i64,
    /// Volume load in kg.
    pub volume_kg: i64,
    /// Personal records it holds now.
    pub records: i64,
}

/// The distance of the `fastest_5k` board, in metres.
pub const FIVE_K_M: i64 = 5000;

/// A non-negative whole number from an event's float (NaN and negatives are 0).
fn whole(v: f64) -> i64 {
    if v.is_finite() && v > 0.0 {
        v.round().min(1e15) as i64
    } else {
        0
    }
}

impl Contribution {
    /// The contribution of the workout `w` describes.
    pub fn of(w: &WorkoutWritten) -> Contribution {
        Contribution {
            workout_id: w.workout_id,
            user_id: w.user_id,
            sport: w.sport.clone(),
            started_at: w.started_at,
            xp: xp_for(w),
            distance_m: whole(w.distance_m.unwrap_or(0.0)),
            duration_s: whole(w.duration_s),
            volume_kg: whole(w.volume_kg),
            records: w.personal_records.len() as i64,
        }
    }
}

impl Contribution {
    /// The workout's 5 km time in seconds, if it has one: a run of exactly
    /// 5 km (to the metre) and its own time.
    ///
    /// A longer run surely holds a 5 km inside it, but `workout.logged`
    /// carries no splits or per-kilometre pace, only the whole run's distance
    /// and time; scaling its average pace down to 5 km would credit a time
    /// the runner never ran (the fast first half of a negative split is not
    /// known either), so such a run does not count until training's events
    /// carry splits.
    pub fn five_k_s(&self) -> Option<i64> {
        (self.sport == "run" && self.distance_m == FIVE_K_M && self.duration_s > 0)
            .then_some(self.duration_s)
    }
}

/// The longest a workout counts for XP: a forgotten stop button earns no more.
pub const XP_DURATION_CAP_MIN: i64 = 300;

/// XP of one workout:
///
/// ```text
/// xp = 10                              for showing up
///    + minutes (at most 300)           duration
///    + 5 per km                        distance
///    + 1 per 100 kg of volume load     strength volume
///    + 2 per working set               effort: sets done
///    + 1 per 10 m of climb             effort: elevation gain
/// ```
///
/// Every part is whole numbers of its unit, so the same workout always earns the
/// same XP and an edit moves it back exactly. Events carry no perceived effort,
/// so effort is what was done: sets and climb.
pub fn xp_for(w: &WorkoutWritten) -> i64 {
    let minutes = (whole(w.duration_s) / 60).min(XP_DURATION_CAP_MIN);
    let km = whole(w.distance_m.unwrap_or(0.0)) / 1000;
    let volume = whole(w.volume_kg) / 100;
    let sets = i64::from(w.working_sets);
    let climb = whole(w.elevation_gain_m.unwrap_or(0.0)) / 10;
    10 + minutes + 5 * km + volume + 2 * sets + climb
}

/// XP needed to reach `level` (levels start at 1, with 0 XP):
/// `50 · level · (level − 1)`, so level 2 needs 100 XP, level 3 300, level 4
/// 600: each level asks 100 XP more than the one before.
pub fn xp_for_level(level: u32) -> i64 {
    let l = i64::from(level);
    50 * l * (l - 1)
}

/// The level of `xp` XP: the largest `L` with `50·L·(L−1) ≤ xp`, in closed form
/// `L = ⌊(1 + √(1 + xp/12.5)) / 2⌋` (corrected by one step against rounding).
pub fn level_for(xp: i64) -> u32 {
    if xp <= 0 {
        return 1;
    }
    let estimate = ((1.0 + (1.0 + xp as f64 / 12.5).sqrt()) / 2.0).floor() as u32;
    let mut level = estimate.max(1);
    while level > 1 && xp_for_level(level) > xp {
        level -= 1;
    }
    while xp_for_level(level + 1) <= xp {
        level += 1;
    }
    level
}

/// The counters social's events keep for a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialCounts {
    /// Kudos others gave the user.
    pub kudos_received: i64,
    /// Kudos the user gave.
    pub kudos_given: i64,
    /// Comments the user wrote.
    pub comments_written: i64,
    /// Communities the user joined.
    pub communities_joined: i64,
}

/// A user's settings that shape streaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerSettings {
    /// The zone whose calendar days streaks count.
    pub time_zone: Tz,
    /// Days without activity a daily streak survives.
    pub rest_days: u32,
}

/// Hours before which a workout counts as early (local time).
pub const EARLY_BEFORE_HOUR: u32 = 7;
/// Hour from which a workout counts as late (local time).
pub const LATE_FROM_HOUR: u32 = 21;

/// Everything achievements are judged on, computed from a user's contributions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Total XP.
    pub xp: i64,
    /// Workouts.
    pub workouts: i64,
    /// Metres in all sports.
    pub distance_m: i64,
    /// Metres running.
    pub run_distance_m: i64,
    /// Seconds of training.
    pub duration_s: i64,
    /// Volume load in kg.
    pub volume_kg: i64,
    /// Personal records held.
    pub personal_records: i64,
    /// Workouts started before 07:00 local time.
    pub early_workouts: i64,
    /// Workouts started at 21:00 local time or later.
    pub late_workouts: i64,
    /// Streaks.
    pub streak: StreakSummary,
    /// Social counters.
    pub social: SocialCounts,
}

impl Totals {
    /// The totals of `contributions`, with `social` counters, in `settings`'
    /// calendar as of `today`.
    pub fn of(
        contributions: &[Contribution],
        social: SocialCounts,
        settings: PlayerSettings,
        today: NaiveDate,
    ) -> Totals {
        let mut t = Totals {
            social,
            ..Totals::default()
        };
        let mut days = Vec::with_capacity(contributions.len());
        for c in contributions {
            t.xp += c.xp;
            t.workouts += 1;
            t.distance_m += c.distance_m;
            if c.sport == "run" {
                t.run_distance_m += c.distance_m;
            }
            t.duration_s += c.duration_s;
            t.volume_kg += c.volume_kg;
            t.personal_records += c.records;
            let local = c.started_at.with_timezone(&settings.time_zone);
            if local.hour() < EARLY_BEFORE_HOUR {
                t.early_workouts += 1;
            }
            if local.hour() >= LATE_FROM_HOUR {
                t.late_workouts += 1;
            }
            days.push(local.date_naive());
        }
        t.streak = StreakSummary::of(days, settings.rest_days, today);
        t
    }

    /// The value of `metric`.
    pub fn get(&self, metric: Metric) -> i64 {
        match metric {
            Metric::Xp => self.xp,
            Metric::Workouts => self.workouts,
            Metric::DistanceM => self.distance_m,
            Metric::RunDistanceM => self.run_distance_m,
            Metric::DurationS => self.duration_s,
            Metric::VolumeKg => self.volume_kg,
            Metric::PersonalRecords => self.personal_records,
            Metric::EarlyWorkouts => self.early_workouts,
            Metric::LateWorkouts => self.late_workouts,
            Metric::StreakDays => i64::from(self.streak.daily.longest),
            Metric::StreakWeeks => i64::from(self.streak.weekly.longest),
            Metric::KudosReceived => self.social.kudos_received,
            Metric::KudosGiven => self.social.kudos_given,
            Metric::CommentsWritten => self.social.comments_written,
            Metric::CommunitiesJoined => self.social.communities_joined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workout(
        duration_s: f64,
        distance_m: Option<f64>,
        volume_kg: f64,
        sets: u32,
    ) -> WorkoutWritten {
        WorkoutWritten {
            workout_id: Id::from_i64(1),
            user_id: Id::from_i64(2),
            sport: "run".into(),
            privacy: "public".into(),
            started_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            ended_at: "2026-12-01T11:00:00Z".parse().unwrap(),
            duration_s,
            moving_time_s: None,
            distance_m,
            elevation_gain_m: Some(95.0),
            volume_kg,
            working_sets: sets,
            source: "manual".into(),
            version: 1,
            personal_records: vec![],
            records_moved: vec![],
        }
    }

    #[test]
    fn xp_adds_duration_distance_volume_and_effort() {
        // 10 + 30 min + 5×5 km + no volume or sets + 9 (95 m of climb, in whole 10 m).
        assert_eq!(
            xp_for(&workout(1800.0, Some(5000.0), 0.0, 0)),
            10 + 30 + 25 + 9
        );
        // Strength: 45 min, 4 200 kg, 15 sets.
        let mut w = workout(2700.0, None, 4200.0, 15);
        w.elevation_gain_m = None;
        assert_eq!(xp_for(&w), 10 + 45 + 42 + 30);
        // A 10-hour forgotten timer counts 300 minutes; garbage counts nothing.
        let mut long = workout(36_000.0, None, f64::NAN, 0);
        long.elevation_gain_m = Some(-5.0);
        assert_eq!(xp_for(&long), 10 + 300);
    }

    #[test]
    fn the_level_curve_is_its_closed_form() {
        assert_eq!(level_for(-5), 1);
        assert_eq!(level_for(0), 1);
        assert_eq!(level_for(99), 1);
        assert_eq!(level_for(100), 2);
        assert_eq!(level_for(299), 2);
        assert_eq!(level_for(300), 3);
        assert_eq!(level_for(600), 4);
        for level in 1..2000u32 {
            let at = xp_for_level(level);
            assert_eq!(level_for(at), level, "at {at}");
            assert_eq!(
                level_for(at - 1),
                level.saturating_sub(1).max(1),
                "below {at}"
            );
        }
    }
}
