//! Who may do what: users and roles, sessions, API tokens, CSRF and login throttling.
//!
//! SKELETON (interface only, to be implemented): handlers ask for a role by taking one of the
//! extractors `RequireViewer`, `RequireOperator`, `RequireAdmin`; each accepts a session cookie
//! (plus `X-CSRF-Token` on every method but GET/HEAD) or an `Authorization: Bearer` API token.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::ApiError;

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

/// The signed-in user (or API token) behind a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

/// Users, sessions and tokens, kept in `control.db` in the storage folder.
#[derive(Clone)]
pub struct AuthStore {
    #[allow(dead_code)]
    inner: Arc<()>,
}

impl AuthStore {
    pub fn open(_path: &Path) -> anyhow::Result<AuthStore> {
        Ok(AuthStore { inner: Arc::new(()) })
    }
}

async fn require<S: Send + Sync>(_parts: &mut Parts, state: &S, _role: Role) -> Result<Principal, ApiError>
where
    AuthStore: FromRef<S>,
{
    let _store = AuthStore::from_ref(state);
    Err(ApiError::unauthorized())
}

macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(pub Principal);

        impl<S: Send + Sync> FromRequestParts<S> for $name
        where
            AuthStore: FromRef<S>,
        {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                require(parts, state, $role).await.map($name)
            }
        }
    };
}

role_extractor!(RequireViewer, Role::Viewer, "Any signed-in user or token (401 otherwise).");
role_extractor!(RequireOperator, Role::Operator, "An operator or admin (401 when not signed in, 403 for a viewer).");
role_extractor!(RequireAdmin, Role::Admin, "An admin (401 when not signed in, 403 otherwise).");
