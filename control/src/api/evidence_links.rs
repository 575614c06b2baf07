//! Evidence behind signed, expiring links (sinks in `evidence = "url"` mode): the platform
//! fetches a picture with the link it was sent, without a session; the link's HMAC (keyed by
//! that sink's secret) and its expiry are the only credentials.

use axum::extract::{FromRef, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use steward_edge::config::Sink;
use steward_edge::sink::{LinkRefused, verify_link};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incidents::{IncidentsState, evidence};
use super::{ApiError, ApiResult, ErrorBody};
use crate::app::AppState;

/// What a link carries besides the evidence's place.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The sink whose secret signed the link.
    pub sink: String,
    /// Unix seconds after which the link is refused.
    pub expires: i64,
    /// Hex HMAC-SHA256 of `<incident>:<seq>:<position>:<expires>` with the sink's secret.
    pub sig: String,
}

/// One evidence file, for the holder of a valid link (no session needed).
#[utoipa::path(get, path = "/evidence-links/{id}/{seq}/{position}", tag = "incidents", security(()),
    params(
        ("id" = String, Path, description = "incident id"),
        ("seq" = u32, Path, description = "the event's seq"),
        ("position" = u32, Path, description = "index in the event document's evidence array"),
        LinkQuery,
    ),
    responses(
        (status = 200, description = "the file, with its media type", content(("image/jpeg"), ("video/mp4"))),
        (status = 400, description = "a malformed link", body = ErrorBody),
        (status = 403, description = "a wrong signature, an unknown sink, or an expired link", body = ErrorBody),
        (status = 404, description = "unknown evidence, or no longer on disk", body = ErrorBody),
    ))]
async fn linked_evidence(State(state): State<AppState>, Path((id, seq, position)): Path<(String, u32, u32)>, Query(link): Query<LinkQuery>) -> ApiResult<Response> {
    let config = state.config.current();
    let secret = config.sinks.iter().find_map(|sink| match sink {
        Sink::Http(http) if http.name == link.sink => Some(http.hmac_secret.expose().to_string()),
        _ => None,
    });
    let refused = |why: &str| {
        tracing::warn!(incident = %id, seq, position, sink = %link.sink, why, "evidence link refused");
        ApiError::forbidden(format!("evidence link refused: {why}"))
    };
    let Some(secret) = secret else { return Err(refused("no such sink")) };
    match verify_link(&secret, &id, seq, position as usize, link.expires, &link.sig, chrono::Utc::now()) {
        Ok(()) => evidence(&IncidentsState::from_ref(&state), &id, seq, position).await,
        Err(LinkRefused::Expired) => Err(refused("the link has expired")),
        Err(LinkRefused::BadSignature) => Err(refused("the signature does not match")),
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(linked_evidence))
}
