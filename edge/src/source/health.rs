//! Camera health: what each camera is doing now, readable by the control plane and `/metrics`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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
    /// Frames handed to analysis per second, over the last [`FPS_WINDOW`].
    pub fps: f64,
    /// When the frames of the last [`FPS_WINDOW`] arrived.
    #[serde(skip)]
    recent: VecDeque<Instant>,
}

/// The window `CameraHealth::fps` is measured over.
pub const FPS_WINDOW: Duration = Duration::from_secs(10);

/// Every camera's health, shared between the sources (writers) and readers.
#[derive(Debug, Clone, Default)]
pub struct HealthBoard(Arc<RwLock<BTreeMap<String, CameraHealth>>>);

impl HealthBoard {
    pub fn register(&self, camera: &str, url: String) {
        let health = CameraHealth {
            state: CameraState::Connecting,
            since: Utc::now(),
            url,
            frames: 0,
            last_frame_at: None,
            restarts: 0,
            last_error: None,
            fps: 0.0,
            recent: VecDeque::new(),
        };
        self.0.write().expect("health lock").insert(camera.to_string(), health);
    }

    /// Forgets a camera that was removed from the config.
    pub fn unregister(&self, camera: &str) {
        self.0.write().expect("health lock").remove(camera);
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
            let now = Instant::now();
            h.recent.push_back(now);
            while h.recent.front().is_some_and(|t| now.duration_since(*t) > FPS_WINDOW) {
                h.recent.pop_front();
            }
            if h.state != CameraState::Live {
                h.state = CameraState::Live;
                h.since = Utc::now();
            }
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, CameraHealth> {
        let mut cameras = self.0.read().expect("health lock").clone();
        for health in cameras.values_mut() {
            let in_window = health.recent.iter().filter(|t| t.elapsed() <= FPS_WINDOW).count();
            health.fps = in_window as f64 / FPS_WINDOW.as_secs_f64();
        }
        cameras
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fps_counts_the_frames_of_the_last_window() {
        let board = HealthBoard::default();
        board.register("cam", "rtsp://***@host/".into());
        assert_eq!(board.snapshot()["cam"].fps, 0.0);
        for _ in 0..5 {
            board.frame("cam");
        }
        let health = &board.snapshot()["cam"];
        assert_eq!((health.frames, health.fps, health.state), (5, 5.0 / FPS_WINDOW.as_secs_f64(), CameraState::Live));
        let json = serde_json::to_value(health).unwrap();
        assert!(json.get("recent").is_none() && json["fps"].is_number(), "{json}");
    }
}
