//! Streaks: runs of days and of weeks with activity, in the user's calendar.
//!
//! A *daily* streak is a run of active days where the gaps between them are at
//! most `rest_days` days without activity (with one rest day allowed, Monday,
//! Wednesday, Friday is one streak of three; Monday then Thursday is two). Its
//! length counts the active days. A *weekly* streak is a run of consecutive ISO
//! weeks (Monday first) with at least one active day each; no rest weeks.
//!
//! The *current* streak is the last run while it can still go on: its last
//! active day is today or the rest allowance since has not run out (the current
//! or the last week, for weeks). The *longest* is the longest run ever; it is
//! what streak achievements judge, so a streak earned stays earned.

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

/// The current and longest run of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Streak {
    /// The run still alive (0: none).
    pub current: u32,
    /// The longest run ever.
    pub longest: u32,
}

/// Daily and weekly streaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StreakSummary {
    /// Days with activity, allowing the rest days.
    pub daily: Streak,
    /// Weeks with activity.
    pub weekly: Streak,
    /// Rest days a daily streak survives.
    pub rest_days: u32,
}

/// Runs in sorted, distinct `points`, where a step of at most `max_step` days
/// continues a run; the run alive on `today` (within `max_step` of the last)
/// and the longest.
fn runs(points: &[NaiveDate], max_step: i64, today: NaiveDate) -> Streak {
    let mut longest = 0u32;
    let mut run = 0u32;
    let mut last: Option<NaiveDate> = None;
    for &p in points {
        run = match last {
            Some(prev) if (p - prev).num_days() <= max_step => run + 1,
            _ => 1,
        };
        longest = longest.max(run);
        last = Some(p);
    }
    let current = match last {
        Some(l) if (today - l).num_days() <= max_step => run,
        _ => 0,
    };
    Streak { current, longest }
}

impl StreakSummary {
    /// The streaks of activity on `days` (any order, repeats allowed) with
    /// `rest_days` allowed between active days, as of `today`.
    pub fn of(mut days: Vec<NaiveDate>, rest_days: u32, today: NaiveDate) -> StreakSummary {
        days.sort_unstable();
        days.dedup();
        let daily = runs(&days, i64::from(rest_days) + 1, today);
        let monday =
            |d: NaiveDate| d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
        let mut weeks: Vec<NaiveDate> = days.iter().map(|&d| monday(d)).collect();
        weeks.dedup();
        let weekly = runs(&weeks, 7, monday(today));
        StreakSummary {
            daily,
            weekly,
            rest_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn rest_days_keep_a_daily_streak_alive() {
        // Mon, Wed, Fri, then Tue of the next week (a gap of three days).
        let days = vec![
            d("2026-11-30"),
            d("2026-12-02"),
            d("2026-12-04"),
            d("2026-12-08"),
        ];
        let none = StreakSummary::of(days.clone(), 0, d("2026-12-08"));
        assert_eq!(
            none.daily,
            Streak {
                current: 1,
                longest: 1
            }
        );
        let one = StreakSummary::of(days.clone(), 1, d("2026-12-08"));
        assert_eq!(
            one.daily,
            Streak {
                current: 1,
                longest: 3
            }
        );
        let three = StreakSummary::of(days.clone(), 3, d("2026-12-09"));
        assert_eq!(
            three.daily,
            Streak {
                current: 4,
                longest: 4
            }
        );
        // Alive while the allowance lasts (three rest days after the 8th), then over.
        let alive = StreakSummary::of(days.clone(), 3, d("2026-12-12"));
        assert_eq!(alive.daily.current, 4);
        let later = StreakSummary::of(days, 3, d("2026-12-13"));
        assert_eq!(
            later.daily,
            Streak {
                current: 0,
                longest: 4
            }
        );
    }

    #[test]
    fn weeks_in_a_row_count_once_each() {
        let days = vec![
            d("2026-11-16"),
            d("2026-11-22"), // same ISO week as the 16th
            d("2026-11-23"),
            d("2026-12-01"),
            d("2026-12-15"), // a week skipped
        ];
        let s = StreakSummary::of(days.clone(), 1, d("2026-12-20"));
        assert_eq!(
            s.weekly,
            Streak {
                current: 1,
                longest: 3
            }
        );
        let s = StreakSummary::of(days, 1, d("2026-12-22"));
        assert_eq!(
            s.weekly,
            Streak {
                current: 1,
                longest: 3
            }
        );
        assert_eq!(
            StreakSummary::of(vec![], 1, d("2026-12-22")),
            StreakSummary {
                rest_days: 1,
                ..Default::default()
            }
        );
    }
}
