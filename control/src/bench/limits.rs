//! The two limits of the hardware that Steward is measured against: how many camera streams
//! the CPU can decode at all (GStreamer, decode to `fakesink`, nothing else), and how many
//! frames a second the detector can run on frames that are already decoded (ONNX Runtime,
//! batch 1 and batch N).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;
use steward_edge::detect::{Detector, Manifest};

use super::progress::Progress;

/// Decode-only throughput of `streams` copies of `file` played flat out for `seconds`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct DecodeLimit {
    /// Frames read from the files per second (all frames, decoded or skipped).
    pub frames_in_per_s: f64,
    /// Frames decoded per second.
    pub decoded_per_s: f64,
    /// Camera streams of `fps` this keeps up with: media seconds processed per wall second.
    pub streams: f64,
}

/// Decodes `streams` copies of `file` at once, as fast as they go, looping, for `seconds`.
/// With `keyframes_only`, non-key frames are dropped before the decoder, as Steward does.
pub fn decode_limit(file: &Path, fps: u32, streams: usize, keyframes_only: bool, seconds: f64, progress: &Progress) -> Result<DecodeLimit, String> {
    let read = Arc::new(AtomicU64::new(0));
    let decoded = Arc::new(AtomicU64::new(0));
    let skip = if keyframes_only { "identity drop-buffer-flags=delta-unit ! " } else { "" };
    let mut pipelines = Vec::new();
    for _ in 0..streams {
        let description = format!("filesrc location=\"{}\" ! qtdemux ! h264parse name=parse ! {skip}avdec_h264 ! fakesink name=sink sync=false", file.display());
        let pipeline = gst::parse::launch(&description).map_err(|e| format!("decode pipeline: {e}"))?.downcast::<gst::Pipeline>().expect("a pipeline");
        count_buffers(&pipeline, "parse", &read);
        count_buffers(&pipeline, "sink", &decoded);
        pipelines.push(pipeline);
    }
    for pipeline in &pipelines {
        pipeline.set_state(gst::State::Paused).map_err(|e| format!("decode pipeline: {e}"))?;
    }
    for pipeline in &pipelines {
        let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    }
    for pipeline in &pipelines {
        pipeline.set_state(gst::State::Playing).map_err(|e| format!("decode pipeline: {e}"))?;
    }
    let (read_before, decoded_before, started) = (read.load(Ordering::Relaxed), decoded.load(Ordering::Relaxed), Instant::now());
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut failure = None;
    while Instant::now() < deadline && failure.is_none() {
        for pipeline in &pipelines {
            let bus = pipeline.bus().expect("a pipeline has a bus");
            while let Some(message) = bus.pop_filtered(&[gst::MessageType::Eos, gst::MessageType::Error]) {
                match message.view() {
                    // Loop: a camera never ends.
                    gst::MessageView::Eos(_) => {
                        let _ = pipeline.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, gst::ClockTime::ZERO);
                    }
                    gst::MessageView::Error(e) => failure = Some(format!("decoding failed: {}", e.error())),
                    _ => {}
                }
            }
        }
        progress.sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (read_n, decoded_n) = (read.load(Ordering::Relaxed) - read_before, decoded.load(Ordering::Relaxed) - decoded_before);
    for pipeline in &pipelines {
        let _ = pipeline.set_state(gst::State::Null);
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    let frames_in_per_s = read_n as f64 / elapsed;
    Ok(DecodeLimit { frames_in_per_s, decoded_per_s: decoded_n as f64 / elapsed, streams: frames_in_per_s / fps as f64 })
}

fn count_buffers(pipeline: &gst::Pipeline, element: &str, counter: &Arc<AtomicU64>) {
    let pad = pipeline.by_name(element).and_then(|e| e.static_pad("sink")).expect("element with a sink pad");
    let counter = counter.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        counter.fetch_add(1, Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
}

/// Detector throughput on frames already decoded and letterboxed.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct InferenceLimit {
    pub batch: usize,
    pub frames_per_s: f64,
    pub ms_per_frame: f64,
}

/// `count` model-input frames (letterboxed, in the model's channel order) spread over `file`.
pub fn model_inputs(file: &Path, manifest: &Manifest, count: usize) -> Result<Vec<Vec<u8>>, String> {
    let (w, h) = (manifest.input.width, manifest.input.height);
    let format = if manifest.input.channels == "rgb" { "RGB" } else { "BGR" };
    let description = format!(
        "filesrc location=\"{}\" ! qtdemux ! h264parse ! avdec_h264 ! videorate drop-only=true ! video/x-raw,framerate=1/1 \
         ! videoscale add-borders=true ! video/x-raw,width={w},height={h},pixel-aspect-ratio=1/1 ! videoconvert ! video/x-raw,format={format} \
         ! appsink name=out sync=false",
        file.display()
    );
    let pipeline = gst::parse::launch(&description).map_err(|e| format!("frame pipeline: {e}"))?.downcast::<gst::Pipeline>().expect("a pipeline");
    let sink = pipeline.by_name("out").and_then(|e| e.downcast::<AppSink>().ok()).expect("appsink");
    pipeline.set_state(gst::State::Playing).map_err(|e| format!("frame pipeline: {e}"))?;
    let mut frames = Vec::new();
    while frames.len() < count {
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(30)) else { break };
        let Some(buffer) = sample.buffer() else { continue };
        let map = buffer.map_readable().map_err(|e| format!("frame: {e}"))?;
        let stride = ((w * 3 + 3) & !3) as usize;
        let mut packed = Vec::with_capacity((w * h * 3) as usize);
        for row in map.as_slice().chunks(stride).take(h as usize) {
            packed.extend_from_slice(&row[..(w * 3) as usize]);
        }
        frames.push(packed);
    }
    let _ = pipeline.set_state(gst::State::Null);
    if frames.is_empty() {
        return Err(format!("no frames decoded from {}", file.display()));
    }
    Ok(frames)
}

/// Runs the detector in batches of `batch` over `frames` for `seconds`.
pub fn inference_limit(detector: &mut Detector, frames: &[Vec<u8>], batch: usize, seconds: f64, progress: &Progress) -> Result<InferenceLimit, String> {
    let inputs: Vec<&[u8]> = frames.iter().cycle().take(batch).map(|f| f.as_slice()).collect();
    detector.detect_raw_batch(&inputs).map_err(|e| e.to_string())?; // warm-up
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed().as_secs_f64() < seconds {
        detector.detect_raw_batch(&inputs).map_err(|e| e.to_string())?;
        done += batch;
        progress.tick();
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(InferenceLimit { batch, frames_per_s: done as f64 / elapsed, ms_per_frame: elapsed * 1000.0 / done as f64 })
}
