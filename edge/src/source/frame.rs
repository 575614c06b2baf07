//! What leaves a source: one analysed frame of one camera.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use image::RgbImage;

use super::clip::ClipRing;
use crate::detect::Letterbox;

/// One frame at the analysis rate.
#[derive(Clone)]
pub struct Frame {
    pub camera: Arc<str>,
    /// Media time: the frame's timestamp in the stream, continuing across file loops and
    /// reconnects. Rules measure dwell on it.
    pub media_time: Duration,
    /// When the frame was seen, on the wall clock (files: start time + media time).
    pub wall_time: DateTime<Utc>,
    /// Packed model input, letterboxed, in the model's channel order.
    pub model_input: Vec<u8>,
    pub letterbox: Letterbox,
    /// The full-resolution picture, for evidence.
    pub image: Arc<RgbImage>,
    /// The camera's recent encoded stream, when it keeps evidence clips.
    pub clip: Option<Arc<ClipRing>>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("camera", &self.camera)
            .field("media_time", &self.media_time)
            .field("size", &(self.image.width(), self.image.height()))
            .finish()
    }
}
