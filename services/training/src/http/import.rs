//! `POST /v1/training/workouts/import`: a GPX or FIT file becomes a workout with
//! its route analysed (distance, moving time, climb, splits, zones, best efforts,
//! the simplified polyline).
//!
//! The whole form is read and the file parsed and analysed before anything is
//! stored, so a bad file is a 422 naming the problem and leaves nothing behind.
//!
//! Imports are bounded ([`ImportGate`]): the body by `http.upload_limit_bytes`
//! (here and at the gateway), the points a file may hold
//! ([`crate::import::MAX_POINTS`]), the imports one user runs at once
//! ([`IMPORTS_PER_USER`], checked before the body is read: 429 beyond) and the
//! parses the process runs at once (one per core; an import that waits longer
//! than [`PARSE_WAIT`] gets 503), so memory and CPU stay bounded however many
//! files arrive.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::Semaphore;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use vigor_common::auth::Caller;
use vigor_common::idempotency::IdempotencyKey;
use vigor_common::problem::Problem;
use vigor_common::Id;

use super::create_once;
use super::workouts::{store_new, WorkoutView};
use crate::domain::analysis::summary::{summarize_with, TrackSummary};
use crate::domain::kinds::{Privacy, Sport};
use crate::domain::workout::{
    default_title, EffortRecord, SplitRecord, TrackAnalysis, Workout, WorkoutContent,
    WorkoutSource, MAX_DURATION,
};
use crate::import::{self, Activity, Format};
use crate::service::{now, TrainingService};

/// `http.upload_limit_bytes` by default.
pub const DEFAULT_UPLOAD_LIMIT: usize = 25 * 1024 * 1024;
/// Imports one user may run at once.
pub const IMPORTS_PER_USER: usize = 2;
/// How long an import waits for a free parser before a 503.
pub const PARSE_WAIT: Duration = Duration::from_secs(20);

/// The bounds on imports; see the module documentation.
pub struct ImportGate {
    max_bytes: usize,
    running: DashMap<Id, usize>,
    parsers: Arc<Semaphore>,
}

impl ImportGate {
    /// Files of up to `max_bytes`, one parse per core.
    pub fn new(max_bytes: usize) -> ImportGate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ImportGate {
            max_bytes,
            running: DashMap::new(),
            parsers: Arc::new(Semaphore::new(cores)),
        }
    }

    /// The largest file taken.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Starts an import of `user`'s; `None` when they already run
    /// [`IMPORTS_PER_USER`]. The import ends when the ticket is dropped.
    pub fn enter(self: &Arc<Self>, user: Id) -> Option<ImportTicket> {
        let mut running = self.running.entry(user).or_insert(0);
        if *running >= IMPORTS_PER_USER {
            return None;
        }
        *running += 1;
        Some(ImportTicket {
            gate: self.clone(),
            user,
        })
    }
}

/// One running import; see [`ImportGate::enter`].
pub struct ImportTicket {
    gate: Arc<ImportGate>,
    user: Id,
}

impl Drop for ImportTicket {
    fn drop(&mut self) {
        self.gate.running.remove_if_mut(&self.user, |_, running| {
            *running -= 1;
            *running == 0
        });
    }
}

/// The multipart form of an import, for the OpenAPI document.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// The GPX or FIT file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// `public`, `followers` (default) or `private`.
    // A form field is absent or has a value: it is never `null`.
    #[schema(value_type = Privacy, required = false)]
    pub privacy: Option<Privacy>,
    /// The sport, when the file does not say or says wrong.
    #[schema(value_type = Sport, required = false)]
    pub sport: Option<Sport>,
    /// A title (default: the file's name for the activity, or the sport).
    #[schema(value_type = String, required = false)]
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
    security(("bearer" = ["training:write"])),
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat gets the first answer.")),
    responses(
        (status = 201, description = "The stored workout with `distance_m`, `duration_s`, `moving_time_s` and the track analysis; `workout.logged` is emitted.", body = WorkoutView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than `http.upload_limit_bytes` (25 MiB by default).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The caller already runs two imports; retry after `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every parser is busy; retry after `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is not a usable GPX or FIT activity (the detail names the problem), or a field is invalid; nothing is stored.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    // Before the body is read: a user's third upload costs nothing.
    let Some(_ticket) = service.imports.enter(caller.user_id) else {
        return Problem::typed(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too-many-imports",
            "Too many imports",
        )
        .with_detail(format!(
            "at most {IMPORTS_PER_USER} imports of one user run at once"
        ))
        .with_retry_after(5)
        .into_response();
    };
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
    create_once(
        service.db.clone(),
        caller.user_id,
        "POST /v1/training/workouts/import",
        key,
        &fingerprint,
        || async move {
            let w = imported_workout(&service, caller.user_id, fields).await?;
            store_new(&service, w).await
        },
    )
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
    // Zones from the athlete's own maximum heart rate, when set.
    let settings = service.store.settings(owner).await?;
    // Parsing and analysing 10,000s of points is CPU work: off the async threads,
    // one per core at a time.
    let parser = tokio::time::timeout(PARSE_WAIT, service.imports.parsers.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            Problem::new(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                .with_detail("every importer is busy: try again shortly")
                .with_retry_after(5)
        })?;
    let (activity, summary) = tokio::task::spawn_blocking(move || {
        let _parser = parser;
        import::parse(&bytes).map(|a| {
            let s = summarize_with(&a.track, &|observed| settings.zone_max(observed));
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
            heart_rate_zones_s: summary.heart_rate_zones_s,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_runs_a_bounded_number_of_imports_at_once() {
        let gate = Arc::new(ImportGate::new(1024));
        let (ann, bob) = (Id::from_i64(1), Id::from_i64(2));
        let first = gate.enter(ann).expect("the first import");
        let second = gate.enter(ann).expect("the second import");
        assert!(gate.enter(ann).is_none(), "a third at once is refused");
        assert!(gate.enter(bob).is_some(), "other users are not affected");
        drop(first);
        let third = gate.enter(ann).expect("a slot is free again");
        drop((second, third));
        assert!(
            gate.running.is_empty(),
            "finished imports leave nothing behind"
        );
    }
}
