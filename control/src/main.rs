//! `steward`: the appliance binary. Parses the command line, sets up logging, and hands over to
//! the edge runtime and the control plane. Exit codes: 0 done, 1 failed to start, 2 bad
//! config or arguments, 3 undelivered records after `--drain-timeout`.

mod api;
mod app;
mod auth;
mod bench;
mod commands;
mod export;
mod logtail;
mod receive;
mod serve_rtsp;
mod tls;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::fmt::writer::MakeWriterExt;

#[derive(Parser)]
#[command(name = "steward", version, about = "Steward (城市管家): edge video analytics for city management")]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` overrides it.
    #[arg(long, global = true, default_value = "info,ort=warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance: cameras, analysis, delivery and the control plane.
    Run {
        /// The configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Exit 0 once every file source has ended and the outbox is delivered.
        #[arg(long)]
        exit_when_done: bool,
        /// Seconds to wait for delivery after the sources end (with --exit-when-done);
        /// exit 3 if records are still undelivered then.
        #[arg(long, default_value_t = 120.0)]
        drain_timeout: f64,
    },
    /// Validate a configuration file; print every problem as file:line:col.
    CheckConfig {
        file: PathBuf,
    },
    /// Save one still of a configured camera (to draw zones on, or as the clean reference of an
    /// exposed_waste zone) and print each zone's mean luminance (a sign's lit level).
    Snapshot {
        #[arg(long, short)]
        config: PathBuf,
        /// The camera's id in the config.
        #[arg(long)]
        camera: String,
        /// Where to write the picture (PNG or JPEG, by extension).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the appliance on the bundled footage and model, with a local receiver.
    Demo {
        /// Where the control plane listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Where the demo's receiver listens.
        #[arg(long, default_value = "127.0.0.1:9000")]
        receiver: String,
        /// State folder (outbox, evidence, received incidents).
        #[arg(long, default_value = "/tmp/steward-demo")]
        state_dir: PathBuf,
    },
    /// A reference receiver for platform integrators: verifies timestamps and signatures,
    /// de-duplicates by idempotency key, stores documents and evidence, prints a line per incident.
    Receive {
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: String,
        /// The shared HMAC secret (or STEWARD_RECEIVE_SECRET).
        #[arg(long, env = "STEWARD_RECEIVE_SECRET", hide_env_values = true)]
        secret: String,
        /// Folder to store received incidents in.
        #[arg(long, default_value = "received")]
        dir: PathBuf,
        /// Refuse a request whose X-Steward-Timestamp is further than this from the clock (s).
        #[arg(long, default_value_t = receive::DEFAULT_MAX_SKEW_S)]
        max_skew_s: u64,
        /// Answer STATUS to the first COUNT requests (to all without COUNT), e.g. `503:3` or
        /// `400`: to try a sender's error handling.
        #[arg(long, value_name = "STATUS[:COUNT]")]
        fail: Option<receive::FailPlan>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Require a client certificate signed by this CA (PEM bundle): mutual TLS. Needs
        /// --tls-cert.
        #[arg(long, requires = "tls_cert")]
        client_ca: Option<PathBuf>,
    },
    /// Read the recorded incidents.
    Incidents {
        #[command(subcommand)]
        command: IncidentsCommand,
    },
    /// Measure delivery: confirm → platform-ack latency of N incidents through the outbox and
    /// the HTTP sink to a `steward receive` on loopback, beside a bare POST of the same bodies.
    BenchDelivery {
        #[arg(long, default_value_t = 1000)]
        incidents: usize,
        /// Incidents confirmed per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        #[arg(long, default_value = "/tmp/steward-bench-delivery")]
        work: PathBuf,
    },
    /// Measure how many cameras this box can watch: decode-only and inference-only limits,
    /// Steward end to end (decode all / key frames) and a Python reference, side by side.
    Bench {
        /// Camera streams (1080p H.264, 25 fps) to run at once.
        #[arg(long, default_value_t = 16)]
        streams: usize,
        /// Analysed frames per second each stream must hold.
        #[arg(long, default_value_t = 1.0)]
        analysis_fps: f64,
        /// Frames between key frames in the synthetic streams.
        #[arg(long, default_value_t = 50)]
        gop: u32,
        /// Seconds measured per end-to-end run (after the warm-up).
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        #[arg(long, default_value_t = 6.0)]
        warmup: f64,
        /// Runs each end-to-end search may add to find the most streams that hold the rate.
        #[arg(long, default_value_t = 3)]
        search_runs: usize,
        /// The most streams a search may try when every stream holds at --streams
        /// (default: 4 × --streams).
        #[arg(long)]
        max_streams: Option<usize>,
        /// Footage cache and run folders.
        #[arg(long, default_value = "/tmp/steward-bench")]
        work: PathBuf,
        /// Python with onnxruntime + OpenCV for the reference (default: vendor/bench-venv).
        #[arg(long)]
        python: Option<PathBuf>,
        #[arg(long)]
        skip_python: bool,
        /// Also write every measurement as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Play recorded MP4 files as live RTSP cameras (each client from the start, in real time):
    /// for commissioning without a camera, benchmarks and tests.
    ServeRtsp {
        #[arg(long, default_value = "127.0.0.1")]
        address: String,
        #[arg(long, default_value_t = 8554)]
        port: u16,
        /// The video codec of the files.
        #[arg(long, value_enum, default_value = "h264")]
        codec: serve_rtsp::Codec,
        /// NAME=FILE.mp4, served at rtsp://ADDRESS:PORT/NAME.
        #[arg(required = true)]
        mounts: Vec<serve_rtsp::Mount>,
    },
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// Print every recorded event as a JSON line: the document as sent, each sink's delivery
    /// state and attempt count. Read-only; safe while `steward run` runs.
    Export {
        /// The configuration file (for the storage folder).
        #[arg(long, short)]
        config: PathBuf,
        /// Events recorded at or after T: RFC 3339 (`2026-03-01T08:00:00+08:00`) or a
        /// duration ago (`90s`, `30m`, `24h`, `7d`).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Events recorded before T (same forms as --since).
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// Only this camera's incidents.
        #[arg(long, value_name = "ID")]
        camera: Option<String>,
        /// Only incidents of this kind (e.g. `illegal_parking`).
        #[arg(long, value_name = "K")]
        kind: Option<String>,
    },
}

/// Caps glibc's malloc arenas before any thread starts. By default glibc gives new threads new
/// arenas (up to 8 per core); every camera reconnect creates fresh GStreamer streaming threads,
/// so resident memory crept up by ≈ 1.5 % per reconnect (measured: 314 → 335 MB over five)
/// without any leak. With two arenas it stays flat (293 → 293 MB); the heavy work runs in a few
/// long-lived threads, so fewer arenas cost little contention. `MALLOC_ARENA_MAX` in the
/// environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only adjusts allocator parameters; called before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    // The delivery bench would log a line per incident; its table is what matters.
    let default_log = match cli.command {
        Command::BenchDelivery { .. } if cli.log == "info,ort=warn" => "warn",
        _ => cli.log.as_str(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log));
    // Log lines go to stderr and to the tail the web UI shows (without colour codes).
    let logs = logtail::LogTail::default();
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::io::stderr.and(logs.clone())).init();
    let code = match cli.command {
        Command::CheckConfig { file } => commands::check_config(&file),
        Command::Run { config, exit_when_done, drain_timeout } => commands::run(&config, exit_when_done, drain_timeout, logs),
        Command::Snapshot { config, camera, out } => commands::snapshot(&config, &camera, &out),
        Command::Demo { listen, receiver, state_dir } => commands::demo(&listen, &receiver, &state_dir, logs),
        Command::Receive { listen, secret, dir, max_skew_s, fail, tls_cert, tls_key, client_ca } => {
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| commands::ReceiveTls { cert, key, client_ca });
            commands::receive(&listen, &secret, &dir, receive::ReceiveOptions { max_skew_s, fail }, tls)
        }
        Command::Incidents { command: IncidentsCommand::Export { config, since, until, camera, kind } } => export::export(&config, since.as_deref(), until.as_deref(), camera, kind),
        Command::BenchDelivery { incidents, rate, work } => {
            let Some(picture) = commands::find_bundled("testdata/stills/scenetext01.jpg") else {
                eprintln!("steward bench-delivery: testdata/stills/scenetext01.jpg not found (run from the checkout)");
                return ExitCode::from(1);
            };
            match bench::delivery::run(&bench::delivery::DeliveryBenchOptions { incidents, rate, work }, &picture) {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("steward bench-delivery: {error}");
                    1
                }
            }
        }
        Command::Bench { streams, analysis_fps, gop, seconds, warmup, search_runs, max_streams, work, python, skip_python, json } => {
            let options = bench::BenchOptions {
                streams,
                analysis_fps,
                gop,
                warmup: std::time::Duration::from_secs_f64(warmup),
                measure: std::time::Duration::from_secs_f64(seconds),
                search_runs,
                max_streams: max_streams.unwrap_or(4 * streams).max(streams),
                work,
                python,
                skip_python,
                json,
            };
            match bench::run_bench(&options) {
                Ok(report) => {
                    print!("{}", bench::render(&report));
                    0
                }
                Err(message) => {
                    eprintln!("steward bench: {message}");
                    1
                }
            }
        }
        Command::ServeRtsp { address, port, codec, mounts } => match serve_rtsp::serve(&address, port, &mounts, codec) {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("steward serve-rtsp: {message}");
                1
            }
        },
    };
    ExitCode::from(code)
}
