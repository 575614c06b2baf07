//! The REST API under `/api/v1`: every route registered here is also described in the OpenAPI
//! document served at `/api/v1/openapi.json` (utoipa-axum builds both from the same list).

mod cameras;
mod edits;
mod evidence_links;
mod error;
mod frames;
pub mod incidents;
mod sinks;
mod system;
mod zones;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ApiResult, ErrorBody, FieldError};

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Steward control API", description = "Cameras, zones, incidents, sinks and users of one Steward box. Sign in with a session (cookie + X-CSRF-Token) or an API token (Authorization: Bearer). See docs/control-api.md."),
    components(schemas(ErrorBody, FieldError)),
    modifiers(&Security),
    security(("session" = []), ("token" = []))
)]
struct ApiDoc;

/// Declares the two ways to authenticate.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("steward_session"))));
        components.add_security_scheme("token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The `/api/v1` routes and their OpenAPI document.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .merge(crate::auth::routes())
        .merge(cameras::routes())
        .merge(zones::routes())
        .merge(incidents::routes())
        .merge(evidence_links::routes())
        .merge(sinks::routes())
        .merge(system::routes())
        .merge(crate::logtail::routes());
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", api).split_for_parts();
    openapi.info.version = steward_edge::VERSION.to_string();
    (router, openapi)
}

/// Gives every response without a description its status's reason phrase ("OK", "Unauthorized",
/// …): OpenAPI requires one, and the meaning of each status is documented once in
/// docs/control-api.md rather than on every route.
pub fn describe_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in openapi.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head, &mut item.options, &mut item.trace];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let reason = status.parse::<u16>().ok().and_then(|code| axum::http::StatusCode::from_u16(code).ok()).and_then(|code| code.canonical_reason());
                    response.description = reason.unwrap_or("Response").to_string();
                }
            }
        }
    }
}

/// A field error without a place in the config file.
pub fn field(field: &str, message: &str) -> FieldError {
    FieldError { field: field.to_string(), message: message.to_string(), line: None, column: None }
}
