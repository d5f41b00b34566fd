//! `/v1/training/workouts`: log, import, read, change and delete workouts.
//!
//! Access: the owner may do everything; anyone signed in may read a `public`
//! workout. `followers` workouts are shown to their owner only until the social
//! graph is wired in (failing closed), and `private` ones stay the owner's (their
//! accepted coach comes with plans). A workout the caller may not see is a 404,
//! so its existence does not leak; one they may see but not change is a 403.

use std::str::FromStr;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use vigor_common::api::{ApiJson, Timestamp};
use vigor_common::auth::Caller;
use vigor_common::idempotency::{idempotent, IdempotencyKey};
use vigor_common::problem::Problem;
use vigor_common::Id;

use super::{idempotency_scope, invalid};
use crate::domain::analysis::summary::{summarize, TrackSummary};
use crate::domain::kinds::{Privacy, Sport};
use crate::domain::workout::{
    default_title, EffortRecord, SplitRecord, TrackAnalysis, Workout, WorkoutContent, WorkoutDraft,
    WorkoutExercise, WorkoutSource, MAX_DURATION,
};
use crate::events;
use crate::import::{self, Activity, Format};
use crate::service::{now, TrainingService};

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
            avg_speed_mps: c
                .distance
                .and_then(|d| crate::domain::analysis::track::average_speed(d, time))
                .map(|s| s.0),
            avg_heart_rate: c.avg_heart_rate.map(|h| h.get()),
            max_heart_rate: c.max_heart_rate.map(|h| h.get()),
            calories: c.calories,
            rpe: c.rpe.map(|r| r.get()),
            volume_kg: c.volume().get(),
            exercises: c.exercises.clone(),
            source: w.source,
            track: w.track.clone(),
            version: w.version,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// Whether `caller` may read `w`.
fn can_view(w: &Workout, caller: &Caller) -> bool {
    w.owner_id == caller.user_id || w.content.privacy == Privacy::Public
}

fn not_found() -> Problem {
    Problem::not_found("no such workout")
}

/// The workout `id` as `caller` may see it: 404 when absent or hidden.
async fn visible(service: &TrainingService, caller: &Caller, id: &str) -> Result<Workout, Problem> {
    let id: Id = id.parse().map_err(|_| not_found())?;
    match service.store.workout(id).await? {
        Some(w) if can_view(&w, caller) => Ok(w),
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

fn created(w: &Workout) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/training/workouts/{}", w.id))],
        ApiJson(WorkoutView::from(w)),
    )
        .into_response()
}

/// Stores a new workout with its `workout.logged` event and answers 201.
async fn store_new(service: &TrainingService, w: Workout) -> Result<Response, Problem> {
    service
        .store
        .insert_workout(&w, &events::logged(&service.ids, &w))
        .await?;
    service.events_committed();
    Ok(created(&w))
}

/// Logs a workout: strength (exercises with sets), cardio (sport, distance,
/// time, heart rate) or both.
#[utoipa::path(
    post,
    path = "/v1/training/workouts",
    tag = "training",
    security(("bearer" = [])),
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
    let scope = idempotency_scope(caller.user_id, "POST /v1/training/workouts");
    let db = service.db.clone();
    idempotent(&db, &scope, key, &fingerprint, || async move {
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
    })
    .await
}

/// One workout.
#[utoipa::path(
    get,
    path = "/v1/training/workouts/{id}",
    tag = "training",
    security(("bearer" = [])),
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
    Ok(ApiJson(WorkoutView::from(&w)))
}

/// Changes a workout: members present in the body replace the stored ones
/// (`exercises` replaces all exercises).
#[utoipa::path(
    patch,
    path = "/v1/training/workouts/{id}",
    tag = "training",
    security(("bearer" = [])),
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
    let event = events::updated(&service.ids, &w);
    if !service
        .store
        .update_workout(&w, old.version, &event)
        .await?
    {
        return Err(Problem::conflict(
            "the workout changed meanwhile; read it again and retry",
        ));
    }
    service.events_committed();
    Ok(ApiJson(WorkoutView::from(&w)))
}

/// Deletes a workout.
#[utoipa::path(
    delete,
    path = "/v1/training/workouts/{id}",
    tag = "training",
    security(("bearer" = [])),
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
    if !service
        .store
        .delete_workout(w.id, &events::deleted(&service.ids, &w))
        .await?
    {
        return Err(not_found());
    }
    service.events_committed();
    Ok(StatusCode::NO_CONTENT)
}

/// The multipart form of an import, for the OpenAPI document.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// The GPX or FIT file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// `public`, `followers` (default) or `private`.
    pub privacy: Option<Privacy>,
    /// The sport, when the file does not say or says wrong.
    pub sport: Option<Sport>,
    /// A title (default: the file's name for the activity, or the sport).
    pub title: Option<String>,
}

/// What the multipart form held.
#[derive(Default)]
struct ImportFields {
    file: Option<Vec<u8>>,
    privacy: Option<String>,
    sport: Option<String>,
    title: Option<String>,
}

async fn read_form(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<ImportFields, Problem> {
    let mut multipart =
        multipart.map_err(|r| Problem::new(r.status()).with_detail(r.body_text()))?;
    let mut fields = ImportFields::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        Problem::new(e.status()).with_detail(e.body_text())
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") => fields.file = Some(field.bytes().await.map_err(bad)?.to_vec()),
            Some("privacy") => fields.privacy = Some(field.text().await.map_err(bad)?),
            Some("sport") => fields.sport = Some(field.text().await.map_err(bad)?),
            Some("title") => fields.title = Some(field.text().await.map_err(bad)?),
            _ => {}
        }
    }
    Ok(fields)
}

/// Imports a GPX or FIT file as a new workout, with its route analysed.
#[utoipa::path(
    post,
    path = "/v1/training/workouts/import",
    tag = "training",
    security(("bearer" = [])),
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat gets the first answer.")),
    responses(
        (status = 201, description = "The stored workout with `distance_m`, `duration_s`, `moving_time_s` and the track analysis; `workout.logged` is emitted.", body = WorkoutView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is too large.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is not a usable GPX or FIT activity (the detail names the problem), or a field is invalid; nothing is stored.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let fields = match read_form(multipart).await {
        Ok(f) => f,
        Err(p) => return p.into_response(),
    };
    let mut hash = Sha256::new();
    for part in [
        &fields.file,
        &fields.privacy.as_ref().map(|s| s.as_bytes().to_vec()),
    ] {
        hash.update(part.as_deref().unwrap_or_default());
        hash.update([0]);
    }
    hash.update(fields.sport.as_deref().unwrap_or_default());
    hash.update([0]);
    hash.update(fields.title.as_deref().unwrap_or_default());
    let fingerprint = hash.finalize();
    let scope = idempotency_scope(caller.user_id, "POST /v1/training/workouts/import");
    let db = service.db.clone();
    idempotent(&db, &scope, key, &fingerprint, || async move {
        let w = imported_workout(&service, caller.user_id, fields).await?;
        store_new(&service, w).await
    })
    .await
}

async fn imported_workout(
    service: &TrainingService,
    owner: Id,
    fields: ImportFields,
) -> Result<Workout, Problem> {
    let privacy = match fields
        .privacy
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => Privacy::Followers,
        Some(p) => {
            Privacy::from_str(p).map_err(|e| Problem::invalid_field("privacy", e.to_string()))?
        }
    };
    let sport = match fields
        .sport
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            Some(Sport::from_str(s).map_err(|e| Problem::invalid_field("sport", e.to_string()))?)
        }
    };
    let title = match fields.title.as_deref() {
        None => None,
        Some(t) => Some(
            crate::domain::exercise::parse_name(t, "title", 200)
                .map_err(|p| Problem::invalid_field(p.field, p.message))?,
        ),
    };
    let Some(bytes) = fields.file else {
        return Err(Problem::invalid_field(
            "file",
            "is required: a GPX or FIT file",
        ));
    };
    // Parsing and analysing 10,000s of points is CPU work: off the async threads.
    let (activity, summary) = tokio::task::spawn_blocking(move || {
        import::parse(&bytes).map(|a| {
            let s = summarize(&a.track);
            (a, s)
        })
    })
    .await
    .map_err(|e| Problem::internal(anyhow::anyhow!("import task failed: {e}")))?
    .map_err(|e| Problem::invalid_field("file", e.to_string()))?;
    let content = imported_content(&activity, &summary, sport, title, privacy)?;
    let t = now();
    Ok(Workout {
        id: service.ids.next_id(),
        owner_id: owner,
        content,
        source: match activity.format {
            Format::Gpx => WorkoutSource::Gpx,
            Format::Fit => WorkoutSource::Fit,
        },
        track: Some(TrackAnalysis {
            polyline: summary.polyline.clone(),
            splits_km: summary.splits_km.iter().map(SplitRecord::from).collect(),
            splits_mile: summary.splits_mile.iter().map(SplitRecord::from).collect(),
            best_efforts: summary
                .best_efforts
                .iter()
                .map(|(n, e)| EffortRecord::new(n, e))
                .collect(),
        }),
        version: 1,
        created_at: t,
        updated_at: t,
    })
}

fn imported_content(
    activity: &Activity,
    summary: &TrackSummary,
    sport: Option<Sport>,
    title: Option<String>,
    privacy: Privacy,
) -> Result<WorkoutContent, Problem> {
    let file_problem = |m: &str| Problem::invalid_field("file", m);
    let (Some(start), Some(end)) = (activity.track.start(), activity.track.end()) else {
        return Err(file_problem(
            "the track has no times, so it is not a recorded activity",
        ));
    };
    if end <= start {
        return Err(file_problem(
            "the track's first and last points have the same time",
        ));
    }
    if (end - start).to_std().is_ok_and(|d| d > MAX_DURATION) {
        return Err(file_problem("the activity lasts more than 48 hours"));
    }
    let sport = sport.or(activity.sport).unwrap_or(Sport::Other);
    let has_elevation = activity
        .track
        .points()
        .iter()
        .any(|p| p.elevation.is_some());
    Ok(WorkoutContent {
        sport,
        title: title
            .or_else(|| {
                activity
                    .name
                    .as_ref()
                    .and_then(|n| crate::domain::exercise::parse_name(n, "title", 200).ok())
            })
            .unwrap_or_else(|| default_title(sport)),
        notes: String::new(),
        privacy,
        started_at: start,
        ended_at: end,
        moving_time: summary.moving,
        distance: Some(summary.distance),
        elevation_gain: has_elevation.then_some(summary.elevation_gain),
        avg_heart_rate: summary.heart_rate.map(|(avg, _)| avg),
        max_heart_rate: summary.heart_rate.map(|(_, max)| max),
        calories: None,
        rpe: None,
        exercises: Vec::new(),
    })
}
