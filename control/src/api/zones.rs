//! Zones and their rules: create/replace/remove a camera's zone, capture an `exposed_waste`
//! zone's clean reference and record an `unlit_signage` zone's lit level — all as config edits.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::edits::{apply, raw_camera};
use super::frames::camera_picture;
use super::{ApiError, ApiResult, ErrorBody};
use crate::app::AppState;
use crate::auth::RequireOperator;
use steward_edge::config::{Camera, ConfigChange, Zone};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_zone, remove_zone)).routes(routes!(capture_reference)).routes(routes!(record_lit_level))
}

/// A zone as in a `[[camera.zone]]` table of the config file.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneInput {
    /// Defaults to the id in the path; must equal it when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At least 3 points `[x, y]`, normalised to the image (0–1).
    pub polygon: Vec<[f64; 2]>,
    pub rules: Vec<RuleInput>,
}

/// One rule of a zone: `kind`, the common keys and the kind's parameters (see
/// `steward.example.toml` for every key and its default). Keys left out take their defaults.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// `illegal_parking`, `street_vending`, `exposed_waste` or `unlit_signage`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dwell_s: Option<f64>,
    /// `{windows: ["07:00-19:00"], weekdays: ["mon-fri"], dates: [...], except_dates: [...]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_after_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renotify_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miss_tolerance_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iou_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_persons: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_objects: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dark_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lit_level: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learn_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_area: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LitLevel {
    pub zone: String,
    /// Mean luminance (0–255) of the zone in the latest frame, now the rule's `lit_level`.
    pub lit_level: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferenceCaptured {
    pub zone: String,
    /// The picture file, now the rule's `reference`.
    pub reference: String,
}

/// Creates or replaces a zone; the camera judges it within moments, other zones keep their state.
#[utoipa::path(put, path = "/cameras/{id}/zones/{zone}", tag = "zones", params(("id" = String, Path), ("zone" = String, Path)),
    request_body = ZoneInput,
    responses((status = 200, description = "the zone as now written in the config file", body = Object), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_zone(RequireOperator(user): RequireOperator, State(state): State<AppState>, Path((id, zone)): Path<(String, String)>, Json(input): Json<ZoneInput>) -> ApiResult<Json<serde_json::Value>> {
    if input.id.as_deref().is_some_and(|given| given != zone) {
        return Err(ApiError::invalid("the zone id in the body differs from the path", vec![super::field("id", "must equal the id in the path")]));
    }
    let mut fields = match serde_json::to_value(&input) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => return Err(ApiError::internal("cannot read the zone")),
    };
    fields.insert("id".into(), zone.clone().into());
    apply(&state, ConfigChange::PutZone { camera: id.clone(), zone: fields }).await?;
    tracing::info!(user = %user.name, camera = %id, zone = %zone, "zone saved");
    Ok(Json(raw_zone(&state, &id, &zone).unwrap_or(serde_json::Value::Null)))
}

/// Removes a zone; its rules stop being judged.
#[utoipa::path(delete, path = "/cameras/{id}/zones/{zone}", tag = "zones", params(("id" = String, Path), ("zone" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_zone(RequireOperator(user): RequireOperator, State(state): State<AppState>, Path((id, zone)): Path<(String, String)>) -> ApiResult<StatusCode> {
    apply(&state, ConfigChange::RemoveZone { camera: id.clone(), zone: zone.clone() }).await?;
    tracing::info!(user = %user.name, camera = %id, zone = %zone, "zone removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Saves the camera's latest frame as the clean reference of the zone's `exposed_waste` rule
/// (the operator vouches that the zone is clean now).
#[utoipa::path(post, path = "/cameras/{id}/zones/{zone}/reference", tag = "zones", params(("id" = String, Path), ("zone" = String, Path)),
    responses((status = 200, body = ReferenceCaptured), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn capture_reference(RequireOperator(user): RequireOperator, State(state): State<AppState>, Path((id, zone)): Path<(String, String)>) -> ApiResult<Json<ReferenceCaptured>> {
    let (camera, _) = zone_with_rule(&state, &id, &zone, "exposed_waste")?;
    let picture = camera_picture(&state, &camera).await?;
    let folder = state.config.current().storage.dir.join("references");
    let path = folder.join(format!("{id}-{zone}.png"));
    let written = path.clone();
    tokio::task::spawn_blocking(move || std::fs::create_dir_all(&folder).map_err(|e| e.to_string()).and_then(|()| picture.save(&written).map_err(|e| e.to_string())))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(format!("cannot write {}: {e}", path.display())))?;
    let reference = path.display().to_string();
    let change = ConfigChange::SetRuleValue { camera: id.clone(), zone: zone.clone(), kind: "exposed_waste".into(), key: "reference".into(), value: reference.clone().into() };
    apply(&state, change).await?;
    tracing::info!(user = %user.name, camera = %id, zone = %zone, reference = %reference, "clean reference captured");
    Ok(Json(ReferenceCaptured { zone, reference }))
}

/// Records the zone's mean luminance in the latest frame as the `unlit_signage` rule's lit
/// level (the sign must be lit now).
#[utoipa::path(post, path = "/cameras/{id}/zones/{zone}/lit-level", tag = "zones", params(("id" = String, Path), ("zone" = String, Path)),
    responses((status = 200, body = LitLevel), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn record_lit_level(RequireOperator(user): RequireOperator, State(state): State<AppState>, Path((id, zone)): Path<(String, String)>) -> ApiResult<Json<LitLevel>> {
    let (camera, found) = zone_with_rule(&state, &id, &zone, "unlit_signage")?;
    let picture = camera_picture(&state, &camera).await?;
    let luma = steward_edge::rules::region_luma(&picture, &found.polygon).ok_or_else(|| ApiError::conflict("the zone covers no pixel of the picture"))?;
    let lit_level = (luma * 10.0).round() / 10.0;
    let change = ConfigChange::SetRuleValue { camera: id.clone(), zone: zone.clone(), kind: "unlit_signage".into(), key: "lit_level".into(), value: lit_level.into() };
    apply(&state, change).await?;
    tracing::info!(user = %user.name, camera = %id, zone = %zone, lit_level, "lit level recorded");
    Ok(Json(LitLevel { zone, lit_level }))
}

/// The camera and zone, which must have a rule of `kind` (409 otherwise: save the rule first).
fn zone_with_rule(state: &AppState, camera_id: &str, zone_id: &str, kind: &str) -> ApiResult<(Camera, Zone)> {
    let config = state.config.current();
    let camera = config.cameras.iter().find(|c| c.id == camera_id).ok_or_else(|| ApiError::not_found(format!("no camera `{camera_id}`")))?;
    let zone = camera.zones.iter().find(|z| z.id == zone_id).ok_or_else(|| ApiError::not_found(format!("no zone `{zone_id}` in camera `{camera_id}`")))?;
    if !zone.rules.iter().any(|r| r.kind.as_str() == kind) {
        return Err(ApiError::conflict(format!("zone `{zone_id}` has no {kind} rule: add and save it first")));
    }
    Ok((camera.clone(), zone.clone()))
}

fn raw_zone(state: &AppState, camera: &str, zone: &str) -> Option<serde_json::Value> {
    raw_camera(&state.config, camera)?.get("zone")?.as_array()?.iter().find(|z| z.get("id").and_then(|v| v.as_str()) == Some(zone)).cloned()
}
