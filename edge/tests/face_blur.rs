//! Face blurring for evidence: the bundled CenterFace model finds faces where a person sees them,
//! `blur` makes them unrecognisable, and no pixel outside a (grown) face box changes — a parked
//! car, a sign or a plate stays as it was. Stills: `testdata/stills/README.md`.

use std::path::PathBuf;
use std::time::Instant;

use image::{RgbImage, imageops};
use steward_edge::detect::{FACE_GROWTH, FaceBlurrer, default_manifest_path};
use steward_edge::geometry::BBox;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn blurrer() -> FaceBlurrer {
    FaceBlurrer::load(&repo().join("models/face-centerface.toml")).expect("face model loads (run `make deps` for ONNX Runtime)")
}

fn still(name: &str) -> RgbImage {
    image::open(repo().join("testdata/stills").join(name)).expect("test still").to_rgb8()
}

/// A pixel rectangle `(x0, y0, x1, y1)`, end exclusive.
type Rect = (u32, u32, u32, u32);

fn pixels(b: &BBox, img: &RgbImage) -> Rect {
    let (w, h) = (img.width() as f32, img.height() as f32);
    ((b.x1 * w).round() as u32, (b.y1 * h).round() as u32, (b.x2 * w).round() as u32, (b.y2 * h).round() as u32)
}

/// The box `obscure_face` may touch, one pixel wider on every side for rounding.
fn grown(b: &BBox, img: &RgbImage) -> Rect {
    let (cx, cy) = b.centre();
    let (hw, hh) = (b.width() * (1.0 + FACE_GROWTH) / 2.0, b.height() * (1.0 + FACE_GROWTH) / 2.0);
    let (w, h) = (img.width() as f32, img.height() as f32);
    let lo = |v: f32, s: f32| ((v * s).floor() - 1.0).max(0.0) as u32;
    let hi = |v: f32, s: f32| ((v * s).ceil() + 1.0).min(s) as u32;
    (lo(cx - hw, w), lo(cy - hh, h), hi(cx + hw, w), hi(cy + hh, h))
}

fn contains(outer: Rect, inner: Rect) -> bool {
    outer.0 <= inner.0 && outer.1 <= inner.1 && outer.2 >= inner.2 && outer.3 >= inner.3
}

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Mean absolute 4-neighbour Laplacian of the luma inside `r` (high-frequency detail).
fn laplacian(img: &RgbImage, r: Rect) -> f64 {
    let luma = |x: u32, y: u32| {
        let p = img.get_pixel(x, y);
        0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64
    };
    let (mut sum, mut n) = (0.0, 0);
    for y in r.1 + 1..r.3 - 1 {
        for x in r.0 + 1..r.2 - 1 {
            sum += (4.0 * luma(x, y) - luma(x - 1, y) - luma(x + 1, y) - luma(x, y - 1) - luma(x, y + 1)).abs();
            n += 1;
        }
    }
    sum / n as f64
}

fn identical(a: &RgbImage, b: &RgbImage, r: Rect) -> bool {
    (r.1..r.3).all(|y| (r.0..r.2).all(|x| a.get_pixel(x, y) == b.get_pixel(x, y)))
}

/// Every pixel outside all grown face boxes is unchanged; returns how many pixels changed.
fn assert_only_faces_changed(before: &RgbImage, after: &RgbImage, faces: &[BBox]) -> usize {
    let boxes: Vec<Rect> = faces.iter().map(|f| grown(f, before)).collect();
    let mut changed = 0;
    for (x, y, p) in after.enumerate_pixels() {
        if p != before.get_pixel(x, y) {
            changed += 1;
            assert!(boxes.iter().any(|b| contains(*b, (x, y, x + 1, y + 1))), "pixel ({x}, {y}) changed outside every face box {boxes:?}");
        }
    }
    changed
}

// messi5.jpg, 548×342: the player's face (brow to chin, ear to ear), measured by eye on the still.
const MESSI_FACE: Rect = (232, 100, 252, 128);
// The ball and the "unicef" lettering on the shirt: well away from any face.
const MESSI_BALL: Rect = (335, 285, 392, 338);
const MESSI_UNICEF: Rect = (205, 140, 275, 160);

#[test]
fn finds_the_face_where_it_is() {
    let img = still("messi5.jpg");
    let faces = blurrer().detect(&img).unwrap();
    eprintln!("messi5.jpg: {} face(s): {:?}", faces.len(), faces.iter().map(|f| pixels(f, &img)).collect::<Vec<_>>());
    let best = pixels(faces.first().expect("a face"), &img);
    assert!(contains(best, MESSI_FACE), "best box {best:?} does not cover the face {MESSI_FACE:?}");
    let (bw, bh) = (best.2 - best.0, best.3 - best.1);
    assert!(bw < 2 * (MESSI_FACE.2 - MESSI_FACE.0) && bh < 2 * (MESSI_FACE.3 - MESSI_FACE.1), "box {best:?} is far larger than the face");
    assert_eq!(faces.len(), 1, "only the player's face is sharp enough to find");

    // Larger than the model's max_side (1280): scaled down for inference, same place found.
    let big = imageops::resize(&img, img.width() * 3, img.height() * 3, imageops::FilterType::Triangle);
    let big_faces = blurrer().detect(&big).unwrap();
    let first = big_faces.first().expect("a face in the 3× image");
    let shift = [first.x1 - faces[0].x1, first.y1 - faces[0].y1, first.x2 - faces[0].x2, first.y2 - faces[0].y2];
    eprintln!("3× image ({}×{}): {} face(s), best box moved by {shift:?} (normalised)", big.width(), big.height(), big_faces.len());
    assert!(shift.iter().all(|d| d.abs() < 0.01), "3× image: {first:?} vs {:?}", faces[0]);
}

#[test]
fn blurring_removes_the_face_detail_and_nothing_else() {
    let mut blurrer = blurrer();
    let before = still("messi5.jpg");
    let faces = blurrer.detect(&before).unwrap();
    let mut after = before.clone();
    assert_eq!(blurrer.blur(&mut after).unwrap(), faces.len());

    let (lap_before, lap_after) = (laplacian(&before, MESSI_FACE), laplacian(&after, MESSI_FACE));
    eprintln!("face mean |Laplacian|: {lap_before:.2} → {lap_after:.2} (÷{:.0})", lap_before / lap_after);
    assert!(lap_after * 10.0 < lap_before, "face detail only dropped from {lap_before:.2} to {lap_after:.2}");

    for region in [MESSI_BALL, MESSI_UNICEF] {
        assert!(!faces.iter().any(|f| overlaps(grown(f, &before), region)));
        assert!(identical(&before, &after, region), "{region:?} changed");
    }
    let changed = assert_only_faces_changed(&before, &after, &faces);
    eprintln!("{changed} of {} pixels changed", before.width() * before.height());
    // (The detector may still find a head-shaped blob there: hair and skin colour survive, the
    // face does not. That is why the check above is on detail, not on re-detection.)
}

#[test]
fn street_scene_face_blurred_car_and_sign_untouched() {
    // scenetext01.jpg, 800×600: a woman's face at the right edge, a parked silver car, a
    // "DOUBLE PARKING PROHIBITED" sign.
    const WOMAN_FACE: Rect = (772, 395, 792, 425);
    const CAR: Rect = (398, 418, 700, 580);
    const SIGN: Rect = (258, 18, 442, 268);
    let mut blurrer = blurrer();
    let before = still("scenetext01.jpg");
    let faces = blurrer.detect(&before).unwrap();
    eprintln!("scenetext01.jpg: {} face(s): {:?}", faces.len(), faces.iter().map(|f| pixels(f, &before)).collect::<Vec<_>>());
    assert!(faces.iter().any(|f| contains(pixels(f, &before), WOMAN_FACE)), "the woman's face is not found");
    let mut after = before.clone();
    blurrer.blur(&mut after).unwrap();
    let (lap_before, lap_after) = (laplacian(&before, WOMAN_FACE), laplacian(&after, WOMAN_FACE));
    eprintln!("woman's face mean |Laplacian|: {lap_before:.2} → {lap_after:.2} (÷{:.0})", lap_before / lap_after);
    assert!(lap_after * 5.0 < lap_before);
    assert!(identical(&before, &after, CAR), "the parked car changed");
    assert!(identical(&before, &after, SIGN), "the sign changed");
    assert_only_faces_changed(&before, &after, &faces);
}

#[test]
fn no_faces_on_grass_and_road() {
    // The real footage's grass (litter, tripod) and the far road with cones and a rock, no people.
    let frame = image::open(repo().join("testdata/golden/frame_05s.png")).unwrap().to_rgb8();
    let mut blurrer = blurrer();
    for (x, y, w, h) in [(0, 255, 416, 109), (0, 52, 195, 148)] {
        let mut crop = imageops::crop_imm(&frame, x, y, w, h).to_image();
        let untouched = crop.clone();
        assert_eq!(blurrer.blur(&mut crop).unwrap(), 0, "a face found in the crop at ({x}, {y}) {w}×{h}");
        assert_eq!(crop, untouched);
    }
}

#[test]
fn time_per_d1_frame() {
    let mut blurrer = blurrer();
    let img = imageops::resize(&still("scenetext01.jpg"), 768, 576, imageops::FilterType::Triangle);
    blurrer.detect(&img).unwrap();
    let runs = 5;
    let start = Instant::now();
    for _ in 0..runs {
        blurrer.blur(&mut img.clone()).unwrap();
    }
    eprintln!("blur: {:.1} ms per 768×576 image (1 thread)", start.elapsed().as_secs_f64() * 1000.0 / runs as f64);
}

#[test]
fn default_path_is_beside_the_bundled_model() {
    let found = FaceBlurrer::default_path();
    match default_manifest_path() {
        Some(detector) => assert_eq!(found, Some(detector.with_file_name("face-centerface.toml"))),
        None => assert_eq!(found, None),
    }
}

#[test]
fn blurrer_reports_its_model() {
    let blurrer = blurrer();
    assert_eq!(blurrer.model_name(), "face-centerface");
    let onnx = std::fs::read(repo().join("models/face-centerface.onnx")).unwrap();
    use sha2::Digest;
    assert_eq!(blurrer.model_sha256(), hex::encode(sha2::Sha256::digest(&onnx)));
}
