//! A platform outage: 2 000 incidents are confirmed (opened, half of them also resolved) while
//! the platform answers 503 and then is down entirely. Nothing is lost: after it recovers all
//! of them arrive, each incident's events in order, and the retries back off instead of
//! hammering (few attempts per record per minute).
//!
//! Real parts: the outbox (SQLite) and HTTP sink of `steward_edge`, and `steward receive` as its
//! own process; the incidents are built from the first example document of docs/incident.md.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use steward_edge::config::{Sink, load_str};
use steward_edge::geometry::BBox;
use steward_edge::incident::{Annotation, IncidentDocument, IncidentEvent, OpenIncident, write_snapshot};
use steward_edge::kind::ViolationKind;
use steward_edge::outbox::{Outbox, StoredEvidence, database_path};
use steward_edge::sink::{SinkHandle, run_http_sink};
use steward_edge::telemetry::Telemetry;

const INCIDENTS: usize = 2000;

fn template() -> IncidentDocument {
    let docs = std::fs::read_to_string(repo().join("docs/incident.md")).unwrap();
    let block = docs.split("```json").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
    let mut document: IncidentDocument = serde_json::from_str(block).unwrap();
    document.evidence.truncate(1);
    let evidence = &mut document.evidence[0];
    (evidence.role, evidence.media_type, evidence.bytes, evidence.url) = ("confirmation".into(), "image/jpeg".into(), None, None);
    document
}

fn pending(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT COUNT(*) FROM deliveries WHERE state != 'delivered'", [], |row| row.get(0)).unwrap()
}

fn max_attempts(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT COALESCE(MAX(attempts), 0) FROM deliveries", [], |row| row.get(0)).unwrap()
}

#[test]
fn two_thousand_incidents_survive_a_platform_outage_in_order() {
    let dir = scratch("delivery-outage");
    let received = dir.join("received");
    let receiver_log = dir.join("receiver.log");
    let port = free_port();
    let failing = start_receiver(port, &received, &["--fail", "503"], &receiver_log);

    let config = load_str(
        &format!("[site]\nname = \"outage\"\nregion_code = \"320602\"\n\n[storage]\ndir = \"{}\"\n\n[[sink]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/incidents\"\nhmac_secret = \"{SECRET}\"\n", dir.display()),
        "outage.toml",
        &dir,
    )
    .unwrap();
    let Some(Sink::Http(sink)) = config.sinks.first().cloned() else { panic!("an HTTP sink") };
    let db = database_path(&dir);
    let mut outbox = Outbox::open(&db, vec![sink.name.clone()]).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = SinkHandle::default();
    let delivering = runtime.spawn(run_http_sink(sink, db.clone(), Telemetry::new(), handle.clone(), stopped));

    // A small real JPEG, shared by every incident (its sha256 is what the receiver checks).
    let picture = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let file = write_snapshot(&picture, &Annotation::default(), &dir.join("evidence/shared.jpg")).unwrap();
    let evidence = [StoredEvidence { role: "confirmation".into(), file: file.clone() }];
    let template = template();
    let outage_started = Instant::now();
    let mut events = 0;
    for n in 0..INCIDENTS {
        let mut document = template.clone();
        document.id = uuid::Uuid::now_v7().to_string();
        document.evidence[0].sha256 = file.sha256.clone();
        let incident = OpenIncident::new(document.id.clone(), document.camera.id.clone(), document.zone.id.clone(), ViolationKind::IllegalParking, BBox::new(0.8, 0.0, 1.0, 0.25), document.clone());
        outbox.record_open(&incident, &evidence).unwrap();
        events += 1;
        if n % 2 == 0 {
            document.seq = 2;
            document.event = IncidentEvent::Resolved;
            outbox.record_event(&document.id, &document, &evidence, true, BBox::new(0.8, 0.0, 1.0, 0.25)).unwrap();
            events += 1;
        }
        handle.wake();
    }
    println!("{INCIDENTS} incidents ({events} events) confirmed in {:.1} s while the platform answers 503", outage_started.elapsed().as_secs_f64());

    // 503 for a while, then no platform at all.
    std::thread::sleep(Duration::from_secs(8));
    drop(failing);
    std::thread::sleep(Duration::from_secs(7));
    let outage = outage_started.elapsed();
    let attempts = max_attempts(&db);
    assert_eq!(pending(&db), events as i64, "nothing was delivered during the outage, nothing lost");
    let per_minute = attempts as f64 / outage.as_secs_f64() * 60.0;
    println!("outage of {:.0} s: at most {attempts} attempts for one record ({per_minute:.0} per minute)", outage.as_secs_f64());
    assert!(attempts >= 2, "records were retried during the outage");
    assert!(per_minute <= 40.0, "backoff, not a hot loop: {attempts} attempts in {:.0} s", outage.as_secs_f64());

    // The backoff is in the delivery log: one record's attempts, 503 then no answer, further
    // and further apart.
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT attempted_at, status, error FROM delivery_attempts WHERE event_id = 1 ORDER BY attempt_id").unwrap();
    let log: Vec<(String, Option<u16>, Option<String>)> = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).unwrap().map(Result::unwrap).collect();
    println!("the first record's attempts: {log:?}");
    assert!(log.len() >= 3, "{log:?}");
    assert_eq!(log[0].1, Some(503), "first answered 503: {log:?}");
    assert!(log.iter().all(|(_, _, error)| error.is_some()), "every attempt has its error: {log:?}");
    let times: Vec<chrono::DateTime<chrono::Utc>> = log.iter().map(|(at, _, _)| at.parse().unwrap()).collect();
    let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]).as_seconds_f64()).collect();
    assert!(gaps.last().unwrap() > gaps.first().unwrap(), "the waits grow: {gaps:?}");
    drop(stmt);
    drop(conn);

    // The platform recovers: everything arrives.
    let _recovered = start_receiver(port, &received, &[], &receiver_log);
    let recovered_at = Instant::now();
    wait_until(Duration::from_secs(300), "every event delivered after the outage", || pending(&db) == 0);
    println!("all {events} events delivered {:.1} s after the platform came back", recovered_at.elapsed().as_secs_f64());
    let _ = stop.send(true);
    let _ = runtime.block_on(delivering);

    // Exactly the recorded events, each incident's in order (open before resolved).
    let log = std::fs::read_to_string(&receiver_log).unwrap();
    let mut order: HashMap<String, Vec<u32>> = HashMap::new();
    for line in log.lines().filter(|l| l.contains(" incident=")) {
        let field = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(name)).map(str::to_string);
        let (Some(id), Some(seq)) = (field("incident="), field("seq=").and_then(|s| s.parse().ok())) else { continue };
        order.entry(id).or_default().push(seq);
    }
    assert_eq!(order.len(), INCIDENTS, "every incident arrived");
    assert_eq!(order.values().map(Vec::len).sum::<usize>(), events, "every event arrived once");
    for (id, seqs) in &order {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{id} arrived out of order: {seqs:?}");
    }
}
