//! Pictures for the API: a camera's latest analysed frame (or one grabbed from it when none was
//! analysed yet) and JPEG encoding.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use image::RgbImage;
use steward_edge::config::Camera;

use super::{ApiError, ApiResult};
use crate::app::AppState;

/// How long "grab a frame" may take before the API answers 502.
const GRAB_TIMEOUT: Duration = Duration::from_secs(15);

/// The camera's latest analysed picture, or one grabbed from it now.
pub async fn camera_picture(state: &AppState, camera: &Camera) -> ApiResult<Arc<RgbImage>> {
    if let Some(latest) = state.edge.latest.get(&camera.id) {
        return Ok(latest.image);
    }
    let (url, template) = (camera.url.clone(), state.edge.template.clone());
    let grabbed = tokio::task::spawn_blocking(move || steward_edge::source::grab_frame(&url, &template, GRAB_TIMEOUT)).await.map_err(|e| ApiError::internal(e.to_string()))?;
    grabbed.map(Arc::new).map_err(|error| ApiError::new(StatusCode::BAD_GATEWAY, format!("no frame analysed yet and none could be grabbed: {error}")))
}

pub fn jpeg(picture: &RgbImage) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85).encode_image(picture).map_err(|e| ApiError::internal(format!("cannot encode JPEG: {e}")))?;
    Ok(bytes)
}
