//! Challenges over HTTP: create, list, get (with the caller's progress), join,
//! leave.
//!
//! Who may do what: a *global* challenge is made by an admin (role `admin`); a
//! *community* challenge by a member of that community, and only its members
//! see and join it. Membership is what social announced
//! (`social.community_joined`): gamification keeps no copy of community roles,
//! and social does not announce leaving yet, so a former member keeps seeing
//! the community's challenges until it does. A challenge that ended can no
//! longer be joined.

use axum::extract::{Path, State};
use chrono::Utc;
use serde::Serialize;
use vigor_common::api::{ApiJson, ApiQuery, Cursor, Keyset, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use super::invalid;
use crate::domain::challenge::{Challenge, ChallengeDraft};
use crate::service::GamificationService;
use crate::store::Change;

/// A challenge with the caller's part in it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChallengeView {
    /// The challenge.
    #[serde(flatten)]
    pub challenge: Challenge,
    /// Whether the caller takes part.
    pub joined: bool,
    /// The caller's progress (0 when not taking part).
    pub progress: i64,
    /// When the caller reached the goal.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<vigor_common::api::Timestamp>,
    /// The challenge's leaderboard (`GET /v1/leaderboards/{board}?scope=challenge:{id}&window=all_time`).
    pub board: String,
}

async fn view(
    service: &GamificationService,
    caller: Id,
    challenge: Challenge,
) -> Result<ChallengeView, Problem> {
    let snapshot = service.store.snapshot(caller).await?;
    let mine = snapshot
        .challenges
        .iter()
        .find(|p| p.challenge.id == challenge.id);
    Ok(ChallengeView {
        joined: mine.is_some(),
        progress: mine.map_or(0, |p| p.progress),
        completed_at: mine.and_then(|p| p.completed_at),
        board: crate::service::challenge_board(challenge.metric)
            .id
            .to_string(),
        challenge,
    })
}

/// The challenge `id` if `caller` may see it (global, or of one of their
/// communities), else 404.
async fn visible(service: &GamificationService, caller: Id, id: Id) -> Result<Challenge, Problem> {
    let not_found = || Problem::not_found(format!("no challenge {id}"));
    let challenge = service.store.challenge(id).await?.ok_or_else(not_found)?;
    if let Some(community) = challenge.community_id {
        if !service
            .store
            .communities_of(caller)
            .await?
            .contains(&community)
        {
            return Err(not_found());
        }
    }
    Ok(challenge)
}

/// Makes a challenge: global ones by admins, community ones by its members.
#[utoipa::path(
    post, path = "/v1/gamification/challenges", operation_id = "create_challenge", tag = "gamification",
    security(("bearer" = ["gamification:write"])),
    request_body = ChallengeDraft,
    responses(
        (status = 201, description = "The challenge.", body = ChallengeView),
        (status = 403, description = "Not an admin (global) or not a member (community).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad field.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(service): State<GamificationService>,
    caller: Caller,
    ApiJson(draft): ApiJson<ChallengeDraft>,
) -> Result<(axum::http::StatusCode, ApiJson<ChallengeView>), Problem> {
    let challenge = draft
        .parse(service.ids().next_id(), caller.user_id, Utc::now())
        .map_err(invalid)?;
    match challenge.community_id {
        None if !caller.has_role("admin") => {
            return Err(Problem::forbidden("only admins make global challenges"));
        }
        Some(community)
            if !service
                .store
                .communities_of(caller.user_id)
                .await?
                .contains(&community) =>
        {
            return Err(Problem::forbidden(
                "only members make a community's challenges",
            ));
        }
        _ => {}
    }
    service.store.insert_challenge(&challenge).await?;
    let view = view(&service, caller.user_id, challenge).await?;
    Ok((axum::http::StatusCode::CREATED, ApiJson(view)))
}

/// Pages of challenges, newest first.
const CHALLENGES: Keyset<()> = Keyset::new("gamification.challenges");

/// The challenges the caller can join: global and of their communities, not
/// ended, newest first.
#[utoipa::path(
    get, path = "/v1/gamification/challenges", operation_id = "list_challenges", tag = "gamification",
    security(("bearer" = ["gamification:read"])),
    params(PageParams),
    responses((status = 200, description = "Open challenges, newest first.", body = Page<ChallengeView>))
)]
pub async fn list(
    State(service): State<GamificationService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<ChallengeView>>, Problem> {
    let limit = params.limit()?;
    let before = CHALLENGES.parse(params.cursor.as_deref())?.map(|c| c.id);
    let communities = service.store.communities_of(caller.user_id).await?;
    let rows = service
        .store
        .open_challenges(Utc::now(), &communities, before, limit + 1)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for c in rows {
        views.push(view(&service, caller.user_id, c).await?);
    }
    Ok(ApiJson(
        CHALLENGES.page(views, limit, |v| Cursor::new((), v.challenge.id)),
    ))
}

/// One challenge with the caller's progress.
#[utoipa::path(
    get, path = "/v1/gamification/challenges/{id}", operation_id = "get_challenge", tag = "gamification",
    security(("bearer" = ["gamification:read"])),
    params(("id" = Id, Path, description = "The challenge.")),
    responses(
        (status = 200, description = "The challenge.", body = ChallengeView),
        (status = 404, description = "No such challenge the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(service): State<GamificationService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<ChallengeView>, Problem> {
    let challenge = visible(&service, caller.user_id, id).await?;
    Ok(ApiJson(view(&service, caller.user_id, challenge).await?))
}

/// Joins a challenge (again: nothing changes); workouts already in its time box count.
#[utoipa::path(
    post, path = "/v1/gamification/challenges/{id}/join", operation_id = "join_challenge", tag = "gamification",
    security(("bearer" = ["gamification:write"])),
    params(("id" = Id, Path, description = "The challenge.")),
    responses(
        (status = 200, description = "The challenge with the caller's progress.", body = ChallengeView),
        (status = 404, description = "No such challenge the caller may see.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It has ended.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn join(
    State(service): State<GamificationService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<ChallengeView>, Problem> {
    let challenge = visible(&service, caller.user_id, id).await?;
    if challenge.ends_at <= Utc::now() {
        return Err(Problem::conflict("the challenge has ended"));
    }
    service
        .apply(caller.user_id, None, Change::Join(id))
        .await?;
    Ok(ApiJson(view(&service, caller.user_id, challenge).await?))
}

/// Leaves a challenge: the caller's progress and board entry go; idempotent.
#[utoipa::path(
    post, path = "/v1/gamification/challenges/{id}/leave", operation_id = "leave_challenge", tag = "gamification",
    security(("bearer" = ["gamification:write"])),
    params(("id" = Id, Path, description = "The challenge.")),
    responses(
        (status = 200, description = "The challenge, without the caller.", body = ChallengeView),
        (status = 404, description = "No such challenge the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn leave(
    State(service): State<GamificationService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<ChallengeView>, Problem> {
    let challenge = visible(&service, caller.user_id, id).await?;
    service
        .leave(caller.user_id, id, challenge.metric, challenge.starts_at)
        .await
        .map_err(Problem::internal)?;
    Ok(ApiJson(view(&service, caller.user_id, challenge).await?))
}
