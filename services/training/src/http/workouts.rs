//! `/v1/training/workouts`: log, read, change and delete workouts (imports are
//! [`super::import`]).
//!
//! Access: the owner may do everything; anyone signed in may read a `public`
//! workout. `followers` workouts are shown to their owner only until the social
//! graph is wired in (failing closed), and `private` ones stay the owner's — and
//! their accepted coach's, who may read (not change) all of them (see
//! [`super::coaching`]). A workout the caller may not see is a 404, so its
//! existence does not leak; one they may see but not change is a 403.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vigor_common::api::{ApiJson, ApiQuery, Keyset, Page, PageParams, Timestamp};
use vigor_common::auth::Caller;
use vigor_common::idempotency::IdempotencyKey;
use vigor_common::problem::Problem;
use vigor_common::Id;

use super::{create_once, invalid};
use crate::domain::analysis::records::RecordSet;
use crate::domain::kinds::{Privacy, Sport};
use crate::domain::workout::{
    TrackAnalysis, Workout, WorkoutContent, WorkoutDraft, WorkoutExercise, WorkoutSource,
};
use crate::events;
use crate::service::{now, TrainingService};
use crate::store::{workout_position, Reflagged};

/// A workout as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkoutView {
    /// Its id.
    pub id: Id,
    /// Its owner.
    pub owner_id: Id,
    /// What kind of session.
    pub sport: Sport,
    /// Title.
    pub title: String,
    /// Notes.
    pub notes: String,
    /// Who may see it.
    pub privacy: Privacy,
    /// Start.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// End.
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: Timestamp,
    /// Length in seconds (end − start).
    pub duration_s: f64,
    /// Time moving, in seconds.
    pub moving_time_s: Option<f64>,
    /// Distance in metres.
    pub distance_m: Option<f64>,
    /// Climb in metres.
    pub elevation_gain_m: Option<f64>,
    /// Average speed in m/s (distance over moving time, or over duration).
    pub avg_speed_mps: Option<f64>,
    /// Average pace in seconds per km (the inverse of `avg_speed_mps`).
    pub avg_pace_s_per_km: Option<f64>,
    /// Average heart rate.
    pub avg_heart_rate: Option<u16>,
    /// Maximum heart rate.
    pub max_heart_rate: Option<u16>,
    /// kcal.
    pub calories: Option<u32>,
    /// Session RPE.
    pub rpe: Option<f64>,
    /// Volume load in kg (working, drop and failure sets done).
    pub volume_kg: f64,
    /// Exercises with their sets.
    pub exercises: Vec<WorkoutExercise>,
    /// Where the data came from.
    pub source: WorkoutSource,
    /// Route analysis of an imported workout.
    pub track: Option<TrackAnalysis>,
    /// Personal records this workout set, judged against the owner's workouts
    /// before it (estimated 1RM by Epley); a record's first value has
    /// `previous: null`. Stored with the workout and rewritten when an earlier
    /// workout of the owner is logged, edited or deleted.
    pub personal_records: Vec<RecordSet>,
    /// Bumped on every change.
    pub version: i64,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<&Workout> for WorkoutView {
    fn from(w: &Workout) -> Self {
        let c = &w.content;
        let time = c.moving_time.unwrap_or_else(|| c.duration());
        let speed = c
            .distance
            .and_then(|d| crate::domain::analysis::track::average_speed(d, time));
        WorkoutView {
            id: w.id,
            owner_id: w.owner_id,
            sport: c.sport,
            title: c.title.clone(),
            notes: c.notes.clone(),
            privacy: c.privacy,
            started_at: c.started_at,
            ended_at: c.ended_at,
            duration_s: c.duration().as_secs_f64(),
            moving_time_s: c.moving_time.map(|d| d.as_secs_f64()),
            distance_m: c.distance.map(|d| d.get()),
            elevation_gain_m: c.elevation_gain.map(|d| d.get()),
            avg_speed_mps: speed.map(|s| s.0),
            avg_pace_s_per_km: speed.and_then(|s| s.pace_per_km()).map(|p| p.as_secs_f64()),
            avg_heart_rate: c.avg_heart_rate.map(|h| h.get()),
            max_heart_rate: c.max_heart_rate.map(|h| h.get()),
            calories: c.calories,
            rpe: c.rpe.map(|r| r.get()),
            volume_kg: c.volume().get(),
            exercises: c.exercises.clone(),
            source: w.source,
            track: w.track.clone(),
            personal_records: Vec::new(),
            version: w.version,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// Whether `caller` may read `w`: its owner, anyone when it is public, its
/// owner's followers when it is for followers, and the owner's accepted coach
/// whatever its privacy.
async fn can_view(
    service: &TrainingService,
    w: &Workout,
    caller: &Caller,
) -> Result<bool, Problem> {
    if w.owner_id == caller.user_id || w.content.privacy == Privacy::Public {
        return Ok(true);
    }
    if w.content.privacy == Privacy::Followers
        && service.store.follows(caller.user_id, w.owner_id).await?
    {
        return Ok(true);
    }
    Ok(caller.has_role(crate::domain::coaching::COACH_ROLE)
        && service.store.coaches(caller.user_id, w.owner_id).await?)
}

fn not_found() -> Problem {
    Problem::not_found("no such workout")
}

/// The workout `id` as `caller` may see it: 404 when absent or hidden.
async fn visible(service: &TrainingService, caller: &Caller, id: &str) -> Result<Workout, Problem> {
    let id: Id = id.parse().map_err(|_| not_found())?;
    match service.store.workout(id).await? {
        Some(w) if can_view(service, &w, caller).await? => Ok(w),
        _ => Err(not_found()),
    }
}

/// The workout `id` if `caller` owns it: 404 hidden, 403 visible but not theirs.
async fn owned(service: &TrainingService, caller: &Caller, id: &str) -> Result<Workout, Problem> {
    let w = visible(service, caller, id).await?;
    if w.owner_id != caller.user_id {
        return Err(Problem::forbidden(
            "only the owner can change or delete a workout",
        ));
    }
    Ok(w)
}

/// 422 unless every exercise of `content` is one `user` can use.
async fn check_exercises(
    service: &TrainingService,
    content: &WorkoutContent,
    user: Id,
) -> Result<(), Problem> {
    let ids = content.exercise_ids();
    if ids.is_empty() {
        return Ok(());
    }
    let known = service.store.visible_exercise_ids(&ids, user).await?;
    let problems: Vec<_> = content
        .exercises
        .iter()
        .enumerate()
        .filter(|(_, e)| known.binary_search(&e.exercise_id).is_err())
        .map(|(i, _)| crate::domain::workout::DraftProblem {
            field: format!("exercises.{i}.exercise_id"),
            message: "no such exercise".to_owned(),
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid(problems))
    }
}

/// `owner`'s workouts `ws` as the API shows them, with their stored record flags.
pub(super) async fn all_views(
    service: &TrainingService,
    owner: Id,
    ws: &[Workout],
) -> Result<Vec<WorkoutView>, Problem> {
    let ids: Vec<Id> = ws.iter().map(|w| w.id).collect();
    let mut flags = service.flags_of(owner, &ids).await?;
    Ok(ws
        .iter()
        .map(|w| {
            let mut view = WorkoutView::from(w);
            view.personal_records = flags.remove(&w.id).unwrap_or_default();
            view
        })
        .collect())
}

/// `w` as the API shows it, with its stored record flags.
pub(super) async fn view(service: &TrainingService, w: &Workout) -> Result<WorkoutView, Problem> {
    let mut views = all_views(service, w.owner_id, std::slice::from_ref(w)).await?;
    Ok(views.pop().expect("one view per workout"))
}

fn created(w: &Workout, view: WorkoutView) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/training/workouts/{}", w.id))],
        ApiJson(view),
    )
        .into_response()
}

/// Stores a new workout with its record flags and its `workout.logged` event
/// (carrying the records it set) and answers 201.
pub(super) async fn store_new(service: &TrainingService, w: Workout) -> Result<Response, Problem> {
    let event = |r: &Reflagged| {
        events::written(
            &service.ids,
            events::WORKOUT_LOGGED,
            &w,
            &r.records,
            &r.changed,
        )
    };
    let flags = service.store.insert_workout(&w, &event).await?;
    service.events_committed();
    let mut view = WorkoutView::from(&w);
    view.personal_records = flags.records;
    Ok(created(&w, view))
}

/// Logs a workout: strength (exercises with sets), cardio (sport, distance,
/// time, heart rate) or both.
#[utoipa::path(
    post,
    path = "/v1/training/workouts",
    operation_id = "log_workout",
    tag = "training",
    security(("bearer" = ["training:write"])),
    request_body = WorkoutDraft,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat gets the first answer.")),
    responses(
        (status = 201, description = "The stored workout; `workout.logged` is emitted.", body = WorkoutView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all named in `errors`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    ApiJson(draft): ApiJson<WorkoutDraft>,
) -> Response {
    let fingerprint = serde_json::to_vec(&draft).unwrap_or_default();
    create_once(
        service.db.clone(),
        caller.user_id,
        "POST /v1/training/workouts",
        key,
        &fingerprint,
        || async move {
            let content = draft.parse().map_err(invalid)?;
            check_exercises(&service, &content, caller.user_id).await?;
            let t = now();
            let w = Workout {
                id: service.ids.next_id(),
                owner_id: caller.user_id,
                content,
                source: WorkoutSource::Manual,
                track: None,
                version: 1,
                created_at: t,
                updated_at: t,
            };
            store_new(&service, w).await
        },
    )
    .await
}

/// The caller's workouts, newest first.
#[utoipa::path(
    get,
    path = "/v1/training/workouts",
    operation_id = "list_workouts",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's workouts, newest first.", body = Page<WorkoutView>),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad limit or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<WorkoutView>>, Problem> {
    Ok(ApiJson(page_of(&service, caller.user_id, &params).await?))
}

/// One owner's workouts, newest first: the caller's own, or an athlete's for
/// their coach. Ordered by (start, id), so its cursors carry the start.
const WORKOUTS: Keyset<Timestamp> = Keyset::new("training.workouts");

/// The page of `owner`'s workouts that `params` asks for.
pub(super) async fn page_of(
    service: &TrainingService,
    owner: Id,
    params: &PageParams,
) -> Result<Page<WorkoutView>, Problem> {
    let limit = params.limit()?;
    let after = WORKOUTS.parse(params.cursor.as_deref())?;
    let rows = service
        .store
        .workouts_of(owner, after.as_ref(), limit + 1)
        .await?;
    let page = WORKOUTS.page(rows, limit, workout_position);
    Ok(Page {
        items: all_views(service, owner, &page.items).await?,
        next_cursor: page.next_cursor,
    })
}

/// One workout.
#[utoipa::path(
    get,
    path = "/v1/training/workouts/{id}",
    operation_id = "get_workout",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The workout id.")),
    responses(
        (status = 200, description = "The workout.", body = WorkoutView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workout, or not one the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<WorkoutView>, Problem> {
    let w = visible(&service, &caller, &id).await?;
    Ok(ApiJson(view(&service, &w).await?))
}

/// Changes a workout: members present in the body replace the stored ones
/// (`exercises` replaces all exercises).
#[utoipa::path(
    patch,
    path = "/v1/training/workouts/{id}",
    operation_id = "update_workout",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(("id" = String, Path, description = "The workout id.")),
    request_body = WorkoutDraft,
    responses(
        (status = 200, description = "The changed workout; `workout.updated` is emitted.", body = WorkoutView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A workout the caller may see but does not own.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workout, or not one the caller may see.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It changed meanwhile; read it again and retry.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all named in `errors`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<WorkoutDraft>,
) -> Result<ApiJson<WorkoutView>, Problem> {
    let old = owned(&service, &caller, &id).await?;
    let content = draft.parse_over(Some(&old.content)).map_err(invalid)?;
    check_exercises(&service, &content, caller.user_id).await?;
    let w = Workout {
        content,
        version: old.version + 1,
        updated_at: now(),
        ..old.clone()
    };
    // The change can move the records of later workouts too: the store
    // rewrites all that differ with it.
    let event = |r: &Reflagged| {
        events::written(
            &service.ids,
            events::WORKOUT_UPDATED,
            &w,
            &r.records,
            &r.changed,
        )
    };
    let Some(flags) = service
        .store
        .update_workout(&w, old.version, &event)
        .await?
    else {
        return Err(Problem::conflict(
            "the workout changed meanwhile; read it again and retry",
        ));
    };
    service.events_committed();
    let mut shown = WorkoutView::from(&w);
    shown.personal_records = flags.records;
    Ok(ApiJson(shown))
}

/// Deletes a workout.
#[utoipa::path(
    delete,
    path = "/v1/training/workouts/{id}",
    operation_id = "delete_workout",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(("id" = String, Path, description = "The workout id.")),
    responses(
        (status = 204, description = "Deleted; `workout.deleted` is emitted."),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A workout the caller may see but does not own.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workout, or not one the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let w = owned(&service, &caller, &id).await?;
    // Records it held pass to the next-best workouts after it.
    let event = |r: &Reflagged| events::deleted(&service.ids, &w, &r.changed);
    if !service
        .store
        .delete_workout(w.owner_id, w.id, &event)
        .await?
    {
        return Err(not_found());
    }
    service.events_committed();
    Ok(StatusCode::NO_CONTENT)
}
