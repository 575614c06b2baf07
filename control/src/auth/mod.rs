//! Who may do what: users and roles, sessions, API tokens, CSRF and sign-in throttling.
//!
//! Handlers ask for a role by taking one of the extractors `RequireViewer`, `RequireOperator`,
//! `RequireAdmin`; each accepts a session cookie (plus `X-CSRF-Token` on every method but
//! GET/HEAD/OPTIONS) or an `Authorization: Bearer` API token. `routes()` serves sign-in, setup,
//! users and tokens (mounted under `/api/v1`); `AuthStore::open` opens their SQLite file.

mod password;
mod routes;
mod store;
#[cfg(test)]
mod tests;
mod throttle;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::ApiError;
use password::constant_time_eq;

pub use routes::routes;
pub use store::AuthStore;

/// The session cookie (HttpOnly, SameSite=Strict).
const SESSION_COOKIE: &str = "steward_session";
/// The pre-session cookie that sign-in and setup check `X-CSRF-Token` against (double submit).
const CSRF_COOKIE: &str = "steward_csrf";
const CSRF_HEADER: &str = "x-csrf-token";

/// What a user or token may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Cameras, zones, rules, incidents.
    Operator,
    /// Everything: users, tokens, sinks, codes.
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Operator, Role::Admin].into_iter().find(|role| role.as_str() == text)
    }
}

/// The signed-in user (or API token, named `token:<name>`) behind a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

/// Logs an internal failure (the user database, hashing) and answers 500 without its details.
fn internal_error(error: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{error:#}"), "authentication failed internally");
    ApiError::internal("the user database failed; see the log")
}

fn csrf_refused() -> ApiError {
    ApiError::forbidden("missing or wrong CSRF token")
}

/// Whether the `X-CSRF-Token` header equals `expected`.
fn csrf_header_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers.get(CSRF_HEADER).is_some_and(|sent| !expected.is_empty() && constant_time_eq(sent.as_bytes(), expected.as_bytes()))
}

/// The principal behind a request: a bearer token if there is an `Authorization` header (no
/// CSRF needed), else the session cookie (with the CSRF header on unsafe methods).
fn authenticate(parts: &Parts, store: &AuthStore) -> Result<Principal, ApiError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value.to_str().ok().and_then(|value| value.strip_prefix("Bearer ")).map(str::trim).filter(|token| !token.is_empty());
        let token = token.ok_or_else(ApiError::unauthorized)?;
        return store.token_principal(token).map_err(internal_error)?.ok_or_else(ApiError::unauthorized);
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let cookie = jar.get(SESSION_COOKIE).ok_or_else(ApiError::unauthorized)?;
    let session = store.session(cookie.value()).map_err(internal_error)?.ok_or_else(ApiError::unauthorized)?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !csrf_header_matches(&parts.headers, &session.csrf_token) {
        return Err(csrf_refused());
    }
    Ok(session.principal)
}

fn require<S: Send + Sync>(parts: &Parts, state: &S, role: Role) -> Result<Principal, ApiError>
where
    AuthStore: FromRef<S>,
{
    let principal = authenticate(parts, &AuthStore::from_ref(state))?;
    if principal.role < role {
        return Err(ApiError::forbidden(format!("this needs the {} role", role.as_str())));
    }
    Ok(principal)
}

macro_rules! role_extractor {
    ($(#[$attribute:meta])* $name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        $(#[$attribute])*
        pub struct $name(pub Principal);

        impl<S: Send + Sync> FromRequestParts<S> for $name
        where
            AuthStore: FromRef<S>,
        {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                require(parts, state, $role).map($name)
            }
        }
    };
}

role_extractor!(RequireViewer, Role::Viewer, "Any signed-in user or token (401 otherwise).");
role_extractor!(RequireOperator, Role::Operator, "An operator or admin (401 when not signed in, 403 for a viewer).");
role_extractor!(RequireAdmin, Role::Admin, "An admin (401 when not signed in, 403 otherwise).");
