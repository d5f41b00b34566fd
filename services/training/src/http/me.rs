//! `/v1/training/me/…`: the caller's own settings and training data as a whole.
//!
//! `GET/PUT /v1/training/me/settings`: maximum and resting heart rate, which
//! heart-rate zones of imports and TRIMP loads in stats and recommendations are
//! computed from (the defaults, 190 and 60 bpm, while unset). A change applies to
//! what is computed from then on: zones stored with earlier imports stay as they
//! were computed.
//!
//! `GET /v1/training/me/export` is the training part of the account export that
//! `GET /v1/users/me/export` gathers from every service (see the users service's
//! `export` module): every workout with its sets, track and record flags, every
//! plan, schedule, custom exercise and coaching relationship of the caller's.

use axum::extract::State;
use serde::Serialize;
use vigor_common::api::{ApiJson, Timestamp};
use vigor_common::auth::{Caller, RecentSignIn};
use vigor_common::problem::Problem;
use vigor_common::Id;

use super::invalid;
use super::schedule::ScheduleView;
use super::workouts::{all_views, WorkoutView};
use crate::domain::coaching::CoachLink;
use crate::domain::exercise::Exercise;
use crate::domain::plan::Plan;
use crate::domain::settings::{AthleteSettings, SettingsDraft};
use crate::service::{now, TrainingService};
use crate::store::workout_position;

/// Everything the training service holds about the caller.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainingExport {
    /// The caller.
    pub user_id: Id,
    /// When the export was made.
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: Timestamp,
    /// Every workout, newest first.
    pub workouts: Vec<WorkoutView>,
    /// Every plan, oldest first.
    pub plans: Vec<Plan>,
    /// Every schedule, oldest first.
    pub schedules: Vec<ScheduleView>,
    /// Custom exercises, oldest first.
    pub exercises: Vec<Exercise>,
    /// Coaching relationships, as coach and as athlete, newest first.
    pub coaching: Vec<CoachLink>,
    /// Settings.
    pub settings: SettingsView,
}

/// The caller's settings, and the values in effect.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// The saved maximum heart rate; `null` when unset.
    pub max_hr: Option<u16>,
    /// The saved resting heart rate; `null` when unset.
    pub resting_hr: Option<u16>,
    /// The maximum heart rate in use (the saved one, else 190).
    pub effective_max_hr: u16,
    /// The resting heart rate in use (the saved one, else 60).
    pub effective_resting_hr: u16,
}

impl From<AthleteSettings> for SettingsView {
    fn from(s: AthleteSettings) -> Self {
        let saved = SettingsDraft::from(s);
        SettingsView {
            max_hr: saved.max_hr,
            resting_hr: saved.resting_hr,
            effective_max_hr: s.max().get(),
            effective_resting_hr: s.resting().get(),
        }
    }
}

/// The caller's settings.
#[utoipa::path(
    get,
    path = "/v1/training/me/settings",
    operation_id = "training_settings",
    tag = "training",
    security(("bearer" = ["training:read"])),
    responses(
        (status = 200, description = "The saved settings and the values in effect.", body = SettingsView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn settings(
    State(service): State<TrainingService>,
    caller: Caller,
) -> Result<ApiJson<SettingsView>, Problem> {
    Ok(ApiJson(
        service.store.settings(caller.user_id).await?.into(),
    ))
}

/// Saves the caller's settings (both at once; `null` unsets one).
#[utoipa::path(
    put,
    path = "/v1/training/me/settings",
    operation_id = "put_training_settings",
    tag = "training",
    security(("bearer" = ["training:write"])),
    request_body = SettingsDraft,
    responses(
        (status = 200, description = "The saved settings and the values in effect.", body = SettingsView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value out of range, or resting not below maximum.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_settings(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiJson(draft): ApiJson<SettingsDraft>,
) -> Result<ApiJson<SettingsView>, Problem> {
    let settings = draft.parse().map_err(invalid)?;
    service
        .store
        .put_settings(caller.user_id, &settings, now())
        .await?;
    Ok(ApiJson(settings.into()))
}

/// Page size of the reads behind an export.
const PAGE: u32 = 500;

/// All of the caller's training data, for the account export.
#[utoipa::path(
    get,
    path = "/v1/training/me/export",
    operation_id = "export_training",
    tag = "training",
    security(("bearer" = ["account"])),
    responses(
        (status = 200, description = "The caller's workouts, plans, schedules and custom exercises.", body = TrainingExport),
        (status = 401, description = "No valid access token, or no sign-in within 5 minutes (`insufficient-user-authentication`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(service): State<TrainingService>,
    RecentSignIn(caller): RecentSignIn,
) -> Result<ApiJson<TrainingExport>, Problem> {
    let user = caller.user_id;
    let store = &service.store;
    let mut workouts = Vec::new();
    let mut after = None;
    loop {
        let page = store.workouts_of(user, after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(workout_position(last));
        workouts.extend(page);
    }
    let mut plans = Vec::new();
    let mut after = None;
    loop {
        let page = store.plans_of(user, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        plans.extend(page);
    }
    let schedules = store.schedules_of(user).await?;
    Ok(ApiJson(TrainingExport {
        user_id: user,
        exported_at: now(),
        workouts: all_views(&service, user, &workouts).await?,
        plans,
        schedules: schedules.iter().map(ScheduleView::from).collect(),
        exercises: store.custom_exercises(user).await?,
        coaching: store.links_of(user).await?,
        settings: store.settings(user).await?.into(),
    }))
}
