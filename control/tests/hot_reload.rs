//! Config changes while cameras run: a zone added through the API is judged within 5 s, a zone
//! added by editing the file by hand too, an invalid hand edit is reported and changes nothing,
//! and the other camera's open incident is untouched throughout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const KERB: &str = "[[0.80, 0.01], [0.99, 0.01], [0.99, 0.25], [0.80, 0.25]]";

fn open_incidents(storage: &std::path::Path, camera: &str) -> i64 {
    outbox_count(storage, &format!("SELECT COUNT(*) FROM incidents WHERE camera = '{camera}' AND state = 'open'"))
}

fn judged(port: u16, camera: &str, zone: &str) -> f64 {
    metric(port, "steward_frames_judged_total", &format!(r#"camera="{camera}",zone="{zone}",kind="illegal_parking""#))
}

#[test]
fn zones_change_while_cameras_run() {
    let storage = scratch("hot-reload");
    let receiver = Receiver::start(free_port());
    let port = free_port();
    let url = format!("file://{}", footage().display());
    let looping = |camera: String| camera.replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\npace = \"realtime\"\nloop = true\n");
    let camera_a = looping(kerb_camera("cam-a", &url, 5));
    let camera_b = looping(format!("# The second camera starts without zones.\n[[camera]]\nid = \"cam-b\"\nurl = \"{url}\"\nanalysis_fps = 2.0\n"));
    let config_path = storage.join("steward.toml");
    std::fs::write(&config_path, config(&storage, port, &receiver.url(), &format!("{camera_a}\n{camera_b}"))).unwrap();
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join("steward.log"));

    // cam-a's parked vehicles open their incidents.
    wait_until(Duration::from_secs(90), "cam-a's open incident", || open_incidents(&storage, "cam-a") >= 1);
    let ids_before: Vec<String> = incident_ids(&storage, "cam-a");
    let events_before = events_of(&storage, &ids_before);
    let restarts_before = camera_health(port, "cam-a")["restarts"].as_u64().unwrap();
    let frames_before = camera_health(port, "cam-a")["frames"].as_u64().unwrap();

    // A zone for cam-b through the API: judged within 5 s.
    let mut admin = ApiClient::admin(port);
    let zone = json!({"name": "East kerb", "polygon": serde_json::from_str::<serde_json::Value>(KERB).unwrap(), "rules": [{"kind": "illegal_parking", "dwell_s": 5}]});
    let saved_at = Instant::now();
    let answer = admin.send("PUT", "/api/v1/cameras/cam-b/zones/kerb-east", Some(&zone));
    assert_eq!(answer.status, 200, "{answer:?}");
    wait_until(Duration::from_secs(5), "cam-b's new zone to be judged", || judged(port, "cam-b", "kerb-east") > 0.0);
    println!("API zone judged {:.1} s after the save", saved_at.elapsed().as_secs_f64());
    let written = std::fs::read_to_string(&config_path).unwrap();
    assert!(written.contains("# The second camera starts without zones."), "comments kept:\n{written}");
    let parsed: toml::Value = toml::from_str(&written).unwrap();
    assert_eq!(parsed["camera"][1]["zone"][0]["id"].as_str(), Some("kerb-east"), "{written}");
    wait_until(Duration::from_secs(60), "cam-b's incident", || open_incidents(&storage, "cam-b") >= 1);

    // A zone added by editing the file by hand (it lands in the last camera, cam-b).
    let hand_edit = format!("{written}\n[[camera.zone]]\nid = \"whole-frame\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\nrules = [{{ kind = \"illegal_parking\", dwell_s = 600 }}]\n");
    std::fs::write(&config_path, &hand_edit).unwrap();
    let edited_at = Instant::now();
    wait_until(Duration::from_secs(5), "the hand-edited zone to be judged", || judged(port, "cam-b", "whole-frame") > 0.0);
    println!("hand-edited zone judged {:.1} s after the write", edited_at.elapsed().as_secs_f64());

    // An invalid hand edit: reported with its place, nothing changes, API edits refuse.
    std::fs::write(&config_path, hand_edit.replace("dwell_s = 600", "dwell_s = -3")).unwrap();
    wait_until(Duration::from_secs(5), "the problem to be reported", || admin.get("/api/v1/system").json()["config"]["problems"].as_array().is_some_and(|p| !p.is_empty()));
    let problems = admin.get("/api/v1/system").json()["config"]["problems"].to_string();
    assert!(problems.contains("steward.toml:") && problems.contains("dwell_s"), "{problems}");
    let refused = admin.send("DELETE", "/api/v1/cameras/cam-b/zones/whole-frame", None);
    assert_eq!(refused.status, 409, "an API edit over a broken file is refused: {refused:?}");
    std::fs::write(&config_path, &hand_edit).unwrap();
    wait_until(Duration::from_secs(5), "the fixed file to clear the problem", || admin.get("/api/v1/system").json()["config"]["problems"].as_array().is_some_and(|p| p.is_empty()));

    // cam-a never noticed: same open incidents, no new event, no restart, frames flowing.
    let frames_after = camera_health(port, "cam-a")["frames"].as_u64().unwrap();
    assert!(frames_after > frames_before + 10, "cam-a kept analysing (2 fps): {frames_before} → {frames_after}");
    assert_eq!(camera_health(port, "cam-a")["restarts"].as_u64().unwrap(), restarts_before, "cam-a was not restarted");
    // (cam-a's other parked vehicles may open incidents of their own meanwhile; those before stay.)
    for id in &ids_before {
        let state = outbox_count(&storage, &format!("SELECT COUNT(*) FROM incidents WHERE id = '{id}' AND state = 'open'"));
        assert_eq!(state, 1, "cam-a's incident {id} is still open");
    }
    let events_after = events_of(&storage, &ids_before);
    assert_eq!(events_after, events_before, "no new event on cam-a's earlier incidents (no resolve, no reopen)");
    let log = steward.log_text();
    assert!(log.contains("config applied"), "{log}");
    drop(steward);
    receiver.stop();
}

fn incident_ids(storage: &std::path::Path, camera: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(storage.join("outbox.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM incidents WHERE camera = ?1 ORDER BY id").unwrap();
    stmt.query_map([camera], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

fn events_of(storage: &std::path::Path, incidents: &[String]) -> i64 {
    let quoted: Vec<String> = incidents.iter().map(|id| format!("'{id}'")).collect();
    outbox_count(storage, &format!("SELECT COUNT(*) FROM events WHERE incident_id IN ({})", quoted.join(",")))
}
