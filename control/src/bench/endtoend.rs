//! End-to-end runs over the same window: Steward itself (`steward run` as a child process, N
//! file cameras played in real time and looping, like live cameras) and the Python reference
//! loop. Each reports analysed frames per second per stream from its own counters, CPU from
//! `/proc`, and peak RSS; `max_held` searches for the most streams that hold their rate.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::progress::Progress;

/// A stream holds its rate when it analyses at least this share of its target.
pub const HOLD_SHARE: f64 = 0.9;

/// One measured run with some number of streams.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamRun {
    pub streams: usize,
    /// Analysed frames per second, per stream.
    pub fps: Vec<f64>,
    /// CPU used during the window, in cores (1.0 = one core busy).
    pub cpu_cores: f64,
    pub peak_rss_bytes: u64,
    /// Frames a stream produced that were never analysed (Steward's drop counter).
    pub dropped_per_s: f64,
}

impl StreamRun {
    pub fn min_fps(&self) -> f64 {
        self.fps.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn mean_fps(&self) -> f64 {
        self.fps.iter().sum::<f64>() / self.fps.len().max(1) as f64
    }

    pub fn holds(&self, target: f64) -> bool {
        self.min_fps() >= HOLD_SHARE * target
    }
}

/// Warm-up, then the measured window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
}

impl Window {
    /// Seconds one run takes, start-up and shutdown included (for the progress plan).
    pub fn run_seconds(&self) -> f64 {
        self.warmup.as_secs_f64() + self.measure.as_secs_f64() + 6.0
    }
}

/// Where and how Steward runs.
pub struct StewardRun<'a> {
    pub exe: &'a Path,
    pub footage: &'a Path,
    pub work: &'a Path,
    pub analysis_fps: f64,
    pub keyframes: bool,
    pub window: Window,
}

impl StewardRun<'_> {
    /// Runs Steward with `streams` cameras and measures the window.
    pub fn run(&self, streams: usize, progress: &Progress) -> Result<StreamRun, String> {
        let mode = if self.keyframes { "keyframes" } else { "all" };
        let dir = self.work.join(format!("steward-{mode}-{streams}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let config = dir.join("steward.toml");
        std::fs::write(&config, self.config(&dir, port, streams, mode)).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        // /metrics needs a viewer token: put one in the box's user store before it starts.
        let token = crate::auth::AuthStore::open(&dir.join("state").join("control.db"))
            .and_then(|users| users.create_token("bench", crate::auth::Role::Viewer))
            .map_err(|e| format!("cannot create the metrics token: {e:#}"))?
            .token;
        let log = std::fs::File::create(dir.join("steward.log")).map_err(|e| e.to_string())?;
        let child = Command::new(self.exe)
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        let mut child = ChildGuard(child);
        let pid = child.0.id();
        let ids: Vec<String> = (1..=streams).map(|i| format!("bench-{i}")).collect();
        let scraper = reqwest::blocking::Client::new();
        let metrics = |port: u16| scraper.get(format!("http://127.0.0.1:{port}/metrics")).bearer_auth(&token).send().and_then(|r| r.error_for_status()).and_then(|r| r.text()).ok();

        let ready_by = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(text) = metrics(port)
                && ids.iter().all(|id| sample(&text, "steward_frames_analysed_total", &format!(r#"camera="{id}""#)) > 0.0)
            {
                break;
            }
            if let Ok(Some(status)) = child.0.try_wait() {
                return Err(format!("steward exited ({status}) before every camera delivered a frame; see {}", dir.join("steward.log").display()));
            }
            if Instant::now() > ready_by {
                return Err(format!("not every camera delivered a frame within 120 s; see {}", dir.join("steward.log").display()));
            }
            progress.sleep(Duration::from_millis(500));
        }
        progress.sleep(self.window.warmup);
        let read = |text: &str| -> (Vec<f64>, f64) {
            let analysed = ids.iter().map(|id| sample(text, "steward_frames_analysed_total", &format!(r#"camera="{id}""#))).collect();
            let dropped = text.lines().filter(|l| l.starts_with("steward_frames_dropped_total{")).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum();
            (analysed, dropped)
        };
        let (before, dropped_before) = read(&metrics(port).ok_or("metrics unreachable")?);
        let (cpu_before, started) = (cpu_seconds(pid)?, Instant::now());
        progress.sleep(self.window.measure);
        let (after, dropped_after) = read(&metrics(port).ok_or("metrics unreachable")?);
        let (cpu_after, elapsed) = (cpu_seconds(pid)?, started.elapsed().as_secs_f64());
        let peak_rss_bytes = peak_rss(pid)?;
        stop(&mut child.0);
        Ok(StreamRun {
            streams,
            fps: before.iter().zip(&after).map(|(b, a)| (a - b) / elapsed).collect(),
            cpu_cores: (cpu_after - cpu_before) / elapsed,
            peak_rss_bytes,
            dropped_per_s: (dropped_after - dropped_before) / elapsed,
        })
    }

    fn config(&self, dir: &Path, port: u16, streams: usize, mode: &str) -> String {
        let mut text = format!(
            "[site]\nname = \"bench\"\nregion_code = \"320602\"\n\n[storage]\ndir = \"{}\"\n\n[control]\nlisten = \"127.0.0.1:{port}\"\n",
            dir.join("state").display()
        );
        for i in 1..=streams {
            text += &format!(
                "\n[[camera]]\nid = \"bench-{i}\"\nurl = \"file://{}\"\nanalysis_fps = {}\ndecode = \"{mode}\"\npace = \"realtime\"\nloop = true\n\n\
                 [[camera.zone]]\nid = \"kerb\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 0.3], [0.0, 0.3]]\nrules = [{{ kind = \"illegal_parking\", dwell_s = 300 }}]\n",
                self.footage.display(),
                self.analysis_fps
            );
        }
        text
    }
}

/// The Python reference loop (`bench/reference.py`) and how to run it.
pub struct PythonRun<'a> {
    pub python: &'a Path,
    pub script: &'a Path,
    pub manifest: &'a Path,
    pub footage: &'a Path,
    pub work: &'a Path,
    pub analysis_fps: f64,
    pub window: Window,
}

#[derive(serde::Deserialize)]
struct PythonResult {
    analysed_fps: Vec<f64>,
    cpu_s: f64,
    duration_s: f64,
    rss_bytes: u64,
}

impl PythonRun<'_> {
    pub fn run(&self, streams: usize, progress: &Progress) -> Result<StreamRun, String> {
        let out = self.work.join(format!("python-{streams}.json"));
        let _ = std::fs::remove_file(&out);
        let log = std::fs::File::create(self.work.join(format!("python-{streams}.log"))).map_err(|e| e.to_string())?;
        let mut command = Command::new(self.python);
        command
            .arg(self.script)
            .arg("--manifest")
            .arg(self.manifest)
            .args(["--analysis-fps", &self.analysis_fps.to_string()])
            .args(["--duration", &self.window.measure.as_secs_f64().to_string()])
            .args(["--warmup", &self.window.warmup.as_secs_f64().to_string()])
            .arg("--json")
            .arg(&out)
            .args(std::iter::repeat_n(self.footage, streams))
            .stdout(Stdio::null())
            .stderr(log);
        let mut child = ChildGuard(command.spawn().map_err(|e| format!("cannot start {}: {e}", self.python.display()))?);
        let limit = Instant::now() + Duration::from_secs_f64(self.window.run_seconds() + 120.0);
        let status = loop {
            if let Some(status) = child.0.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > limit {
                return Err("the Python reference did not finish in time".into());
            }
            progress.sleep(Duration::from_millis(200));
        };
        if !status.success() {
            return Err(format!("the Python reference failed ({status}); see {}", self.work.join(format!("python-{streams}.log")).display()));
        }
        let result: PythonResult = serde_json::from_str(&std::fs::read_to_string(&out).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", out.display()))?;
        Ok(StreamRun { streams, fps: result.analysed_fps, cpu_cores: result.cpu_s / result.duration_s, peak_rss_bytes: result.rss_bytes, dropped_per_s: 0.0 })
    }
}

/// The most streams that hold `target`, up to `max_streams`: the first run (at the requested
/// count) gives a first guess — from its total analysed rate when it fell short, from its CPU
/// use when it held — then the search bisects (or steps up by a quarter, while everything
/// holds) for at most `budget` more runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Held {
    /// Streams that held their rate.
    pub streams: usize,
    /// The fewest streams seen not holding it (`None`: every count tried held).
    pub fails_at: Option<usize>,
    pub runs: Vec<StreamRun>,
}

pub fn max_held(
    first: StreamRun,
    target: f64,
    budget: usize,
    max_streams: usize,
    progress: &Progress,
    mut run: impl FnMut(usize) -> Result<StreamRun, String>,
) -> Result<Held, String> {
    let n = first.streams;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let (mut held, mut fails) = if first.holds(target) { (n, None) } else { (0, Some(n)) };
    let mut probe = match fails {
        None => (n as f64 * 0.9 * cores / first.cpu_cores.max(1e-3)).floor() as usize,
        Some(_) => ((first.fps.iter().sum::<f64>() / target) * 0.95).floor() as usize,
    };
    let mut runs = vec![first];
    for _ in 0..budget {
        let above = fails.unwrap_or(max_streams + 1);
        if above <= held + 1 {
            break;
        }
        probe = probe.clamp(held + 1, above - 1);
        let result = run(probe)?;
        if result.holds(target) {
            held = probe;
        } else {
            fails = Some(probe);
        }
        runs.push(result);
        probe = match fails {
            Some(fails) => (held + fails).div_ceil(2),
            // The CPU-based guess is close: step up by a quarter rather than doubling.
            None => (held + (held / 4).max(1)).min(max_streams),
        };
        progress.tick();
    }
    Ok(Held { streams: held, fails_at: fails, runs })
}

/// The value of `name{labels}` in Prometheus text (0 when absent).
fn sample(text: &str, name: &str, labels: &str) -> f64 {
    let key = format!("{name}{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&key)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
}

pub(super) fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// User + system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("process {pid}: {e}"))?;
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based, proc(5)).
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok()).ok_or_else(|| format!("unreadable /proc/{pid}/stat"));
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(14)? + ticks(15)?) / per_second)
}

/// Peak resident memory of a process (VmHWM).
fn peak_rss(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("process {pid}: {e}"))?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kib.map(|k| k * 1024).ok_or_else(|| format!("no VmHWM for process {pid}"))
}

/// Asks a child to stop (SIGTERM), then kills it after 20 s.
fn stop(child: &mut Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills the child if the bench ends early.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The Python (`--python`, or `vendor/bench-venv/bin/python`) and `bench/reference.py` under
/// the first of `roots` that has them.
pub fn find_reference(roots: &[PathBuf], python: Option<PathBuf>) -> Option<(PathBuf, PathBuf)> {
    roots.iter().find_map(|root| {
        let script = root.join("bench/reference.py");
        let python = python.clone().unwrap_or_else(|| root.join("vendor/bench-venv/bin/python"));
        (script.is_file() && python.is_file()).then_some((python, script))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box that can analyse `capacity` frames a second in all, at `cost` cores per stream.
    fn simulated(capacity: f64, cost: f64) -> impl Fn(usize) -> StreamRun {
        move |streams| StreamRun {
            streams,
            fps: vec![(capacity / streams as f64).min(1.0); streams],
            cpu_cores: (cost * streams as f64).min(2.0),
            peak_rss_bytes: 0,
            dropped_per_s: 0.0,
        }
    }

    #[test]
    fn the_search_finds_the_capacity_below_the_requested_count() {
        let run = simulated(11.4, 0.17);
        let progress = Progress::new(1.0);
        let held = max_held(run(16), 1.0, 10, 64, &progress, |n| Ok(run(n))).unwrap();
        // 12 streams get 0.95 fps each (holds), 13 get 0.88 (does not).
        assert_eq!((held.streams, held.fails_at), (12, Some(13)));
        assert!(held.runs.len() <= 4, "the first guess is close: {} runs", held.runs.len());
    }

    #[test]
    fn the_search_goes_above_the_requested_count_when_everything_holds() {
        let run = simulated(40.0, 0.045);
        let progress = Progress::new(1.0);
        let held = max_held(run(16), 1.0, 10, 64, &progress, |n| Ok(run(n))).unwrap();
        // 44 streams get 0.91 fps each, 45 get 0.89.
        assert_eq!((held.streams, held.fails_at), (44, Some(45)));
        let capped = max_held(run(16), 1.0, 10, 24, &progress, |n| Ok(run(n))).unwrap();
        assert_eq!((capped.streams, capped.fails_at), (24, None), "never more than max_streams");
    }

    #[test]
    fn a_stream_holds_at_ninety_percent_of_its_target() {
        let run = |fps: Vec<f64>| StreamRun { streams: fps.len(), fps, cpu_cores: 0.0, peak_rss_bytes: 0, dropped_per_s: 0.0 };
        assert!(run(vec![0.9, 1.0]).holds(1.0));
        assert!(!run(vec![0.89, 1.0]).holds(1.0));
        assert!(run(vec![0.46]).holds(0.5));
    }
}
