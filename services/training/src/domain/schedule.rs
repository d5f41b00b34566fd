//! The schedule: a plan put on the calendar with a weekly pattern from a start
//! date, in the user's time zone.
//!
//! The plan's days are done in order on the pattern's weekdays, cycling: a
//! three-day plan on Monday, Wednesday and Friday does day A on Monday, B on
//! Wednesday, C on Friday, A again the next Monday. Dates are the user's local
//! calendar days; a workout counts for the local day on which it started.

use chrono::{Datelike, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::draft::DraftProblem;

/// A plan on the calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Its id.
    pub id: Id,
    /// The user.
    pub owner_id: Id,
    /// The plan.
    pub plan_id: Id,
    /// The first day it may fall on.
    pub start_date: NaiveDate,
    /// The weekdays of the pattern, Monday first, no repeats.
    pub weekdays: Vec<Weekday>,
    /// The user's time zone.
    pub time_zone: Tz,
    /// Created.
    pub created_at: Timestamp,
}

/// A schedule as the client sends it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleDraft {
    /// The first day (`YYYY-MM-DD`).
    #[schema(value_type = String, format = Date)]
    pub start_date: NaiveDate,
    /// Weekdays: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub weekdays: Vec<String>,
    /// An IANA time zone (`Europe/Berlin`).
    pub time_zone: String,
}

/// The short name of a weekday.
pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// A weekday from its short name.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|d| weekday_name(*d) == s)
}

/// The parts of a valid schedule.
pub type ParsedSchedule = (NaiveDate, Vec<Weekday>, Tz);

impl ScheduleDraft {
    /// Checks the draft; every problem at once.
    pub fn parse(&self) -> Result<ParsedSchedule, Vec<DraftProblem>> {
        let mut problems = Vec::new();
        let mut weekdays = Vec::new();
        for (i, w) in self.weekdays.iter().enumerate() {
            match parse_weekday(w) {
                Some(d) if !weekdays.contains(&d) => weekdays.push(d),
                Some(_) => problems.push(DraftProblem {
                    field: format!("weekdays.{i}"),
                    message: "is repeated".into(),
                }),
                None => problems.push(DraftProblem {
                    field: format!("weekdays.{i}"),
                    message: "one of mon, tue, wed, thu, fri, sat, sun".into(),
                }),
            }
        }
        if self.weekdays.is_empty() {
            problems.push(DraftProblem {
                field: "weekdays".into(),
                message: "name at least one weekday".into(),
            });
        }
        weekdays.sort_by_key(|d| d.num_days_from_monday());
        let time_zone = match self.time_zone.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(DraftProblem {
                    field: "time_zone".into(),
                    message: "is not an IANA time zone such as Europe/Berlin".into(),
                });
                None
            }
        };
        match time_zone {
            Some(tz) if problems.is_empty() => Ok((self.start_date, weekdays, tz)),
            _ => Err(problems),
        }
    }
}

/// One planned session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedDay {
    /// The local date.
    pub date: NaiveDate,
    /// Index of the plan day (0 = the first).
    pub day_index: usize,
}

/// The sessions `schedule` plans from `from` to `to` (inclusive) for a plan of
/// `plan_days` days.
pub fn planned_days(
    schedule: &Schedule,
    plan_days: usize,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<PlannedDay> {
    if plan_days == 0 || schedule.weekdays.is_empty() {
        return Vec::new();
    }
    let start = schedule.start_date;
    let first = from.max(start);
    if first > to {
        return Vec::new();
    }
    // Sessions before `first`: whole weeks since the start times the pattern
    // length, plus the pattern days in the partial week.
    let per_week = schedule.weekdays.len();
    let days_before = (first - start).num_days();
    let weeks = (days_before / 7) as usize;
    let mut index = weeks * per_week;
    let mut d = start + chrono::Days::new((weeks * 7) as u64);
    while d < first {
        if schedule.weekdays.contains(&d.weekday()) {
            index += 1;
        }
        d = d.succ_opt().unwrap_or(d);
    }
    let mut out = Vec::new();
    let mut d = first;
    while d <= to {
        if schedule.weekdays.contains(&d.weekday()) {
            out.push(PlannedDay {
                date: d,
                day_index: index % plan_days,
            });
            index += 1;
        }
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn schedule(start: &str, days: &[&str]) -> Schedule {
        Schedule {
            id: Id::from_i64(1),
            owner_id: Id::from_i64(2),
            plan_id: Id::from_i64(3),
            start_date: date(start),
            weekdays: days.iter().map(|d| parse_weekday(d).unwrap()).collect(),
            time_zone: chrono_tz::Europe::Berlin,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn plan_days_cycle_over_the_pattern() {
        // Start Monday 6 May 2024, Mon/Wed/Fri, a two-day plan (A, B):
        // 6 A, 8 B, 10 A, 13 B, 15 A, 17 B.
        let s = schedule("2024-05-06", &["mon", "wed", "fri"]);
        let got: Vec<(String, usize)> = planned_days(&s, 2, date("2024-05-01"), date("2024-05-17"))
            .into_iter()
            .map(|p| (p.date.to_string(), p.day_index))
            .collect();
        let want = [
            ("2024-05-06", 0),
            ("2024-05-08", 1),
            ("2024-05-10", 0),
            ("2024-05-13", 1),
            ("2024-05-15", 0),
            ("2024-05-17", 1),
        ];
        assert_eq!(got, want.map(|(d, i)| (d.to_owned(), i)).to_vec());
        // A window in the middle continues the same cycle: 13 B, 15 A.
        let mid: Vec<usize> = planned_days(&s, 2, date("2024-05-13"), date("2024-05-15"))
            .into_iter()
            .map(|p| p.day_index)
            .collect();
        assert_eq!(mid, vec![1, 0]);
        // Far ahead: 52 weeks × 3 sessions = 156 sessions before 5 May 2025 (a
        // Monday), and 156 is even: day A.
        let far = planned_days(&s, 2, date("2025-05-05"), date("2025-05-05"));
        assert_eq!(
            far,
            vec![PlannedDay {
                date: date("2025-05-05"),
                day_index: 0
            }]
        );
    }

    #[test]
    fn drafts_are_checked() {
        let ok = ScheduleDraft {
            start_date: date("2024-05-06"),
            weekdays: vec!["fri".into(), "mon".into()],
            time_zone: "Europe/Berlin".into(),
        };
        let (_, days, tz) = ok.parse().unwrap();
        assert_eq!(days, vec![Weekday::Mon, Weekday::Fri]);
        assert_eq!(tz, chrono_tz::Europe::Berlin);
        let bad = ScheduleDraft {
            start_date: date("2024-05-06"),
            weekdays: vec!["mon".into(), "mon".into(), "funday".into()],
            time_zone: "Mars/Olympus".into(),
        };
        let fields: Vec<String> = bad
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, vec!["weekdays.1", "weekdays.2", "time_zone"]);
    }
}
