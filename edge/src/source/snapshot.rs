//! One still from a camera, for the operator: to draw zones on, to record a clean reference
//! for `exposed_waste`, or to read a sign's lit level for `unlit_signage`.

use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;
use gstreamer_video::VideoInfo;
use image::RgbImage;

use super::supervisor::packed_pixels;
use super::template::{PipelineTemplate, TemplateParams};
use crate::config::CameraUrl;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot initialise GStreamer: {0}")]
    Init(String),
    #[error("cannot build the snapshot pipeline: {0}")]
    Pipeline(String),
    #[error("camera {url}: {message}")]
    Camera { url: String, message: String },
    #[error("camera {url}: no frame within {seconds} s")]
    Timeout { url: String, seconds: u64 },
}

/// Grabs the first decoded frame of `url` as RGB, decoded the way the camera's pipeline
/// `template` (the box's platform) decodes it: the `full` branch of the same pipeline.
pub fn grab_frame(url: &CameraUrl, template: &PipelineTemplate, timeout: Duration) -> Result<RgbImage, SnapshotError> {
    gst::init().map_err(|e| SnapshotError::Init(e.to_string()))?;
    let description = template.render(&TemplateParams {
        uri: url.expose(),
        fps: 5.0,
        width: 416,
        height: 416,
        format: "RGB",
        sync: false,
        encoded_branch: false,
        keyframes_only: false,
    });
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| SnapshotError::Pipeline(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| SnapshotError::Pipeline("not a pipeline".into()))?;
    let sink = pipeline.by_name("full").and_then(|e| e.downcast::<AppSink>().ok()).ok_or_else(|| SnapshotError::Pipeline("no appsink".into()))?;
    let camera_error = |message: String| SnapshotError::Camera { url: url.redacted(), message };
    let result = (|| {
        pipeline.set_state(gst::State::Playing).map_err(|e| camera_error(e.to_string()))?;
        let sample = sink.try_pull_sample(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64));
        let Some(sample) = sample else {
            let bus = pipeline.bus().expect("a pipeline has a bus");
            if let Some(message) = bus.pop_filtered(&[gst::MessageType::Error])
                && let gst::MessageView::Error(err) = message.view()
            {
                return Err(camera_error(err.error().to_string()));
            }
            return Err(SnapshotError::Timeout { url: url.redacted(), seconds: timeout.as_secs() });
        };
        let unreadable = || camera_error("unreadable frame".into());
        let info = sample.caps().and_then(|c| VideoInfo::from_caps(c).ok()).ok_or_else(unreadable)?;
        let buffer = sample.buffer().ok_or_else(unreadable)?;
        let pixels = packed_pixels(buffer, &info).ok_or_else(unreadable)?;
        RgbImage::from_raw(info.width(), info.height(), pixels).ok_or_else(unreadable)
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}
