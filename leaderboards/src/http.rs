//! The REST API under `/v1/leaderboards`: the list of boards, and one board's
//! ranking in its current period, as a page from the top, around the caller,
//! among the people the caller follows, or within a community or challenge.
//!
//! Every query parameter is parsed into the board module's types before
//! anything is read ([`BoardQuery::parse`]), so a bad window, scope or cursor
//! is a 422 problem+json naming the field, and an unknown board a 404.
//!
//! Who may read what:
//! - global boards, friends (`scope=friends`) and challenge boards: any
//!   signed-in caller with `leaderboards:read` (challenges are public goals
//!   anyone may join; their boards are as public as the challenge);
//! - a community board (`scope=community:{id}`): whoever may follow the
//!   community's live channel, as the social service answers for the caller
//!   (members; anyone for a public community); others get 404, as social does
//!   for communities they cannot see.
//!
//! Ranks: a top page and around-me show the rank on the whole board instance;
//! a friends board ranks the caller and the people they follow among
//! themselves (1 is the best of them).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery, Cursor, Page, PageParams};
use vigor_common::auth::scopes::{self, ScopePolicy};
use vigor_common::auth::{bearer_token, Caller};
use vigor_common::{Id, Problem};
use vigor_hub::BearerToken;

use crate::board::{BoardDef, BoardError, BoardId, BoardWindow, Scope, ScopeKind, Window};
use crate::people::People;
use crate::store::{ordered, top_page, BoardStore, Entry, TOP_PAGES};

/// The scope each route needs: `leaderboards:read` (the service has no writes).
pub fn scope_policy() -> ScopePolicy {
    ScopePolicy::only(scopes::LEADERBOARDS_READ)
}

/// The boards this service knows, by id.
#[derive(Clone)]
pub struct Boards {
    defs: Arc<Vec<BoardDef>>,
}

impl Boards {
    /// The boards of `defs`.
    pub fn new(defs: Vec<BoardDef>) -> Boards {
        Boards {
            defs: Arc::new(defs),
        }
    }

    /// The board with id `id`.
    pub fn get(&self, id: &BoardId) -> Option<&BoardDef> {
        self.defs.iter().find(|d| &d.id == id)
    }

    /// Every board.
    pub fn all(&self) -> &[BoardDef] {
        &self.defs
    }
}

/// The service's shared state.
#[derive(Clone)]
pub struct ApiState {
    /// The entries.
    pub store: Arc<dyn BoardStore>,
    /// The definitions.
    pub boards: Boards,
    /// Social and users, asked for the caller.
    pub people: People,
    /// `leaderboards.around_radius`.
    pub around_radius: usize,
}

/// The routes, with their state.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/leaderboards", get(list))
        .route("/v1/leaderboards/{board}", get(board))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(scope_policy()),
            scopes::enforce,
        ))
        .with_state(state)
}

/// A board as `GET /v1/leaderboards` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardInfo {
    /// The id, as in `/v1/leaderboards/{board}`.
    pub id: String,
    /// What it measures: `xp`, `distance`, `workouts`, `duration`.
    pub metric: String,
    /// The unit of its scores: `xp`, `m`, `workouts`, `ms`.
    pub unit: String,
    /// `descending` (higher is better) or `ascending` (times).
    pub order: String,
    /// The windows it keeps, as in `?window=`.
    pub windows: Vec<String>,
    /// Whom it ranks: `global`, `community` or `challenge`.
    pub scope: String,
    /// The IANA time zone its periods reset in.
    pub time_zone: String,
}

impl From<&BoardDef> for BoardInfo {
    fn from(def: &BoardDef) -> BoardInfo {
        BoardInfo {
            id: def.id.to_string(),
            metric: def.metric.as_str().to_owned(),
            unit: def.metric.unit().to_owned(),
            order: match def.order {
                crate::Order::Descending => "descending",
                crate::Order::Ascending => "ascending",
            }
            .to_owned(),
            windows: def.windows.iter().map(|w| w.as_str().to_owned()).collect(),
            scope: match def.scope {
                ScopeKind::Global => "global",
                ScopeKind::Community => "community",
                ScopeKind::Challenge => "challenge",
            }
            .to_owned(),
            time_zone: def.time_zone.name().to_owned(),
        }
    }
}

/// The boards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardList {
    /// Every board, built-in first.
    pub items: Vec<BoardInfo>,
}

/// One ranked row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RankedEntry {
    /// 1 for the first (among the caller's friends with `scope=friends`).
    pub rank: u64,
    /// Whose.
    pub user_id: Id,
    /// Their display name; `null` when it cannot be shown (a deactivated
    /// account, or the users service did not answer).
    pub display_name: Option<String>,
    /// The score, in the board's unit.
    pub score: i64,
}

/// The query of a board.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardParams {
    /// `daily`, `weekly` (default), `monthly` or `all_time`: the current period
    /// of that window, in the board's time zone.
    pub window: Option<String>,
    /// How many entries at most (1–100, default 20); not with `around`.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page of the same board and window.
    pub cursor: Option<String>,
    /// `me`: the caller's entry with `leaderboards.around_radius` entries above
    /// and below (empty when the caller has no entry).
    pub around: Option<String>,
    /// `global` (default for global boards), `friends` (the caller and whom
    /// they follow), `community:{id}` or `challenge:{id}` (that instance of a
    /// community or challenge board).
    pub scope: Option<String>,
}

/// Whom a board request ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// The board instance from the top, a page at a time.
    Top,
    /// The caller and the entries around them.
    AroundMe,
    /// The caller and whom they follow.
    Friends,
}

/// A board request, parsed.
struct BoardQuery {
    window: Window,
    scope: Scope,
    view: View,
    limit: u32,
}

impl BoardQuery {
    fn parse(def: &BoardDef, params: &BoardParams) -> Result<BoardQuery, Problem> {
        let window = match params.window.as_deref() {
            None => Window::Weekly,
            Some(raw) => raw
                .parse::<Window>()
                .map_err(|e| Problem::invalid_field("window", e.to_string()))?,
        };
        let limit = PageParams {
            limit: params.limit,
            cursor: None,
        }
        .limit()?;
        let around = match params.around.as_deref() {
            None => false,
            Some("me") => true,
            Some(_) => return Err(Problem::invalid_field("around", "must be `me`")),
        };
        let (scope, friends) = match params.scope.as_deref() {
            None => (default_scope(def)?, false),
            Some("friends") => (Scope::Global, true),
            Some(raw) => (
                raw.parse::<Scope>()
                    .map_err(|e| Problem::invalid_field("scope", e.to_string()))?,
                false,
            ),
        };
        if friends && def.scope != ScopeKind::Global {
            return Err(Problem::invalid_field(
                "scope",
                format!(
                    "board {} is {}: friends rank on global boards",
                    def.id, def.scope
                ),
            ));
        }
        let view = match (around, friends) {
            (true, true) => {
                return Err(Problem::invalid_field(
                    "around",
                    "a friends board is short enough to show whole: leave out `around`",
                ))
            }
            (true, false) => View::AroundMe,
            (false, true) => View::Friends,
            (false, false) => View::Top,
        };
        if view == View::AroundMe && params.cursor.is_some() {
            return Err(Problem::invalid_field(
                "cursor",
                "`around=me` is one page: it takes no cursor",
            ));
        }
        Ok(BoardQuery {
            window,
            scope,
            view,
            limit,
        })
    }
}

/// The scope a request without `scope=` means: the only one of a global board.
fn default_scope(def: &BoardDef) -> Result<Scope, Problem> {
    match def.scope {
        ScopeKind::Global => Ok(Scope::Global),
        kind => Err(Problem::invalid_field(
            "scope",
            format!(
                "board {} is {kind}: name the instance with `community:{{id}}` or `challenge:{{id}}`",
                def.id
            ),
        )),
    }
}

/// A board error about the request as a 422 naming its field.
fn invalid(error: BoardError) -> Problem {
    let field = match error {
        BoardError::NoSuchWindow { .. } | BoardError::BadWindow(_) => "window",
        BoardError::WrongScope { .. } | BoardError::BadScope(_) => "scope",
        _ => return Problem::internal(anyhow::Error::from(error)),
    };
    Problem::invalid_field(field, error.to_string())
}

/// Lists the boards with their windows and units.
#[utoipa::path(
    get, path = "/v1/leaderboards", operation_id = "list_boards", tag = "leaderboards",
    security(("bearer" = ["leaderboards:read"])),
    responses(
        (status = 200, description = "Every board.", body = BoardList),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<ApiState>, _caller: Caller) -> ApiJson<BoardList> {
    ApiJson(BoardList {
        items: state.boards.all().iter().map(BoardInfo::from).collect(),
    })
}

/// One board's ranking in the current period of a window.
#[utoipa::path(
    get, path = "/v1/leaderboards/{board}", tag = "leaderboards",
    security(("bearer" = ["leaderboards:read"])),
    params(("board" = String, Path, description = "The board, e.g. `xp`."), BoardParams),
    responses(
        (status = 200, description = "Ranked entries, best first.", body = Page<RankedEntry>),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`scope=friends` or a community board with a token the social service refuses (it needs `social:read`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such board, or a community the caller cannot see.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `window`, `scope`, `around`, `limit` or `cursor`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The social service, needed for friends and community boards, did not answer.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn board(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(board): Path<String>,
    ApiQuery(params): ApiQuery<BoardParams>,
) -> Result<ApiJson<Page<RankedEntry>>, Problem> {
    let not_found = || Problem::not_found(format!("no board {board:?}"));
    let id = BoardId::parse(&board).map_err(|_| not_found())?;
    let def = state.boards.get(&id).ok_or_else(not_found)?;
    let query = BoardQuery::parse(def, &params)?;
    let instance = def
        .window_at(query.window, query.scope, Utc::now())
        .map_err(invalid)?;
    let token = BearerToken::new(bearer_token(&headers).unwrap_or_default());
    if let Scope::Community(community) = query.scope {
        if !state
            .people
            .may_see_community(caller.user_id, community, &token)
            .await?
        {
            return Err(Problem::not_found(format!("no community {community}")));
        }
    }
    let store = state.store.as_ref();
    let page = match query.view {
        View::Top => {
            let page = top_page(store, &instance, query.limit, params.cursor.as_deref()).await?;
            Page {
                items: page.items.into_iter().map(|e| (e.rank, e)).collect(),
                next_cursor: page.next_cursor,
            }
        }
        View::AroundMe => Page {
            items: store
                .around(&instance, caller.user_id, state.around_radius)
                .await
                .map_err(Problem::internal)?
                .into_iter()
                .map(|e| (e.rank, e))
                .collect(),
            next_cursor: None,
        },
        View::Friends => {
            let mut people = state.people.following(caller.user_id, &token).await?;
            people.push(caller.user_id);
            people.sort_unstable();
            people.dedup();
            let entries = store
                .ranks_of(&instance, &people)
                .await
                .map_err(Problem::internal)?;
            friends_page(&instance, entries, query.limit, params.cursor.as_deref())?
        }
    };
    let users: Vec<Id> = page.items.iter().map(|(_, e)| e.user).collect();
    let names = state.people.names(&users, &token).await;
    Ok(ApiJson(Page {
        items: page
            .items
            .into_iter()
            .map(|(rank, e)| ranked(rank, e, &names))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A page of the friends board: `entries` (the friends' entries in board
/// order) ranked among themselves, `limit` after `cursor`.
fn friends_page(
    board: &BoardWindow,
    entries: Vec<Entry>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<(u64, Entry)>, Problem> {
    let key = |score: i64, at_ms: i64, user: Id| (ordered(board.order, score), at_ms, user);
    let after = TOP_PAGES
        .parse(cursor)?
        .map(|c| key(c.key.0, c.key.1, c.id));
    let rows: Vec<(u64, Entry)> = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| (i as u64 + 1, e))
        .filter(|(_, e)| {
            let p = e.position();
            after.is_none_or(|a| key(p.score, p.achieved_at_ms, p.user) > a)
        })
        .take(limit as usize + 1)
        .collect();
    Ok(TOP_PAGES.page(rows, limit, |(_, e)| {
        let p = e.position();
        Cursor::new((p.score, p.achieved_at_ms), p.user)
    }))
}

fn ranked(rank: u64, entry: Entry, names: &HashMap<Id, String>) -> RankedEntry {
    RankedEntry {
        rank,
        user_id: entry.user,
        display_name: names.get(&entry.user).cloned(),
        score: entry.score,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_names_the_scope_each_operation_needs() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document is JSON");
        let wrong = super::scope_policy().undocumented(&doc);
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
