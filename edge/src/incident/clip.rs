//! The evidence clip: the camera's last seconds of encoded video, remuxed into MP4 as they
//! were encoded — no decoding, no re-encoding (so faces in it are not blurred; clips are off
//! unless a camera asks for them).

use std::path::Path;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSrc;
use sha2::{Digest, Sha256};

use super::evidence::EvidenceFile;
use crate::source::EncodedClip;

fn failed(message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(message.into())
}

/// Writes `clip` as MP4 at `path` (atomically), timestamps rebased to start at zero.
pub fn write_clip(clip: &EncodedClip, path: &Path) -> std::io::Result<EvidenceFile> {
    let first = clip.buffers.first().ok_or_else(|| failed("empty clip"))?;
    let parser = match clip.caps.structure(0).map(|s| s.name().as_str()) {
        Some("video/x-h264") => "h264parse",
        Some("video/x-h265") => "h265parse",
        other => return Err(failed(format!("cannot clip a stream of {other:?}"))),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("mp4.partial");
    let pipeline = gst::parse::launch(&format!("appsrc name=src format=time ! {parser} ! mp4mux ! filesink name=out"))
        .map_err(|e| failed(format!("clip pipeline: {e}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| failed("clip pipeline is not a pipeline"))?;
    let by_name = |name: &str| pipeline.by_name(name).ok_or_else(|| failed(format!("clip pipeline lacks {name}")));
    by_name("out")?.set_property("location", partial.to_string_lossy().to_string());
    let src = by_name("src")?.downcast::<AppSrc>().map_err(|_| failed("src is not an appsrc"))?;
    src.set_caps(Some(&clip.caps));
    let offset = [first.dts(), first.pts()].into_iter().flatten().min().unwrap_or(gst::ClockTime::ZERO);
    pipeline.set_state(gst::State::Playing).map_err(|e| failed(format!("clip pipeline refused to start: {e}")))?;
    let result = (|| {
        for buffer in &clip.buffers {
            let mut copy = buffer.copy();
            {
                let b = copy.get_mut().expect("a fresh copy is writable");
                b.set_pts(buffer.pts().map(|t| t.saturating_sub(offset)));
                b.set_dts(buffer.dts().map(|t| t.saturating_sub(offset)));
            }
            src.push_buffer(copy).map_err(|e| failed(format!("clip: {e:?}")))?;
        }
        src.end_of_stream().map_err(|e| failed(format!("clip: {e:?}")))?;
        let bus = pipeline.bus().expect("a pipeline has a bus");
        match bus.timed_pop_filtered(gst::ClockTime::from_seconds(20), &[gst::MessageType::Eos, gst::MessageType::Error]) {
            Some(message) => match message.view() {
                gst::MessageView::Eos(_) => Ok(()),
                gst::MessageView::Error(err) => Err(failed(format!("clip muxing failed: {}", err.error()))),
                _ => Err(failed("clip muxing: unexpected message")),
            },
            None => Err(failed("clip muxing did not finish within 20 s")),
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    let bytes = std::fs::read(&partial)?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, path)?;
    Ok(EvidenceFile { path: path.to_path_buf(), media_type: "video/mp4", sha256: hex::encode(Sha256::digest(&bytes)), size: bytes.len() as u64 })
}
