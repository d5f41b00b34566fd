//! Windows: the periods a board keeps a ranking for, and the period of an
//! instant. Periods start at midnight in the board's time zone (the first
//! instant of the day when a daylight-saving change skips midnight), weeks are
//! ISO weeks (Monday first, `2026-W53` may end in January), and every period
//! knows the UTC instant it ends, which the stores turn into key expiry.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::BoardError;

/// A kind of period a board keeps a ranking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Window {
    /// From midnight to midnight in the board's time zone.
    Daily,
    /// ISO weeks, Monday to Sunday, in the board's time zone.
    Weekly,
    /// Calendar months in the board's time zone.
    Monthly,
    /// Never resets.
    AllTime,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 4] = [
        Window::Daily,
        Window::Weekly,
        Window::Monthly,
        Window::AllTime,
    ];

    /// The name, as in `?window=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Daily => "daily",
            Window::Weekly => "weekly",
            Window::Monthly => "monthly",
            Window::AllTime => "all_time",
        }
    }

    /// The period of this window that contains `at` in `tz`: its label
    /// (`2026-12-05`, `2026-W49`, `2026-12`, `all`) and the UTC instant it ends
    /// (`None` for all-time).
    pub fn period_at(self, at: DateTime<Utc>, tz: Tz) -> Result<Period, BoardError> {
        let local = at.with_timezone(&tz).date_naive();
        let out_of_range = || BoardError::InstantOutOfRange(at);
        let (label, next_start) = match self {
            Window::AllTime => {
                return Ok(Period {
                    label: "all".to_owned(),
                    ends_at: None,
                })
            }
            Window::Daily => (
                local.format("%Y-%m-%d").to_string(),
                local.succ_opt().ok_or_else(out_of_range)?,
            ),
            Window::Weekly => {
                let week = local.iso_week();
                let monday = local
                    .checked_sub_signed(Duration::days(i64::from(
                        local.weekday().num_days_from_monday(),
                    )))
                    .ok_or_else(out_of_range)?;
                (
                    format!("{}-W{:02}", week.year(), week.week()),
                    monday
                        .checked_add_signed(Duration::days(7))
                        .ok_or_else(out_of_range)?,
                )
            }
            Window::Monthly => {
                let (y, m) = if local.month() == 12 {
                    (local.year() + 1, 1)
                } else {
                    (local.year(), local.month() + 1)
                };
                (
                    local.format("%Y-%m").to_string(),
                    NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(out_of_range)?,
                )
            }
        };
        Ok(Period {
            label,
            ends_at: Some(local_midnight(next_start, tz).ok_or_else(out_of_range)?),
        })
    }
}

/// The first instant of `day` in `tz` (midnight, or the first instant after a
/// daylight-saving gap that swallows midnight).
fn local_midnight(day: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight = day.and_hms_opt(0, 0, 0)?;
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            // A gap: the day starts at the first valid minute after midnight.
            (1..=180).find_map(|minutes| {
                tz.from_local_datetime(&(midnight + Duration::minutes(minutes)))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            })
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Window {
    type Err = BoardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "daily" => Ok(Window::Daily),
            "weekly" => Ok(Window::Weekly),
            "monthly" => Ok(Window::Monthly),
            "all_time" => Ok(Window::AllTime),
            _ => Err(BoardError::BadWindow(s.to_owned())),
        }
    }
}

/// One period of a window: its label in store keys and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Period {
    /// `2026-12-05`, `2026-W49`, `2026-12` or `all`.
    pub label: String,
    /// When the next period starts (`None`: all-time, never).
    pub ends_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::BoardDef;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_have_labels_and_ends_in_the_boards_zone() {
        let t = at("2026-12-05T10:00:00Z");
        let p = Window::Daily.period_at(t, Tz::UTC).unwrap();
        assert_eq!(p.label, "2026-12-05");
        assert_eq!(p.ends_at, Some(at("2026-12-06T00:00:00Z")));
        let p = Window::Weekly.period_at(t, Tz::UTC).unwrap();
        assert_eq!(p.label, "2026-W49");
        assert_eq!(p.ends_at, Some(at("2026-12-07T00:00:00Z")));
        let p = Window::Monthly.period_at(t, Tz::UTC).unwrap();
        assert_eq!(p.label, "2026-12");
        assert_eq!(p.ends_at, Some(at("2027-01-01T00:00:00Z")));
        let p = Window::AllTime.period_at(t, Tz::UTC).unwrap();
        assert_eq!((p.label.as_str(), p.ends_at), ("all", None));

        // 23:30 UTC on the 5th is already the 6th in Auckland (UTC+13 in summer),
        // whose day ends at its own midnight.
        let auckland: Tz = BoardDef::parse_time_zone("Pacific/Auckland").unwrap();
        let late = at("2026-12-05T23:30:00Z");
        let p = Window::Daily.period_at(late, auckland).unwrap();
        assert_eq!(p.label, "2026-12-06");
        assert_eq!(p.ends_at, Some(at("2026-12-06T11:00:00Z")));
        // ISO weeks: 2027-01-01 (a Friday) is in 2026-W53.
        let p = Window::Weekly
            .period_at(at("2027-01-01T12:00:00Z"), Tz::UTC)
            .unwrap();
        assert_eq!(p.label, "2026-W53");
        assert_eq!(p.ends_at, Some(at("2027-01-04T00:00:00Z")));
    }
}
