//! Achievements as data: a versioned rules file (TOML), validated at start.
//!
//! Every achievement judges one [`Metric`] of a user's [`super::Totals`] against
//! the thresholds of its tiers: counters (workouts, distance, a run total),
//! personal records held, streak lengths, time of day (early and late workouts)
//! and social acts all reduce to "this number reached that", so one shape
//! serves them all and a new achievement is a few lines of TOML, not code.
//!
//! ```toml
//! version = 1
//!
//! [[achievements]]
//! key = "workouts"            # a-z, 0-9, '_', unique; stored with each unlock
//! name = "Regular"
//! description = "Log workouts."
//! metric = "workouts"         # see Metric
//! tiers = [
//!   { threshold = 10, points = 50, badge = "bronze" },
//!   { threshold = 100, points = 200, badge = "gold" },
//! ]
//! ```
//!
//! `first_workout` is built in and fixed (the web app and the load tests rely on
//! it): it is always first in the catalogue and a rules file may not define it.
//! The built-in file ([`BUILTIN`], `rules.toml` next to this module) is
//! embedded in the binary; `gamification.rules_file` names another one. A file
//! that does not parse or breaks a rule (an unknown metric, a repeated key,
//! thresholds that do not rise) stops the start with an error naming the line and
//! the rule. Tiers are numbered from 1; an unlock is kept per achievement and
//! tier, so raising a threshold later never takes an unlock away, and a new
//! achievement or tier reaches users who already qualify with
//! `vigor admin achievements backfill`.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The rules file embedded in the binary.
pub const BUILTIN: &str = include_str!("rules.toml");

/// The only version of the rules file format so far.
pub const VERSION: u32 = 1;

/// The built-in achievement every user earns with their first workout.
pub const FIRST_WORKOUT: &str = "first_workout";

/// What an achievement judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Total XP.
    Xp,
    /// Workouts logged.
    Workouts,
    /// Metres in all sports.
    DistanceM,
    /// Metres running.
    RunDistanceM,
    /// Seconds of training.
    DurationS,
    /// Volume load in kg.
    VolumeKg,
    /// Personal records held.
    PersonalRecords,
    /// Workouts started before 07:00 local time.
    EarlyWorkouts,
    /// Workouts started at 21:00 local time or later.
    LateWorkouts,
    /// The longest daily streak (active days).
    StreakDays,
    /// The longest weekly streak (weeks).
    StreakWeeks,
    /// Kudos received.
    KudosReceived,
    /// Kudos given.
    KudosGiven,
    /// Comments written.
    CommentsWritten,
    /// Communities joined.
    CommunitiesJoined,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 15] = [
        Metric::Xp,
        Metric::Workouts,
        Metric::DistanceM,
        Metric::RunDistanceM,
        Metric::DurationS,
        Metric::VolumeKg,
        Metric::PersonalRecords,
        Metric::EarlyWorkouts,
        Metric::LateWorkouts,
        Metric::StreakDays,
        Metric::StreakWeeks,
        Metric::KudosReceived,
        Metric::KudosGiven,
        Metric::CommentsWritten,
        Metric::CommunitiesJoined,
    ];

    /// The name, as in the rules file.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Xp => "xp",
            Metric::Workouts => "workouts",
            Metric::DistanceM => "distance_m",
            Metric::RunDistanceM => "run_distance_m",
            Metric::DurationS => "duration_s",
            Metric::VolumeKg => "volume_kg",
            Metric::PersonalRecords => "personal_records",
            Metric::EarlyWorkouts => "early_workouts",
            Metric::LateWorkouts => "late_workouts",
            Metric::StreakDays => "streak_days",
            Metric::StreakWeeks => "streak_weeks",
            Metric::KudosReceived => "kudos_received",
            Metric::KudosGiven => "kudos_given",
            Metric::CommentsWritten => "comments_written",
            Metric::CommunitiesJoined => "communities_joined",
        }
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
                format!("unknown metric {s:?} (one of {})", names.join(", "))
            })
    }
}

/// One tier of an achievement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tier {
    /// 1 for the first.
    pub tier: u32,
    /// The metric's value that earns it.
    pub threshold: i64,
    /// Reward points it grants.
    pub points: i64,
    /// The badge it grants, if any.
    pub badge: Option<String>,
}

/// One achievement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Achievement {
    /// Its key (`first_workout`).
    pub key: String,
    /// Display name.
    pub name: String,
    /// What earns it.
    pub description: String,
    /// What it judges.
    pub metric: Metric,
    /// Its tiers, thresholds rising.
    pub tiers: Vec<Tier>,
}

/// A validated rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The file's format version.
    pub version: u32,
    /// Every achievement, `first_workout` first.
    pub achievements: Vec<Achievement>,
}

/// Why a rules file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    /// Where: the file's name.
    pub source_name: String,
    /// The line (1-based), when known.
    pub line: Option<usize>,
    /// The achievement, when known.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "achievement rules {}", self.source_name)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ", achievement {rule:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Spanned<u32>,
    #[serde(default)]
    achievements: Vec<Spanned<RawAchievement>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAchievement {
    key: Spanned<String>,
    name: String,
    #[serde(default)]
    description: String,
    metric: Spanned<String>,
    tiers: Spanned<Vec<RawTier>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    threshold: i64,
    #[serde(default)]
    points: i64,
    badge: Option<String>,
}

/// The built-in, fixed `first_workout`.
pub fn first_workout() -> Achievement {
    Achievement {
        key: FIRST_WORKOUT.to_owned(),
        name: "First workout".to_owned(),
        description: "Log your first workout.".to_owned(),
        metric: Metric::Workouts,
        tiers: vec![Tier {
            tier: 1,
            threshold: 1,
            points: 10,
            badge: Some("first_workout".to_owned()),
        }],
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Rules {
    /// The embedded rules.
    pub fn builtin() -> Result<Rules, RulesError> {
        Rules::parse(BUILTIN, "(built in)")
    }

    /// Parses and validates the rules `text` (named `source_name` in errors).
    pub fn parse(text: &str, source_name: &str) -> Result<Rules, RulesError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let error = |offset: Option<usize>, rule: Option<&str>, message: String| RulesError {
            source_name: source_name.to_owned(),
            line: offset.map(line_of),
            rule: rule.map(str::to_owned),
            message,
        };
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| error(e.span().map(|s| s.start), None, e.message().to_owned()))?;
        if *raw.version.get_ref() != VERSION {
            return Err(error(
                Some(raw.version.span().start),
                None,
                format!(
                    "version {} is not supported (only {VERSION})",
                    raw.version.get_ref()
                ),
            ));
        }
        let mut achievements = vec![first_workout()];
        let mut keys: HashSet<String> = HashSet::from([FIRST_WORKOUT.to_owned()]);
        for spanned in raw.achievements {
            let at = spanned.span().start;
            let a = spanned.into_inner();
            let key = a.key.get_ref().clone();
            let key_at = Some(a.key.span().start);
            if key == FIRST_WORKOUT {
                return Err(error(
                    key_at,
                    Some(&key),
                    "first_workout is built in and cannot be redefined".into(),
                ));
            }
            if !valid_key(&key) {
                return Err(error(
                    key_at,
                    Some(&key),
                    "a key is 1-64 characters of a-z, 0-9 and '_'".into(),
                ));
            }
            if !keys.insert(key.clone()) {
                return Err(error(key_at, Some(&key), "the key is defined twice".into()));
            }
            if a.name.trim().is_empty() {
                return Err(error(Some(at), Some(&key), "the name is empty".into()));
            }
            let metric: Metric = a
                .metric
                .get_ref()
                .parse()
                .map_err(|m| error(Some(a.metric.span().start), Some(&key), m))?;
            let tiers_at = Some(a.tiers.span().start);
            let raw_tiers = a.tiers.into_inner();
            if raw_tiers.is_empty() {
                return Err(error(
                    tiers_at,
                    Some(&key),
                    "an achievement needs at least one tier".into(),
                ));
            }
            let mut tiers = Vec::with_capacity(raw_tiers.len());
            let mut last = 0i64;
            for (i, t) in raw_tiers.into_iter().enumerate() {
                if t.threshold <= last {
                    return Err(error(
                        tiers_at,
                        Some(&key),
                        format!("tier {} has threshold {}: thresholds are positive and rise tier by tier", i + 1, t.threshold),
                    ));
                }
                if t.points < 0 {
                    return Err(error(
                        tiers_at,
                        Some(&key),
                        format!("tier {} has negative points", i + 1),
                    ));
                }
                last = t.threshold;
                tiers.push(Tier {
                    tier: i as u32 + 1,
                    threshold: t.threshold,
                    points: t.points,
                    badge: t.badge,
                });
            }
            achievements.push(Achievement {
                key,
                name: a.name,
                description: a.description,
                metric,
                tiers,
            });
        }
        Ok(Rules {
            version: VERSION,
            achievements,
        })
    }

    /// The achievement `key`.
    pub fn get(&self, key: &str) -> Option<&Achievement> {
        self.achievements.iter().find(|a| a.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_are_valid_and_cover_the_issue() {
        let rules = Rules::builtin().unwrap();
        assert_eq!(rules.achievements[0], first_workout());
        let workouts = rules.get("workouts").unwrap();
        let thresholds: Vec<i64> = workouts.tiers.iter().map(|t| t.threshold).collect();
        assert_eq!(thresholds, vec![10, 100]);
        assert_eq!(rules.get("run_100k").unwrap().metric, Metric::RunDistanceM);
        for metric in [
            Metric::PersonalRecords,
            Metric::StreakDays,
            Metric::EarlyWorkouts,
            Metric::KudosReceived,
        ] {
            assert!(
                rules.achievements.iter().any(|a| a.metric == metric),
                "{metric:?}"
            );
        }
    }

    #[test]
    fn a_bad_file_names_its_line_and_rule() {
        let text = "version = 1\n\n[[achievements]]\nkey = \"x\"\nname = \"X\"\nmetric = \"laps\"\ntiers = [{ threshold = 1 }]\n";
        let e = Rules::parse(text, "custom.toml").unwrap_err();
        assert_eq!((e.line, e.rule.as_deref()), (Some(6), Some("x")));
        assert!(
            e.to_string().starts_with(
                "achievement rules custom.toml, line 6, achievement \"x\": unknown metric \"laps\""
            ),
            "{e}"
        );

        let falling = "version = 1\n[[achievements]]\nkey = \"x\"\nname = \"X\"\nmetric = \"workouts\"\ntiers = [{ threshold = 5 }, { threshold = 5 }]\n";
        let e = Rules::parse(falling, "f").unwrap_err();
        assert_eq!(e.line, Some(6));
        assert!(e.message.contains("tier 2"), "{e}");

        let twice = "version = 1\n[[achievements]]\nkey = \"x\"\nname = \"X\"\nmetric = \"workouts\"\ntiers = [{ threshold = 5 }]\n[[achievements]]\nkey = \"x\"\nname = \"Y\"\nmetric = \"workouts\"\ntiers = [{ threshold = 6 }]\n";
        assert_eq!(Rules::parse(twice, "f").unwrap_err().line, Some(8));

        let fixed = "version = 1\n[[achievements]]\nkey = \"first_workout\"\nname = \"X\"\nmetric = \"workouts\"\ntiers = [{ threshold = 2 }]\n";
        assert!(Rules::parse(fixed, "f")
            .unwrap_err()
            .message
            .contains("built in"));

        let syntax = "version = 1\n[[achievements]]\nkey = \n";
        assert_eq!(Rules::parse(syntax, "f").unwrap_err().line, Some(3));
        assert!(Rules::parse("version = 2\n", "f")
            .unwrap_err()
            .message
            .contains("version 2"));
        let unknown_field = "version = 1\n[[achievements]]\nkey = \"x\"\nname = \"X\"\nmetric = \"workouts\"\ntiers = [{ threshold = 1 }]\ncolour = \"red\"\n";
        assert!(Rules::parse(unknown_field, "f")
            .unwrap_err()
            .message
            .contains("colour"));
    }
}
