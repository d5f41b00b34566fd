//! `/v1/gamification/me…`: the caller's game, ledger, settings and export; and
//! the achievement catalogue.
//!
//! The user's time zone (whose calendar days streaks and early/late workouts
//! count) and rest-day allowance are the gamification service's own settings
//! (`PUT /v1/gamification/me/settings`): training's events carry no zone, and a
//! game setting belongs with the game. Unset, streaks count UTC days and allow
//! `gamification.streak_rest_days` rest days.

use axum::extract::State;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery, Keyset, Page, PageParams, Timestamp};
use vigor_common::auth::{Caller, RecentSignIn};
use vigor_common::problem::FieldError;
use vigor_common::{Id, Problem};

use super::{invalid, Items};
use crate::domain::rules::{Achievement, Metric, Tier};
use crate::domain::{xp_for_level, StreakSummary};
use crate::service::GamificationService;
use crate::store::{Change, LedgerEntry, SavedSettings, Snapshot};

/// An achievement as the caller stands with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AchievementView {
    /// Its key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// What earns it.
    pub description: String,
    /// What it judges.
    pub metric: Metric,
    /// The caller's value of the metric.
    pub progress: i64,
    /// The highest tier earned (0: locked).
    pub tier: u32,
    /// Whether any tier is earned.
    pub earned: bool,
    /// When the first tier was earned.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub unlocked_at: Option<Timestamp>,
    /// The threshold of the next tier; `null` when every tier is earned.
    pub next_threshold: Option<i64>,
    /// Every tier.
    pub tiers: Vec<Tier>,
}

/// The caller's part in a challenge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChallengeProgress {
    /// The challenge.
    pub challenge_id: Id,
    /// Its name.
    pub name: String,
    /// Its metric's amount so far.
    pub progress: i64,
    /// The goal.
    pub goal: i64,
    /// When it ends.
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    /// When the goal was reached.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<Timestamp>,
}

/// The caller's game.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The caller.
    pub user_id: Id,
    /// Total XP.
    pub xp: i64,
    /// Level (1 with 0 XP).
    pub level: u32,
    /// XP at which the next level starts.
    pub next_level_xp: i64,
    /// Reward points earned.
    pub points: i64,
    /// Daily and weekly streaks.
    pub streak: StreakSummary,
    /// Every achievement, earned and locked, with progress.
    pub achievements: Vec<AchievementView>,
    /// The challenges joined.
    pub challenges: Vec<ChallengeProgress>,
}

/// The caller's game as `snapshot` holds it, judged now.
pub(crate) fn me_of(service: &GamificationService, snapshot: &Snapshot) -> Me {
    let totals = service.totals(snapshot, Utc::now());
    let level = crate::domain::level_for(totals.xp);
    let achievements = service
        .rules
        .achievements
        .iter()
        .map(|a: &Achievement| {
            let mine: Vec<_> = snapshot
                .unlocks
                .iter()
                .filter(|u| u.achievement == a.key)
                .collect();
            let tier = mine.iter().map(|u| u.tier).max().unwrap_or(0);
            AchievementView {
                key: a.key.clone(),
                name: a.name.clone(),
                description: a.description.clone(),
                metric: a.metric,
                progress: totals.get(a.metric),
                tier,
                earned: tier > 0,
                unlocked_at: mine.iter().map(|u| u.unlocked_at).min(),
                next_threshold: a.tiers.iter().find(|t| t.tier > tier).map(|t| t.threshold),
                tiers: a.tiers.clone(),
            }
        })
        .collect();
    Me {
        user_id: snapshot.user_id,
        xp: totals.xp,
        level,
        next_level_xp: xp_for_level(level + 1),
        points: snapshot.unlocks.iter().map(|u| u.points).sum::<i64>()
            + snapshot
                .challenges
                .iter()
                .filter(|p| p.completed_at.is_some())
                .map(|p| p.challenge.points)
                .sum::<i64>(),
        streak: totals.streak,
        achievements,
        challenges: snapshot
            .challenges
            .iter()
            .map(|p| ChallengeProgress {
                challenge_id: p.challenge.id,
                name: p.challenge.name.clone(),
                progress: p.progress,
                goal: p.challenge.goal,
                ends_at: p.challenge.ends_at,
                completed_at: p.completed_at,
            })
            .collect(),
    }
}

/// The caller's XP, level, streaks, achievements and challenges.
#[utoipa::path(
    get, path = "/v1/gamification/me", operation_id = "gamification_me", tag = "gamification",
    security(("bearer" = ["gamification:read"])),
    responses(
        (status = 200, description = "The caller's game.", body = Me),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(
    State(service): State<GamificationService>,
    caller: Caller,
) -> Result<ApiJson<Me>, Problem> {
    let snapshot = service.store.snapshot(caller.user_id).await?;
    Ok(ApiJson(me_of(&service, &snapshot)))
}

/// Every achievement and its tiers.
#[utoipa::path(
    get, path = "/v1/gamification/achievements", tag = "gamification",
    security(("bearer" = ["gamification:read"])),
    responses((status = 200, description = "The catalogue, `first_workout` first.", body = Items<Achievement>))
)]
pub async fn catalogue(
    State(service): State<GamificationService>,
    _caller: Caller,
) -> ApiJson<Items<Achievement>> {
    ApiJson(Items {
        items: service.rules.achievements.clone(),
    })
}

/// Pages of the ledger, by id.
const LEDGER: Keyset<()> = Keyset::new("gamification.ledger");

/// The caller's rewards, newest first.
#[utoipa::path(
    get, path = "/v1/gamification/me/ledger", tag = "gamification",
    security(("bearer" = ["gamification:read"])),
    params(PageParams),
    responses(
        (status = 200, description = "Points and badges, newest first.", body = Page<LedgerEntry>),
        (status = 422, description = "A bad limit or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ledger(
    State(service): State<GamificationService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<LedgerEntry>>, Problem> {
    let limit = params.limit()?;
    let before = LEDGER.parse(params.cursor.as_deref())?.map(|c| c.id);
    let rows = service
        .store
        .ledger(caller.user_id, before, limit + 1)
        .await?;
    Ok(ApiJson(LEDGER.page(rows, limit, |e| {
        vigor_common::api::Cursor::new((), e.id)
    })))
}

/// The caller's game settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Settings {
    /// IANA time zone whose days streaks count; `null`: UTC.
    pub time_zone: Option<String>,
    /// Rest days a daily streak survives (0-6); `null`: the deployment's default.
    pub rest_days: Option<u32>,
}

impl Settings {
    fn parse(self) -> Result<SavedSettings, Vec<FieldError>> {
        let mut problems = Vec::new();
        if let Some(zone) = &self.time_zone {
            if zone.parse::<chrono_tz::Tz>().is_err() {
                problems.push(FieldError {
                    field: "time_zone".into(),
                    message: format!("{zone:?} is not an IANA time zone name"),
                });
            }
        }
        if let Some(days) = self.rest_days {
            if days > vigor_common::config::MAX_STREAK_REST_DAYS {
                problems.push(FieldError {
                    field: "rest_days".into(),
                    message: format!(
                        "must be at most {}",
                        vigor_common::config::MAX_STREAK_REST_DAYS
                    ),
                });
            }
        }
        if problems.is_empty() {
            Ok(SavedSettings {
                time_zone: self.time_zone,
                rest_days: self.rest_days,
            })
        } else {
            Err(problems)
        }
    }
}

fn settings_view(s: &SavedSettings) -> Settings {
    Settings {
        time_zone: s.time_zone.clone(),
        rest_days: s.rest_days,
    }
}

/// The caller's game settings.
#[utoipa::path(
    get, path = "/v1/gamification/me/settings", operation_id = "gamification_settings", tag = "gamification",
    security(("bearer" = ["gamification:read"])),
    responses((status = 200, description = "The saved settings.", body = Settings))
)]
pub async fn settings(
    State(service): State<GamificationService>,
    caller: Caller,
) -> Result<ApiJson<Settings>, Problem> {
    let snapshot = service.store.snapshot(caller.user_id).await?;
    Ok(ApiJson(settings_view(&snapshot.settings)))
}

/// Saves the caller's game settings (both at once; `null` unsets one); streaks
/// and achievements are judged again in the new calendar.
#[utoipa::path(
    put, path = "/v1/gamification/me/settings", operation_id = "put_gamification_settings", tag = "gamification",
    security(("bearer" = ["gamification:write"])),
    request_body = Settings,
    responses(
        (status = 200, description = "The saved settings.", body = Settings),
        (status = 422, description = "An unknown time zone or too many rest days.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_settings(
    State(service): State<GamificationService>,
    caller: Caller,
    ApiJson(draft): ApiJson<Settings>,
) -> Result<ApiJson<Settings>, Problem> {
    let saved = draft.parse().map_err(invalid)?;
    service
        .apply(caller.user_id, None, Change::Settings(saved.clone()))
        .await?;
    Ok(ApiJson(settings_view(&saved)))
}

/// Everything the gamification service holds about the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GamificationExport {
    /// The caller.
    pub user_id: Id,
    /// When the export was made.
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: Timestamp,
    /// Settings.
    pub settings: Settings,
    /// The game as `GET /v1/gamification/me` shows it.
    pub game: Me,
    /// Every reward, newest first.
    pub ledger: Vec<LedgerEntry>,
}

/// All of the caller's gamification data, for the account export.
#[utoipa::path(
    get, path = "/v1/gamification/me/export", operation_id = "export_gamification", tag = "gamification",
    security(("bearer" = ["account"])),
    responses(
        (status = 200, description = "The caller's game, settings and ledger.", body = GamificationExport),
        (status = 401, description = "No valid access token, or no sign-in within 5 minutes.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(service): State<GamificationService>,
    RecentSignIn(caller): RecentSignIn,
) -> Result<ApiJson<GamificationExport>, Problem> {
    let user = caller.user_id;
    let snapshot = service.store.snapshot(user).await?;
    let mut ledger = Vec::new();
    let mut before = None;
    loop {
        let page = service.store.ledger(user, before, 500).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        ledger.extend(page);
    }
    Ok(ApiJson(GamificationExport {
        user_id: user,
        exported_at: Utc::now(),
        settings: settings_view(&snapshot.settings),
        game: me_of(&service, &snapshot),
        ledger,
    }))
}
