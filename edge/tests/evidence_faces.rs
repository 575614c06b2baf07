//! Evidence pictures never show a face: the incident stage pixelates faces (real CenterFace
//! model) before it draws and stores a snapshot; everything else — here, the rest of a real
//! photograph — stays as it was.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use image::{GrayImage, RgbImage};
use steward_edge::config::LifecycleParams;
use steward_edge::detect::FaceBlurrer;
use steward_edge::geometry::BBox;
use steward_edge::incident::{IncidentManager, Moment, Scope};
use steward_edge::kind::ViolationKind;
use steward_edge::rules::{Judgement, Violation};
use steward_edge::telemetry::Telemetry;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Mean absolute Laplacian over a pixel rectangle: how much fine detail is there.
fn detail(image: &RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> f64 {
    let gray: GrayImage = image::imageops::grayscale(image);
    let mut sum = 0.0;
    let mut n = 0.0;
    for y in y0.max(1)..y1.min(gray.height() - 1) {
        for x in x0.max(1)..x1.min(gray.width() - 1) {
            let p = |dx: i32, dy: i32| gray.get_pixel((x as i32 + dx) as u32, (y as i32 + dy) as u32)[0] as f64;
            sum += (4.0 * p(0, 0) - p(-1, 0) - p(1, 0) - p(0, -1) - p(0, 1)).abs();
            n += 1.0;
        }
    }
    sum / n
}

#[test]
fn faces_in_delivered_evidence_are_pixelated_and_the_rest_is_kept() {
    let still = image::open(repo().join("testdata/stills/messi5.jpg")).unwrap().to_rgb8();
    let (context, mut outbox, db) = common::incident_stage("evidence-faces");
    let dir = db.parent().unwrap().to_path_buf();
    let faces = FaceBlurrer::load(&repo().join("models/face-centerface.toml")).expect("bundled face model");
    let mut manager = IncidentManager::new(context, Some(faces), Vec::new(), Telemetry::new());
    let image = Arc::new(still.clone());
    let violation = Violation { bbox: BBox::new(0.1, 0.5, 0.3, 0.9), objects: Vec::new(), first_seen: Utc::now(), first_image: image.clone(), dwell: Duration::from_secs(20) };
    let judgement = Judgement { judged: true, present: vec![violation], sightings: vec![BBox::new(0.1, 0.5, 0.3, 0.9)] };
    let scope = Scope { camera: "cam", zone: "square", kind: ViolationKind::StreetVending };
    let moment = Moment { media_time: Duration::from_secs(20), wall_time: Utc::now(), image: &still, clip: None };
    assert_eq!(manager.reconcile(scope, &LifecycleParams::default(), &judgement, moment, &mut outbox).unwrap(), 1);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let paths: Vec<String> = conn.prepare("SELECT path FROM evidence ORDER BY position").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(paths.len(), 2, "first sight and confirmation");
    for path in paths {
        let stored = image::open(&path).unwrap().to_rgb8();
        // The player's face (measured: x 232–252, y 100–128) loses its detail…
        let (before, after) = (detail(&still, 232, 100, 252, 128), detail(&stored, 232, 100, 252, 128));
        assert!(after < before / 5.0, "{path}: face detail {before:.1} → {after:.1}");
        // …while the ball and the lettering far from it keep theirs (JPEG aside).
        let (before, after) = (detail(&still, 330, 260, 430, 340), detail(&stored, 330, 260, 430, 340));
        assert!(after > before * 0.6, "{path}: detail away from the face {before:.1} → {after:.1}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
