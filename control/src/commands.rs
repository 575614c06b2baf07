//! The subcommands: glue between the command line, the edge runtime, the control plane and
//! the reference receiver. Each returns the process exit code.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use steward_edge::config::{ConfigErrors, ConfigStore, Sink, load_file};
use steward_edge::runtime::{Edge, RunOptions, RunOutcome};

use crate::app::{AppState, app, serve, serve_on};
use crate::auth::AuthStore;
use crate::logtail::LogTail;
use crate::receive::{ReceiveOptions, ReceiverState, router};
use crate::tls::{ServerTls, server_config_from};

const EXIT_START_FAILED: u8 = 1;
const EXIT_BAD_CONFIG: u8 = 2;
const EXIT_UNDELIVERED: u8 = 3;

pub fn check_config(file: &Path) -> u8 {
    match load_file(file) {
        Ok(config) => {
            // The HTTP sinks' TLS files are read as the sinks will read them (an MQTT sink's
            // `ca_file` is read by validation already).
            let mut unusable = 0;
            for sink in &config.sinks {
                let Sink::Http(http) = sink else { continue };
                if let Err(error) = steward_edge::sink::http_client(http) {
                    eprintln!("{}: sink `{}`: {error}", file.display(), http.name);
                    unusable += 1;
                }
            }
            if unusable > 0 {
                eprintln!("{}: {unusable} sink(s) cannot deliver as configured", file.display());
                return EXIT_BAD_CONFIG;
            }
            let zones: usize = config.cameras.iter().map(|c| c.zones.len()).sum();
            println!("{}: ok ({} cameras, {} zones, {} sinks)", file.display(), config.cameras.len(), zones, config.sinks.len());
            0
        }
        Err(errors) => report_config_errors(&errors),
    }
}

fn report_config_errors(errors: &ConfigErrors) -> u8 {
    eprintln!("{errors}");
    eprintln!("{}: {} problem(s); nothing was started", errors.file, errors.errors.len());
    EXIT_BAD_CONFIG
}

pub fn run(config_path: &Path, exit_when_done: bool, drain_timeout: f64, logs: LogTail) -> u8 {
    let store = match ConfigStore::open(config_path) {
        Ok(store) => store,
        Err(errors) => return report_config_errors(&errors),
    };
    let runtime = tokio_runtime();
    let options = RunOptions { exit_when_done, drain_timeout: Duration::from_secs_f64(drain_timeout.max(0.0)) };
    runtime.block_on(run_edge(store, logs, options, std::future::pending()))
}

/// How often the config file is checked for hand edits.
const CONFIG_POLL: Duration = Duration::from_secs(1);

/// Starts the edge and its control plane; returns the exit code. `extra` runs alongside (the
/// demo's receiver) and stops the process if it fails.
async fn run_edge(store: ConfigStore, logs: LogTail, options: RunOptions, extra: impl Future<Output = std::io::Result<()>>) -> u8 {
    let config = store.current();
    let listen = config.control.listen;
    let auth_path = config.storage.dir.join("control.db");
    let edge = match Edge::new((*config).clone()) {
        Ok(edge) => edge.follow(store.subscribe()),
        Err(error) => {
            eprintln!("steward: cannot start: {}", error_chain(&error));
            return EXIT_START_FAILED;
        }
    };
    let tls = match config.control.tls.as_ref().map(crate::tls::server_config).transpose() {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("steward: cannot serve HTTPS: {error:#}");
            return EXIT_START_FAILED;
        }
    };
    let mut auth = match AuthStore::open(&auth_path) {
        Ok(auth) => auth,
        Err(error) => {
            eprintln!("steward: cannot open the user store {}: {error:#}", auth_path.display());
            return EXIT_START_FAILED;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("steward: cannot listen on {listen} ([control] listen): {error}");
            return EXIT_START_FAILED;
        }
    };
    auth.set_secure_cookies(tls.is_some());
    let stop_watching = Arc::new(AtomicBool::new(false));
    let watcher = store.spawn_file_watch(CONFIG_POLL, stop_watching.clone());
    let (stop_tx, mut control_stop) = tokio::sync::watch::channel(false);
    let state = AppState { edge: edge.handle(), config: store, auth, logs };
    let control = tokio::spawn(serve_on(listener, tls, app(state), async move {
        let _ = control_stop.wait_for(|stop| *stop).await;
    }));
    let outcome = edge
        .run(options, async move {
            tokio::select! {
                _ = shutdown_signal() => tracing::info!("shutdown requested"),
                result = extra => if let Err(error) = result { tracing::error!(%error, "companion service failed; stopping") },
            }
        })
        .await;
    let _ = stop_tx.send(true);
    stop_watching.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    match control.await {
        Ok(Err(error)) => tracing::error!(%error, "control plane failed"),
        Err(error) => tracing::error!(%error, "control plane task failed"),
        Ok(Ok(())) => {}
    }
    match outcome {
        RunOutcome::Stopped | RunOutcome::Done => 0,
        RunOutcome::DrainTimedOut { pending } => {
            eprintln!("steward: {pending} record(s) still undelivered after --drain-timeout; they stay in the outbox for the next run");
            EXIT_UNDELIVERED
        }
    }
}

pub fn snapshot(config_path: &Path, camera_id: &str, out: &Path) -> u8 {
    let config = match load_file(config_path) {
        Ok(config) => config,
        Err(errors) => return report_config_errors(&errors),
    };
    let Some(camera) = config.cameras.iter().find(|c| c.id == camera_id) else {
        let known: Vec<&str> = config.cameras.iter().map(|c| c.id.as_str()).collect();
        eprintln!("steward snapshot: no camera `{camera_id}` in {} (cameras: {})", config_path.display(), known.join(", "));
        return EXIT_BAD_CONFIG;
    };
    let template = match steward_edge::source::PipelineTemplate::for_platform(config.device.platform) {
        Ok(template) => template,
        Err(error) => {
            eprintln!("steward snapshot: {error}");
            return EXIT_START_FAILED;
        }
    };
    let picture = match steward_edge::source::grab_frame(&camera.url, &template, Duration::from_secs(20)) {
        Ok(picture) => picture,
        Err(error) => {
            eprintln!("steward snapshot: {error}");
            return EXIT_START_FAILED;
        }
    };
    if let Err(error) = picture.save(out) {
        eprintln!("steward snapshot: cannot write {}: {error}", out.display());
        return EXIT_START_FAILED;
    }
    println!("{}: {}×{} from camera {}", out.display(), picture.width(), picture.height(), camera.id);
    for zone in &camera.zones {
        match steward_edge::rules::region_luma(&picture, &zone.polygon) {
            Some(luma) => println!("zone {}: mean luminance {luma:.1} (as `lit_level` for unlit_signage, if the sign is lit now)", zone.id),
            None => println!("zone {}: covers no pixel", zone.id),
        }
    }
    0
}

/// `steward receive --tls-cert/--tls-key [--client-ca]`.
pub struct ReceiveTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

pub fn receive(listen: &str, secret: &str, dir: &Path, options: ReceiveOptions, tls: Option<ReceiveTls>) -> u8 {
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("steward receive: `{listen}` is not an address (expected IP:PORT)");
        return EXIT_BAD_CONFIG;
    };
    let tls_config = match &tls {
        None => None,
        Some(files) => {
            let client_ca = files.client_ca.clone().map(|ca| (ca, "--client-ca"));
            match server_config_from(&ServerTls { cert: (&files.cert, "--tls-cert"), key: (&files.key, "--tls-key"), client_ca }) {
                Ok(config) => Some(config),
                Err(error) => {
                    eprintln!("steward receive: {error:#}");
                    return EXIT_BAD_CONFIG;
                }
            }
        }
    };
    let state = ReceiverState::with_options(secret.to_string(), dir.to_path_buf(), options);
    let runtime = tokio_runtime();
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("steward receive: cannot listen on {listen}: {error}");
                return EXIT_START_FAILED;
            }
        };
        let scheme = if tls_config.is_some() { "https" } else { "http" };
        let clients = if tls.as_ref().is_some_and(|t| t.client_ca.is_some()) { " (client certificates required)" } else { "" };
        println!("steward receive: listening on {scheme}://{listen}/incidents{clients}, storing in {}", dir.display());
        if let Some(plan) = options.fail {
            let which = plan.count.map_or_else(|| "every request".to_string(), |n| format!("the first {n} request(s)"));
            println!("steward receive: answering {} to {which} (--fail)", plan.status.as_u16());
        }
        match serve_on(listener, tls_config, router(state), shutdown_signal()).await {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("steward receive: {error}");
                EXIT_START_FAILED
            }
        }
    })
}

pub fn demo(listen: &str, receiver: &str, state_dir: &Path, logs: LogTail) -> u8 {
    let Some(footage) = find_bundled("testdata/vtest.mp4") else {
        eprintln!("steward demo: bundled footage testdata/vtest.mp4 not found (run from the checkout)");
        return EXIT_START_FAILED;
    };
    let (Ok(listen_addr), Ok(receiver_addr)) = (listen.parse::<SocketAddr>(), receiver.parse::<SocketAddr>()) else {
        eprintln!("steward demo: --listen and --receiver take IP:PORT");
        return EXIT_BAD_CONFIG;
    };
    const SECRET: &str = "demo-secret";
    let config_path = state_dir.join("demo.toml");
    let text = demo_config(&footage, state_dir, listen_addr, receiver_addr, SECRET);
    if let Err(error) = std::fs::create_dir_all(state_dir).and_then(|()| std::fs::write(&config_path, text)) {
        eprintln!("steward demo: cannot write {}: {error}", config_path.display());
        return EXIT_START_FAILED;
    }
    let store = match ConfigStore::open(&config_path) {
        Ok(store) => store,
        Err(errors) => return report_config_errors(&errors),
    };
    let received = state_dir.join("received");
    println!("Steward demo");
    println!("  config:    {}", config_path.display());
    println!("  footage:   {} (looping, real time)", footage.display());
    println!("  web UI:    http://{listen_addr}/   (first visit: create the admin user)");
    println!("  health:    http://{listen_addr}/health");
    println!("  receiver:  http://{receiver_addr}/incidents → {}", received.display());
    println!("  The parked van and car in zone `kerb-east` open one incident each after 20 s. Ctrl-C stops.");
    let runtime = tokio_runtime();
    let receiver_state = ReceiverState::new(SECRET.to_string(), received);
    runtime.block_on(run_edge(store, logs, RunOptions { exit_when_done: false, drain_timeout: Duration::ZERO }, serve(receiver_addr, router(receiver_state), std::future::pending())))
}

fn demo_config(footage: &Path, state_dir: &Path, listen: SocketAddr, receiver: SocketAddr, secret: &str) -> String {
    format!(
        r#"# Written by `steward demo`. Edit freely and run it with: steward run --config {config}
[site]
name = "demo-crossing"
region_code = "320602"
timezone = "Asia/Shanghai"

[storage]
dir = "{state}"

[control]
listen = "{listen}"

[[camera]]
id = "cam-1"
name = "Campus road (vtest)"
url = "file://{footage}"
analysis_fps = 2.0
pace = "realtime"
loop = true

# Kerb where the white van and the teal car stand.
[[camera.zone]]
id = "kerb-east"
name = "East kerb"
polygon = [[0.80, 0.00], [1.00, 0.00], [1.00, 0.25], [0.80, 0.25]]
rules = [{{ kind = "illegal_parking", dwell_s = 20 }}]

# The walkway: people pass, nobody parks. No incident expected.
[[camera.zone]]
id = "walkway"
name = "Walkway"
polygon = [[0.05, 0.36], [0.95, 0.48], [0.95, 0.80], [0.05, 0.62]]
rules = [{{ kind = "illegal_parking", dwell_s = 20 }}]

[[sink]]
kind = "http"
url = "http://{receiver}/incidents"
hmac_secret = "{secret}"
"#,
        config = state_dir.join("demo.toml").display(),
        state = state_dir.display(),
        footage = footage.display(),
    )
}

/// A file of the checkout, found from the working directory or the executable's location.
/// A file that ships with the checkout (footage, stills), found from the working directory or
/// the executable's folder.
pub fn find_bundled(relative: &str) -> Option<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    roots.into_iter().map(|root| root.join(relative)).find(|p| p.is_file()).and_then(|p| p.canonicalize().ok())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("start the async runtime")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
