//! The camera supervisor: runs one camera's pipeline on its own thread, turns appsink samples
//! into [`Frame`]s, and restarts the pipeline with capped exponential backoff when it fails,
//! stalls or (for looping files) ends. A camera that cannot be reached never stops the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;
use gstreamer_video::{VideoFrameExt, VideoFrameRef, VideoInfo};
use image::RgbImage;

use super::frame::Frame;
use super::clip::ClipRing;
use super::health::{CameraState, HealthBoard};
use super::template::{PipelineTemplate, TemplateParams};
use crate::config::{Camera, DecodeMode, Pace};
use crate::detect::{Letterbox, Producer};
use crate::telemetry::{CameraReasonLabel, Telemetry};

/// Why a pipeline run ended and must be retried.
#[derive(Debug, Clone, PartialEq)]
enum RetryReason {
    /// The pipeline could not be built or started, or posted an error.
    Error(String),
    /// No frame for longer than the stall limit.
    Stalled(Duration),
}

impl RetryReason {
    fn label(&self) -> &'static str {
        match self {
            RetryReason::Error(_) => "error",
            RetryReason::Stalled(_) => "stalled",
        }
    }
}

impl std::fmt::Display for RetryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryReason::Error(message) => f.write_str(message),
            RetryReason::Stalled(after) => write!(f, "no frame for {:.0} s", after.as_secs_f64()),
        }
    }
}

/// How a camera's supervisor finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceExit {
    /// A file played to its end (and does not loop).
    Ended,
    /// Shutdown was requested.
    Stopped,
}

enum RunEnd {
    Eos,
    Stopped,
}

/// Everything one camera's supervisor needs.
pub struct CameraSource {
    pub camera: Camera,
    pub template: PipelineTemplate,
    pub input_width: u32,
    pub input_height: u32,
    /// `BGR` or `RGB`: the model's channel order.
    pub input_format: &'static str,
    /// This camera's lane in the detector's queue.
    pub frames: Producer<Frame>,
    pub health: HealthBoard,
    pub telemetry: Telemetry,
    pub stop: Arc<AtomicBool>,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

/// Runs a camera until its file ends or `stop` is set. Call on a dedicated thread.
pub fn run_camera(source: CameraSource) -> SourceExit {
    let camera_id: Arc<str> = Arc::from(source.camera.id.as_str());
    let clip = source.camera.clip_s.map(|s| Arc::new(ClipRing::new(Duration::from_secs_f64(s))));
    let mut clock = MediaClock::new(source.camera.url.is_file());
    let mut backoff = source.backoff_min;
    let mut failures_in_a_row: u32 = 0;
    loop {
        if source.stop.load(Ordering::Relaxed) {
            return SourceExit::Stopped;
        }
        enter(&source, CameraState::Connecting, None);
        tracing::info!(camera = %camera_id, url = %source.camera.url, "starting camera pipeline");
        let frames_before = clock.frames;
        let played = match play_once(&source, &camera_id, clip.as_ref(), &mut clock) {
            // A live camera never really ends: the server restarted or dropped the session.
            Ok(RunEnd::Eos) if !source.camera.url.is_file() => Err(RetryReason::Error("the camera ended its stream".into())),
            other => other,
        };
        match played {
            Ok(RunEnd::Stopped) => return SourceExit::Stopped,
            Ok(RunEnd::Eos) if source.camera.looping => {
                tracing::debug!(camera = %camera_id, "file ended; looping");
                clock.next_run();
                backoff = source.backoff_min;
            }
            Ok(RunEnd::Eos) => {
                let keyframes_decoded = clock.keyframes_decoded.load(Ordering::Relaxed);
                tracing::info!(camera = %camera_id, frames = clock.frames, keyframes_decoded, "file source ended");
                enter(&source, CameraState::Ended, None);
                return SourceExit::Ended;
            }
            Err(reason) => {
                if clock.frames > frames_before {
                    backoff = source.backoff_min;
                    failures_in_a_row = 0;
                }
                failures_in_a_row += 1;
                let state = if matches!(reason, RetryReason::Stalled(_)) { CameraState::Stalled } else { CameraState::Failed };
                enter(&source, state, Some(reason.to_string()));
                source
                    .telemetry
                    .source_restarts
                    .get_or_create(&CameraReasonLabel { camera: camera_id.to_string(), reason: reason.label().into() })
                    .inc();
                // A camera that stays away is retried for months: say so at the first failures,
                // then at every power of two, not every few seconds.
                if failures_in_a_row <= 3 || failures_in_a_row.is_power_of_two() {
                    tracing::warn!(camera = %camera_id, url = %source.camera.url, error = %reason, failures_in_a_row, retry_in_s = backoff.as_secs_f64(), "camera failed; retrying");
                } else {
                    tracing::debug!(camera = %camera_id, error = %reason, failures_in_a_row, retry_in_s = backoff.as_secs_f64(), "camera failed; retrying");
                }
                clock.next_run();
                if !sleep_unless_stopped(backoff, &source.stop) {
                    return SourceExit::Stopped;
                }
                backoff = jittered(backoff * 2).min(source.backoff_max);
            }
        }
    }
}

/// Lets through `pad` only the key frames the analysis rate will use: one at least 0.9 of an
/// analysis interval after the last one let through (each key frame decodes on its own, so the
/// others can be dropped before the decoder). Decoding then follows the analysis rate even when
/// the camera sends key frames more often.
fn thin_keyframes(pad: &gst::Pad, analysis_fps: f64, passed: Arc<std::sync::atomic::AtomicU64>) {
    let spacing = gst::ClockTime::from_nseconds((0.9e9 / analysis_fps) as u64);
    // The PTS of the last key frame let through (the probe runs on one streaming thread).
    let last_kept = std::sync::Mutex::new(None::<gst::ClockTime>);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let pts = info.buffer().and_then(|b| b.pts());
        let mut last_kept = last_kept.lock().unwrap_or_else(|p| p.into_inner());
        let keep = match (pts, *last_kept) {
            (Some(pts), Some(last)) => pts < last || pts >= last + spacing,
            _ => true,
        };
        if !keep {
            return gst::PadProbeReturn::Drop;
        }
        if pts.is_some() {
            *last_kept = pts;
        }
        passed.fetch_add(1, Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
}

fn enter(source: &CameraSource, state: CameraState, error: Option<String>) {
    source.health.set_state(&source.camera.id, state, error);
    source.telemetry.set_camera_state(&source.camera.id, state.as_str());
}

/// Media time that keeps running across file loops and reconnects.
struct MediaClock {
    is_file: bool,
    started: Instant,
    started_wall: DateTime<Utc>,
    /// Added to a file's PTS: where this run's time zero lies.
    offset: Duration,
    last: Option<Duration>,
    frames: u64,
    /// Key frames handed to the decoder (key-frame mode), over every run.
    keyframes_decoded: Arc<std::sync::atomic::AtomicU64>,
}

impl MediaClock {
    fn new(is_file: bool) -> Self {
        MediaClock { is_file, started: Instant::now(), started_wall: Utc::now(), offset: Duration::ZERO, last: None, frames: 0, keyframes_decoded: Default::default() }
    }
    /// The next run continues just after the last frame.
    fn next_run(&mut self) {
        if let Some(last) = self.last {
            self.offset = last + Duration::from_millis(1);
        }
    }
    /// Media and wall time of a frame with presentation time `pts`.
    fn stamp(&mut self, pts: Option<gst::ClockTime>) -> (Duration, DateTime<Utc>) {
        self.frames += 1;
        let media = if self.is_file {
            self.offset + pts.map_or(Duration::ZERO, |p| Duration::from_nanos(p.nseconds()))
        } else {
            // Live: the wall clock is the truth; PTS restarts with every reconnect.
            self.started.elapsed()
        };
        let media = self.last.map_or(media, |last| media.max(last));
        self.last = Some(media);
        let wall = if self.is_file { self.started_wall + chrono::Duration::from_std(media).unwrap_or_default() } else { Utc::now() };
        (media, wall)
    }
}

fn play_once(source: &CameraSource, camera_id: &Arc<str>, clip: Option<&Arc<ClipRing>>, clock: &mut MediaClock) -> Result<RunEnd, RetryReason> {
    let camera = &source.camera;
    let sync = camera.pace == Pace::Realtime || !camera.url.is_file();
    let description = source.template.render(&TemplateParams {
        uri: camera.url.expose(),
        fps: camera.analysis_fps,
        width: source.input_width,
        height: source.input_height,
        format: source.input_format,
        sync,
        encoded_branch: clip.is_some(),
        keyframes_only: camera.decode == DecodeMode::Keyframes,
    });
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| RetryReason::Error(format!("cannot build pipeline `{}`: {e}", source.template.name)))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| RetryReason::Error("pipeline template did not produce a pipeline".into()))?;
    let pipeline = PipelineGuard(pipeline);
    let sink = |name: &str| {
        pipeline
            .0
            .by_name(name)
            .and_then(|e| e.downcast::<AppSink>().ok())
            .ok_or_else(|| RetryReason::Error(format!("pipeline template `{}` has no appsink named `{name}`", source.template.name)))
    };
    let (model_sink, full_sink) = (sink("model")?, sink("full")?);
    // RTSP: the configured transport, set on the `rtspsrc` the URI bin creates.
    if let Some(head) = pipeline.0.by_name("source") {
        let protocols = camera.transport.rtsp_protocols();
        head.connect("source-setup", false, move |values| {
            if let Some(element) = values.get(1).and_then(|v| v.get::<gst::Element>().ok())
                && element.find_property("protocols").is_some()
            {
                element.set_property_from_str("protocols", protocols);
            }
            None
        });
    }
    if let Some(keyframes) = pipeline.0.by_name("keyframes").and_then(|e| e.static_pad("src")) {
        thin_keyframes(&keyframes, camera.analysis_fps, clock.keyframes_decoded.clone());
    }
    if let Some(clip) = clip {
        clip.reset();
        let ring = clip.clone();
        sink("encoded")?.set_callbacks(
            gstreamer_app::AppSinkCallbacks::builder()
                .new_sample(move |appsink| {
                    let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let (Some(caps), Some(buffer)) = (sample.caps(), sample.buffer_owned()) {
                        ring.push(caps, buffer);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    let bus = pipeline.0.bus().expect("a pipeline has a bus");
    if pipeline.0.set_state(gst::State::Playing).is_err() {
        return Err(RetryReason::Error(bus_error(&bus).unwrap_or_else(|| "pipeline refused to start".into())));
    }

    let mut last_frame = Instant::now();
    loop {
        if source.stop.load(Ordering::Relaxed) {
            return Ok(RunEnd::Stopped);
        }
        if let Some(error) = bus_error(&bus) {
            return Err(RetryReason::Error(error));
        }
        let Some(model_sample) = model_sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            if model_sink.is_eos() {
                return Ok(RunEnd::Eos);
            }
            if last_frame.elapsed().as_secs_f64() > camera.stall_s {
                return Err(RetryReason::Stalled(last_frame.elapsed()));
            }
            continue;
        };
        let full_sample = full_sink
            .try_pull_sample(gst::ClockTime::from_seconds(5))
            .ok_or_else(|| RetryReason::Error("full-resolution branch delivered no frame".into()))?;
        let mut frame = to_frame(camera_id, &model_sample, &full_sample, clock, source.input_width, source.input_height)?;
        frame.clip = clip.cloned();
        source.health.frame(&camera.id);
        if !deliver(source, frame, camera.url.is_file()) {
            return Ok(RunEnd::Stopped);
        }
        // Waiting for a busy detector is not a stall.
        last_frame = Instant::now();
    }
}

/// Hands a frame on. Files wait for room (nothing is lost, analysis sets the pace); live
/// cameras cannot wait, so when the lane is full its oldest frame is dropped (and counted) to
/// keep the newest. Returns false when shutdown was requested meanwhile.
fn deliver(source: &CameraSource, frame: Frame, is_file: bool) -> bool {
    if source.frames.is_closed() {
        tracing::error!(camera = %source.camera.id, "the detector has stopped; camera stops");
        return false;
    }
    if is_file {
        let mut frame = frame;
        loop {
            match source.frames.push_wait(frame, Duration::from_millis(200)) {
                Ok(()) => return true,
                Err(back) if source.stop.load(Ordering::Relaxed) || source.frames.is_closed() => {
                    drop(back);
                    return false;
                }
                Err(back) => frame = back,
            }
        }
    }
    if source.frames.push_drop_oldest(frame).is_some() {
        source
            .telemetry
            .frames_dropped
            .get_or_create(&CameraReasonLabel { camera: source.camera.id.clone(), reason: "analysis_busy".into() })
            .inc();
    }
    true
}

fn to_frame(camera: &Arc<str>, model: &gst::Sample, full: &gst::Sample, clock: &mut MediaClock, input_w: u32, input_h: u32) -> Result<Frame, RetryReason> {
    let bad = |what: &str| RetryReason::Error(format!("unreadable {what} frame"));
    let model_info = model.caps().and_then(|c| VideoInfo::from_caps(c).ok()).ok_or_else(|| bad("model"))?;
    let full_info = full.caps().and_then(|c| VideoInfo::from_caps(c).ok()).ok_or_else(|| bad("full"))?;
    let model_buffer = model.buffer().ok_or_else(|| bad("model"))?;
    let full_buffer = full.buffer().ok_or_else(|| bad("full"))?;
    let model_input = packed_pixels(model_buffer, &model_info).ok_or_else(|| bad("model"))?;
    if model_info.width() != input_w || model_info.height() != input_h {
        return Err(RetryReason::Error(format!("model branch gave {}×{}, expected {input_w}×{input_h}", model_info.width(), model_info.height())));
    }
    let full_pixels = packed_pixels(full_buffer, &full_info).ok_or_else(|| bad("full"))?;
    let image = RgbImage::from_raw(full_info.width(), full_info.height(), full_pixels).ok_or_else(|| bad("full"))?;
    // Non-square pixels: the letterbox was computed on the display aspect.
    let par = full_info.par();
    let display_w = (full_info.width() as u64 * par.numer().max(1) as u64 / par.denom().max(1) as u64) as u32;
    let letterbox = Letterbox::new(display_w, full_info.height(), input_w, input_h);
    let (media_time, wall_time) = clock.stamp(model_buffer.pts());
    Ok(Frame { camera: camera.clone(), media_time, wall_time, model_input, letterbox, image: Arc::new(image), clip: None })
}

/// Copies a packed 3-byte-per-pixel video frame row by row, dropping row padding.
pub(super) fn packed_pixels(buffer: &gst::BufferRef, info: &VideoInfo) -> Option<Vec<u8>> {
    let frame = VideoFrameRef::from_buffer_ref_readable(buffer, info).ok()?;
    let row = frame.width() as usize * 3;
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).ok()?;
    let mut out = Vec::with_capacity(row * frame.height() as usize);
    for y in 0..frame.height() as usize {
        out.extend_from_slice(data.get(y * stride..y * stride + row)?);
    }
    Some(out)
}

/// The first error waiting on the bus, as "element: message (debug)".
fn bus_error(bus: &gst::Bus) -> Option<String> {
    while let Some(message) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Warning]) {
        match message.view() {
            gst::MessageView::Error(err) => {
                let element = message.src().map(|s| s.name().to_string()).unwrap_or_default();
                return Some(format!("{element}: {}", err.error()));
            }
            gst::MessageView::Warning(warning) => {
                let element = message.src().map(|s| s.name().to_string()).unwrap_or_default();
                tracing::debug!(element, warning = %warning.error(), "pipeline warning");
            }
            _ => {}
        }
    }
    None
}

/// Stops the pipeline whatever way the run ends.
struct PipelineGuard(gst::Pipeline);

impl Drop for PipelineGuard {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    !stop.load(Ordering::Relaxed)
}

/// ±20 % so that many cameras behind one dead switch do not retry in lockstep.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.8..1.2))
}
