//! Cameras: list with health, add/edit/remove (through the config file), the latest frame, and
//! "test connection". Credentials are never returned: URLs come back with `***`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::edits::{apply, raw_camera};
use super::frames::{camera_picture, jpeg};
use super::{ApiError, ApiResult, ErrorBody};
use crate::app::AppState;
use crate::auth::{RequireOperator, RequireViewer};
use steward_edge::config::{Camera, CameraUrl, ConfigChange, parse_camera_url};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cameras, add_camera))
        .routes(routes!(get_camera, update_camera, remove_camera))
        .routes(routes!(camera_snapshot))
        .routes(routes!(test_camera))
}

/// A camera as the API shows it: settings (credentials masked), zones as written in the config
/// file, and health.
#[derive(Debug, Serialize, ToSchema)]
pub struct CameraView {
    pub id: String,
    pub name: String,
    /// The address with user and password shown as `***`.
    pub url: String,
    pub has_credentials: bool,
    pub analysis_fps: f64,
    /// `all` or `keyframes`.
    pub decode: String,
    /// `tcp` or `udp`.
    pub transport: String,
    /// `fast` or `realtime` (files).
    pub pace: String,
    #[serde(rename = "loop")]
    pub looping: bool,
    pub gb28181_id: Option<String>,
    /// The zones exactly as the config file has them (`id`, `name`, `polygon`, `rules`).
    #[schema(value_type = Vec<Object>)]
    pub zones: Vec<serde_json::Value>,
    pub health: Option<HealthView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// `connecting`, `live`, `stalled`, `failed`, `ended`.
    pub state: String,
    /// Frames a second over the last 10 s.
    pub fps: f64,
    pub frames: u64,
    pub last_frame_at: Option<String>,
    pub last_error: Option<String>,
    pub restarts: u64,
}

/// A camera to add or change. Keys as in a `[[camera]]` table of the config file, plus
/// `username` / `password`, which go into the URL (and never come back).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_fps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pace: Option<String>,
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    pub looping: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gb28181_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_max_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_s: Option<f64>,
}

impl CameraInput {
    fn into_fields(self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        }
    }
}

/// A camera address to try, with credentials given here or taken from a configured camera.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConnection {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Use this configured camera's stored credentials when none are given.
    pub camera_id: Option<String>,
}

pub fn camera_view(state: &AppState, camera: &Camera) -> CameraView {
    let health = state.edge.health.snapshot().remove(&camera.id).map(|h| HealthView {
        state: h.state.as_str().to_string(),
        fps: h.fps,
        frames: h.frames,
        last_frame_at: h.last_frame_at.map(|t| t.to_rfc3339()),
        last_error: h.last_error,
        restarts: h.restarts,
    });
    let zones = raw_camera(&state.config, &camera.id).and_then(|c| c.get("zone").and_then(|z| z.as_array()).cloned()).unwrap_or_default();
    CameraView {
        id: camera.id.clone(),
        name: camera.name.clone(),
        url: camera.url.redacted(),
        has_credentials: camera.url.redacted() != camera.url.expose(),
        analysis_fps: camera.analysis_fps,
        decode: format!("{:?}", camera.decode).to_lowercase(),
        transport: camera.transport.rtsp_protocols().to_string(),
        pace: format!("{:?}", camera.pace).to_lowercase(),
        looping: camera.looping,
        gb28181_id: camera.gb28181_id.clone(),
        zones,
        health,
    }
}

fn find_camera(state: &AppState, id: &str) -> ApiResult<Camera> {
    state.config.current().cameras.iter().find(|c| c.id == id).cloned().ok_or_else(|| ApiError::not_found(format!("no camera `{id}`")))
}

/// Every camera with its zones and health.
#[utoipa::path(get, path = "/cameras", tag = "cameras",
    responses((status = 200, body = Vec<CameraView>), (status = 401, body = ErrorBody)))]
async fn list_cameras(_: RequireViewer, State(state): State<AppState>) -> Json<Vec<CameraView>> {
    let config = state.config.current();
    Json(config.cameras.iter().map(|c| camera_view(&state, c)).collect())
}

/// Adds a camera; it starts at once.
#[utoipa::path(post, path = "/cameras", tag = "cameras", request_body = CameraInput,
    responses((status = 201, body = CameraView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_camera(RequireOperator(user): RequireOperator, State(state): State<AppState>, Json(input): Json<CameraInput>) -> ApiResult<(StatusCode, Json<CameraView>)> {
    let id = input.id.clone().ok_or_else(|| ApiError::invalid("the camera needs an id", vec![super::field("id", "required")]))?;
    let config = apply(&state, ConfigChange::AddCamera(input.into_fields())).await?;
    tracing::info!(user = %user.name, camera = %id, "camera added");
    let camera = config.cameras.iter().find(|c| c.id == id).ok_or_else(|| ApiError::internal("camera missing after the edit"))?;
    Ok((StatusCode::CREATED, Json(camera_view(&state, camera))))
}

/// One camera.
#[utoipa::path(get, path = "/cameras/{id}", tag = "cameras", params(("id" = String, Path)),
    responses((status = 200, body = CameraView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_camera(_: RequireViewer, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<CameraView>> {
    let camera = find_camera(&state, &id)?;
    Ok(Json(camera_view(&state, &camera)))
}

/// Changes a camera's settings (its zones stay). A missing password keeps the stored one.
#[utoipa::path(put, path = "/cameras/{id}", tag = "cameras", params(("id" = String, Path)), request_body = CameraInput,
    responses((status = 200, body = CameraView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_camera(RequireOperator(user): RequireOperator, State(state): State<AppState>, Path(id): Path<String>, Json(input): Json<CameraInput>) -> ApiResult<Json<CameraView>> {
    let new_id = input.id.clone().unwrap_or_else(|| id.clone());
    let config = apply(&state, ConfigChange::UpdateCamera { id: id.clone(), fields: input.into_fields() }).await?;
    tracing::info!(user = %user.name, camera = %id, "camera changed");
    let camera = config.cameras.iter().find(|c| c.id == new_id).ok_or_else(|| ApiError::internal("camera missing after the edit"))?;
    Ok(Json(camera_view(&state, camera)))
}

/// Removes a camera and its zones; it stops at once. Its incidents stay in the outbox.
#[utoipa::path(delete, path = "/cameras/{id}", tag = "cameras", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_camera(RequireOperator(user): RequireOperator, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    apply(&state, ConfigChange::RemoveCamera { id: id.clone() }).await?;
    tracing::info!(user = %user.name, camera = %id, "camera removed");
    Ok(StatusCode::NO_CONTENT)
}

/// The camera's latest analysed frame as JPEG (one is grabbed from the camera when none has
/// been analysed yet).
#[utoipa::path(get, path = "/cameras/{id}/snapshot", tag = "cameras", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn camera_snapshot(_: RequireViewer, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let camera = find_camera(&state, &id)?;
    let picture = camera_picture(&state, &camera).await?;
    jpeg_response(&picture)
}

/// Opens a camera address and returns its first frame as JPEG: checks the URL, credentials and
/// codec before the camera is saved.
#[utoipa::path(post, path = "/cameras/test", tag = "cameras", request_body = TestConnection,
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn test_camera(_: RequireOperator, State(state): State<AppState>, Json(input): Json<TestConnection>) -> ApiResult<Response> {
    let url = test_url(&state, &input)?;
    let template = state.edge.template.clone();
    let password = password_of(&url);
    let grabbed = tokio::task::spawn_blocking(move || steward_edge::source::grab_frame(&url, &template, std::time::Duration::from_secs(15)))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    match grabbed {
        Ok(picture) => jpeg_response(&picture),
        Err(error) => Err(ApiError::new(StatusCode::BAD_GATEWAY, scrub(&error.to_string(), password.as_deref()))),
    }
}

/// The address to test: the given URL with the given credentials, else a configured camera's.
fn test_url(state: &AppState, input: &TestConnection) -> ApiResult<CameraUrl> {
    let mut url = url::Url::parse(input.url.trim()).map_err(|e| ApiError::invalid("not a URL", vec![super::field("url", &e.to_string())]))?;
    let stored = input.camera_id.as_deref().and_then(|id| state.config.current().cameras.iter().find(|c| c.id == id).map(|c| c.url.clone()));
    let given = input.username.as_deref().is_some_and(|u| !u.is_empty()) || input.password.as_deref().is_some_and(|p| !p.is_empty());
    if given {
        let _ = url.set_username(input.username.as_deref().unwrap_or(""));
        let _ = url.set_password(input.password.as_deref().filter(|p| !p.is_empty()));
    } else if let Some(stored) = stored.and_then(|s| url::Url::parse(s.expose()).ok()) {
        if url.username().is_empty() || url.username() == "***" {
            let _ = url.set_username(stored.username());
            let _ = url.set_password(stored.password());
        }
    }
    parse_camera_url(url.as_str()).map_err(|message: String| ApiError::invalid("cannot use this camera URL", vec![super::field("url", &message)]))
}

fn jpeg_response(picture: &image::RgbImage) -> ApiResult<Response> {
    let bytes = jpeg(picture)?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// `text` with every occurrence of `secret` replaced by `***`.
fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => text.replace(secret, "***"),
        _ => text.to_string(),
    }
}

/// The password of a camera address, to scrub it from error messages.
fn password_of(url: &CameraUrl) -> Option<String> {
    url::Url::parse(url.expose()).ok().and_then(|u| u.password().map(|p| p.to_string()))
}
