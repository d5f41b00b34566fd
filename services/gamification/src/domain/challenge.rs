//! Challenges: time-boxed goals ("100 km in November", "20 workouts in 30
//! days"), global or of one community, each with its own leaderboard.
//!
//! A participant's progress is the sum of the metric over their workouts that
//! *started* inside the challenge's time box, computed from their contributions
//! (so an edited or deleted workout moves it back); joining late still counts the
//! box's earlier workouts. Reaching the goal completes the challenge once: the
//! completion, its reward points and its event are kept even if a later deletion
//! takes the progress below the goal.

use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::problem::FieldError;
use vigor_common::Id;

use super::Contribution;

/// What a challenge counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeMetric {
    /// Metres in all sports.
    DistanceM,
    /// Workouts.
    Workouts,
    /// XP earned.
    Xp,
}

impl ChallengeMetric {
    /// The name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeMetric::DistanceM => "distance_m",
            ChallengeMetric::Workouts => "workouts",
            ChallengeMetric::Xp => "xp",
        }
    }

    /// The metric named `s`.
    pub fn parse(s: &str) -> Option<ChallengeMetric> {
        [
            ChallengeMetric::DistanceM,
            ChallengeMetric::Workouts,
            ChallengeMetric::Xp,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    /// What `c` adds to it.
    pub fn of(self, c: &Contribution) -> i64 {
        match self {
            ChallengeMetric::DistanceM => c.distance_m,
            ChallengeMetric::Workouts => 1,
            ChallengeMetric::Xp => c.xp,
        }
    }
}

/// A challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Challenge {
    /// Its id.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// What it counts.
    pub metric: ChallengeMetric,
    /// The amount of the metric that completes it.
    pub goal: i64,
    /// When it starts.
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    /// When it ends (exclusive).
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    /// The community it belongs to; `null`: global.
    pub community_id: Option<Id>,
    /// Reward points for completing it.
    pub points: i64,
    /// Who made it.
    pub created_by: Id,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl Challenge {
    /// The progress of a participant with `contributions`.
    pub fn progress(&self, contributions: &[Contribution]) -> i64 {
        contributions
            .iter()
            .filter(|c| c.started_at >= self.starts_at && c.started_at < self.ends_at)
            .map(|c| self.metric.of(c))
            .sum()
    }

    /// Whether a workout started at `at` counts.
    pub fn covers(&self, at: Timestamp) -> bool {
        at >= self.starts_at && at < self.ends_at
    }
}

/// A new challenge, as the API takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChallengeDraft {
    /// 1-100 characters.
    pub name: String,
    /// Up to 2000 characters.
    #[serde(default)]
    pub description: String,
    /// `distance_m`, `workouts` or `xp`.
    pub metric: String,
    /// Positive.
    pub goal: i64,
    /// When it starts.
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    /// When it ends: after the start, at most 366 days later.
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    /// The community it is for; absent: global (admins only).
    pub community_id: Option<Id>,
    /// Reward points (0-1000, default 100).
    pub points: Option<i64>,
}

impl ChallengeDraft {
    /// The challenge `id` made by `by` at `now`, or every problem at once.
    pub fn parse(self, id: Id, by: Id, now: Timestamp) -> Result<Challenge, Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut bad = |field: &str, message: &str| {
            problems.push(FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            })
        };
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            bad("name", "must be 1-100 characters");
        }
        if self.description.chars().count() > 2000 {
            bad("description", "must be at most 2000 characters");
        }
        let metric = ChallengeMetric::parse(&self.metric);
        if metric.is_none() {
            bad("metric", "must be distance_m, workouts or xp");
        }
        if self.goal <= 0 || self.goal > 1_000_000_000 {
            bad("goal", "must be between 1 and 1000000000");
        }
        if self.ends_at <= self.starts_at {
            bad("ends_at", "must be after starts_at");
        } else if self.ends_at - self.starts_at > chrono::Duration::days(366) {
            bad("ends_at", "must be at most 366 days after starts_at");
        }
        if self.ends_at <= now {
            bad("ends_at", "must be in the future");
        }
        let points = self.points.unwrap_or(100);
        if !(0..=1000).contains(&points) {
            bad("points", "must be between 0 and 1000");
        }
        match metric {
            Some(metric) if problems.is_empty() => Ok(Challenge {
                id,
                name,
                description: self.description,
                metric,
                goal: self.goal,
                starts_at: self.starts_at,
                ends_at: self.ends_at,
                community_id: self.community_id,
                points,
                created_by: by,
                created_at: now,
            }),
            _ => Err(problems),
        }
    }
}
