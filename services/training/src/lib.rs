//! The training service: exercise catalogue, workout logs (strength and cardio,
//! GPX/FIT import) and their analysis; plans, schedule, records, stats and
//! recommendations build on these.
//!
//! It owns its own database (`training`: PostgreSQL distributed, SQLite embedded)
//! and its routes live under `/v1/training`. Layout:
//!
//! - [`domain`]: types that hold only valid values (units, sports, set types,
//!   workouts, tracks) and the pure analysis (`domain::analysis`);
//! - [`import`]: GPX and FIT files into a track;
//! - [`store`]: the storage trait and its SQL backends, with the outbox;
//! - [`http`]: the handlers, one module per resource;
//! - [`events`]: what it emits (`workout.logged`, `workout.updated`, `workout.deleted`)
//!   and consumes (`user.deleted`).
//!
//! At start it seeds the embedded exercise catalogue (adding entries it lacks)
//! and starts the outbox relay.

pub mod domain;
pub mod events;
pub mod http;
pub mod import;
pub mod service;
pub mod store;

use utoipa::OpenApi;
use vigor_common::api::BearerSecurity;
use vigor_common::bus::ServiceEvents;
use vigor_common::config::ServiceName;
use vigor_common::db::Migrations;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

pub use service::TrainingService;

/// The service's own migrations (versions from 1000).
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Training,
        prefixes: &["/v1/training"],
        uploads: &[http::IMPORT_PATH],
        sql: true,
        migrations: Some(&MIGRATIONS),
        openapi,
        build: |ctx| Box::pin(build(ctx)),
    }
}

/// Starts the service: the outbox relay, the catalogue seed and the
/// `user.deleted` consumer.
async fn build(ctx: ServiceContext) -> anyhow::Result<RunningService> {
    let events = ServiceEvents::start(&ctx);
    let service = TrainingService::new(ctx.reads(), ctx.ids.clone())
        .with_relay(events.relay())
        .with_upload_limit(ctx.config.http.upload_limit_bytes);
    let added = service.seed_catalogue().await?;
    if added > 0 {
        tracing::info!(added, "seeded the exercise catalogue");
    }
    events
        .consume(events::GROUP, events::handlers(service.clone()))
        .await?;
    Ok(RunningService {
        router: http::router(service),
        checks: Vec::new(),
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::exercises::list,
        http::exercises::get,
        http::exercises::create,
        http::workouts::list,
        http::workouts::create,
        http::import::import,
        http::workouts::get,
        http::workouts::update,
        http::workouts::delete,
        http::analysis::records,
        http::analysis::progress,
        http::plans::create,
        http::plans::list,
        http::plans::get,
        http::plans::replace,
        http::plans::delete,
        http::schedule::create,
        http::schedule::calendar,
        http::analysis::stats,
        http::analysis::recommendations,
        http::me::export,
        http::me::settings,
        http::me::put_settings,
        http::coaching::invite,
        http::coaching::list,
        http::coaching::accept,
        http::coaching::decline,
        http::coaching::end,
        http::coaching::workouts,
        http::coaching::records,
        http::coaching::progress,
        http::coaching::stats,
        http::coaching::schedule,
        http::coaching::assign,
        http::coaching::assigned,
        http::coaching::update_assigned,
    ),
    components(schemas(
        domain::exercise::Exercise,
        domain::exercise::ExerciseSource,
        http::exercises::NewExercise,
        http::workouts::WorkoutView,
        http::import::ImportForm,
        domain::workout::WorkoutDraft,
        domain::workout::ExerciseDraft,
        domain::workout::SetDraft,
        domain::workout::WorkoutExercise,
        domain::workout::WorkoutSet,
        domain::workout::WorkoutSource,
        domain::workout::TrackAnalysis,
        domain::workout::SplitRecord,
        domain::workout::EffortRecord,
        domain::kinds::Sport,
        domain::kinds::SetType,
        domain::kinds::Privacy,
        domain::kinds::ExerciseCategory,
        domain::kinds::Mechanics,
        domain::kinds::Measurement,
        http::analysis::Records,
        domain::plan::Plan,
        domain::schedule::ScheduleDraft,
        http::schedule::ScheduleView,
        http::schedule::Calendar,
        http::schedule::CalendarDay,
        http::schedule::PlannedSession,
        http::schedule::DoneSession,
        domain::plan::PlanContent,
        domain::plan::PlanDay,
        domain::plan::PlannedExercise,
        domain::plan::SetPrescription,
        domain::plan::RepRange,
        domain::plan::LoadPrescription,
        domain::plan::Progression,
        domain::analysis::progression::Target,
        domain::analysis::progression::Action,
        http::analysis::Stats,
        http::analysis::Recommendations,
        domain::analysis::recommend::Recommendation,
        domain::analysis::recommend::RecommendationKind,
        domain::analysis::records::ExerciseRecords,
        domain::analysis::progress::ProgressPoint,
        http::analysis::ExerciseProgress,
        domain::analysis::records::Achievement,
        domain::analysis::records::OneRepMaxRecord,
        domain::analysis::records::RepsAtWeight,
        domain::analysis::records::EffortAchievement,
        domain::analysis::records::LongestDistance,
        domain::analysis::records::RecordSet,
        domain::analysis::records::RecordKind,
        domain::analysis::stats::StatsPoint,
        domain::analysis::stats::AcwrPoint,
        domain::analysis::stats::Bucket,
        domain::analysis::strength::OneRepMaxFormula,
        http::me::TrainingExport,
        http::me::SettingsView,
        domain::settings::SettingsDraft,
        http::coaching::Invitation,
        http::coaching::CoachLinks,
        http::coaching::AssignedPlans,
        domain::coaching::CoachLink,
        domain::kinds::LinkStatus,
        vigor_common::problem::Problem,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "training", description = "Exercise catalogue, workout logging and import, analysis, plans and schedule, coaching, recommendations."),
    )
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc = openapi();
        let documented: Vec<(String, Vec<String>)> = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods = Vec::new();
                for (name, op) in [
                    ("get", &item.get),
                    ("post", &item.post),
                    ("put", &item.put),
                    ("patch", &item.patch),
                    ("delete", &item.delete),
                ] {
                    if op.is_some() {
                        methods.push(name.to_owned());
                    }
                }
                (path.clone(), methods)
            })
            .collect();
        let expected = [
            (
                "/v1/training/athletes/{id}/exercises/{exercise_id}/progress",
                vec!["get"],
            ),
            ("/v1/training/athletes/{id}/plans", vec!["get", "post"]),
            ("/v1/training/athletes/{id}/plans/{plan_id}", vec!["put"]),
            ("/v1/training/athletes/{id}/records", vec!["get"]),
            ("/v1/training/athletes/{id}/schedule", vec!["get"]),
            ("/v1/training/athletes/{id}/stats", vec!["get"]),
            ("/v1/training/athletes/{id}/workouts", vec!["get"]),
            ("/v1/training/coaching", vec!["get"]),
            ("/v1/training/coaching/athletes", vec!["post"]),
            ("/v1/training/coaching/{id}", vec!["delete"]),
            ("/v1/training/coaching/{id}/accept", vec!["post"]),
            ("/v1/training/coaching/{id}/decline", vec!["post"]),
            ("/v1/training/exercises", vec!["get", "post"]),
            ("/v1/training/exercises/{id}", vec!["get"]),
            ("/v1/training/exercises/{id}/progress", vec!["get"]),
            ("/v1/training/me/export", vec!["get"]),
            ("/v1/training/me/settings", vec!["get", "put"]),
            ("/v1/training/plans", vec!["get", "post"]),
            ("/v1/training/plans/{id}", vec!["get", "put", "delete"]),
            ("/v1/training/plans/{id}/schedule", vec!["post"]),
            ("/v1/training/recommendations", vec!["get"]),
            ("/v1/training/records", vec!["get"]),
            ("/v1/training/schedule", vec!["get"]),
            ("/v1/training/stats", vec!["get"]),
            ("/v1/training/workouts", vec!["get", "post"]),
            ("/v1/training/workouts/import", vec!["post"]),
            ("/v1/training/workouts/{id}", vec!["get", "patch", "delete"]),
        ];
        let expected: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(p, m)| (p.to_string(), m.iter().map(|s| s.to_string()).collect()))
            .collect();
        assert_eq!(documented, expected);
        let schemas = &doc.components.as_ref().unwrap().schemas;
        for name in [
            "WorkoutView",
            "WorkoutDraft",
            "Exercise",
            "Records",
            "Stats",
            "Problem",
        ] {
            assert!(schemas.contains_key(name), "{name} is not in the document");
        }
        assert!(doc
            .components
            .as_ref()
            .unwrap()
            .security_schemes
            .contains_key("bearer"));
    }

    #[test]
    fn the_spec_owns_the_training_prefix() {
        let spec = spec();
        assert!(spec.sql);
        assert_eq!(spec.prefixes, &["/v1/training"]);
        assert!(spec.migrations.is_some());
    }
}
