//! Shared parts of the end-to-end tests: a real HTTP receiver, config files, and the real
//! `steward` binary run as a child process.

#![allow(dead_code)]

mod api;
pub use api::*;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET: &str = "test-secret";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

pub fn footage() -> PathBuf {
    repo().join("testdata/vtest.mp4")
}

/// A fresh folder under the system temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("steward-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port nobody listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub idempotency_key: String,
    pub signature_valid: bool,
    pub document: serde_json::Value,
}

/// A real HTTP receiver on loopback, in its own thread and Tokio runtime.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn start(port: u16) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let state = received.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().route("/incidents", post(accept)).with_state(state);
                axum::serve(listener, app).with_graceful_shutdown(async { let _ = rx.await; }).await.unwrap();
            });
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Receiver { addr, received, shutdown: Some(tx), thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://{}/incidents", self.addr)
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn stop(mut self) {
        self.shutdown.take().map(|tx| tx.send(()));
        self.thread.take().map(|t| t.join());
    }
}

async fn accept(State(received): State<Arc<Mutex<Vec<Received>>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    // Recomputed here, independently of the sink: HMAC-SHA256 of "<timestamp>." + body.
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(header("x-steward-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let document: serde_json::Value = serde_json::from_slice(&body).expect("body is JSON");
    received.lock().unwrap().push(Received { idempotency_key: header("idempotency-key"), signature_valid: header("x-steward-signature") == expected, document });
    StatusCode::OK
}

/// A config for the vtest footage: `zones` is TOML for `[[camera.zone]]` tables.
pub fn config(storage: &Path, control_port: u16, receiver_url: &str, cameras: &str) -> String {
    format!(
        r#"[site]
name = "test-crossing"
region_code = "320602"
timezone = "Asia/Shanghai"

[storage]
dir = "{storage}"

[control]
listen = "127.0.0.1:{control_port}"

{cameras}

[[sink]]
kind = "http"
url = "{receiver_url}"
hmac_secret = "{SECRET}"
"#,
        storage = storage.display()
    )
}

/// A camera at `url` with zone `kerb-east` around the parked van and car (illegal parking,
/// `dwell_s`).
pub fn kerb_camera(id: &str, url: &str, dwell_s: u32) -> String {
    format!(
        r#"[[camera]]
id = "{id}"
url = "{url}"
analysis_fps = 2.0

[[camera.zone]]
id = "kerb-east"
polygon = [[0.80, 0.00], [1.00, 0.00], [1.00, 0.25], [0.80, 0.25]]
rules = [{{ kind = "illegal_parking", dwell_s = {dwell_s} }}]
"#
    )
}

/// The vtest file camera: `kerb-east` (dwell 20 s) and a zone over the walkway where people
/// pass; it keeps 6 s evidence clips.
pub fn vtest_camera(id: &str) -> String {
    let walkway = r#"
[[camera.zone]]
id = "walkway"
polygon = [[0.05, 0.36], [0.95, 0.48], [0.95, 0.80], [0.05, 0.62]]
rules = [{ kind = "illegal_parking", dwell_s = 20 }]
"#;
    kerb_camera(id, &format!("file://{}", footage().display()), 20).replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\nclip_s = 6\n") + walkway
}

/// The real `steward` binary as a child process; its stderr goes to a log file.
pub struct Steward {
    pub child: Child,
    pub log: PathBuf,
}

impl Steward {
    pub fn start(args: &[&str], log: &Path) -> Steward {
        let file = std::fs::File::create(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_steward"))
            .args(args)
            .env("RUST_LOG", "info,ort=warn")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start steward");
        Steward { child, log: log.to_path_buf() }
    }

    pub fn log_text(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.log).unwrap().read_to_string(&mut text).unwrap();
        text
    }

    /// Waits for exit; panics (with the log) after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("steward did not exit within {timeout:?}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Steward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `steward receive` on `port`, storing into `dir`, with `extra` options (`--fail 503`, TLS…),
/// once it listens. Its stdout (a line per incident, `duplicate …` for repeats) and stderr are
/// appended to `log`, so a receiver restarted on the same log keeps one story.
pub fn start_receiver(port: u16, dir: &Path, extra: &[&str], log: &Path) -> Steward {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["receive", "--listen", &format!("127.0.0.1:{port}"), "--secret", SECRET, "--dir"])
        .arg(dir)
        .args(extra)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start steward receive");
    let receiver = Steward { child, log: log.to_path_buf() };
    wait_until(Duration::from_secs(20), "steward receive to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    receiver
}

/// Polls `check` until it returns true; panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Rows in a table of the outbox at `storage`.
pub fn outbox_count(storage: &Path, sql: &str) -> i64 {
    let db = storage.join("outbox.sqlite3");
    if !db.exists() {
        return 0;
    }
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap_or(0)
}

/// `steward serve-rtsp` serving `testdata/vtest.mp4` at `rtsp://127.0.0.1:PORT/vtest`, once it
/// accepts connections.
pub fn serve_vtest_rtsp(port: u16, log: &Path) -> Steward {
    let mount = format!("vtest={}", footage().display());
    let server = Steward::start(&["serve-rtsp", "--port", &port.to_string(), &mount], log);
    wait_until(Duration::from_secs(10), "the RTSP server to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    server
}

/// One camera's entry in `/health` (null while the control plane is not up yet).
pub fn camera_health(control_port: u16, camera: &str) -> serde_json::Value {
    let health = reqwest::blocking::get(format!("http://127.0.0.1:{control_port}/health")).and_then(|r| r.json::<serde_json::Value>());
    health.map(|h| h["cameras"][camera].clone()).unwrap_or_default()
}

/// The value of a Prometheus sample `name{labels}` from `/metrics` (0 when absent), read with a
/// viewer token as a scraper would.
pub fn metric(control_port: u16, name: &str, labels: &str) -> f64 {
    let text = metrics_text(control_port);
    let key = if labels.is_empty() { format!("{name} ") } else { format!("{name}{{{labels}}} ") };
    text.lines().find_map(|l| l.strip_prefix(&key)).map_or(0.0, |v| v.trim().parse().unwrap())
}

/// `/metrics` as Prometheus scrapes it (with a viewer token).
pub fn metrics_text(control_port: u16) -> String {
    ApiClient::with_token(control_port, &viewer_token(control_port)).get("/metrics").body
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    kib * 1024
}
