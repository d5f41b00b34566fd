//! Coaching over HTTP.
//!
//! - `/v1/training/coaching…`: a coach (role `coach`) invites an athlete, the
//!   athlete accepts or declines, either side ends it; each lists their own
//!   relationships.
//! - `/v1/training/athletes/{id}/…`: what a coach may do for an athlete who
//!   accepted them: read their workouts (private ones too), records, stats and
//!   schedule, and assign plans (the athlete owns them, marked `assigned_by` the
//!   coach, who may read and replace them later).
//!
//! Access: anything about a relationship or an athlete that the caller may not
//! see is a 404, never a 403 — a pending, declined or ended coach, a user
//! without the `coach` role and a stranger all get "no such athlete", so
//! whether someone trains here, or with whom, does not leak. The one 403 is a
//! non-coach trying to invite: it is about the caller's own role, not anyone
//! else's data.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::idempotency::IdempotencyKey;
use vigor_common::problem::Problem;
use vigor_common::Id;

use super::analysis::{
    progress_of, records_of, stats_of, ExerciseProgress, Records, RecordsParams, Stats, StatsParams,
};
use super::create_once;
use super::plans::checked;
use super::schedule::{calendar_of, Calendar, CalendarParams};
use super::workouts::{page_of, WorkoutView};
use crate::domain::coaching::{CoachLink, COACH_ROLE};
use crate::domain::kinds::LinkStatus;
use crate::domain::plan::{Plan, PlanContent};
use crate::service::{now, TrainingService};

/// An invitation.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    /// The user invited to be coached.
    pub athlete_id: Id,
}

/// The caller's coaching relationships.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoachLinks {
    /// As coach and as athlete, newest first; `status` says where each stands.
    pub items: Vec<CoachLink>,
}

fn no_link() -> Problem {
    Problem::not_found("no such coaching relationship")
}

fn no_athlete() -> Problem {
    Problem::not_found("no such athlete of yours")
}

/// Invites an athlete; the caller must have the `coach` role.
#[utoipa::path(
    post,
    path = "/v1/training/coaching/athletes",
    operation_id = "invite_athlete",
    tag = "training",
    security(("bearer" = ["training:write"])),
    request_body = Invitation,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat gets the first answer.")),
    responses(
        (status = 201, description = "The pending relationship.", body = CoachLink),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller does not have the `coach` role.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The pair already has a pending or accepted relationship.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Coaching oneself.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn invite(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    ApiJson(invitation): ApiJson<Invitation>,
) -> Response {
    let fingerprint = serde_json::to_vec(&invitation).unwrap_or_default();
    create_once(
        service.db.clone(),
        caller.user_id,
        "POST /v1/training/coaching/athletes",
        key,
        &fingerprint,
        || store_invitation(service, caller, invitation),
    )
    .await
}

async fn store_invitation(
    service: TrainingService,
    caller: Caller,
    invitation: Invitation,
) -> Result<Response, Problem> {
    if !caller.has_role(COACH_ROLE) {
        return Err(Problem::forbidden("only coaches can invite athletes"));
    }
    if invitation.athlete_id == caller.user_id {
        return Err(Problem::invalid_field(
            "athlete_id",
            "a coach cannot coach themself",
        ));
    }
    let t = now();
    let link = CoachLink {
        id: service.ids.next_id(),
        coach_id: caller.user_id,
        athlete_id: invitation.athlete_id,
        status: LinkStatus::Pending,
        created_at: t,
        updated_at: t,
    };
    if !service.store.insert_link(&link).await? {
        return Err(Problem::conflict(
            "you already invited or coach this athlete",
        ));
    }
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/v1/training/coaching/{}", link.id),
        )],
        ApiJson(link),
    )
        .into_response())
}

/// The caller's coaching relationships, as coach and as athlete.
#[utoipa::path(
    get,
    path = "/v1/training/coaching",
    operation_id = "list_coaching",
    tag = "training",
    security(("bearer" = ["training:read"])),
    responses(
        (status = 200, description = "Every relationship the caller is in, newest first.", body = CoachLinks),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(service): State<TrainingService>,
    caller: Caller,
) -> Result<ApiJson<CoachLinks>, Problem> {
    Ok(ApiJson(CoachLinks {
        items: service.store.links_of(caller.user_id).await?,
    }))
}

/// The relationship `id` if `caller` is in it; 404 otherwise.
async fn mine(service: &TrainingService, caller: &Caller, id: &str) -> Result<CoachLink, Problem> {
    let id: Id = id.parse().map_err(|_| no_link())?;
    match service.store.link(id).await? {
        Some(l) if l.coach_id == caller.user_id || l.athlete_id == caller.user_id => Ok(l),
        _ => Err(no_link()),
    }
}

/// Moves `link` to `to`, answering the changed relationship.
async fn move_to(
    service: &TrainingService,
    mut link: CoachLink,
    to: LinkStatus,
) -> Result<CoachLink, Problem> {
    let t = now();
    if !service
        .store
        .set_link_status(link.id, link.status, to, t)
        .await?
    {
        return Err(Problem::conflict(
            "the relationship changed meanwhile; read it again",
        ));
    }
    link.status = to;
    link.updated_at = t;
    Ok(link)
}

async fn answer(
    service: TrainingService,
    caller: Caller,
    id: String,
    accept: bool,
) -> Result<ApiJson<CoachLink>, Problem> {
    let link = mine(&service, &caller, &id).await?;
    if link.athlete_id != caller.user_id {
        // The coach cannot answer their own invitation; to them it is not theirs to answer.
        return Err(no_link());
    }
    let to = link
        .status
        .answer(accept)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    Ok(ApiJson(move_to(&service, link, to).await?))
}

/// The athlete accepts an invitation: the coach now sees their logs.
#[utoipa::path(
    post,
    path = "/v1/training/coaching/{id}/accept",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(("id" = String, Path, description = "The relationship id.")),
    responses(
        (status = 200, description = "The accepted relationship.", body = CoachLink),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation to the caller.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is not pending.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CoachLink>, Problem> {
    answer(service, caller, id, true).await
}

/// The athlete declines an invitation.
#[utoipa::path(
    post,
    path = "/v1/training/coaching/{id}/decline",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(("id" = String, Path, description = "The relationship id.")),
    responses(
        (status = 200, description = "The declined relationship.", body = CoachLink),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation to the caller.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is not pending.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decline(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CoachLink>, Problem> {
    answer(service, caller, id, false).await
}

/// Either side ends a relationship (a coach withdraws a pending invitation the same way).
#[utoipa::path(
    delete,
    path = "/v1/training/coaching/{id}",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(("id" = String, Path, description = "The relationship id.")),
    responses(
        (status = 200, description = "The ended relationship.", body = CoachLink),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such relationship of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is already declined or ended.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CoachLink>, Problem> {
    let link = mine(&service, &caller, &id).await?;
    let to = link
        .status
        .end()
        .map_err(|e| Problem::conflict(e.to_string()))?;
    Ok(ApiJson(move_to(&service, link, to).await?))
}

/// The athlete `id` if `caller` is their accepted coach; 404 otherwise.
async fn athlete(service: &TrainingService, caller: &Caller, id: &str) -> Result<Id, Problem> {
    let id: Id = id.parse().map_err(|_| no_athlete())?;
    if caller.has_role(COACH_ROLE) && service.store.coaches(caller.user_id, id).await? {
        Ok(id)
    } else {
        Err(no_athlete())
    }
}

/// An athlete's workouts, newest first, private ones included.
#[utoipa::path(
    get,
    path = "/v1/training/athletes/{id}/workouts",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The athlete's user id."), PageParams),
    responses(
        (status = 200, description = "A page of the athlete's workouts (each also readable at `/v1/training/workouts/{id}`).", body = Page<WorkoutView>),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad limit or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn workouts(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<WorkoutView>>, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    Ok(ApiJson(page_of(&service, athlete, &params).await?))
}

/// An athlete's personal records.
#[utoipa::path(
    get,
    path = "/v1/training/athletes/{id}/records",
    operation_id = "athlete_records",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The athlete's user id."), RecordsParams),
    responses(
        (status = 200, description = "As `GET /v1/training/records`, for the athlete.", body = Records),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn records(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<RecordsParams>,
) -> Result<ApiJson<Records>, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    records_of(&service, athlete, params).await
}

/// An athlete's progress on one exercise.
#[utoipa::path(
    get,
    path = "/v1/training/athletes/{id}/exercises/{exercise_id}/progress",
    operation_id = "athlete_exercise_progress",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(
        ("id" = String, Path, description = "The athlete's user id."),
        ("exercise_id" = String, Path, description = "The exercise."),
        RecordsParams,
    ),
    responses(
        (status = 200, description = "As `GET /v1/training/exercises/{id}/progress`, for the athlete.", body = ExerciseProgress),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach, or no such exercise.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn progress(
    State(service): State<TrainingService>,
    caller: Caller,
    Path((id, exercise)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<RecordsParams>,
) -> Result<ApiJson<ExerciseProgress>, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    progress_of(&service, athlete, &exercise, params).await
}

/// An athlete's statistics.
#[utoipa::path(
    get,
    path = "/v1/training/athletes/{id}/stats",
    operation_id = "athlete_stats",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The athlete's user id."), StatsParams),
    responses(
        (status = 200, description = "As `GET /v1/training/stats`, for the athlete.", body = Stats),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad date, a reversed or too long range.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stats(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<ApiJson<Stats>, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    stats_of(&service, athlete, params).await
}

/// An athlete's calendar: what is planned and what was done.
#[utoipa::path(
    get,
    path = "/v1/training/athletes/{id}/schedule",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The athlete's user id."), CalendarParams),
    responses(
        (status = 200, description = "As `GET /v1/training/schedule`, for the athlete.", body = Calendar),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad date, or a reversed or too long range.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn schedule(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<CalendarParams>,
) -> Result<ApiJson<Calendar>, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    calendar_of(&service, athlete, params).await
}

/// The plans the caller assigned to an athlete.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssignedPlans {
    /// Oldest first.
    pub items: Vec<Plan>,
}

/// Assigns a plan to an athlete: it becomes theirs, marked as assigned by the caller.
#[utoipa::path(
    post,
    path = "/v1/training/athletes/{id}/plans",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(
        ("id" = String, Path, description = "The athlete's user id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat gets the first answer."),
    ),
    request_body = PlanContent,
    responses(
        (status = 201, description = "The athlete's new plan, `assigned_by` the caller.", body = Plan),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or exercises the athlete cannot use (another user's custom exercises).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assign(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    Path(id): Path<String>,
    ApiJson(content): ApiJson<PlanContent>,
) -> Response {
    let fingerprint = serde_json::to_vec(&(&id, &content)).unwrap_or_default();
    create_once(
        service.db.clone(),
        caller.user_id,
        "POST /v1/training/athletes/{id}/plans",
        key,
        &fingerprint,
        || store_assigned(service, caller, id, content),
    )
    .await
}

async fn store_assigned(
    service: TrainingService,
    caller: Caller,
    id: String,
    content: PlanContent,
) -> Result<Response, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    // The athlete follows it: its exercises must be ones they can see.
    let content = checked(&service, content, athlete).await?;
    let t = now();
    let plan = Plan {
        id: service.ids.next_id(),
        owner_id: athlete,
        assigned_by: Some(caller.user_id),
        content,
        created_at: t,
        updated_at: t,
    };
    service.store.insert_plan(&plan).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/training/plans/{}", plan.id))],
        ApiJson(plan),
    )
        .into_response())
}

/// The plans the caller assigned to an athlete (and the athlete kept).
#[utoipa::path(
    get,
    path = "/v1/training/athletes/{id}/plans",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The athlete's user id.")),
    responses(
        (status = 200, description = "The assigned plans as they are now.", body = AssignedPlans),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assigned(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<AssignedPlans>, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    Ok(ApiJson(AssignedPlans {
        items: service
            .store
            .plans_assigned(caller.user_id, athlete)
            .await?,
    }))
}

/// Replaces a plan the caller assigned to an athlete.
#[utoipa::path(
    put,
    path = "/v1/training/athletes/{id}/plans/{plan_id}",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(
        ("id" = String, Path, description = "The athlete's user id."),
        ("plan_id" = String, Path, description = "The plan id."),
    ),
    request_body = PlanContent,
    responses(
        (status = 200, description = "The changed plan.", body = Plan),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an athlete who accepted the caller as coach, or not a plan the caller assigned them.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_assigned(
    State(service): State<TrainingService>,
    caller: Caller,
    Path((id, plan_id)): Path<(String, String)>,
    ApiJson(content): ApiJson<PlanContent>,
) -> Result<ApiJson<Plan>, Problem> {
    let athlete = athlete(&service, &caller, &id).await?;
    let not_found = || Problem::not_found("no such plan you assigned");
    let plan_id: Id = plan_id.parse().map_err(|_| not_found())?;
    let old = match service.store.plan(plan_id).await? {
        Some(p) if p.owner_id == athlete && p.assigned_by == Some(caller.user_id) => p,
        _ => return Err(not_found()),
    };
    let content = checked(&service, content, athlete).await?;
    let plan = Plan {
        content,
        updated_at: now(),
        ..old
    };
    if !service.store.update_plan(&plan).await? {
        return Err(not_found());
    }
    Ok(ApiJson(plan))
}
