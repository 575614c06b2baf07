//! Camera health: what each camera is doing now, readable by the control plane and `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    Connecting,
    Live,
    Stalled,
    Failed,
    /// A file source that played to its end.
    Ended,
}

impl CameraState {
    pub fn as_str(&self) -> &'static str {
        match self {
            CameraState::Connecting => "connecting",
            CameraState::Live => "live",
            CameraState::Stalled => "stalled",
            CameraState::Failed => "failed",
            CameraState::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CameraHealth {
    pub state: CameraState,
    pub since: DateTime<Utc>,
    /// Address with credentials hidden.
    pub url: String,
    pub frames: u64,
    pub last_frame_at: Option<DateTime<Utc>>,
    pub restarts: u64,
    pub last_error: Option<String>,
}

/// Every camera's health, shared between the sources (writers) and readers.
#[derive(Debug, Clone, Default)]
pub struct HealthBoard(Arc<RwLock<BTreeMap<String, CameraHealth>>>);

impl HealthBoard {
    pub fn register(&self, camera: &str, url: String) {
        let health = CameraHealth { state: CameraState::Connecting, since: Utc::now(), url, frames: 0, last_frame_at: None, restarts: 0, last_error: None };
        self.0.write().expect("health lock").insert(camera.to_string(), health);
    }

    pub fn set_state(&self, camera: &str, state: CameraState, error: Option<String>) {
        if let Some(h) = self.0.write().expect("health lock").get_mut(camera) {
            if h.state != state {
                h.state = state;
                h.since = Utc::now();
            }
            if state == CameraState::Failed || state == CameraState::Stalled {
                h.restarts += 1;
            }
            if error.is_some() {
                h.last_error = error;
            }
        }
    }

    pub fn frame(&self, camera: &str) {
        if let Some(h) = self.0.write().expect("health lock").get_mut(camera) {
            h.frames += 1;
            h.last_frame_at = Some(Utc::now());
            if h.state != CameraState::Live {
                h.state = CameraState::Live;
                h.since = Utc::now();
            }
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, CameraHealth> {
        self.0.read().expect("health lock").clone()
    }
}
