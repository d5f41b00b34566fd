//! `POST /v1/training/plans/{id}/schedule` puts a plan on the calendar;
//! `GET /v1/training/schedule?from&to` shows what is planned and what was done,
//! day by day in the user's time zone, with the plan adherence.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery, Timestamp};
use vigor_common::auth::Caller;
use vigor_common::idempotency::IdempotencyKey;
use vigor_common::problem::Problem;
use vigor_common::Id;

use super::{create_once, invalid};
use crate::domain::kinds::Sport;
use crate::domain::schedule::{planned_days, weekday_name, Schedule, ScheduleDraft};
use crate::service::{now, TrainingService};

/// A schedule as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    /// Its id.
    pub id: Id,
    /// The plan.
    pub plan_id: Id,
    /// First day.
    #[schema(value_type = String, format = Date)]
    pub start_date: NaiveDate,
    /// Weekdays of the pattern.
    pub weekdays: Vec<String>,
    /// IANA time zone.
    pub time_zone: String,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<&Schedule> for ScheduleView {
    fn from(s: &Schedule) -> Self {
        ScheduleView {
            id: s.id,
            plan_id: s.plan_id,
            start_date: s.start_date,
            weekdays: s
                .weekdays
                .iter()
                .map(|d| weekday_name(*d).to_owned())
                .collect(),
            time_zone: s.time_zone.name().to_owned(),
            created_at: s.created_at,
        }
    }
}

/// Puts one of the caller's plans on their calendar.
#[utoipa::path(
    post,
    path = "/v1/training/plans/{id}/schedule",
    operation_id = "schedule_plan",
    tag = "training",
    security(("bearer" = ["training:write"])),
    params(
        ("id" = String, Path, description = "The plan id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe."),
    ),
    request_body = ScheduleDraft,
    responses(
        (status = 201, description = "The schedule.", body = ScheduleView),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, named in `errors`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(service): State<TrainingService>,
    caller: Caller,
    key: IdempotencyKey,
    Path(plan_id): Path<String>,
    ApiJson(draft): ApiJson<ScheduleDraft>,
) -> Response {
    let fingerprint = serde_json::to_vec(&(&plan_id, &draft)).unwrap_or_default();
    create_once(
        service.db.clone(),
        caller.user_id,
        "POST /v1/training/plans/{id}/schedule",
        key,
        &fingerprint,
        || async move {
            let not_found = || Problem::not_found("no such plan");
            let plan_id: Id = plan_id.parse().map_err(|_| not_found())?;
            match service.store.plan(plan_id).await? {
                Some(p) if p.owner_id == caller.user_id => {}
                _ => return Err(not_found()),
            }
            let (start_date, weekdays, time_zone) = draft.parse().map_err(invalid)?;
            let schedule = Schedule {
                id: service.ids.next_id(),
                owner_id: caller.user_id,
                plan_id,
                start_date,
                weekdays,
                time_zone,
                created_at: now(),
            };
            service.store.insert_schedule(&schedule).await?;
            Ok::<_, Problem>(
                (StatusCode::CREATED, ApiJson(ScheduleView::from(&schedule))).into_response(),
            )
        },
    )
    .await
}

/// Query of the calendar.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarParams {
    /// First day (`YYYY-MM-DD`, local); default today.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive; default 6 days after `from`.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// A planned session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlannedSession {
    /// The schedule.
    pub schedule_id: Id,
    /// The plan.
    pub plan_id: Id,
    /// The plan's name.
    pub plan_name: String,
    /// Index of the plan day.
    pub day_index: usize,
    /// Its name.
    pub day_name: String,
}

/// A workout done.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DoneSession {
    /// The workout.
    pub workout_id: Id,
    /// Its sport.
    pub sport: Sport,
    /// Seconds.
    pub duration_s: f64,
    /// Metres, when known.
    pub distance_m: Option<f64>,
}

/// One day of the calendar.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarDay {
    /// The local date.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// What was planned.
    pub planned: Vec<PlannedSession>,
    /// What was done.
    pub done: Vec<DoneSession>,
}

/// The calendar answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Calendar {
    /// First day.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last day.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The time zone the days are in (the newest schedule's, else UTC).
    pub time_zone: String,
    /// Days with something planned or done, in order.
    pub days: Vec<CalendarDay>,
    /// Planned days up to today.
    pub planned_to_date: u32,
    /// Of those, days on which a workout was logged.
    pub kept_to_date: u32,
    /// `kept / planned × 100`; `null` before anything was planned.
    pub adherence_percent: Option<f64>,
}

fn day(days: &mut BTreeMap<NaiveDate, CalendarDay>, date: NaiveDate) -> &mut CalendarDay {
    days.entry(date).or_insert_with(|| CalendarDay {
        date,
        planned: Vec::new(),
        done: Vec::new(),
    })
}

/// The longest calendar window.
const MAX_DAYS: i64 = 366;

/// What is planned and what was done, day by day.
#[utoipa::path(
    get,
    path = "/v1/training/schedule",
    tag = "training",
    security(("bearer" = ["training:read"])),
    params(CalendarParams),
    responses(
        (status = 200, description = "The calendar.", body = Calendar),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad date, or a reversed or too long range.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn calendar(
    State(service): State<TrainingService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<CalendarParams>,
) -> Result<ApiJson<Calendar>, Problem> {
    calendar_of(&service, caller.user_id, params).await
}

/// [`calendar`] of `user`'s data (the caller's, or an athlete's for their coach).
pub(super) async fn calendar_of(
    service: &TrainingService,
    user: Id,
    params: CalendarParams,
) -> Result<ApiJson<Calendar>, Problem> {
    let schedules = service.store.schedules_of(user).await?;
    let tz: Tz = schedules.last().map_or(chrono_tz::UTC, |s| s.time_zone);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let from = params.from.unwrap_or(today);
    let to = params
        .to
        .unwrap_or_else(|| from.checked_add_days(Days::new(6)).unwrap_or(from));
    if from > to {
        return Err(Problem::invalid_field("from", "must not be after `to`"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(Problem::invalid_field(
            "to",
            format!("the range is at most {MAX_DAYS} days"),
        ));
    }
    let mut days: BTreeMap<NaiveDate, CalendarDay> = BTreeMap::new();
    for s in &schedules {
        let Some(plan) = service.store.plan(s.plan_id).await? else {
            continue;
        };
        for p in planned_days(s, plan.content.days.len(), from, to) {
            day(&mut days, p.date).planned.push(PlannedSession {
                schedule_id: s.id,
                plan_id: plan.id,
                plan_name: plan.content.name.clone(),
                day_index: p.day_index,
                day_name: plan.content.days[p.day_index].name.clone(),
            });
        }
    }
    // Local days start between UTC−12 and UTC+14: a day of margin on each side.
    let utc = |d: NaiveDate| {
        tz.from_utc_datetime(&d.and_time(NaiveTime::MIN))
            .with_timezone(&Utc)
    };
    let start = utc(from.checked_sub_days(Days::new(1)).unwrap_or(from));
    let end = utc(to.checked_add_days(Days::new(2)).unwrap_or(to));
    for s in service.store.sessions(user, start, end).await? {
        let local = s.started_at.with_timezone(&tz).date_naive();
        if local < from || local > to {
            continue;
        }
        day(&mut days, local).done.push(DoneSession {
            workout_id: s.workout_id,
            sport: s.sport,
            duration_s: s.duration_s(),
            distance_m: s.distance.map(|d| d.get()),
        });
    }
    let due: Vec<&CalendarDay> = days
        .values()
        .filter(|d| d.date <= today && !d.planned.is_empty())
        .collect();
    let planned_to_date = due.len() as u32;
    let kept_to_date = due.iter().filter(|d| !d.done.is_empty()).count() as u32;
    Ok(ApiJson(Calendar {
        from,
        to,
        time_zone: tz.name().to_owned(),
        days: days.into_values().collect(),
        planned_to_date,
        kept_to_date,
        adherence_percent: (planned_to_date > 0)
            .then(|| f64::from(kept_to_date) / f64::from(planned_to_date) * 100.0),
    }))
}
