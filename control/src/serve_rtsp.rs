//! `steward serve-rtsp`: plays recorded MP4 files as live RTSP cameras (gstreamer-rtsp-server),
//! for commissioning without a camera, the benchmark and the reconnect tests.
//!
//! Every client gets its own playback from the start of the file, paced in real time, over RTP
//! (TCP or UDP, as the client asks). At the end of the file the stream ends; Steward treats
//! that like a camera dropping the session and reconnects.

use std::path::PathBuf;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer_rtsp_server::prelude::*;

/// One mount: `/name` serves `file`.
#[derive(Debug, Clone)]
pub struct Mount {
    pub name: String,
    pub file: PathBuf,
}

impl std::str::FromStr for Mount {
    type Err = String;
    fn from_str(text: &str) -> Result<Mount, String> {
        let (name, file) = text.split_once('=').ok_or_else(|| format!("`{text}`: expected NAME=FILE.mp4"))?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(format!("`{name}`: a mount name is letters, digits, - _ ."));
        }
        Ok(Mount { name: name.to_string(), file: PathBuf::from(file) })
    }
}

/// The media factory's launch line: demux `file`, parse and payload its `codec` video as RTP.
fn launch_line(file: &std::path::Path, codec: Codec) -> String {
    let location = file.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
    let (parse, pay) = match codec {
        Codec::H264 => ("h264parse", "rtph264pay"),
        Codec::H265 => ("h265parse", "rtph265pay"),
    };
    format!("( filesrc location=\"{location}\" ! qtdemux ! {parse} ! {pay} name=pay0 pt=96 config-interval=1 )")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    H264,
    H265,
}

/// Serves `mounts` on `address:port` until the process is stopped. Returns an error message
/// when a file is missing or the server cannot listen.
pub fn serve(address: &str, port: u16, mounts: &[Mount], codec: Codec) -> Result<(), String> {
    gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}"))?;
    for mount in mounts {
        if !mount.file.is_file() {
            return Err(format!("{}: no such file", mount.file.display()));
        }
    }
    let server = gstreamer_rtsp_server::RTSPServer::new();
    server.set_address(address);
    server.set_service(&port.to_string());
    let points = server.mount_points().ok_or("the RTSP server has no mount points")?;
    for mount in mounts {
        let factory = gstreamer_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(&launch_line(&mount.file.canonicalize().unwrap_or(mount.file.clone()), codec));
        factory.set_shared(false);
        points.add_factory(&format!("/{}", mount.name), factory);
    }
    let main_loop = glib::MainLoop::new(None, false);
    let _attached = server.attach(None).map_err(|e| format!("cannot listen on {address}:{port}: {e}"))?;
    for mount in mounts {
        println!("rtsp://{address}:{port}/{}  ←  {}", mount.name, mount.file.display());
    }
    main_loop.run();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_name_equals_file() {
        let mount: Mount = "cam-1=/data/a.mp4".parse().unwrap();
        assert_eq!((mount.name.as_str(), mount.file.to_str().unwrap()), ("cam-1", "/data/a.mp4"));
        assert!("nofile".parse::<Mount>().is_err());
        assert!("a/b=/x.mp4".parse::<Mount>().is_err());
    }
}
