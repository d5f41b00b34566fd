//! The OAuth scopes of the Vigor API, defined once, and their enforcement per route.
//!
//! A token carries the scopes its client was granted (RFC 6749 §3.3); every
//! service refuses an operation the token's scopes do not cover with a 403
//! problem+json of type `…/insufficient_scope` and a
//! `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` challenge
//! (RFC 6750 §3.1). The scopes:
//!
//! | scope | lets a client | implied by |
//! |---|---|---|
//! | `profile:read` | read the user's profile and search people | `api` |
//! | `profile:write` | change the user's profile | `api` |
//! | `training:read` | read workouts, plans, schedule, records, stats, coaching | `api` |
//! | `training:write` | log, change and delete workouts; plans, schedule, coaching | `api` |
//! | `social:read` | read the social side: live channels over the WebSocket | `api` |
//! | `social:write` | post, follow, chat (the social service's writes) | `api` |
//! | `gamification:read` | read the user's XP, achievements, challenges and rewards | `api` |
//! | `gamification:write` | join and make challenges, change game settings | `api` |
//! | `leaderboards:read` | read leaderboards: tops, around-me, friends and community boards | `api` |
//! | `api` | everything above, on behalf of the user | — |
//! | `account` | export, deactivate and delete the account; change its email or password | — |
//! | `staff` | staff actions on other accounts (roles, reactivation, deletion) — still only for users with the admin role | — |
//! | `hub.publish` | push events to live channels (`POST /v1/hub/publish`, client credentials) | — |
//! | `introspect` | check access tokens at `POST /v1/oauth/introspect` (confidential resource servers) | — |
//!
//! `api` is the broad first-party scope, but it does not imply `account` or
//! `staff`: an app that may log workouts for someone must not be able to delete
//! their account or act with their staff rights. The built-in first-party client
//! (`vigor-web`, the password grant) is granted [`FIRST_PARTY`], which is all a
//! user can do. Refresh tokens come with the client's `refresh_token` grant, not
//! with a scope, so there is no `offline_access`.
//!
//! The check is one [`ScopePolicy`] per router, applied with `route_layer`: it
//! requires the service's read scope of `GET`/`HEAD` and its write scope of every
//! other method unless a route is named as an exception, so a new route gets a
//! scope decision by default instead of none. A request without a token, or with
//! one that does not verify, passes on to the handler, whose `Caller` extractor
//! answers it (401): the policy decides only what a valid token may do.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::caller::{authenticate, bearer_token};
use crate::problem::Problem;

/// Read the user's profile and search people.
pub const PROFILE_READ: &str = "profile:read";
/// Change the user's profile.
pub const PROFILE_WRITE: &str = "profile:write";
/// Read the user's training: workouts, plans, schedule, analysis, coaching.
pub const TRAINING_READ: &str = "training:read";
/// Change the user's training.
pub const TRAINING_WRITE: &str = "training:write";
/// Read the social side (live channels included).
pub const SOCIAL_READ: &str = "social:read";
/// Act on the social side.
pub const SOCIAL_WRITE: &str = "social:write";
/// Read the user's game: XP, levels, streaks, achievements, challenges, rewards.
pub const GAMIFICATION_READ: &str = "gamification:read";
/// Act in the game: join and make challenges, change game settings.
pub const GAMIFICATION_WRITE: &str = "gamification:write";
/// Read leaderboards (the service has no writes of its own: scores come from
/// gamification's events).
pub const LEADERBOARDS_READ: &str = "leaderboards:read";
/// The whole API on behalf of the user, except [`ACCOUNT`] and [`STAFF`].
pub const API: &str = "api";
/// The account itself: export, deactivation, deletion, email and password changes.
pub const ACCOUNT: &str = "account";
/// Staff actions on other accounts (with the admin role).
pub const STAFF: &str = "staff";
/// Push events to live channels (client credentials).
pub const HUB_PUBLISH: &str = "hub.publish";
/// Check access tokens at the introspection endpoint (resource servers).
pub const INTROSPECT: &str = "introspect";

/// What the built-in first-party client (`vigor-web`) is granted: everything a
/// user can do.
pub const FIRST_PARTY: [&str; 3] = [API, ACCOUNT, STAFF];

/// A scope, with what it means in plain words (shown on the consent page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeInfo {
    /// The scope token.
    pub name: &'static str,
    /// What it lets a client do, for people.
    pub description: &'static str,
    /// The scopes it includes.
    pub implies: &'static [&'static str],
}

/// Every scope Vigor knows, in the order the metadata and the consent page list them.
pub const ALL: [ScopeInfo; 14] = [
    ScopeInfo {
        name: API,
        description: "Use Vigor on your behalf: your profile, training and social activity",
        implies: &[
            PROFILE_READ,
            PROFILE_WRITE,
            TRAINING_READ,
            TRAINING_WRITE,
            SOCIAL_READ,
            SOCIAL_WRITE,
            GAMIFICATION_READ,
            GAMIFICATION_WRITE,
            LEADERBOARDS_READ,
        ],
    },
    ScopeInfo {
        name: PROFILE_READ,
        description: "See your profile and search for people",
        implies: &[],
    },
    ScopeInfo {
        name: PROFILE_WRITE,
        description: "Change your profile",
        implies: &[],
    },
    ScopeInfo {
        name: TRAINING_READ,
        description: "See your workouts, plans, schedule, records and coaching",
        implies: &[],
    },
    ScopeInfo {
        name: TRAINING_WRITE,
        description: "Log, change and delete your workouts, plans, schedule and coaching",
        implies: &[],
    },
    ScopeInfo {
        name: SOCIAL_READ,
        description: "See your feed, communities and chats, and receive live updates",
        implies: &[],
    },
    ScopeInfo {
        name: SOCIAL_WRITE,
        description: "Post, follow, comment and chat as you",
        implies: &[],
    },
    ScopeInfo {
        name: GAMIFICATION_READ,
        description: "See your XP, achievements, challenges and rewards",
        implies: &[],
    },
    ScopeInfo {
        name: GAMIFICATION_WRITE,
        description: "Join and make challenges and change your game settings",
        implies: &[],
    },
    ScopeInfo {
        name: LEADERBOARDS_READ,
        description: "See leaderboards, your rank and your friends' ranks",
        implies: &[],
    },
    ScopeInfo {
        name: ACCOUNT,
        description:
            "Manage your account: export or delete it, deactivate it, change its email or password",
        implies: &[],
    },
    ScopeInfo {
        name: STAFF,
        description: "Use your staff rights on other people's accounts",
        implies: &[],
    },
    ScopeInfo {
        name: HUB_PUBLISH,
        description: "Push events to live channels (services only)",
        implies: &[],
    },
    ScopeInfo {
        name: INTROSPECT,
        description: "Check access tokens given to it (resource servers only)",
        implies: &[],
    },
];

/// The scope named `name`, if Vigor knows it.
pub fn find(name: &str) -> Option<&'static ScopeInfo> {
    ALL.iter().find(|s| s.name == name)
}

/// The names of every scope.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|s| s.name)
}

/// Whether the `granted` scopes cover `required`, directly or through a scope
/// that implies it.
pub fn covers<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    granted.iter().any(|g| {
        let g = g.as_ref();
        g == required || find(g).is_some_and(|info| info.implies.contains(&required))
    })
}

/// The 403 for a token without `required` (RFC 6750 §3.1).
pub fn insufficient(required: &str) -> Response {
    let mut response = Problem::typed(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        "Insufficient scope",
    )
    .with_detail(format!("this operation needs the {required:?} scope"))
    .with_extension("scope", required)
    .into_response();
    // Scope names are fixed constants: no quotes or control characters.
    if let Ok(challenge) = HeaderValue::from_str(&format!(
        "Bearer realm=\"vigor\", error=\"insufficient_scope\", scope=\"{required}\""
    )) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// Which scope each route of a router needs: its read scope for `GET` and `HEAD`,
/// its write scope for every other method, unless the route is an exception.
#[derive(Debug, Clone)]
pub struct ScopePolicy {
    read: &'static str,
    write: &'static str,
    exceptions: Vec<(Method, &'static str, &'static str)>,
}

impl ScopePolicy {
    /// Reads need `read`, writes `write`.
    pub fn new(read: &'static str, write: &'static str) -> ScopePolicy {
        ScopePolicy {
            read,
            write,
            exceptions: Vec::new(),
        }
    }

    /// Every method needs `scope`.
    pub fn only(scope: &'static str) -> ScopePolicy {
        ScopePolicy::new(scope, scope)
    }

    /// `method` on the route `path` (as written in the router, `{id}` and all)
    /// needs `scope` instead.
    pub fn except(mut self, method: Method, path: &'static str, scope: &'static str) -> Self {
        self.exceptions.push((method, path, scope));
        self
    }

    /// The scope `method` on the route `path` needs.
    pub fn required(&self, method: &Method, path: &str) -> &'static str {
        if let Some((_, _, scope)) = self
            .exceptions
            .iter()
            .find(|(m, p, _)| m == method && *p == path)
        {
            return scope;
        }
        if *method == Method::GET || *method == Method::HEAD {
            self.read
        } else {
            self.write
        }
    }

    /// The operations of `openapi` (a service's document, as JSON) whose
    /// `security` does not name, as their `bearer` scope, the one this policy
    /// requires: one line each, so a test can keep the document honest.
    pub fn undocumented(&self, openapi: &serde_json::Value) -> Vec<String> {
        let mut wrong = Vec::new();
        let Some(paths) = openapi["paths"].as_object() else {
            return vec!["the document has no paths".to_owned()];
        };
        for (path, item) in paths {
            let Some(operations) = item.as_object() else {
                continue;
            };
            for (method, operation) in operations {
                let Ok(parsed) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                if operation.get("responses").is_none() {
                    continue; // not an operation (`parameters`, `summary`, …)
                }
                let required = self.required(&parsed, path);
                let documented = &operation["security"][0]["bearer"];
                if *documented != serde_json::json!([required]) {
                    wrong.push(format!(
                        "{method} {path}: documents {documented}, needs [\"{required}\"]"
                    ));
                }
            }
        }
        wrong
    }
}

/// The middleware of a [`ScopePolicy`]: `router.route_layer(
/// axum::middleware::from_fn_with_state(Arc::new(policy), scopes::enforce))`.
pub async fn enforce(
    State(policy): State<Arc<ScopePolicy>>,
    request: Request,
    next: Next,
) -> Response {
    if bearer_token(request.headers()).is_none() {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // A token that does not verify is the handler's to answer (401); the policy
    // only decides what a valid one may do.
    if let Ok(claims) = authenticate(&mut parts).await {
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map_or_else(|| parts.uri.path(), MatchedPath::as_str);
        let required = policy.required(&parts.method, path);
        let granted: Vec<&str> = claims.scopes().collect();
        if !covers(&granted, required) {
            return insufficient(required);
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_covers_reads_and_writes_but_not_the_account() {
        for scope in [
            PROFILE_READ,
            PROFILE_WRITE,
            TRAINING_READ,
            TRAINING_WRITE,
            SOCIAL_READ,
            SOCIAL_WRITE,
        ] {
            assert!(covers(&[API], scope), "{scope}");
        }
        assert!(!covers(&[API], ACCOUNT));
        assert!(!covers(&[API], STAFF));
        assert!(!covers(&[API], HUB_PUBLISH));
        assert!(covers(&FIRST_PARTY, ACCOUNT));
    }

    #[test]
    fn a_narrow_scope_covers_itself_only() {
        assert!(covers(&[PROFILE_READ], PROFILE_READ));
        assert!(!covers(&[PROFILE_READ], PROFILE_WRITE));
        assert!(!covers(&[PROFILE_READ], ACCOUNT));
        assert!(!covers(&[TRAINING_WRITE], TRAINING_READ));
        // An unknown scope implies nothing.
        assert!(!covers(&["profile:*"], PROFILE_READ));
        assert!(!covers::<&str>(&[], PROFILE_READ));
    }

    #[test]
    fn every_scope_is_described_once() {
        let mut names: Vec<_> = names().collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        for info in ALL {
            assert!(!info.description.is_empty());
            for implied in info.implies {
                assert!(find(implied).is_some(), "{implied}");
            }
        }
        assert!(FIRST_PARTY.iter().all(|s| find(s).is_some()));
    }

    #[test]
    fn reads_and_writes_get_their_scopes_unless_excepted() {
        let policy = ScopePolicy::new(PROFILE_READ, PROFILE_WRITE)
            .except(Method::DELETE, "/v1/users/me", ACCOUNT)
            .except(Method::GET, "/v1/users/me/export", ACCOUNT);
        assert_eq!(policy.required(&Method::GET, "/v1/users/me"), PROFILE_READ);
        assert_eq!(policy.required(&Method::HEAD, "/v1/users/me"), PROFILE_READ);
        assert_eq!(
            policy.required(&Method::PATCH, "/v1/users/me"),
            PROFILE_WRITE
        );
        assert_eq!(policy.required(&Method::DELETE, "/v1/users/me"), ACCOUNT);
        assert_eq!(
            policy.required(&Method::GET, "/v1/users/me/export"),
            ACCOUNT
        );
        assert_eq!(
            policy.required(&Method::DELETE, "/v1/users/{id}"),
            PROFILE_WRITE
        );
    }
}
