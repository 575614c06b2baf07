//! The last seconds of a camera's *encoded* stream, kept so that an incident can carry a short
//! clip cut without re-encoding: access units from the pipeline's `encoded` appsink, trimmed to
//! the window and always starting at a key frame.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use gstreamer as gst;

/// A copy of the window: what a clip is made of.
#[derive(Debug, Clone)]
pub struct EncodedClip {
    pub caps: gst::Caps,
    pub buffers: Vec<gst::Buffer>,
}

#[derive(Debug)]
pub struct ClipRing {
    window: Duration,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    caps: Option<gst::Caps>,
    buffers: VecDeque<gst::Buffer>,
}

fn is_key(buffer: &gst::Buffer) -> bool {
    !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT)
}

impl ClipRing {
    pub fn new(window: Duration) -> Self {
        ClipRing { window, inner: Mutex::new(Ring::default()) }
    }

    /// Forgets everything (the stream restarted; old buffers would not follow on).
    pub fn reset(&self) {
        let mut ring = self.inner.lock().expect("clip ring lock");
        ring.buffers.clear();
        ring.caps = None;
    }

    /// Adds an access unit. The window is kept from the newest key frame that leaves at least
    /// `window` of stream behind the newest buffer.
    pub fn push(&self, caps: &gst::CapsRef, buffer: gst::Buffer) {
        let mut ring = self.inner.lock().expect("clip ring lock");
        if ring.caps.as_deref() != Some(caps) {
            ring.buffers.clear();
            ring.caps = Some(caps.to_owned());
        }
        if ring.buffers.is_empty() && !is_key(&buffer) {
            return;
        }
        let newest = buffer.dts_or_pts();
        ring.buffers.push_back(buffer);
        let Some(newest) = newest else { return };
        let keep_from = newest.saturating_sub(gst::ClockTime::from_nseconds(self.window.as_nanos() as u64));
        // Drop whole groups of pictures that end before `keep_from`.
        loop {
            let next_key = ring.buffers.iter().skip(1).position(is_key).map(|p| p + 1);
            match (next_key, ring.buffers.get(next_key.unwrap_or(0)).and_then(|b| b.dts_or_pts())) {
                (Some(at), Some(time)) if time <= keep_from => {
                    ring.buffers.drain(..at);
                }
                _ => break,
            }
        }
    }

    /// The window as it is now; `None` before the first key frame.
    pub fn snapshot(&self) -> Option<EncodedClip> {
        let ring = self.inner.lock().expect("clip ring lock");
        let caps = ring.caps.clone()?;
        (!ring.buffers.is_empty()).then(|| EncodedClip { caps, buffers: ring.buffers.iter().cloned().collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seconds: f64, key: bool) -> gst::Buffer {
        let mut buffer = gst::Buffer::with_size(8).unwrap();
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_nseconds((seconds * 1e9) as u64));
            if !key {
                b.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        buffer
    }

    #[test]
    fn the_window_starts_at_a_key_frame_and_holds_at_least_its_length() {
        gst::init().unwrap();
        let caps = gst::Caps::builder("video/x-h264").build();
        let ring = ClipRing::new(Duration::from_secs(4));
        ring.push(&caps, unit(0.0, false)); // before any key frame: not kept
        for i in 1..=100 {
            let t = i as f64 * 0.1;
            ring.push(&caps, unit(t, i % 20 == 0)); // a key frame every 2 s
        }
        let clip = ring.snapshot().unwrap();
        let first = clip.buffers[0].pts().unwrap().seconds_f64();
        let last = clip.buffers.last().unwrap().pts().unwrap().seconds_f64();
        assert!(is_key(&clip.buffers[0]));
        assert!(last - first >= 4.0 && last - first < 6.0, "{first}..{last}");
    }
}
