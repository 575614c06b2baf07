//! The system dashboard: version, platform and model, per-camera rate and frame age, inference
//! time, outbox depth, disk use of the storage folder, and problems in the config file.

use std::path::Path;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiResult, ErrorBody};
use crate::app::AppState;
use crate::auth::RequireViewer;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(system))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemView {
    pub version: String,
    pub uptime_s: u64,
    /// The camera pipeline template (`x86-cpu`, `intel-vaapi`, `jetson`).
    pub platform: String,
    pub model: ModelView,
    pub cameras: Vec<CameraRate>,
    pub inference: InferenceView,
    pub outbox: OutboxView,
    pub disk: DiskView,
    pub config: ConfigView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CameraRate {
    pub id: String,
    pub state: String,
    /// Frames a second over the last 10 s.
    pub fps: f64,
    /// How old the latest analysed frame is (wall clock), in milliseconds: the lag of analysis
    /// behind a live camera.
    pub latency_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InferenceView {
    /// Inference runs (batches) since start.
    pub runs: u64,
    /// Mean time of one run.
    pub mean_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    /// Deliveries not yet done, over all sinks.
    pub pending: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiskView {
    pub dir: String,
    /// Bytes under the storage folder (outbox and evidence).
    pub used_bytes: u64,
    /// Bytes free on its file system.
    pub free_bytes: u64,
    /// `[storage] quota_mb` in bytes.
    pub quota_bytes: u64,
    /// True while the quota is full of undelivered data (incidents go out without pictures).
    pub evidence_paused: bool,
    /// Delivered evidence files deleted to keep the quota since the start.
    pub evicted_files: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigView {
    pub path: String,
    /// Problems of the file on disk when a hand edit made it invalid (the running config stays).
    pub problems: Vec<String>,
}

/// The health dashboard's figures.
#[utoipa::path(get, path = "/system", tag = "system", responses((status = 200, body = SystemView), (status = 401, body = ErrorBody)))]
async fn system(_: RequireViewer, State(state): State<AppState>) -> ApiResult<Json<SystemView>> {
    let config = state.config.current();
    let now = chrono::Utc::now();
    let cameras = state
        .edge
        .health
        .snapshot()
        .into_iter()
        .map(|(id, health)| CameraRate {
            latency_ms: state.edge.latest.get(&id).map(|f| (now - f.wall_time).num_milliseconds()),
            state: health.state.as_str().into(),
            fps: health.fps,
            id,
        })
        .collect();
    let (runs, mean_ms) = state.edge.telemetry.inference_mean();
    let (database, dir) = (state.edge.database.clone(), config.storage.dir.clone());
    let (pending, used_bytes, free_bytes) = tokio::task::spawn_blocking(move || (steward_edge::outbox::pending_total(&database).unwrap_or(0), folder_size(&dir), free_space(&dir)))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let problems = state.config.file_problems().map(|errors| errors.errors.iter().map(|error| problem_line(&errors.file, error)).collect()).unwrap_or_default();
    Ok(Json(SystemView {
        version: steward_edge::VERSION.into(),
        uptime_s: state.edge.started.elapsed().as_secs(),
        platform: state.edge.template.name.to_string(),
        model: ModelView { name: state.edge.model_name.clone(), sha256: state.edge.model_sha256.clone() },
        cameras,
        inference: InferenceView { runs, mean_ms },
        outbox: OutboxView { pending },
        disk: {
            let storage = state.edge.storage.status();
            DiskView {
                dir: config.storage.dir.display().to_string(),
                used_bytes,
                free_bytes,
                quota_bytes: storage.quota_bytes,
                evidence_paused: storage.evidence_paused,
                evicted_files: storage.evicted_files,
            }
        },
        config: ConfigView { path: state.config.path().display().to_string(), problems },
    }))
}

/// Bytes in the files under `dir` (symbolic links not followed).
fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => folder_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Bytes available to this process on the file system holding `dir`.
fn free_space(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return 0 };
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stats` a writable statvfs.
    match unsafe { libc::statvfs(path.as_ptr(), &mut stats) } {
        0 => stats.f_bavail as u64 * stats.f_frsize as u64,
        _ => 0,
    }
}

/// One problem as `file:line:col: field: message`, so the operator sees both where and what.
fn problem_line(file: &str, error: &steward_edge::config::ConfigError) -> String {
    let place = match error.line_col {
        Some((line, column)) => format!("{file}:{line}:{column}"),
        None => file.to_string(),
    };
    match error.path.as_deref().filter(|path| !path.is_empty()) {
        Some(path) => format!("{place}: {path}: {}", error.message),
        None => format!("{place}: {}", error.message),
    }
}
