//! `/v1/training/plans`: training plans (routines) a user writes for themself:
//! create, list, read, replace (`PUT`) and delete.
//!
//! A plan is its owner's: anyone else gets a 404, so its existence does not leak.
//! Deleting a plan deletes its schedules; workouts are not tied to a plan and
//! keep all their data.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use vigor_common::api::{ApiJson, ApiQuery, Cursor, Keyset, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::idempotency::IdempotencyKey;
use vigor_common::problem::Problem;
use vigor_common::Id;

use super::{create_once, invalid};
use crate::domain::draft::DraftProblem;
use crate::domain::plan::{Plan, PlanContent};
use crate::service::{now, TrainingService};

/// `content` checked: its rules (422 naming each problem) and its exercises,
/// which must be ones `user` can use.
pub(super) async fn checked(
    service: &TrainingService,
    content: PlanContent,
    user: Id,
) -> Result<PlanContent, Problem> {
    let content = content.check().map_err(invalid)?;
    let ids = content.exercise_ids();
    let known = service.store.visible_exercise_ids(&ids, user).await?;
    let mut problems = Vec::new();
    for (i, day) in content.days.iter().enumerate() {
        for (j, e) in day.exercises.iter().enumerate() {
            if known.binary_search(&e.exercise_id).is_err() {
                problems.push(DraftProblem {
                    field: format!("days.{i}.exercises.{j}.exercise_id"),
                    message: "no such exercise".to_owned(),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(content)
    } else {
        Err(invalid(problems))
    }
}

fn not_found() -> Problem {
    Problem::not_found("no such plan")
}

/// The plan `id` if `caller` owns it; 404 otherwise.
async fn owned(service: &TrainingService, caller: &Caller, id: &str) -> Result<Plan, Problem> {
    let id: Id = id.parse().map_err(|_| not_found())?;
    match service.store.plan(id).await? {
        Some(plan) if plan.owner_id == caller.user_id => Ok(plan),
        _ => Err(not_found()),
    }
}

/// Creates a plan.
#[utoipa::path(
    post,
    path = "/v1/training/plans",
    operation_id = "create_plan",
    tag = "training",
    security(("bearer" = ["training:write"])),
    request_body = PlanContent,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe.")),
    responses(
        (status = 201, description = "The stored plan.", body = Plan),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: impossible values are named by the JSON path in `detail`, rules across fields in `errors`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    ApiJson(content): ApiJson<PlanContent>,
) -> Response {
    let fingerprint = serde_json::to_vec(&content).unwrap_or_default();
    create_once(
        service.db.clone(),
        caller.user_id,
        "POST /v1/training/plans",
        key,
        &fingerprint,
        || async move {
            let content = checked(&service, content, caller.user_id).await?;
            let t = now();
            let plan = Plan {
                id: service.ids.next_id(),
                owner_id: caller.user_id,
                assigned_by: None,
                content,
                created_at: t,
                updated_at: t,
            };
            service.store.insert_plan(&plan).await?;
            Ok::<_, Problem>(
                (
                    StatusCode::CREATED,
                    [(header::LOCATION, format!("/v1/training/plans/{}", plan.id))],
                    ApiJson(plan),
                )
                    .into_response(),
            )
        },
    )
    .await
}

/// The caller's plans, oldest first.
#[utoipa::path(
    get,
    path = "/v1/training/plans",
    operation_id = "list_plans",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's plans.", body = Page<Plan>),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad limit or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<Plan>>, Problem> {
    let limit = params.limit()?;
    let after = PLANS.parse(params.cursor.as_deref())?;
    let rows = service
        .store
        .plans_of(caller.user_id, after.map(|c| c.id), limit + 1)
        .await?;
    Ok(ApiJson(PLANS.page(rows, limit, |p| Cursor::new((), p.id))))
}

/// The caller's plans, oldest first: ordered by id alone (a plan's id never
/// changes), so the cursors carry no other key.
const PLANS: Keyset<()> = Keyset::new("training.plans");

/// One of the caller's plans.
#[utoipa::path(
    get,
    path = "/v1/training/plans/{id}",
    operation_id = "get_plan",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The plan id.")),
    responses(
        (status = 200, description = "The plan.", body = Plan),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Plan>, Problem> {
    Ok(ApiJson(owned(&service, &caller, &id).await?))
}

/// Replaces one of the caller's plans: name, description and days, all at once
/// (its schedules stay and follow the new days).
#[utoipa::path(
    put,
    path = "/v1/training/plans/{id}",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(("id" = String, Path, description = "The plan id.")),
    request_body = PlanContent,
    responses(
        (status = 200, description = "The changed plan.", body = Plan),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, as for creating a plan.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replace(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(content): ApiJson<PlanContent>,
) -> Result<ApiJson<Plan>, Problem> {
    let old = owned(&service, &caller, &id).await?;
    let content = checked(&service, content, caller.user_id).await?;
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

/// Deletes one of the caller's plans and its schedules; workouts logged while
/// following it keep all their data.
#[utoipa::path(
    delete,
    path = "/v1/training/plans/{id}",
    operation_id = "delete_plan",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(("id" = String, Path, description = "The plan id.")),
    responses(
        (status = 204, description = "Deleted, with its schedules."),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let plan = owned(&service, &caller, &id).await?;
    if !service.store.delete_plan(plan.id).await? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}
