//! The benchmark's table: every measurement in one place, each end-to-end result next to the
//! limits and the reference it is judged against, and the ratios between them.

use std::fmt::Write;

use super::Report;
use super::endtoend::{HOLD_SHARE, Held};

/// CPU model, cores, memory, GStreamer and ONNX Runtime versions of this box.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string()).unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    format!(
        "{cpu}, {cores} cores, {:.1} GiB RAM; {}; ONNX Runtime {}",
        mem_kib / 1024.0 / 1024.0,
        gstreamer::version_string(),
        onnxruntime_library()
    )
}

/// The ONNX Runtime library file Steward loads, its version in the name.
fn onnxruntime_library() -> String {
    let path = steward_edge::detect::find_onnxruntime().ok().and_then(|p| std::fs::canonicalize(p).ok());
    path.and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned())).unwrap_or_else(|| "not found".into())
}

fn held(h: &Held) -> String {
    match h.fails_at {
        None if h.runs.len() == 1 => format!("≥ {}", h.streams),
        None => format!("≥ {} (max)", h.streams),
        Some(fails) => format!("{} (not {fails})", h.streams),
    }
}

fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 { format!("{:.2}", numerator / denominator) } else { "n/a".into() }
}

/// The table `steward bench` prints.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let n = report.streams;
    let kf_target = report.keyframe_target();
    let _ = writeln!(out, "Steward bench");
    let _ = writeln!(out, "machine   {}", report.machine);
    let _ = writeln!(out, "streams   {} × {}, files played in real time, looping", n, report.footage);
    let _ = writeln!(
        out,
        "target    {} analysed fps per stream ({} fps in key-frame mode: the camera sends {} key frames/s); a stream holds at ≥ {:.0} % of its target",
        report.analysis_fps,
        kf_target,
        report.keyframe_rate,
        HOLD_SHARE * 100.0
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<38} {:>15} {:>21} {:>11} {:>11}", "", "streams held", format!("fps/stream at {n}"), "CPU/stream", "RSS/stream");
    let _ = writeln!(out, "{:<38} {:>15} {:>21} {:>11} {:>11}", "", "(limit)", "min / mean", "(cores)", "(MiB)");
    let limit = |label: &str, streams: f64, note: String| format!("{label:<38} {:>15} {note:>21}\n", format!("({streams:.1})"));
    out += &limit("(a) decode only, all frames", report.decode_all.streams, format!("{:.0} frames/s", report.decode_all.decoded_per_s));
    out += &limit("(a) decode only, key frames only", report.decode_keyframes.streams, format!("{:.0} decoded/s", report.decode_keyframes.decoded_per_s));
    for inference in &report.inference {
        let label = format!("(b) inference only, batch {}", inference.batch);
        out += &limit(&label, inference.frames_per_s / report.analysis_fps, format!("{:.1} ms/frame", inference.ms_per_frame));
    }
    let end_to_end = |label: &str, h: &Held| {
        let at_n = &h.runs[0];
        format!(
            "{label:<38} {:>15} {:>21} {:>11.3} {:>11.0}\n",
            held(h),
            format!("{:.2} / {:.2}", at_n.min_fps(), at_n.mean_fps()),
            at_n.cpu_cores / n as f64,
            at_n.peak_rss_bytes as f64 / n as f64 / 1048576.0
        )
    };
    out += &end_to_end("(c) Steward, decode = \"all\"", &report.steward_all);
    out += &end_to_end("(c) Steward, decode = \"keyframes\"", &report.steward_keyframes);
    match (&report.python, &report.python_skipped) {
        (Some(python), _) => out += &end_to_end("(d) Python reference (OpenCV + ORT)", python),
        (None, Some(why)) => {
            let _ = writeln!(out, "{:<38} {why}", "(d) Python reference (OpenCV + ORT)");
        }
        (None, None) => {}
    }
    let _ = writeln!(out);
    let inference_streams = |target: f64| report.inference_best() / target;
    let python_held = report.python.as_ref().map_or(0.0, |p| p.streams as f64);
    for (label, h, decode, target) in [
        ("Steward \"all\"      ", &report.steward_all, report.decode_all.streams, report.analysis_fps),
        ("Steward \"keyframes\"", &report.steward_keyframes, report.decode_keyframes.streams, kf_target),
    ] {
        let held = h.streams as f64;
        let _ = writeln!(
            out,
            "{label}  held / (a) decode limit {}   held / (b) inference limit at {target} fps {}   held / (d) Python {}",
            ratio(held, decode),
            ratio(held, inference_streams(target)),
            ratio(held, python_held)
        );
    }
    let _ = writeln!(out, "\"≥ N\": every count tried held, N the most tried (--max-streams); \"(not M)\": M streams did not hold. Per-run details: --json.");
    out
}
