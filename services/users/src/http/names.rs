//! `GET /v1/users/names?ids=`: the display names of up to 100 users at once,
//! for services that show lists of people (leaderboards) and would otherwise
//! ask for one profile per row.
//!
//! A display name is what every signed-in user sees of any active account
//! (`GET /v1/users/{id}` shows it whatever the profile's privacy), so the
//! answer holds the names of the active accounts among `ids` and leaves out
//! the deactivated and the unknown, as search does.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use crate::domain::Status;
use crate::service::UsersService;

/// The most ids one request may name.
pub const MAX_IDS: usize = 100;

/// The query: comma-separated user ids.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NamesParams {
    /// 1–100 user ids, comma-separated.
    pub ids: Option<String>,
}

/// A user's display name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserName {
    /// The user's id.
    pub id: Id,
    /// The name other people see.
    pub display_name: String,
}

/// The answer: the names found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserNames {
    /// One per active account asked for, in the order asked.
    pub items: Vec<UserName>,
}

/// Parses `ids=1,2,3`: 1 to [`MAX_IDS`] ids, duplicates dropped, order kept.
fn parse_ids(raw: Option<&str>) -> Result<Vec<Id>, Problem> {
    let raw = raw.unwrap_or("");
    let mut ids: Vec<Id> = Vec::new();
    for part in raw.split(',').filter(|p| !p.is_empty()) {
        let id: Id = part
            .trim()
            .parse()
            .map_err(|_| Problem::invalid_field("ids", format!("{part:?} is not a user id")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(Problem::invalid_field(
            "ids",
            format!("must name 1 to {MAX_IDS} user ids, comma-separated"),
        ));
    }
    Ok(ids)
}

/// The display names of the active users among `ids`.
#[utoipa::path(
    get,
    path = "/v1/users/names",
    tag = "users",
    security(("bearer" = ["profile:read"])),
    params(NamesParams),
    responses(
        (status = 200, description = "The names of the active accounts among `ids`, in the order asked.", body = UserNames),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`ids` is missing, too long or not ids.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn names(
    State(users): State<UsersService>,
    _caller: Caller,
    ApiQuery(params): ApiQuery<NamesParams>,
) -> Result<ApiJson<UserNames>, Problem> {
    let ids = parse_ids(params.ids.as_deref())?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        let profile = users.store.profile(id).await.map_err(Problem::internal)?;
        if let Some(profile) = profile.filter(|p| p.status == Status::Active) {
            items.push(UserName {
                id: profile.user_id,
                display_name: profile.display_name,
            });
        }
    }
    Ok(ApiJson(UserNames { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_parsed_deduplicated_and_bounded() {
        assert_eq!(
            parse_ids(Some("3,1,3")).unwrap(),
            vec![Id::from_i64(3), Id::from_i64(1)]
        );
        assert!(parse_ids(None).is_err());
        assert!(parse_ids(Some("1,x")).is_err());
        let many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
        assert!(parse_ids(Some(&many.join(","))).is_err());
    }
}
