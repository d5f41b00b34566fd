//! `/v1/training/records`, `/v1/training/stats` and `/v1/training/recommendations`:
//! the caller's personal records, training statistics and advice, computed from the logs on request by the pure
//! analysis in [`crate::domain::analysis`].

use axum::extract::{Path, State};
use chrono::{Days, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery};
use vigor_common::auth::Caller;
use vigor_common::problem::Problem;

use crate::domain::analysis::progress::{exercise_progress, ProgressPoint};
use crate::domain::analysis::recommend::{recommend, Inputs, Recommendation, ACWR_DAYS};
use crate::domain::analysis::records::{
    endurance_records, strength_records, EffortAchievement, ExerciseRecords, LongestDistance,
};
use crate::domain::analysis::stats::{acwr_series, series, AcwrPoint, Bucket, StatsPoint};
use crate::domain::analysis::strength::OneRepMaxFormula;
use std::collections::{BTreeMap, BTreeSet};

use crate::domain::analysis::today::{
    muscle_load, train_today, Muscles, PlannedToday, WINDOW_DAYS,
};
use crate::domain::plan::Plan;
use crate::domain::schedule::planned_days;
use crate::service::TrainingService;
use vigor_common::Id;

/// Query of the records.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsParams {
    /// The estimated-1RM formula: `epley` (default) or `brzycki`.
    pub formula: Option<OneRepMaxFormula>,
}

/// The caller's personal records.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Records {
    /// The formula of every `best_e1rm`.
    pub formula: OneRepMaxFormula,
    /// Per exercise.
    pub exercises: Vec<ExerciseRecords>,
    /// Fastest standard distances from running tracks, shortest distance first.
    pub efforts: Vec<EffortAchievement>,
    /// Longest distance per sport.
    pub longest: Vec<LongestDistance>,
}

/// The caller's personal records, each with the workout and date that set it.
#[utoipa::path(
    get,
    path = "/v1/training/records",
    operation_id = "records",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(RecordsParams),
    responses(
        (status = 200, description = "Strength and endurance records.", body = Records),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown formula.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn records(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<RecordsParams>,
) -> Result<ApiJson<Records>, Problem> {
    records_of(&service, caller.user_id, params).await
}

/// [`records`] of `user`'s data (the caller's, or an athlete's for their coach).
pub(super) async fn records_of(
    service: &TrainingService,
    user: Id,
    params: RecordsParams,
) -> Result<ApiJson<Records>, Problem> {
    let formula = params.formula.unwrap_or(OneRepMaxFormula::Epley);
    let sets = service.store.logged_sets(user).await?;
    let sessions = service
        .store
        .sessions(
            user,
            chrono::DateTime::<Utc>::MIN_UTC,
            chrono::DateTime::<Utc>::MAX_UTC,
        )
        .await?;
    let (efforts, longest) = endurance_records(&sessions);
    Ok(ApiJson(Records {
        formula,
        exercises: strength_records(&sets, formula),
        efforts,
        longest,
    }))
}

/// One exercise's progress.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExerciseProgress {
    /// The exercise.
    pub exercise_id: Id,
    /// The formula of every estimate.
    pub formula: OneRepMaxFormula,
    /// One point per workout it was done in, oldest first.
    pub points: Vec<ProgressPoint>,
}

/// The caller's progress on one exercise, workout by workout: best estimated 1RM,
/// top set and volume (what a strength chart draws).
#[utoipa::path(
    get,
    path = "/v1/training/exercises/{id}/progress",
    operation_id = "exercise_progress",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(("id" = String, Path, description = "The exercise."), RecordsParams),
    responses(
        (status = 200, description = "A point per workout, oldest first.", body = ExerciseProgress),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exercise (or another person's custom one).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown formula.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn progress(
    State(service): State<TrainingService>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<RecordsParams>,
) -> Result<ApiJson<ExerciseProgress>, Problem> {
    progress_of(&service, caller.user_id, &id, params).await
}

/// [`progress`] of `user`'s data (the caller's, or an athlete's for their coach);
/// `exercise` as the path gave it.
pub(super) async fn progress_of(
    service: &TrainingService,
    user: Id,
    exercise: &str,
    params: RecordsParams,
) -> Result<ApiJson<ExerciseProgress>, Problem> {
    let not_found = || Problem::not_found("no such exercise");
    let exercise: Id = exercise.parse().map_err(|_| not_found())?;
    service
        .store
        .exercise(exercise, user)
        .await?
        .ok_or_else(not_found)?;
    let formula = params.formula.unwrap_or(OneRepMaxFormula::Epley);
    let sets = service.store.logged_sets(user).await?;
    Ok(ApiJson(ExerciseProgress {
        exercise_id: exercise,
        formula,
        points: exercise_progress(&sets, exercise, formula),
    }))
}

/// Query of the statistics.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// First day (`YYYY-MM-DD`, UTC); default 12 weeks before `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive; default today.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    /// `day`, `week` (default) or `month`.
    pub bucket: Option<Bucket>,
}

/// The statistics answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// First day.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last day.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// Width of a point.
    pub bucket: Bucket,
    /// One point per bucket, oldest first, empty buckets included.
    pub series: Vec<StatsPoint>,
    /// The acute:chronic workload ratio of every day of the range.
    pub acwr: Vec<AcwrPoint>,
}

/// The longest range served: three years and a bit.
const MAX_DAYS: i64 = 1100;

/// The caller's training statistics as time series.
#[utoipa::path(
    get,
    path = "/v1/training/stats",
    operation_id = "stats",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(StatsParams),
    responses(
        (status = 200, description = "Series of sessions, time, distance per sport, volume and load, and the daily ACWR.", body = Stats),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad date, a reversed or too long range.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stats(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<ApiJson<Stats>, Problem> {
    stats_of(&service, caller.user_id, params).await
}

/// [`stats`] of `user`'s data (the caller's, or an athlete's for their coach).
pub(super) async fn stats_of(
    service: &TrainingService,
    user: Id,
    params: StatsParams,
) -> Result<ApiJson<Stats>, Problem> {
    let to = params.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = params.from.unwrap_or_else(|| to - Days::new(83));
    if from > to {
        return Err(Problem::invalid_field("from", "must not be after `to`"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(Problem::invalid_field(
            "from",
            format!("the range is at most {MAX_DAYS} days"),
        ));
    }
    let bucket = params.bucket.unwrap_or(Bucket::Week);
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
    // 27 days before `from` give the first days their chronic load.
    let load_from = from.checked_sub_days(Days::new(27)).unwrap_or(from);
    let end = to.checked_add_days(Days::new(1)).unwrap_or(to);
    let sessions = service
        .store
        .sessions(user, midnight(load_from), midnight(end))
        .await?;
    let profile = service.store.settings(user).await?.heart_rate_profile();
    Ok(ApiJson(Stats {
        from,
        to,
        bucket,
        series: series(&sessions, from, to, bucket, &profile),
        acwr: acwr_series(&sessions, from, to, &profile),
    }))
}

/// Query of the recommendations.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationParams {
    /// The plan to take next targets from; default the caller's newest plan.
    pub plan_id: Option<String>,
}

/// The recommendations answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recommendations {
    /// Deloads and warnings first, then what to train today, then next targets.
    pub items: Vec<Recommendation>,
}

/// Advice for today: deloads, load-jump warnings, what to train today and
/// next-session targets, each with its reason and numbers.
#[utoipa::path(
    get,
    path = "/v1/training/recommendations",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(RecommendationParams),
    responses(
        (status = 200, description = "Today's recommendations.", body = Recommendations),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`plan_id` is not one of the caller's plans.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recommendations(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<RecommendationParams>,
) -> Result<ApiJson<Recommendations>, Problem> {
    let store = &service.store;
    let plan = match params.plan_id.as_deref().filter(|p| !p.is_empty()) {
        Some(id) => {
            let not_found = || Problem::not_found("no such plan");
            let id: Id = id.parse().map_err(|_| not_found())?;
            match store.plan(id).await? {
                Some(p) if p.owner_id == caller.user_id => Some(p),
                _ => return Err(not_found()),
            }
        }
        None => newest_plan(&service, caller.user_id).await?,
    };
    let today = Utc::now().date_naive();
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
    let first = today.checked_sub_days(Days::new(30)).unwrap_or(today);
    let end = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let sessions = store
        .sessions(caller.user_id, midnight(first), midnight(end))
        .await?;
    let recent = today
        .checked_sub_days(Days::new(ACWR_DAYS as u64 - 1))
        .unwrap_or(today);
    let profile = store.settings(caller.user_id).await?.heart_rate_profile();
    let acwr = acwr_series(&sessions, recent, today, &profile);
    let two_weeks = today.checked_sub_days(Days::new(13)).unwrap_or(today);
    let daily: Vec<f64> = series(&sessions, two_weeks, today, Bucket::Day, &profile)
        .iter()
        .map(|p| p.load)
        .collect();
    let sets = store.logged_sets(caller.user_id).await?;
    let today = what_to_train_today(&service, caller.user_id).await?;
    let items = recommend(&Inputs {
        acwr: &acwr,
        daily_load: &daily,
        sets: &sets,
        plan: plan.as_ref(),
        today: Some(today),
    });
    Ok(ApiJson(Recommendations { items }))
}

/// What `user` should train today: the session their schedule plans for today
/// (in the newest schedule's time zone), else the muscle groups their sets of
/// the last days — bodyweight ones too — loaded least.
async fn what_to_train_today(
    service: &TrainingService,
    user: Id,
) -> Result<Recommendation, Problem> {
    let store = &service.store;
    let schedules = store.schedules_of(user).await?;
    let tz = schedules.last().map_or(chrono_tz::UTC, |s| s.time_zone);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let mut planned = None;
    // The newest schedule that plans something today wins.
    for s in schedules.iter().rev() {
        let Some(plan) = store.plan(s.plan_id).await? else {
            continue;
        };
        let Some(day) = planned_days(s, plan.content.days.len(), today, today)
            .first()
            .copied()
        else {
            continue;
        };
        let day = &plan.content.days[day.day_index];
        let mut exercises = Vec::new();
        for e in &day.exercises {
            let name = store
                .exercise(e.exercise_id, user)
                .await?
                .map_or_else(|| format!("exercise {}", e.exercise_id), |x| x.name);
            exercises.push(name);
        }
        planned = Some(PlannedToday {
            plan_id: plan.id,
            plan_name: plan.content.name.clone(),
            day_name: day.name.clone(),
            exercises,
        });
        break;
    }
    let since = Utc::now() - chrono::Duration::days(WINDOW_DAYS);
    let sets = store.sets_since(user, since).await?;
    let recent: BTreeSet<Id> = sets.iter().map(|s| s.exercise_id).collect();
    let mut muscles = BTreeMap::new();
    for id in recent {
        if let Some(e) = store.exercise(id, user).await? {
            muscles.insert(
                id,
                Muscles {
                    primary: e.primary_muscles,
                    secondary: e.secondary_muscles,
                },
            );
        }
    }
    Ok(train_today(
        planned.as_ref(),
        &muscle_load(&sets, &muscles, since),
    ))
}

/// The caller's most recently created plan (ids are time-ordered).
async fn newest_plan(service: &TrainingService, owner: Id) -> Result<Option<Plan>, Problem> {
    let mut newest = None;
    let mut after = None;
    loop {
        let page = service.store.plans_of(owner, after, 100).await?;
        let Some(last) = page.last() else {
            return Ok(newest);
        };
        after = Some(last.id);
        newest = page.into_iter().last();
    }
}
