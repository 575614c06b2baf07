//! The NanoDet decoder against an independent reference: `testdata/golden/make_golden.py`
//! (onnxruntime + numpy, written separately from the Rust code) produced the detections in
//! `golden.json` from the same letterboxed frames of the real footage.

use std::path::PathBuf;

use serde::Deserialize;
use steward_edge::detect::{Detector, Manifest};

#[derive(Deserialize)]
struct Golden {
    model_sha256: String,
    frames: Vec<GoldenFrame>,
}

#[derive(Deserialize)]
struct GoldenFrame {
    file: String,
    detections: Vec<GoldenDetection>,
}

#[derive(Deserialize)]
struct GoldenDetection {
    class_id: usize,
    score: f32,
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn decoder_matches_the_python_reference_on_real_frames() {
    let manifest = Manifest::load(&repo().join("models/nanodet-m-416-coco.toml")).expect("bundled manifest");
    let golden: Golden = serde_json::from_str(&std::fs::read_to_string(repo().join("testdata/golden/golden.json")).unwrap()).unwrap();
    assert_eq!(golden.model_sha256, manifest.sha256, "golden outputs were made with another model");
    let mut detector = Detector::new(manifest, 2).expect("model loads (run `make deps` for ONNX Runtime)");

    let mut compared = 0;
    for frame in &golden.frames {
        let rgb = image::open(repo().join("testdata/golden").join(&frame.file)).unwrap().to_rgb8();
        assert_eq!(rgb.dimensions(), (416, 416));
        let bgr: Vec<u8> = rgb.pixels().flat_map(|p| [p[2], p[1], p[0]]).collect();
        let ours = detector.detect_raw(&bgr).unwrap();
        assert_eq!(ours.len(), frame.detections.len(), "{}: {} detections, reference has {}", frame.file, ours.len(), frame.detections.len());
        for expected in &frame.detections {
            let found = ours.iter().find(|d| {
                d.class_id == expected.class_id
                    && (d.x1 - expected.bbox[0]).abs() < 0.5
                    && (d.y1 - expected.bbox[1]).abs() < 0.5
                    && (d.x2 - expected.bbox[2]).abs() < 0.5
                    && (d.y2 - expected.bbox[3]).abs() < 0.5
            });
            let found = found.unwrap_or_else(|| panic!("{}: no match for class {} at {:?}; ours: {ours:?}", frame.file, expected.class_id, expected.bbox));
            assert!((found.score - expected.score).abs() < 1e-3, "{}: score {} vs {}", frame.file, found.score, expected.score);
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} detections compared");
}
