//! `steward bench-delivery`: how long a confirmed incident takes to reach the platform. N
//! incidents (each a real document with a real JPEG) are committed to a fresh outbox at a steady
//! rate, the HTTP sink delivers them to a real `steward receive` on loopback, and the latency
//! from the outbox commit (confirm) to the platform's 2xx (ack) is read back from the outbox.
//! Beside it, the baseline: the same bodies POSTed straight to the same receiver, with no
//! outbox, signature or retry logic — the floor any delivery path sits on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use steward_edge::config::{Sink, load_str};
use steward_edge::geometry::BBox;
use steward_edge::incident::{Annotation, IncidentDocument, OpenIncident, write_snapshot};
use steward_edge::kind::ViolationKind;
use steward_edge::outbox::{Outbox, StoredEvidence, database_path};
use steward_edge::sink::{SIGNATURE_HEADER, SinkHandle, TIMESTAMP_HEADER, compose, run_http_sink, sign};
use steward_edge::telemetry::Telemetry;

/// What to measure.
#[derive(Debug, Clone)]
pub struct DeliveryBenchOptions {
    pub incidents: usize,
    /// Incidents confirmed per second.
    pub rate: f64,
    pub work: PathBuf,
}

const SECRET: &str = "bench-delivery-secret";

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(mut ms: Vec<f64>) -> Latency {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
        Latency { p50_ms: at(0.50), p90_ms: at(0.90), p99_ms: at(0.99), max_ms: *ms.last().unwrap_or(&0.0) }
    }
}

/// Kills the child process when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(options: &DeliveryBenchOptions, evidence_picture: &Path) -> Result<(), String> {
    let work = &options.work;
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let port = super::endtoend::free_port()?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let receiver = ChildGuard(
        Command::new(&exe)
            .args(["receive", "--listen", &format!("127.0.0.1:{port}"), "--secret", SECRET, "--dir"])
            .arg(work.join("received"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start steward receive: {e}"))?,
    );
    let ready_by = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > ready_by {
            return Err("steward receive did not listen within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let url = format!("http://127.0.0.1:{port}/incidents");
    let config_text = format!(
        "[site]\nname = \"bench\"\nregion_code = \"320602\"\n\n[storage]\ndir = \"{}\"\n\n[[sink]]\nkind = \"http\"\nurl = \"{url}\"\nhmac_secret = \"{SECRET}\"\n",
        work.display()
    );
    let config = load_str(&config_text, "bench-delivery.toml", work).map_err(|e| e.to_string())?;
    let Some(Sink::Http(sink)) = config.sinks.first().cloned() else { return Err("the bench config has no HTTP sink".into()) };
    let database = database_path(work);
    let mut outbox = Outbox::open(&database, vec![sink.name.clone()]).map_err(|e| e.to_string())?;
    let picture = image::open(evidence_picture).map_err(|e| format!("{}: {e}", evidence_picture.display()))?.to_rgb8();
    let template = template_document()?;

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = SinkHandle::default();
    let delivering = runtime.spawn(run_http_sink(sink, database.clone(), Telemetry::new(), handle.clone(), stopped));

    eprintln!("bench-delivery: confirming {} incidents at {}/s, delivering to steward receive on {url}", options.incidents, options.rate);
    let interval = Duration::from_secs_f64(1.0 / options.rate.max(0.001));
    let started = Instant::now();
    let mut bodies = Vec::new();
    for n in 0..options.incidents {
        let due = started + interval.mul_f64(n as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let id = uuid::Uuid::now_v7().to_string();
        let file = write_snapshot(&picture, &Annotation::default(), &work.join("evidence").join(&id).join("1-confirmation.jpg")).map_err(|e| e.to_string())?;
        let mut document = template.clone();
        document.id = id.clone();
        document.evidence[0].sha256 = file.sha256.clone();
        let evidence = [StoredEvidence { role: "confirmation".into(), file: file.clone() }];
        let incident = OpenIncident::new(id.clone(), document.camera.id.clone(), document.zone.id.clone(), ViolationKind::IllegalParking, BBox::new(0.8, 0.0, 1.0, 0.25), document.clone());
        outbox.record_open(&incident, &evidence).map_err(|e| e.to_string())?;
        handle.wake();
        if bodies.len() < 200 {
            // The baseline sends the same body under its own incident id, so the receiver stores
            // it as new rather than answering "duplicate".
            let twin = uuid::Uuid::now_v7().to_string();
            document.id = twin.clone();
            let text = serde_json::to_string(&document).map_err(|e| e.to_string())?;
            bodies.push(compose(&text, &[(0, file.path)], &twin, 1, None).map_err(|e| e.to_string())?);
        }
    }
    let confirmed_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    let latencies = loop {
        let rows = delivered(&database)?;
        if rows.len() >= options.incidents {
            break rows;
        }
        if Instant::now() > deadline {
            return Err(format!("only {} of {} incidents delivered within 120 s", rows.len(), options.incidents));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = stop.send(true);
    let _ = runtime.block_on(delivering);

    // The floor: the same kind of body POSTed straight to the same receiver, one at a time.
    let client = reqwest::blocking::Client::new();
    let mut direct = Vec::new();
    for envelope in &bodies {
        let at = Instant::now();
        let timestamp = Utc::now().timestamp();
        let answer = client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &envelope.idempotency_key)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(SECRET, timestamp, &envelope.body))
            .body(envelope.body.clone())
            .send()
            .and_then(|answer| answer.error_for_status())
            .map_err(|e| format!("baseline POST: {e}"))?;
        let _ = answer.bytes();
        direct.push(at.elapsed().as_secs_f64() * 1000.0);
    }
    drop(receiver);

    let steward = Latency::of(latencies);
    let floor = Latency::of(direct);
    println!("Steward delivery bench");
    let achieved = options.incidents as f64 / confirmed_in.as_secs_f64().max(0.001);
    println!(
        "incidents  {} confirmed over {:.1} s ({achieved:.0}/s; asked {}/s — each one's JPEG is encoded first), one {} kB picture each, HTTP sink → steward receive on loopback",
        options.incidents,
        confirmed_in.as_secs_f64(),
        options.rate,
        picture_kb(&bodies)
    );
    println!();
    println!("{:<44}{:>10}{:>10}{:>10}{:>10}", "", "p50 ms", "p90 ms", "p99 ms", "max ms");
    println!("{:<44}{:>10.1}{:>10.1}{:>10.1}{:>10.1}", "Steward: outbox commit → platform 2xx", steward.p50_ms, steward.p90_ms, steward.p99_ms, steward.max_ms);
    println!("{:<44}{:>10.1}{:>10.1}{:>10.1}{:>10.1}", "baseline: bare POST of the same body", floor.p50_ms, floor.p90_ms, floor.p99_ms, floor.max_ms);
    println!();
    println!("p99 ratio Steward / bare POST: {:.1}× (the difference is the outbox read, evidence inlining, signing and the wake-up)", steward.p99_ms / floor.p99_ms.max(0.001));
    Ok(())
}

/// A complete v1 document to vary: the first example of docs/incident.md (validated against
/// the schema by the test suite), with one evidence picture.
fn template_document() -> Result<IncidentDocument, String> {
    const DOCS: &str = include_str!("../../../docs/incident.md");
    let block = DOCS.split("```json").nth(1).and_then(|rest| rest.split("```").next()).ok_or("docs/incident.md has no JSON example")?;
    let mut document: IncidentDocument = serde_json::from_str(block).map_err(|e| format!("docs/incident.md's first example: {e}"))?;
    document.seq = 1;
    document.evidence.truncate(1);
    if document.evidence.is_empty() {
        return Err("docs/incident.md's first example has no evidence".into());
    }
    let evidence = &mut document.evidence[0];
    (evidence.role, evidence.media_type, evidence.bytes, evidence.url) = ("confirmation".into(), "image/jpeg".into(), None, None);
    Ok(document)
}

/// Confirm → ack in milliseconds for every delivered event.
fn delivered(database: &Path) -> Result<Vec<f64>, String> {
    let conn = rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT e.created_at, d.delivered_at FROM deliveries d JOIN events e ON e.event_id = d.event_id WHERE d.state = 'delivered'")
        .map_err(|e| e.to_string())?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))).map_err(|e| e.to_string())?;
    let mut latencies = Vec::new();
    for row in rows {
        let (created, delivered) = row.map_err(|e| e.to_string())?;
        let parse = |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| format!("{text}: {e}"));
        latencies.push((parse(&delivered)? - parse(&created)?).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    Ok(latencies)
}

fn picture_kb(bodies: &[steward_edge::sink::Envelope]) -> usize {
    bodies.first().map_or(0, |b| b.body.len() * 3 / 4 / 1024)
}
