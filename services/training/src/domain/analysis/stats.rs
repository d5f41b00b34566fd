//! Training statistics as time series for charts: sessions, time, distance per
//! sport, volume and load per day, week or month, and the daily acute:chronic
//! workload ratio.
//!
//! Days are UTC calendar days and weeks start on Monday (ISO 8601); every bucket
//! of the range is present, with zeros when nothing was logged, so a chart needs
//! no gap filling.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::load::{acwr, session_rpe_load, trimp_from_average, HeartRateProfile, TrimpWeighting};
use crate::domain::history::SessionSummary;
use crate::domain::units::Bpm;

/// The width of one point of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// A calendar day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Bucket {
    /// The first day of the bucket holding `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Bucket::Day => day,
            Bucket::Week => {
                day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
            }
            Bucket::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Bucket::Day => start + chrono::Days::new(1),
            Bucket::Week => start + chrono::Days::new(7),
            Bucket::Month => start
                .checked_add_months(Months::new(1))
                .unwrap_or(NaiveDate::MAX),
        }
    }
}

/// One point of the series.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatsPoint {
    /// First day of the bucket (`YYYY-MM-DD`).
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    /// Sessions started in it.
    pub sessions: u32,
    /// Total time in seconds.
    pub duration_s: f64,
    /// Total distance in metres.
    pub distance_m: f64,
    /// Distance per sport, metres.
    pub distance_m_by_sport: BTreeMap<String, f64>,
    /// Time per sport, seconds.
    pub duration_s_by_sport: BTreeMap<String, f64>,
    /// Volume load in kg.
    pub volume_kg: f64,
    /// Training load in arbitrary units (see [`session_load`]).
    pub load: f64,
}

/// One day of the acute:chronic workload ratio.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AcwrPoint {
    /// The day.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// Mean daily load of the 7 days ending that day.
    pub acute: f64,
    /// Mean daily load of the 28 days ending that day.
    pub chronic: f64,
    /// `acute / chronic`; `null` without chronic load.
    pub ratio: Option<f64>,
}

/// The heart-rate profile TRIMP uses until the athlete's own is known: resting
/// 60 and maximum 190 bpm, the male weighting (the more conservative one).
pub fn default_profile() -> HeartRateProfile {
    HeartRateProfile {
        resting: Bpm::new(60).expect("60 bpm is a heart rate"),
        max: Bpm::new(190).expect("190 bpm is a heart rate"),
        weighting: TrimpWeighting::Male,
    }
}

/// The load of a session: session-RPE × minutes when rated, else Banister TRIMP
/// from the average heart rate (with the athlete's `profile`), else 0.
pub fn session_load(s: &SessionSummary, profile: &HeartRateProfile) -> f64 {
    let duration = Duration::from_secs_f64(s.duration_s());
    if let Some(rpe) = s.rpe {
        return session_rpe_load(rpe, duration);
    }
    s.avg_heart_rate
        .and_then(|hr| trimp_from_average(duration, hr, profile))
        .unwrap_or(0.0)
}

fn day_of(s: &SessionSummary) -> NaiveDate {
    s.started_at.date_naive()
}

/// The series from the bucket holding `from` to the one holding `to` (inclusive).
pub fn series(
    sessions: &[SessionSummary],
    from: NaiveDate,
    to: NaiveDate,
    bucket: Bucket,
    profile: &HeartRateProfile,
) -> Vec<StatsPoint> {
    let mut points: Vec<StatsPoint> = Vec::new();
    let mut start = bucket.start_of(from);
    while start <= to {
        points.push(StatsPoint {
            start,
            sessions: 0,
            duration_s: 0.0,
            distance_m: 0.0,
            distance_m_by_sport: BTreeMap::new(),
            duration_s_by_sport: BTreeMap::new(),
            volume_kg: 0.0,
            load: 0.0,
        });
        start = bucket.next(start);
    }
    for s in sessions {
        let day = day_of(s);
        if day < from || day > to {
            continue;
        }
        let key = bucket.start_of(day);
        let Ok(i) = points.binary_search_by_key(&key, |p| p.start) else {
            continue;
        };
        let p = &mut points[i];
        let sport = s.sport.as_str().to_owned();
        p.sessions += 1;
        p.duration_s += s.duration_s();
        *p.duration_s_by_sport.entry(sport.clone()).or_default() += s.duration_s();
        if let Some(d) = s.distance {
            p.distance_m += d.get();
            *p.distance_m_by_sport.entry(sport).or_default() += d.get();
        }
        p.volume_kg += s.volume_kg;
        p.load += session_load(s, profile);
    }
    points
}

/// The daily ACWR for each day from `from` to `to`; `sessions` should reach back
/// 27 days before `from` for the first days' chronic load.
pub fn acwr_series(
    sessions: &[SessionSummary],
    from: NaiveDate,
    to: NaiveDate,
    profile: &HeartRateProfile,
) -> Vec<AcwrPoint> {
    let first = from - chrono::Days::new(27);
    let days = (to - first).num_days();
    if days < 0 {
        return Vec::new();
    }
    let mut daily = vec![0.0; days as usize + 1];
    for s in sessions {
        let offset = (day_of(s) - first).num_days();
        if (0..daily.len() as i64).contains(&offset) {
            daily[offset as usize] += session_load(s, profile);
        }
    }
    (27..daily.len())
        .map(|end| {
            let date = first + chrono::Days::new(end as u64);
            let window = &daily[end + 1 - 28..=end];
            match acwr(window) {
                Some(a) => AcwrPoint {
                    date,
                    acute: a.acute,
                    chronic: a.chronic,
                    ratio: Some(a.ratio),
                },
                None => AcwrPoint {
                    date,
                    acute: window[21..].iter().sum::<f64>() / 7.0,
                    chronic: 0.0,
                    ratio: None,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use vigor_common::Id;

    use super::*;
    use crate::domain::kinds::Sport;
    use crate::domain::units::{Meters, Rpe};

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn session(
        day: &str,
        sport: Sport,
        minutes: i64,
        km: Option<f64>,
        rpe: Option<f64>,
        volume: f64,
    ) -> SessionSummary {
        let start: vigor_common::api::Timestamp = format!("{day}T07:00:00Z").parse().unwrap();
        SessionSummary {
            workout_id: Id::from_i64(1),
            sport,
            started_at: start,
            ended_at: start + chrono::Duration::minutes(minutes),
            distance: km.map(|k| Meters::new(k * 1000.0).unwrap()),
            moving_time_s: None,
            rpe: rpe.map(|r| Rpe::new(r).unwrap()),
            avg_heart_rate: None,
            volume_kg: volume,
            best_efforts: vec![],
        }
    }

    #[test]
    fn buckets_start_on_mondays_and_firsts() {
        // 2024-05-08 is a Wednesday: its week starts Monday 2024-05-06.
        assert_eq!(
            Bucket::Week.start_of(date("2024-05-08")),
            date("2024-05-06")
        );
        assert_eq!(
            Bucket::Week.start_of(date("2024-05-06")),
            date("2024-05-06")
        );
        assert_eq!(
            Bucket::Month.start_of(date("2024-05-31")),
            date("2024-05-01")
        );
    }

    #[test]
    fn weekly_series_worked_example() {
        let sessions = vec![
            // Week of 6 May: a 30 min 5 km run at RPE 6 (6 × 30 = 180 AU) and a 60 min
            // lift at RPE 8 (480 AU) with 5,000 kg volume.
            session("2024-05-06", Sport::Run, 30, Some(5.0), Some(6.0), 0.0),
            session("2024-05-09", Sport::Strength, 60, None, Some(8.0), 5000.0),
            // Week of 20 May: a 90 min 40 km ride, unrated and without heart rate (0 AU).
            session("2024-05-20", Sport::Ride, 90, Some(40.0), None, 0.0),
            // Outside the range.
            session("2024-06-03", Sport::Run, 30, Some(5.0), Some(6.0), 0.0),
        ];
        let s = series(
            &sessions,
            date("2024-05-06"),
            date("2024-05-26"),
            Bucket::Week,
            &default_profile(),
        );
        let starts: Vec<String> = s.iter().map(|p| p.start.to_string()).collect();
        assert_eq!(starts, vec!["2024-05-06", "2024-05-13", "2024-05-20"]);
        assert_eq!(
            (s[0].sessions, s[0].duration_s, s[0].distance_m),
            (2, 5400.0, 5000.0)
        );
        assert_eq!((s[0].volume_kg, s[0].load), (5000.0, 660.0));
        assert_eq!(s[0].duration_s_by_sport["strength"], 3600.0);
        assert_eq!((s[1].sessions, s[1].load), (0, 0.0));
        assert_eq!(s[2].distance_m_by_sport["ride"], 40_000.0);
    }

    #[test]
    fn acwr_series_worked_example() {
        // 60 min at RPE 5 (300 AU) every day for 21 days, then at RPE 10 (600 AU) for 7:
        // on the 28th day acute = 600, chronic = (21 × 300 + 7 × 600) / 28 = 375,
        // ratio = 1.6.
        let first = date("2024-04-01");
        let mut sessions = Vec::new();
        for d in 0..28u64 {
            let day = (first + chrono::Days::new(d)).to_string();
            let rpe = if d < 21 { 5.0 } else { 10.0 };
            sessions.push(session(&day, Sport::Run, 60, None, Some(rpe), 0.0));
        }
        let last = date("2024-04-28");
        let series = acwr_series(&sessions, last, last, &default_profile());
        assert_eq!(series.len(), 1);
        let p = &series[0];
        assert_eq!((p.acute, p.chronic), (600.0, 375.0));
        assert!((p.ratio.unwrap() - 1.6).abs() < 1e-12);
        // A day with no history has no ratio.
        let empty = acwr_series(&[], last, last, &default_profile());
        assert_eq!(empty[0].ratio, None);
    }

    #[test]
    fn unrated_sessions_with_heart_rate_use_trimp() {
        // 30 min at 150 bpm with the default profile (rest 60, max 190, male):
        // the TRIMP worked example of `load`, 50.22 AU.
        let mut s = session("2024-05-06", Sport::Run, 30, None, None, 0.0);
        s.avg_heart_rate = Some(Bpm::new(150).unwrap());
        assert!((session_load(&s, &default_profile()) - 50.2201).abs() < 1e-3);
    }
}
