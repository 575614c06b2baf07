//! The incident lifecycle over minutes of media time, with a real SQLite outbox: one incident
//! per violation, kept through an occlusion, resolved once gone, quiet during the cool-down,
//! and a new incident when the violation returns after it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use image::RgbImage;
use steward_edge::config::LifecycleParams;
use steward_edge::geometry::BBox;
use steward_edge::incident::{IncidentManager, Moment, Scope};
use steward_edge::kind::ViolationKind;
use steward_edge::outbox::Outbox;
use steward_edge::rules::{Judgement, Violation};
use steward_edge::telemetry::Telemetry;

const CAR: BBox = BBox { x1: 0.5, y1: 0.5, x2: 0.6, y2: 0.6 };

struct Timeline {
    manager: IncidentManager,
    outbox: Outbox,
    image: Arc<RgbImage>,
    lifecycle: LifecycleParams,
    db: std::path::PathBuf,
}

impl Timeline {
    fn new(name: &str, lifecycle: LifecycleParams) -> Timeline {
        let (context, outbox, db) = common::incident_stage(&format!("lifecycle-{name}"));
        let image = Arc::new(RgbImage::new(64, 48));
        Timeline { manager: IncidentManager::new(context, None, Vec::new(), Telemetry::new()), outbox, image, lifecycle, db }
    }

    /// One frame at `t` seconds: the car is `present` past its dwell, merely `sighted`, or absent.
    fn frame(&mut self, t: u64, present: bool, sighted: bool) {
        let wall = Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap() + chrono::Duration::seconds(t as i64);
        let violation = Violation { bbox: CAR, objects: Vec::new(), first_seen: wall, first_image: self.image.clone(), dwell: Duration::from_secs(20) };
        let judgement = Judgement {
            judged: true,
            present: if present { vec![violation] } else { Vec::new() },
            sightings: if present || sighted { vec![CAR] } else { Vec::new() },
        };
        let scope = Scope { camera: "cam", zone: "kerb", kind: ViolationKind::IllegalParking };
        let moment = Moment { media_time: Duration::from_secs(t), wall_time: wall, image: &self.image, clip: None };
        self.manager.reconcile(scope, &self.lifecycle, &judgement, moment, &mut self.outbox).unwrap();
    }

    /// (incident id, seq, event) in the order written.
    fn events(&self) -> Vec<(String, u32, String)> {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        let mut stmt = conn.prepare("SELECT incident_id, seq, event FROM events ORDER BY event_id").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    }
}

#[test]
fn one_incident_through_an_occlusion_then_resolved_then_a_new_one_after_the_cooldown() {
    let lifecycle = LifecycleParams { resolve_after_s: 40.0, renotify_s: None, cooldown_s: 30.0 };
    let mut timeline = Timeline::new("occlusion", lifecycle);
    for t in 20..=30 {
        timeline.frame(t, true, true);
    }
    for t in 31..60 {
        timeline.frame(t, false, false); // hidden behind a bus for 29 s
    }
    for t in 60..=70 {
        timeline.frame(t, false, true); // back, not yet dwelling again: still the same incident
    }
    for t in 71..=120 {
        timeline.frame(t, false, false); // gone: resolved at 110
    }
    for t in 121..=140 {
        timeline.frame(t, true, true); // back within the cool-down (until 140): quiet
    }
    timeline.frame(141, true, true); // after the cool-down: a new incident
    let events = timeline.events();
    let kinds: Vec<(u32, &str)> = events.iter().map(|(_, seq, event)| (*seq, event.as_str())).collect();
    assert_eq!(kinds, [(1, "open"), (2, "resolved"), (1, "open")], "{events:?}");
    assert_eq!(events[0].0, events[1].0, "resolved carries the incident's id");
    assert_ne!(events[0].0, events[2].0, "a return after the cool-down is a new incident");
}

#[test]
fn renotify_sends_updates_while_the_violation_stays() {
    let lifecycle = LifecycleParams { resolve_after_s: 60.0, renotify_s: Some(30.0), cooldown_s: 0.0 };
    let mut timeline = Timeline::new("renotify", lifecycle);
    for t in 0..=95 {
        timeline.frame(t, true, true);
    }
    let events: Vec<(u32, String)> = timeline.events().into_iter().map(|(_, seq, event)| (seq, event)).collect();
    assert_eq!(events, [(1, "open".to_string()), (2, "update".into()), (3, "update".into()), (4, "update".into())]);
}

#[test]
fn nothing_is_judged_outside_the_schedule() {
    let lifecycle = LifecycleParams { resolve_after_s: 10.0, renotify_s: None, cooldown_s: 0.0 };
    let mut timeline = Timeline::new("schedule", lifecycle);
    timeline.frame(0, true, true);
    let off = Judgement { judged: false, present: Vec::new(), sightings: Vec::new() };
    let image = timeline.image.clone();
    for t in 1..100 {
        let moment = Moment { media_time: Duration::from_secs(t), wall_time: Utc::now(), image: &image, clip: None };
        let scope = Scope { camera: "cam", zone: "kerb", kind: ViolationKind::IllegalParking };
        timeline.manager.reconcile(scope, &lifecycle, &off, moment, &mut timeline.outbox).unwrap();
    }
    assert_eq!(timeline.events().len(), 1, "not resolved while the rule is out of force");
}

#[test]
fn two_reports_of_one_violation_in_a_frame_open_one_incident() {
    let lifecycle = LifecycleParams::default();
    let mut timeline = Timeline::new("double", lifecycle);
    let image = timeline.image.clone();
    let wall = Utc::now();
    let report = |bbox: BBox| Violation { bbox, objects: Vec::new(), first_seen: wall, first_image: image.clone(), dwell: Duration::from_secs(20) };
    // The same stall seen as a bicycle and as a slightly larger static object.
    let (bike, blob) = (CAR, BBox::new(0.48, 0.49, 0.63, 0.62));
    let judgement = Judgement { judged: true, present: vec![report(bike), report(blob)], sightings: vec![bike, blob] };
    let scope = Scope { camera: "cam", zone: "kerb", kind: ViolationKind::StreetVending };
    for t in 0..5 {
        let moment = Moment { media_time: Duration::from_secs(t), wall_time: wall, image: &image, clip: None };
        timeline.manager.reconcile(scope, &lifecycle, &judgement, moment, &mut timeline.outbox).unwrap();
    }
    assert_eq!(timeline.events().len(), 1, "{:?}", timeline.events());
}
