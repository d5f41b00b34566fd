//! The authorization endpoint: `GET /v1/oauth/authorize` shows a small login page,
//! `POST /v1/oauth/authorize` checks the credentials and redirects back to the
//! client with a code (RFC 6749 §4.1, PKCE S256 required, RFC 9207 `iss`).
//!
//! Order of checks (RFC 6749 §4.1.2.1): an unknown client or a redirect URI that is
//! not the client's is shown as an error page and *never* redirected to (that would
//! make Vigor an open redirector); every later error is sent to the client's
//! redirect URI as `error=…&state=…`. The page is self-contained (inline CSS, no
//! script), cannot be framed, and every value in it is HTML-escaped. The form
//! carries an anti-CSRF token bound to the browser and to the request
//! ([`super::csrf`]); a post without a valid one is refused with 403 before the
//! credentials are looked at.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;
use vigor_common::auth::scopes;

use super::{csrf, ClientAddress, Form};
use crate::domain::pkce::CodeChallenge;
use crate::domain::{Client, GrantType, Scope};
use crate::login::LoginError;
use crate::service::AuthService;

/// A checked authorization request.
struct AuthorizeRequest {
    client: Client,
    redirect_uri: String,
    scope: Scope,
    state: Option<String>,
    challenge: CodeChallenge,
}

impl AuthorizeRequest {
    /// What the form's anti-CSRF token is bound to.
    fn csrf_fields(&self) -> [String; 5] {
        [
            self.client.id.clone(),
            self.redirect_uri.clone(),
            self.scope.to_string(),
            self.state.clone().unwrap_or_default(),
            self.challenge.as_str().to_owned(),
        ]
    }

    /// The form's anti-CSRF token for the browser's `nonce`.
    fn csrf_token(&self, nonce: &str) -> String {
        let fields = self.csrf_fields();
        csrf::token(nonce, &fields.each_ref().map(String::as_str))
    }

    /// Whether `form` carries a valid anti-CSRF token of this request for `nonce`.
    fn csrf_holds(&self, nonce: &str, form: &Form) -> bool {
        let fields = self.csrf_fields();
        form.get(csrf::FIELD).is_some_and(|token| {
            csrf::is_valid(nonce, &fields.each_ref().map(String::as_str), token)
        })
    }
}

/// Why an authorization request cannot go on.
enum Refusal {
    /// Shown on a page: the redirect URI cannot be trusted.
    Page(StatusCode, String),
    /// Sent back to the client's (verified) redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

async fn check(auth: &AuthService, params: &Form) -> Result<AuthorizeRequest, Refusal> {
    let Some(client_id) = params.get("client_id") else {
        return Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "The request names no client (client_id).".into(),
        ));
    };
    let client = match auth.client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(Refusal::Page(
                StatusCode::BAD_REQUEST,
                format!("There is no application with client_id {client_id:?}."),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the client");
            return Err(Refusal::Page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong; try again.".into(),
            ));
        }
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uri_allowed(uri) => uri.to_owned(),
        Some(_) => {
            return Err(Refusal::Page(
                StatusCode::BAD_REQUEST,
                "The redirect URI is not registered for this application, so Vigor will not send you there.".into(),
            ))
        }
        None if client.redirect_uris.len() == 1 && !client.any_loopback_redirect => client.redirect_uris[0].clone(),
        None => {
            return Err(Refusal::Page(
                StatusCode::BAD_REQUEST,
                "The request has no redirect URI (redirect_uri).".into(),
            ))
        }
    };
    let state = params.get("state").map(str::to_owned);
    let redirect_error = |error: &'static str, description: String| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description,
        state: state.clone(),
    };
    if params.get("response_type") != Some("code") {
        return Err(redirect_error(
            "unsupported_response_type",
            "response_type must be code".into(),
        ));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(redirect_error(
            "unauthorized_client",
            "this client may not use the authorization code grant".into(),
        ));
    }
    let challenge = CodeChallenge::parse(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )
    .map_err(|e| redirect_error("invalid_request", e.to_string()))?;
    let scope = Scope::grant(params.get("scope"), &client.scopes)
        .map_err(|e| redirect_error("invalid_scope", e.to_string()))?;
    Ok(AuthorizeRequest {
        client,
        redirect_uri,
        scope,
        state,
        challenge,
    })
}

/// `redirect_uri` with `pairs` added to its query.
fn redirect(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return render(
            StatusCode::BAD_REQUEST,
            None,
            Some("The redirect URI is not a URL."),
            None,
        );
    };
    url.query_pairs_mut().extend_pairs(pairs);
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refusal_response(auth: &AuthService, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(status, message) => render(status, None, Some(&message), None),
        Refusal::Redirect {
            redirect_uri,
            error,
            description,
            state,
        } => {
            let mut pairs = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            pairs.push(("iss", &auth.settings.issuer));
            redirect(&redirect_uri, &pairs)
        }
    }
}

/// Shows the login page for an authorization request.
#[utoipa::path(
    get,
    path = "/v1/oauth/authorize",
    tag = "oauth",
    params(
        ("response_type" = String, Query, description = "`code`."),
        ("client_id" = String, Query, description = "The client."),
        ("redirect_uri" = Option<String>, Query, description = "One of the client's redirect URIs."),
        ("scope" = Option<String>, Query, description = "Space-separated scopes."),
        ("state" = Option<String>, Query, description = "Returned unchanged with the code."),
        ("code_challenge" = String, Query, description = "PKCE: base64url SHA-256 of the verifier."),
        ("code_challenge_method" = String, Query, description = "`S256`."),
    ),
    responses(
        (status = 200, description = "The login page.", content_type = "text/html", body = String),
        (status = 302, description = "An error sent back to the client's redirect URI."),
        (status = 400, description = "Unknown client or foreign redirect URI: an error page, no redirect; parameters that do not parse: a problem.", content(
            (String = "text/html"),
            (vigor_common::Problem = "application/problem+json"),
        )),
    )
)]
pub async fn page(
    State(auth): State<AuthService>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Form::parse_pairs(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(e) => return render(StatusCode::BAD_REQUEST, None, Some(&e), None),
    };
    match check(&auth, &params).await {
        Ok(request) => {
            let nonce = csrf::nonce(&headers).unwrap_or_else(csrf::new_nonce);
            form_page(&auth, StatusCode::OK, &request, &nonce, None, None)
        }
        Err(refusal) => refusal_response(&auth, refusal),
    }
}

/// The login form of `request` for the browser with `nonce`: its token in the
/// form, the nonce in the cookie.
fn form_page(
    auth: &AuthService,
    status: StatusCode,
    request: &AuthorizeRequest,
    nonce: &str,
    message: Option<&str>,
    email: Option<&str>,
) -> Response {
    let token = request.csrf_token(nonce);
    let mut response = render(status, Some((request, &token)), message, email);
    let secure = auth.settings.issuer.starts_with("https://");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, csrf::cookie(nonce, secure));
    response
}

/// `response` with `Retry-After: seconds`.
fn retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Signs the user in and redirects to the client with a code.
#[utoipa::path(
    post,
    path = "/v1/oauth/authorize",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "The authorization request's parameters, plus `email`, `password` and the page's `csrf_token` (with its `vigor_login` cookie)."),
    responses(
        (status = 302, description = "To `redirect_uri?code=…&state=…&iss=…` (codes live 60 s, single use), or an error for the client."),
        (status = 400, description = "Unknown client or foreign redirect URI: an error page, no redirect; parameters that do not parse: a problem.", content(
            (String = "text/html"),
            (vigor_common::Problem = "application/problem+json"),
        )),
        (status = 401, description = "Wrong email or password: the page again, with a message.", content_type = "text/html", body = String),
        (status = 403, description = "No valid anti-CSRF token (the form was not shown in this browser, or expired): the page again; nothing was checked.", content_type = "text/html", body = String),
        (status = 429, description = "Too many failed sign-ins: the page again, with a message.", content_type = "text/html", body = String),
    )
)]
pub async fn submit(
    State(auth): State<AuthService>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match Form::parse_body(&headers, &body) {
        Ok(params) => params,
        Err(e) => return render(StatusCode::BAD_REQUEST, None, Some(&e), None),
    };
    let request = match check(&auth, &params).await {
        Ok(request) => request,
        Err(refusal) => return refusal_response(&auth, refusal),
    };
    let nonce = match csrf::nonce(&headers) {
        Some(nonce) if request.csrf_holds(&nonce, &params) => nonce,
        nonce => {
            let nonce = nonce.unwrap_or_else(csrf::new_nonce);
            let message = "This sign-in form has expired or was not opened in this browser. Please sign in again.";
            return form_page(
                &auth,
                StatusCode::FORBIDDEN,
                &request,
                &nonce,
                Some(message),
                None,
            );
        }
    };
    let email = params.get("email").unwrap_or("");
    let password = params.get("password").unwrap_or("");
    let user = match auth.authenticate_user(email, password, address).await {
        Ok(user) => user,
        Err(error) => {
            let again = |status, message: &str| {
                form_page(&auth, status, &request, &nonce, Some(message), Some(email))
            };
            return match error {
                LoginError::InvalidCredentials => {
                    again(StatusCode::UNAUTHORIZED, "Wrong email or password.")
                }
                LoginError::TooManyAttempts { retry_after: wait } => {
                    let minutes = wait.div_ceil(60);
                    let message =
                        format!("Too many failed attempts. Try again in {minutes} minute(s).");
                    retry_after(again(StatusCode::TOO_MANY_REQUESTS, &message), wait)
                }
                LoginError::Busy { retry_after: wait } => retry_after(
                    again(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Vigor is busy right now. Try again in a moment.",
                    ),
                    wait,
                ),
                LoginError::Internal(e) => {
                    tracing::error!(error = format!("{e:#}"), "sign-in failed");
                    again(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong; try again.",
                    )
                }
            };
        }
    };
    let code = match auth
        .create_code(
            &request.client,
            user.user_id,
            &request.redirect_uri,
            &request.challenge,
            &request.scope,
        )
        .await
    {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "cannot store an authorization code"
            );
            return refusal_response(
                &auth,
                Refusal::Redirect {
                    redirect_uri: request.redirect_uri,
                    error: "server_error",
                    description: "the server failed to issue a code".into(),
                    state: request.state,
                },
            );
        }
    };
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", &auth.settings.issuer));
    redirect(&request.redirect_uri, &pairs)
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;display:flex;\
min-height:100vh;align-items:center;justify-content:center}main{background:#fff;padding:2rem;\
border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);width:min(22rem,90vw)}h1{font-size:1.3rem;\
margin:0 0 .3rem}p{color:#555;margin:.3rem 0 1rem}label{display:block;margin:.8rem 0 .3rem;font-weight:600}\
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #ccc;\
border-radius:6px;font-size:1rem}button{margin-top:1.2rem;width:100%;padding:.7rem;border:0;border-radius:6px;\
background:#e4572e;color:#fff;font-size:1rem;font-weight:600;cursor:pointer}.error{background:#fdecea;\
color:#8a1c12;padding:.6rem;border-radius:6px}";

/// What a third-party client asks to be able to do, as a list in plain words
/// for the user to read before signing in; nothing for first-party clients,
/// which are Vigor itself.
fn consent(request: &AuthorizeRequest) -> String {
    if request.client.first_party || request.scope.tokens().is_empty() {
        return String::new();
    }
    let mut html = format!(
        "<p>{} will be able to:</p><ul class=\"scopes\">",
        escape(&request.client.name)
    );
    for token in request.scope.tokens() {
        // A scope registered before scopes were checked has no description.
        let words = scopes::find(token).map_or(token.as_str(), |s| s.description);
        html.push_str(&format!("<li>{}</li>", escape(words)));
    }
    html.push_str("</ul>");
    html
}

/// Renders the login page with the form of a request and its anti-CSRF token
/// (`form: None` shows only the message).
fn render(
    status: StatusCode,
    form: Option<(&AuthorizeRequest, &str)>,
    message: Option<&str>,
    email: Option<&str>,
) -> Response {
    let mut html = String::from("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    html.push_str("<title>Sign in · Vigor</title><style>");
    html.push_str(STYLE);
    html.push_str("</style></head><body><main>");
    match form {
        Some((request, csrf_token)) => {
            html.push_str("<h1>Sign in to Vigor</h1>");
            html.push_str(&format!(
                "<p>to continue to <strong>{}</strong></p>",
                escape(&request.client.name)
            ));
            html.push_str(&consent(request));
            if let Some(message) = message {
                html.push_str(&format!(
                    "<p class=\"error\" role=\"alert\">{}</p>",
                    escape(message)
                ));
            }
            html.push_str("<form method=\"post\" action=\"/v1/oauth/authorize\">");
            let mut hidden = vec![
                ("response_type", "code".to_owned()),
                ("client_id", request.client.id.clone()),
                ("redirect_uri", request.redirect_uri.clone()),
                ("scope", request.scope.to_string()),
                ("code_challenge", request.challenge.as_str().to_owned()),
                ("code_challenge_method", "S256".to_owned()),
            ];
            if let Some(state) = &request.state {
                hidden.push(("state", state.clone()));
            }
            hidden.push((csrf::FIELD, csrf_token.to_owned()));
            for (name, value) in hidden {
                html.push_str(&format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    escape(&value)
                ));
            }
            html.push_str(&format!(
                "<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" \
                 autocomplete=\"username\" required autofocus value=\"{}\">",
                escape(email.unwrap_or(""))
            ));
            html.push_str(
                "<label for=\"password\">Password</label><input id=\"password\" name=\"password\" \
                 type=\"password\" autocomplete=\"current-password\" required>",
            );
            html.push_str("<button type=\"submit\">Sign in</button></form>");
        }
        None => {
            html.push_str("<h1>This sign-in link does not work</h1>");
            html.push_str(&format!(
                "<p class=\"error\" role=\"alert\">{}</p>",
                escape(message.unwrap_or("The request is invalid."))
            ));
        }
    }
    html.push_str("</main></body></html>");
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
