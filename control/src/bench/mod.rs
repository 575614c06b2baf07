//! `steward bench`: how many cameras this box can watch, measured side by side with the limits
//! of the hardware and with the loop a user would otherwise write (issue 4, BENCHMARKS.md).
//!
//! One run: synthesise the camera footage (`footage`), measure (a) the decode-only and (b) the
//! inference-only limits (`limits`), then (c) Steward end to end in `all` and `keyframes` modes
//! and (d) the Python reference (`endtoend`), and print one table (`table`).

pub mod delivery;
mod endtoend;
mod footage;
mod limits;
mod progress;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use steward_edge::detect::{Detector, Manifest, default_manifest_path};

use endtoend::{Held, PythonRun, StewardRun, StreamRun, Window, find_reference, max_held};
use footage::FootageSpec;
use limits::{DecodeLimit, InferenceLimit};
use progress::Progress;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub streams: usize,
    pub analysis_fps: f64,
    pub gop: u32,
    pub warmup: Duration,
    pub measure: Duration,
    /// Extra runs each end-to-end search may take after the run at `streams`.
    pub search_runs: usize,
    /// The most streams a search may try.
    pub max_streams: usize,
    pub work: PathBuf,
    pub python: Option<PathBuf>,
    pub skip_python: bool,
    pub json: Option<PathBuf>,
}

/// Everything measured, as printed and as written with `--json`.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub machine: String,
    pub footage: String,
    pub streams: usize,
    pub analysis_fps: f64,
    pub keyframe_rate: f64,
    pub decode_all: DecodeLimit,
    pub decode_keyframes: DecodeLimit,
    pub inference: Vec<InferenceLimit>,
    pub steward_all: Held,
    pub steward_keyframes: Held,
    pub python: Option<Held>,
    pub python_skipped: Option<String>,
}

impl Report {
    /// The rate a stream must hold in key-frame mode: it cannot analyse more key frames than the
    /// camera sends.
    pub fn keyframe_target(&self) -> f64 {
        self.analysis_fps.min(self.keyframe_rate)
    }

    /// Frames per second of the best batch size.
    pub fn inference_best(&self) -> f64 {
        self.inference.iter().map(|i| i.frames_per_s).fold(0.0, f64::max)
    }
}

pub fn run_bench(options: &BenchOptions) -> Result<Report, String> {
    gstreamer::init().map_err(|e| format!("cannot initialise GStreamer: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let manifest_path = default_manifest_path().ok_or("the bundled model manifest was not found (set STEWARD_MODELS)")?;
    let manifest = Manifest::load(&manifest_path).map_err(|e| e.to_string())?;
    let source = checkout_roots().into_iter().map(|r| r.join("testdata/vtest.mp4")).find(|p| p.is_file()).ok_or("testdata/vtest.mp4 (the footage the streams are made from) was not found; run from the repository")?;
    let spec = FootageSpec { width: 1920, height: 1080, fps: 25, gop: options.gop, seconds: 30, bitrate_kbps: 4000 };
    let window = Window { warmup: options.warmup, measure: options.measure };
    let reference = if options.skip_python { None } else { find_reference(&checkout_roots(), options.python.clone()) };
    let python_skipped = match (options.skip_python, &reference) {
        (true, _) => Some("skipped (--skip-python)".to_string()),
        (false, None) => Some("skipped: no vendor/bench-venv (run `make bench-venv`) or bench/reference.py".to_string()),
        _ => None,
    };
    let limit_s = 8.0;
    let end_to_end_modes = if reference.is_some() { 3.0 } else { 2.0 };
    let progress = Progress::new(60.0 + 4.0 * limit_s + end_to_end_modes * window.run_seconds());

    progress.phase(&format!("encoding the footage ({}), once", spec.describe()));
    let footage = footage::synthesize(&spec, &source, &options.work)?;

    let n = options.streams;
    progress.phase(&format!("(a) decode only, {n} streams, all frames"));
    let decode_all = limits::decode_limit(&footage, spec.fps, n, false, limit_s, &progress)?;
    progress.phase(&format!("(a) decode only, {n} streams, key frames"));
    let decode_keyframes = limits::decode_limit(&footage, spec.fps, n, true, limit_s, &progress)?;

    let inference = {
        let threads = steward_edge::config::DEFAULT_MODEL_THREADS;
        let mut detector = Detector::new(manifest.clone(), threads).map_err(|e| e.to_string())?;
        let frames = limits::model_inputs(&footage, &manifest, 16)?;
        let mut found = Vec::new();
        for batch in [1, n] {
            progress.phase(&format!("(b) inference only, batch {batch}"));
            found.push(limits::inference_limit(&mut detector, &frames, batch, limit_s, &progress)?);
        }
        found
    };

    let search = |label: &str, target: f64, run: &dyn Fn(usize, &Progress) -> Result<StreamRun, String>| -> Result<Held, String> {
        progress.phase(&format!("{label}, {n} streams"));
        let first = run(n, &progress)?;
        max_held(first, target, options.search_runs, options.max_streams, &progress, |count| {
            progress.extend(window.run_seconds());
            progress.phase(&format!("{label}, {count} streams"));
            run(count, &progress)
        })
    };
    let steward = |keyframes: bool| StewardRun { exe: &exe, footage: &footage, work: &options.work, analysis_fps: options.analysis_fps, keyframes, window };
    let steward_all = search("(c) Steward, decode = all", options.analysis_fps, &|count, p| steward(false).run(count, p))?;
    let keyframe_target = options.analysis_fps.min(spec.keyframe_rate());
    let steward_keyframes = search("(c) Steward, decode = keyframes", keyframe_target, &|count, p| steward(true).run(count, p))?;
    let python = match &reference {
        Some((python, script)) => {
            let runner = PythonRun { python, script, manifest: &manifest_path, footage: &footage, work: &options.work, analysis_fps: options.analysis_fps, window };
            Some(search("(d) Python reference", options.analysis_fps, &|count, p| runner.run(count, p))?)
        }
        None => None,
    };
    progress.finish();

    let report = Report {
        machine: table::machine(),
        footage: spec.describe(),
        streams: n,
        analysis_fps: options.analysis_fps,
        keyframe_rate: spec.keyframe_rate(),
        decode_all,
        decode_keyframes,
        inference,
        steward_all,
        steward_keyframes,
        python,
        python_skipped,
    };
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(report)
}

/// Where the repository's files may be: the working directory, then the checkout this binary
/// was built in (`target/release/steward` → three levels up).
fn checkout_roots() -> Vec<PathBuf> {
    let built_in = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()));
    std::env::current_dir().ok().into_iter().chain(built_in).collect()
}

pub use table::render;
