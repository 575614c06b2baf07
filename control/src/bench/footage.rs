//! Synthetic camera footage for the benchmark: the real street video (`testdata/vtest.mp4`)
//! scaled to 1080p at 25 fps under a light sensor grain that changes every frame (so no frame is
//! a free copy of the last), encoded as H.264 Main with a fixed GOP and no B-frames — what a
//! city camera's main stream looks like to a decoder. Made once per parameter set and cached.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;

/// What the synthetic camera stream looks like.
#[derive(Debug, Clone, Copy)]
pub struct FootageSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Frames from one key frame to the next.
    pub gop: u32,
    pub seconds: u32,
    pub bitrate_kbps: u32,
}

impl FootageSpec {
    pub fn describe(&self) -> String {
        format!("{}×{} H.264, {} fps, GOP {}, {} kbit/s", self.width, self.height, self.fps, self.gop, self.bitrate_kbps)
    }

    /// Key frames per second.
    pub fn keyframe_rate(&self) -> f64 {
        self.fps as f64 / self.gop as f64
    }

    fn file_name(&self) -> String {
        format!("bench-{}x{}-{}fps-gop{}-{}s-{}k.mp4", self.width, self.height, self.fps, self.gop, self.seconds, self.bitrate_kbps)
    }
}

/// The footage for `spec` in `dir`, encoding it from `source` first if it is not there yet.
pub fn synthesize(spec: &FootageSpec, source: &Path, dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join(spec.file_name());
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let partial = out.with_extension("mp4.partial");
    let frames = spec.fps * spec.seconds;
    let raw = format!("video/x-raw,width={},height={},framerate={}/1", spec.width, spec.height, spec.fps);
    let description = format!(
        "compositor name=mix sink_1::alpha=0.06 ! {raw} ! videoconvert ! video/x-raw,format=I420 \
         ! x264enc bitrate={bitrate} key-int-max={gop} bframes=0 speed-preset=veryfast option-string=\"scenecut=0\" \
         ! video/x-h264,profile=main ! h264parse ! mp4mux ! filesink location=\"{partial}\" \
         filesrc location=\"{source}\" ! qtdemux ! h264parse ! avdec_h264 ! videoscale ! videorate ! {raw} ! identity eos-after={frames} ! mix.sink_0 \
         videotestsrc pattern=snow num-buffers={frames} ! {raw} ! mix.sink_1",
        bitrate = spec.bitrate_kbps,
        gop = spec.gop,
        partial = partial.display(),
        source = source.display(),
    );
    let pipeline = gst::parse::launch(&description).map_err(|e| format!("cannot build the footage pipeline: {e}"))?;
    pipeline.set_state(gst::State::Playing).map_err(|e| format!("cannot start the footage pipeline: {e}"))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let end = bus.timed_pop_filtered(gst::ClockTime::NONE, &[gst::MessageType::Eos, gst::MessageType::Error]);
    let _ = pipeline.set_state(gst::State::Null);
    match end.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(e)) => return Err(format!("encoding the footage failed: {}", e.error())),
        _ => return Err("encoding the footage ended without EOS".into()),
    }
    std::fs::rename(&partial, &out).map_err(|e| format!("cannot move {} into place: {e}", partial.display()))?;
    Ok(out)
}
