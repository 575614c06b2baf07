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

#[test]
fn one_batched_run_gives_each_frame_what_it_gets_alone() {
    let manifest = Manifest::load(&repo().join("models/nanodet-m-416-coco.toml")).expect("bundled manifest");
    let golden: Golden = serde_json::from_str(&std::fs::read_to_string(repo().join("testdata/golden/golden.json")).unwrap()).unwrap();
    let mut detector = Detector::new(manifest, 2).expect("model loads");
    assert_eq!(detector.batch_limit(), None, "the bundled model has a dynamic batch dimension");
    let frames: Vec<Vec<u8>> = golden
        .frames
        .iter()
        .map(|f| image::open(repo().join("testdata/golden").join(&f.file)).unwrap().to_rgb8().pixels().flat_map(|p| [p[2], p[1], p[0]]).collect())
        .collect();
    // Frames of different content in one batch, one of them twice, in an order unlike the file's.
    let order = [2, 0, 1, 0];
    let batch: Vec<&[u8]> = order.iter().map(|&i| frames[i].as_slice()).collect();
    let together = detector.detect_raw_batch(&batch).unwrap();
    assert_eq!(together.len(), order.len());
    for (&i, got) in order.iter().zip(&together) {
        let alone = detector.detect_raw(&frames[i]).unwrap();
        assert_eq!(got.len(), alone.len(), "{}", golden.frames[i].file);
        assert!(!alone.is_empty());
        for (a, b) in got.iter().zip(&alone) {
            assert_eq!(a.class_id, b.class_id);
            let close = |x: f32, y: f32| (x - y).abs() < 1e-3;
            assert!(close(a.x1, b.x1) && close(a.y1, b.y1) && close(a.x2, b.x2) && close(a.y2, b.y2) && close(a.score, b.score), "{a:?} vs {b:?}");
        }
    }
}
