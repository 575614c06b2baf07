//! The storage quota on a real run: while the platform is unreachable the quota fills with
//! undelivered data — every undelivered picture stays, new incidents go out without pictures,
//! and health and metrics say so; once the platform takes what is queued, the delivered
//! evidence is deleted (oldest first) and pictures resume.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// Every evidence row: (file, evicted, every sink delivered it).
fn evidence(storage: &Path) -> Vec<(PathBuf, bool, bool)> {
    let conn = rusqlite::Connection::open_with_flags(storage.join("outbox.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT v.path, v.evicted_at IS NOT NULL,
                    NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = v.event_id AND d.state != 'delivered')
             FROM evidence v ORDER BY v.event_id, v.position",
        )
        .unwrap();
    stmt.query_map([], |row| Ok((PathBuf::from(row.get::<_, String>(0)?), row.get(1)?, row.get(2)?))).unwrap().map(Result::unwrap).collect()
}

fn health(port: u16) -> serde_json::Value {
    reqwest::blocking::get(format!("http://127.0.0.1:{port}/health")).and_then(|r| r.json()).unwrap_or_default()
}

#[test]
fn a_full_quota_keeps_undelivered_data_and_evicts_delivered_evidence() {
    let storage = scratch("storage-quota");
    let control_port = free_port();
    let platform_port = free_port();
    let platform = format!("http://127.0.0.1:{platform_port}/incidents");
    let url = format!("file://{}", footage().display());
    // The parked van and car open incidents in `kerb-east` after 5 s, and again in `kerb-late`
    // (the same kerb) after 40 s: by then the quota is known to be full.
    let late = "\n[[camera.zone]]\nid = \"kerb-late\"\npolygon = [[0.80, 0.00], [1.00, 0.00], [1.00, 0.25], [0.80, 0.25]]\nrules = [{ kind = \"illegal_parking\", dwell_s = 40 }]\n";
    let camera = kerb_camera("cam-1", &url, 5).replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\npace = \"realtime\"\n") + late;
    // 0.25 MB: less than the pictures of two incidents with the database beside them.
    let text = config(&storage, control_port, &platform, &camera).replace(&format!("dir = \"{}\"\n", storage.display()), &format!("dir = \"{}\"\nquota_mb = 0.25\n", storage.display()));
    assert!(text.contains("quota_mb = 0.25"), "{text}");
    let config_path = storage.join("steward.toml");
    std::fs::write(&config_path, text).unwrap();
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join("steward.log"));

    // The platform is down: the parked van and car open their incidents; the quota fills with
    // undelivered data and new pictures stop.
    wait_until(Duration::from_secs(120), "the quota full of undelivered data", || {
        let h = health(control_port);
        h["storage"]["evidence_paused"] == true && h["status"] == "degraded"
    });
    let kept = evidence(&storage);
    assert!(!kept.is_empty(), "the first incident has its pictures");
    for (file, evicted, delivered) in &kept {
        assert!(!evicted && !delivered && file.exists(), "undelivered evidence is never deleted: {file:?}");
    }
    let h = health(control_port);
    assert!(h["problems"].to_string().contains("without evidence pictures"), "{h:#}");
    assert!(h["storage"]["used_bytes"].as_u64().unwrap() > h["storage"]["quota_bytes"].as_u64().unwrap(), "{h:#}");
    assert_eq!(metric(control_port, "steward_evidence_paused", ""), 1.0);
    wait_until(Duration::from_secs(90), "the late zone's incidents recorded", || outbox_count(&storage, "SELECT COUNT(*) FROM incidents WHERE zone = 'kerb-late'") >= 1);
    let incidents = outbox_count(&storage, "SELECT COUNT(*) FROM incidents");
    let late_pictures = outbox_count(&storage, "SELECT COUNT(*) FROM evidence v JOIN events e ON e.event_id = v.event_id JOIN incidents i ON i.id = e.incident_id WHERE i.zone = 'kerb-late'");
    assert_eq!(late_pictures, 0, "incidents after the quota filled are recorded without pictures ({incidents} incidents in all)");
    assert!(metric(control_port, "steward_evidence_skipped_total", "") >= 1.0);

    // The platform returns: everything queued arrives, with the pictures that were kept; then
    // the delivered evidence is deleted, oldest first, and pictures resume.
    let receiver = Receiver::start(platform_port);
    wait_until(Duration::from_secs(180), "every queued event delivered", || {
        receiver.all().len() as i64 >= outbox_count(&storage, "SELECT COUNT(*) FROM events") && outbox_count(&storage, "SELECT COUNT(*) FROM deliveries WHERE state != 'delivered'") == 0
    });
    let first = receiver.all().into_iter().find(|r| r.document["evidence"].as_array().is_some_and(|e| !e.is_empty())).expect("the kept pictures were delivered");
    assert!(first.signature_valid);
    wait_until(Duration::from_secs(60), "delivered evidence evicted and pictures resumed", || {
        let h = health(control_port);
        h["storage"]["evidence_paused"] == false && h["storage"]["evicted_files"].as_u64().unwrap_or(0) >= 1 && h["status"] == "ok"
    });
    let after = evidence(&storage);
    let evicted: Vec<_> = after.iter().filter(|(_, evicted, _)| *evicted).collect();
    assert!(!evicted.is_empty());
    for (file, _, delivered) in &evicted {
        assert!(*delivered && !file.exists(), "only delivered evidence is evicted, and its file is gone: {file:?}");
    }
    assert!(metric(control_port, "steward_evidence_evicted_total", "") >= 1.0);
    let log = steward.log_text();
    assert!(log.contains("storage quota full of undelivered data"), "said loudly in the log");
    drop(steward);
    receiver.stop();
}
