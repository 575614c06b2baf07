//! Shared by the incident-stage tests: a fresh folder with a real SQLite outbox, and the fixed
//! facts every incident document carries.

use std::collections::HashMap;
use std::path::PathBuf;

use steward_edge::config::{CodeTable, Device, Platform, Site};
use steward_edge::incident::IncidentContext;
use steward_edge::outbox::Outbox;

/// A fresh folder named after `name`, with an outbox (one sink, `http`) and an incident
/// context whose evidence goes there too. Returns (context, outbox, outbox database path).
pub fn incident_stage(name: &str) -> (IncidentContext, Outbox, PathBuf) {
    let dir = std::env::temp_dir().join(format!("steward-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("outbox.sqlite3");
    let outbox = Outbox::open(&db, vec!["http".into()]).unwrap();
    let context = IncidentContext {
        site: Site { name: "t".into(), region_code: "320602".into(), timezone: chrono_tz::Asia::Shanghai, position: None },
        device: Device { id: "box".into(), platform: Platform::Auto },
        software: "test".into(),
        model_name: "m".into(),
        model_sha256: "0".repeat(64),
        cameras: HashMap::new(),
        codes: CodeTable::default(),
        evidence_dir: dir.join("evidence"),
    };
    (context, outbox, db)
}
