//! `/v1/training/exercises`: search the catalogue and one's own exercises, add
//! private custom exercises.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery, Keyset, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::idempotency::IdempotencyKey;
use vigor_common::problem::{FieldError, Problem};
use vigor_common::Id;

use super::create_once;
use crate::domain::exercise::{parse_name, parse_slugs, Exercise, EQUIPMENT, MUSCLES};
use crate::domain::kinds::{ExerciseCategory, Measurement, Mechanics};
use crate::service::TrainingService;
use crate::store::{exercise_position, ExerciseQuery};

/// The exercise search, ordered by (lowercased name, id): its cursors carry the
/// name key.
const EXERCISES: Keyset<String> = Keyset::new("training.exercises");

/// Query of the exercise search.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExerciseParams {
    /// Words of the name, in order (case-insensitive).
    pub q: Option<String>,
    /// A muscle slug (`chest`, `quads`, …), primary or secondary.
    pub muscle: Option<String>,
    /// An equipment slug (`barbell`, `dumbbell`, …).
    pub equipment: Option<String>,
    /// How many at most (1–100, default 20).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page of the same search (opaque).
    pub cursor: Option<String>,
}

/// Searches the exercises the caller can use: the shared catalogue and their own.
#[utoipa::path(
    get,
    path = "/v1/training/exercises",
    operation_id = "search_exercises",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(ExerciseParams),
    responses(
        (status = 200, description = "A page of exercises ordered by name.", body = Page<Exercise>),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown muscle or equipment, a bad limit or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ExerciseParams>,
) -> Result<ApiJson<Page<Exercise>>, Problem> {
    let limit = PageParams {
        limit: params.limit,
        cursor: None,
    }
    .limit()?;
    let one = |value: Option<String>,
               allowed: &[&str],
               field: &'static str|
     -> Result<Option<String>, Problem> {
        match value.filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_slugs(&[v], allowed, field)
                .map(|mut s| s.pop())
                .map_err(|p| Problem::invalid_field(p.field, p.message)),
        }
    };
    let muscle = one(params.muscle, MUSCLES, "muscle")?;
    let equipment = one(params.equipment, EQUIPMENT, "equipment")?;
    let after = EXERCISES.parse(params.cursor.as_deref())?;
    if params.q.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(Problem::invalid_field(
            "q",
            "must be at most 100 characters",
        ));
    }
    let rows = service
        .store
        .search_exercises(&ExerciseQuery {
            viewer: caller.user_id,
            text: params.q,
            muscle,
            equipment,
            after,
            limit: limit + 1,
        })
        .await?;
    Ok(ApiJson(EXERCISES.page(rows, limit, exercise_position)))
}

/// One exercise.
#[utoipa::path(
    get,
    path = "/v1/training/exercises/{id}",
    operation_id = "get_exercise",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The exercise id.")),
    responses(
        (status = 200, description = "The exercise.", body = Exercise),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exercise, or another user's custom one.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Exercise>, Problem> {
    let not_found = || Problem::not_found("no such exercise");
    let id: Id = id.parse().map_err(|_| not_found())?;
    let exercise = service
        .store
        .exercise(id, caller.user_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ApiJson(exercise))
}

/// A custom exercise to add.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewExercise {
    /// Name (1–100 characters, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// How to do it.
    #[serde(default)]
    pub description: String,
    /// Broad kind (default `strength`).
    pub category: Option<ExerciseCategory>,
    /// Muscles it mainly works (slugs).
    #[serde(default)]
    pub primary_muscles: Vec<String>,
    /// Muscles it also works.
    #[serde(default)]
    pub secondary_muscles: Vec<String>,
    /// What it needs (slugs).
    #[serde(default)]
    pub equipment: Vec<String>,
    /// Compound or isolation (default: compound when it works two or more muscles).
    pub mechanics: Option<Mechanics>,
    /// One side at a time (default false).
    #[serde(default)]
    pub unilateral: bool,
    /// What one logs (default `weight_reps`).
    pub measurement: Option<Measurement>,
}

/// Adds a custom exercise that only the caller sees.
#[utoipa::path(
    post,
    path = "/v1/training/exercises",
    operation_id = "create_exercise",
    tag = "training",
    security(("bearer" = ["training:write"])),
    request_body = NewExercise,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe.")),
    responses(
        (status = 201, description = "The exercise, private to the caller.", body = Exercise),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, named in `errors`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    ApiJson(body): ApiJson<NewExercise>,
) -> Response {
    let fingerprint = serde_json::to_vec(&body).unwrap_or_default();
    create_once(
        service.db.clone(),
        caller.user_id,
        "POST /v1/training/exercises",
        key,
        &fingerprint,
        || async move {
            let exercise = parse_new(body, &service, caller.user_id)?;
            service.store.insert_exercise(&exercise).await?;
            Ok::<_, Problem>((StatusCode::CREATED, ApiJson(exercise)).into_response())
        },
    )
    .await
}

fn parse_new(body: NewExercise, service: &TrainingService, owner: Id) -> Result<Exercise, Problem> {
    let mut errors = Vec::new();
    let mut take = |r: Result<Vec<String>, crate::domain::exercise::FieldProblem>| match r {
        Ok(v) => v,
        Err(p) => {
            errors.push(FieldError {
                field: p.field.to_owned(),
                message: p.message,
            });
            Vec::new()
        }
    };
    let primary = take(parse_slugs(
        &body.primary_muscles,
        MUSCLES,
        "primary_muscles",
    ));
    let secondary = take(parse_slugs(
        &body.secondary_muscles,
        MUSCLES,
        "secondary_muscles",
    ));
    let equipment = take(parse_slugs(&body.equipment, EQUIPMENT, "equipment"));
    let name = parse_name(&body.name, "name", 100)
        .map_err(|p| {
            errors.push(FieldError {
                field: p.field.to_owned(),
                message: p.message,
            })
        })
        .ok();
    if body.description.chars().count() > 5000 {
        errors.push(FieldError {
            field: "description".into(),
            message: "must be at most 5000 characters".into(),
        });
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let secondary: Vec<String> = secondary
        .into_iter()
        .filter(|m| !primary.contains(m))
        .collect();
    let mechanics = body
        .mechanics
        .unwrap_or(if primary.len() + secondary.len() >= 2 {
            Mechanics::Compound
        } else {
            Mechanics::Isolation
        });
    Ok(Exercise {
        id: service.ids.next_id(),
        owner_id: Some(owner),
        slug: None,
        name,
        description: body.description.trim().to_owned(),
        category: body.category.unwrap_or(ExerciseCategory::Strength),
        primary_muscles: primary,
        secondary_muscles: secondary,
        equipment,
        mechanics,
        unilateral: body.unilateral,
        measurement: body.measurement.unwrap_or(Measurement::WeightReps),
        source: None,
        created_at: crate::service::now(),
    })
}
