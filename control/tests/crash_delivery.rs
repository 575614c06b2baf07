//! Power cuts while delivering: `steward` sends a stream of incidents to a real `steward
//! receive` and is SIGKILLed at random moments 20 times (`STEWARD_CRASHES` to change it, e.g.
//! `make soak`), restarting each time. At the end the receiver holds every recorded event
//! exactly once after de-duplication, nothing is left pending, and SQLite's integrity check
//! passes.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use rand::{Rng, SeedableRng};

const KERB: &str = "[[0.80, 0.00], [1.00, 0.00], [1.00, 0.25], [0.80, 0.25]]";

/// The (incident, seq) pairs the receiver stored: `<dir>/<incident>/<seq>.json`.
fn stored(dir: &Path) -> BTreeSet<(String, u32)> {
    let mut keys = BTreeSet::new();
    for incident in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(incident.path()).into_iter().flatten().flatten() {
            let name = file.file_name().to_string_lossy().to_string();
            if let Some(seq) = name.strip_suffix(".json").and_then(|s| s.parse().ok()) {
                keys.insert((incident.file_name().to_string_lossy().to_string(), seq));
            }
        }
    }
    keys
}

/// The (incident, seq) pairs the outbox recorded.
fn recorded(storage: &Path) -> BTreeSet<(String, u32)> {
    let conn = rusqlite::Connection::open_with_flags(storage.join("outbox.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn.prepare("SELECT incident_id, seq FROM events").unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn staged(clip: &str) -> PathBuf {
    repo().join("testdata/staged").join(clip)
}

#[test]
fn every_incident_arrives_exactly_once_through_twenty_sigkills() {
    let crashes: usize = std::env::var("STEWARD_CRASHES").ok().and_then(|n| n.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("STEWARD_CRASH_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or_else(rand::random);
    println!("{crashes} crashes, seed {seed} (STEWARD_CRASH_SEED={seed} repeats the moments)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let storage = scratch("crash-delivery");
    let received = storage.join("received");
    let port = free_port();
    let receiver = start_receiver(port, &received, &[], &storage.join("receiver.log"));
    // Two cameras play the van-leaves scene as fast as they can, in a loop: the van is parked,
    // leaves (35 s into the clip) and comes back (75 s), so each camera keeps resolving and
    // opening incidents — within a few seconds of every start.
    let mut cameras = String::new();
    for n in 1..=2 {
        cameras += &format!(
            "[[camera]]\nid = \"cam-{n}\"\nurl = \"file://{}\"\nanalysis_fps = 2.0\nloop = true\n\n[[camera.zone]]\nid = \"kerb\"\npolygon = {KERB}\nrules = [{{ kind = \"illegal_parking\", dwell_s = 5, resolve_after_s = 5, cooldown_s = 5 }}]\n\n",
            staged("van-leaves.mp4").display()
        );
    }
    let control_port = free_port();
    let text = config(&storage, control_port, &format!("http://127.0.0.1:{port}/incidents"), &cameras);
    let config_path = storage.join("steward.toml");
    std::fs::write(&config_path, text).unwrap();
    let run = |n: usize| Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join(format!("steward-{n}.log")));

    for n in 0..crashes {
        let steward = run(n);
        // Sometimes early (during start-up or the first writes), mostly mid-stream.
        let after = Duration::from_secs_f64(rng.random_range(0.5..14.0));
        std::thread::sleep(after);
        assert!(steward.child.id() > 0);
        steward.signal("KILL");
        drop(steward);
        println!("crash {}: SIGKILL after {:.1} s; {} events recorded, {} stored by the receiver", n + 1, after.as_secs_f64(), recorded(&storage).len(), stored(&received).len());
    }

    // The last run lives: everything recorded gets delivered.
    let before = recorded(&storage).len();
    let mut last = run(crashes);
    wait_until(Duration::from_secs(60), "the last run up", || reqwest::blocking::get(format!("http://127.0.0.1:{control_port}/health")).is_ok());
    wait_until(Duration::from_secs(120), "new events after the last restart", || recorded(&storage).len() >= before + 2);
    wait_until(Duration::from_secs(180), "every recorded event delivered", || {
        let pending = outbox_count(&storage, "SELECT COUNT(*) FROM deliveries WHERE state != 'delivered'");
        pending == 0 && stored(&received).is_superset(&recorded(&storage))
    });
    last.signal("TERM");
    assert_eq!(last.wait(Duration::from_secs(30)), 0, "clean exit:\n{}", last.log_text());

    let recorded = recorded(&storage);
    let stored = stored(&received);
    assert_eq!(stored, recorded, "the receiver holds exactly the recorded events");
    assert!(outbox_count(&storage, "SELECT COUNT(*) FROM deliveries WHERE state != 'delivered'") == 0, "nothing pending");
    let incidents: BTreeSet<&String> = recorded.iter().map(|(id, _)| id).collect();
    assert!(incidents.len() >= 3, "a stream of incidents, not one: {recorded:?}");
    for (id, seq) in &recorded {
        if *seq > 1 {
            assert!(recorded.contains(&(id.clone(), seq - 1)), "{id}: event {seq} without {}", seq - 1);
        }
    }
    let conn = rusqlite::Connection::open(storage.join("outbox.sqlite3")).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let receiver_log = std::fs::read_to_string(storage.join("receiver.log")).unwrap_or_default();
    let duplicates = receiver_log.lines().filter(|l| l.starts_with("duplicate ")).count();
    println!("{} events of {} incidents delivered exactly once after de-duplication ({duplicates} repeats recognised by the receiver)", recorded.len(), incidents.len());
    drop(receiver);
}
