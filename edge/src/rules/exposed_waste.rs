//! `exposed_waste` (暴露垃圾): a persistent change against the zone's clean reference picture
//! that no person or vehicle explains — or a `waste`-role detection from a custom model.
//!
//! Per frame, the zone's bounding box is cut out, turned into luma, scaled to at most
//! [`MAX_GRID_WIDTH`] px wide and box-blurred (3×3). The frame is compared with the reference
//! after dividing out the global gain (median of frame / reference over the zone, so a light
//! change of ±40 % — or more — cancels while a blob covering less than half the zone does not
//! move it). Pixels whose gain-corrected luma differs by more than `threshold` are opened and
//! closed (3×3) and labelled; blobs below `min_area` (share of the image) and blobs that overlap
//! a person or vehicle box are dropped. Blobs keep their identity through the stationary-object
//! tracker (IoU) and are reported once seen often enough; the shared dwell gate does the rest.
//! Without a recorded reference, the reference is the per-pixel mean of the first `learn_s`
//! seconds (pixels under people and vehicles left out), and nothing is reported until then.

use std::path::PathBuf;
use std::time::Duration;

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, RgbImage};
use imageproc::distance_transform::Norm;
use imageproc::region_labelling::{Connectivity, connected_components};

use super::{Candidate, Observation, Rule, ViolationKind, ZoneArea, luma};
use crate::config::ExposedWasteParams;
use crate::detect::Detection;
use crate::geometry::BBox;
use crate::track::{StationaryTracker, TrackerParams};

/// The comparison grid is at most this wide (pixels), whatever the camera's resolution.
pub const MAX_GRID_WIDTH: u32 = 320;
/// A blob unseen for longer is forgotten (someone standing on the litter for a while is not).
const MISS_TOLERANCE: Duration = Duration::from_secs(10);
/// Same blob as a remembered one when the boxes overlap at least this much.
const BLOB_IOU: f32 = 0.3;
/// A blob is explained by a person or vehicle when this share of its box lies inside the
/// detection's box grown by `EXPLAIN_PAD` of its size on each side (shadows, loose clothing).
const EXPLAINED_SHARE: f32 = 0.2;
const EXPLAIN_PAD: f32 = 0.1;
/// Reference pixels darker than this say nothing reliable about the gain.
const MIN_GAIN_LUMA: f32 = 8.0;
const CHANGE_CLASS: &str = "change";

#[derive(Debug, thiserror::Error)]
pub enum ExposedWasteError {
    #[error("cannot load the clean reference picture {path}: {source}")]
    Reference { path: PathBuf, source: image::ImageError },
}

/// Where the zone is sampled: its bounding box (normalised, snapped to the pixels of the picture
/// that fixed it) and the reduced grid it is scaled to.
#[derive(Debug)]
struct Grid {
    bounds: BBox,
    width: u32,
    height: u32,
    /// Grid cells whose centre lies inside the zone polygon.
    inside: Vec<bool>,
}

impl Grid {
    fn new(zone: &ZoneArea, image_width: u32, image_height: u32) -> Option<Grid> {
        let [x1, y1, x2, y2] = zone.polygon.bounds();
        let (w, h) = (f64::from(image_width), f64::from(image_height));
        let px = |v: f64, size: f64| (v.clamp(0.0, 1.0) * size).round();
        let (px1, py1, px2, py2) = (px(x1, w), px(y1, h), px(x2, w), px(y2, h));
        if px2 - px1 < 1.0 || py2 - py1 < 1.0 {
            return None;
        }
        let width = ((px2 - px1) as u32).min(MAX_GRID_WIDTH);
        let height = ((py2 - py1) * f64::from(width) / (px2 - px1)).round().max(1.0) as u32;
        let bounds = BBox::new((px1 / w) as f32, (py1 / h) as f32, (px2 / w) as f32, (py2 / h) as f32);
        let mut grid = Grid { bounds, width, height, inside: Vec::new() };
        grid.inside = (0..width * height).map(|i| { let (x, y) = grid.centre(i as usize); zone.polygon.contains(x as f64, y as f64) }).collect();
        Some(grid)
    }

    /// Normalised image coordinates of cell `i`'s centre.
    fn centre(&self, i: usize) -> (f32, f32) {
        let (col, row) = ((i % self.width as usize) as f32, (i / self.width as usize) as f32);
        (self.bounds.x1 + (col + 0.5) * self.bounds.width() / self.width as f32, self.bounds.y1 + (row + 0.5) * self.bounds.height() / self.height as f32)
    }

    /// Normalised box of the cells `[c1, c2] × [r1, r2]`.
    fn cells_box(&self, c1: u32, r1: u32, c2: u32, r2: u32) -> BBox {
        let (cw, ch) = (self.bounds.width() / self.width as f32, self.bounds.height() / self.height as f32);
        BBox::new(self.bounds.x1 + c1 as f32 * cw, self.bounds.y1 + r1 as f32 * ch, self.bounds.x1 + (c2 + 1) as f32 * cw, self.bounds.y1 + (r2 + 1) as f32 * ch)
    }

    /// The zone's box of `image` as blurred luma on the grid (any resolution maps onto it).
    fn sample(&self, image: &RgbImage) -> Option<Vec<f32>> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let x0 = ((self.bounds.x1 * w).round() as u32).min(image.width());
        let y0 = ((self.bounds.y1 * h).round() as u32).min(image.height());
        let cw = ((self.bounds.x2 * w).round() as u32).min(image.width()).saturating_sub(x0);
        let ch = ((self.bounds.y2 * h).round() as u32).min(image.height()).saturating_sub(y0);
        if cw == 0 || ch == 0 {
            return None;
        }
        let mut gray = GrayImage::from_fn(cw, ch, |x, y| Luma([luma(image.get_pixel(x0 + x, y0 + y).0).round() as u8]));
        if (cw, ch) != (self.width, self.height) {
            gray = imageops::resize(&gray, self.width, self.height, FilterType::Triangle);
        }
        Some(imageproc::filter::box_filter(&gray, 1, 1).pixels().map(|p| f32::from(p.0[0])).collect())
    }
}

enum Reference {
    /// Learning from the frames since `since`: sums over frames where no person or vehicle
    /// covered the cell, and over all frames (for cells that were never clear).
    Learning { since: Option<Duration>, clear_sum: Vec<f32>, clear_count: Vec<u32>, all_sum: Vec<f32>, frames: u32 },
    Ready(Vec<f32>),
}

pub struct ExposedWaste {
    zone: ZoneArea,
    params: ExposedWasteParams,
    grid: Option<Grid>,
    reference: Reference,
    tracker: StationaryTracker,
}

impl ExposedWaste {
    pub fn new(zone: ZoneArea, params: ExposedWasteParams) -> Result<Self, ExposedWasteError> {
        let mut grid = None;
        let mut reference = Reference::Learning { since: None, clear_sum: Vec::new(), clear_count: Vec::new(), all_sum: Vec::new(), frames: 0 };
        if let Some(path) = &params.reference {
            let picture = image::open(path).map_err(|source| ExposedWasteError::Reference { path: path.clone(), source })?.to_rgb8();
            // A zone outside the picture: nothing to compare, so nothing is ever reported.
            grid = Grid::new(&zone, picture.width(), picture.height());
            if let Some(samples) = grid.as_ref().and_then(|g| g.sample(&picture)) {
                reference = Reference::Ready(samples);
            }
        }
        let tracker = StationaryTracker::new(TrackerParams { iou_threshold: BLOB_IOU, miss_tolerance: MISS_TOLERANCE });
        Ok(ExposedWaste { zone, params, grid, reference, tracker })
    }

    /// Whether the clean reference is known (recorded, or learned by now).
    pub fn reference_ready(&self) -> bool {
        matches!(self.reference, Reference::Ready(_))
    }

    /// Change blobs of this frame not explained by a person or vehicle, as `waste` detections.
    fn change_blobs(&mut self, observation: &Observation<'_>) -> Vec<Detection> {
        let explainers: Vec<BBox> = observation
            .detections
            .iter()
            .filter(|d| matches!(d.role.as_deref(), Some("person" | "vehicle")))
            .map(|d| {
                let (pw, ph) = (d.bbox.width() * EXPLAIN_PAD, d.bbox.height() * EXPLAIN_PAD);
                BBox::new(d.bbox.x1 - pw, d.bbox.y1 - ph, d.bbox.x2 + pw, d.bbox.y2 + ph)
            })
            .collect();
        if self.grid.is_none() && self.params.reference.is_none() {
            self.grid = Grid::new(&self.zone, observation.image.width(), observation.image.height());
        }
        let Some(grid) = &self.grid else { return Vec::new() };
        let Some(frame) = grid.sample(observation.image) else { return Vec::new() };
        let reference = match &mut self.reference {
            Reference::Ready(reference) => reference,
            Reference::Learning { since, clear_sum, clear_count, all_sum, frames } => {
                let start = *since.get_or_insert(observation.media_time);
                if clear_sum.len() != frame.len() {
                    (*clear_sum, *clear_count, *all_sum) = (vec![0.0; frame.len()], vec![0; frame.len()], vec![0.0; frame.len()]);
                }
                for (i, &value) in frame.iter().enumerate() {
                    let (x, y) = grid.centre(i);
                    all_sum[i] += value;
                    if !explainers.iter().any(|b| b.x1 <= x && x <= b.x2 && b.y1 <= y && y <= b.y2) {
                        clear_sum[i] += value;
                        clear_count[i] += 1;
                    }
                }
                *frames += 1;
                if observation.media_time.saturating_sub(start).as_secs_f64() >= self.params.learn_s {
                    let n = *frames as f32;
                    let mean = (0..frame.len()).map(|i| if clear_count[i] > 0 { clear_sum[i] / clear_count[i] as f32 } else { all_sum[i] / n }).collect();
                    tracing::debug!(zone = %self.zone.id, frames = *frames, "exposed_waste reference learned");
                    self.reference = Reference::Ready(mean);
                }
                return Vec::new();
            }
        };
        let gain = global_gain(&frame, reference, &grid.inside);
        let diff: Vec<f32> = frame.iter().zip(reference.iter()).map(|(f, r)| (f / gain - r).abs()).collect();
        let threshold = self.params.threshold as f32;
        let mut mask = GrayImage::from_fn(grid.width, grid.height, |x, y| {
            let i = (y * grid.width + x) as usize;
            Luma([if grid.inside[i] && diff[i] > threshold { 255 } else { 0 }])
        });
        mask = imageproc::morphology::close(&imageproc::morphology::open(&mask, Norm::LInf, 1), Norm::LInf, 1);
        let labels = connected_components(&mask, Connectivity::Eight, Luma([0u8]));

        // Per label: cells, summed difference, column/row extent.
        let mut blobs: Vec<(u32, f32, u32, u32, u32, u32)> = Vec::new();
        for (x, y, label) in labels.enumerate_pixels() {
            let (label, i) = (label.0[0] as usize, (y * grid.width + x) as usize);
            if label == 0 || !grid.inside[i] {
                continue;
            }
            if blobs.len() < label {
                blobs.resize(label, (0, 0.0, u32::MAX, u32::MAX, 0, 0));
            }
            let b = &mut blobs[label - 1];
            *b = (b.0 + 1, b.1 + diff[i], b.2.min(x), b.3.min(y), b.4.max(x), b.5.max(y));
        }
        let cell_area = grid.bounds.area() as f64 / f64::from(grid.width * grid.height);
        blobs
            .into_iter()
            .filter(|&(cells, ..)| cells > 0 && f64::from(cells) * cell_area >= self.params.min_area)
            .map(|(cells, diff_sum, c1, r1, c2, r2)| {
                let mean_diff = diff_sum / cells as f32;
                // Twice the threshold ≈ 0.5, four times ≈ 0.75.
                let confidence = (1.0 - threshold / mean_diff.max(f32::EPSILON)).clamp(0.05, 0.99);
                Detection { class_id: 0, class: CHANGE_CLASS.into(), role: Some("waste".into()), confidence, bbox: grid.cells_box(c1, r1, c2, r2) }
            })
            .filter(|blob| !explainers.iter().any(|b| intersection(&blob.bbox, b) >= EXPLAINED_SHARE * blob.bbox.area()))
            .collect()
    }
}

impl Rule for ExposedWaste {
    fn kind(&self) -> ViolationKind {
        ViolationKind::ExposedWaste
    }

    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Candidate> {
        let now = observation.media_time;
        let blobs = self.change_blobs(observation);
        let mut seen = self.zone.select(observation.detections, "waste", 0.0);
        seen.extend(blobs.iter());
        self.tracker.update(now, &seen);
        // A model's `waste` detection counts at once (its class is the model's); a change blob
        // only once it has persisted.
        self.tracker
            .objects()
            .iter()
            // A blob is reported only once steady: codec flicker comes and goes; litter stays.
            .filter(|object| object.class.as_ref() != CHANGE_CLASS || self.tracker.is_steady(object))
            .map(|object| Candidate::of_object(object, now))
            .collect()
    }
}

/// Median of frame / reference over the zone: the global light change, unmoved by a blob that
/// covers less than half of the zone. 1 when nothing can tell.
fn global_gain(frame: &[f32], reference: &[f32], inside: &[bool]) -> f32 {
    let mut ratios: Vec<f32> = frame.iter().zip(reference).zip(inside).filter(|((_, r), inside)| **inside && **r >= MIN_GAIN_LUMA).map(|((f, r), _)| f / r).collect();
    if ratios.is_empty() {
        return 1.0;
    }
    let middle = ratios.len() / 2;
    let (_, median, _) = ratios.select_nth_unstable_by(middle, f32::total_cmp);
    if *median > 0.0 { *median } else { 1.0 }
}

fn intersection(a: &BBox, b: &BBox) -> f32 {
    (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0) * (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::geometry::{Polygon, iou};

    /// Frames of `testdata/staged/waste-appears.mp4` (see `testdata/staged/frames/README.md`).
    const STAGED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/staged");
    /// Where the litter lies (testdata/README.md: sheet ≈ x 68–160, y 497–527; paper ≈ x 324–352,
    /// y 450–468 of 768×576), and zones around it and on plain grass.
    const SHEET: BBox = BBox { x1: 0.0885, y1: 0.8628, x2: 0.2083, y2: 0.9149 };
    const PAPER: BBox = BBox { x1: 0.4219, y1: 0.7813, x2: 0.4583, y2: 0.8125 };
    const SHEET_ZONE: BBox = BBox { x1: 0.04, y1: 0.80, x2: 0.27, y2: 0.98 };
    const PAPER_ZONE: BBox = BBox { x1: 0.39, y1: 0.73, x2: 0.50, y2: 0.86 };
    const GRASS_ZONE: BBox = BBox { x1: 0.26, y1: 0.66, x2: 0.39, y2: 0.80 };

    fn load(name: &str) -> Arc<RgbImage> {
        Arc::new(image::open(format!("{STAGED}/{name}")).expect(name).to_rgb8())
    }
    fn frames() -> (Arc<RgbImage>, Arc<RgbImage>) {
        (load("frames/waste-clean-t10.png"), load("frames/waste-litter-t40.png"))
    }
    fn scaled(image: &RgbImage, k: f32) -> Arc<RgbImage> {
        let mut out = image.clone();
        out.pixels_mut().for_each(|p| p.0 = p.0.map(|c| (f32::from(c) * k).round().min(255.0) as u8));
        Arc::new(out)
    }
    fn area(b: BBox) -> ZoneArea {
        let (x1, y1, x2, y2) = (b.x1 as f64, b.y1 as f64, b.x2 as f64, b.y2 as f64);
        ZoneArea { id: "z".into(), polygon: Polygon::new(vec![(x1, y1), (x2, y1), (x2, y2), (x1, y2)]) }
    }
    fn params() -> ExposedWasteParams {
        ExposedWasteParams { reference: Some(format!("{STAGED}/waste-clean-reference.png").into()), ..ExposedWasteParams::default() }
    }
    fn rule(zone: BBox) -> ExposedWaste {
        ExposedWaste::new(area(zone), params()).expect("reference loads")
    }
    /// Feeds `image` `frames` times, 0.1 s apart from `from_s`; returns the last frame's candidates.
    fn feed(rule: &mut ExposedWaste, image: &Arc<RgbImage>, detections: &[Detection], from_s: f64, frames: u32) -> Vec<Candidate> {
        let mut last = Vec::new();
        for n in 0..frames {
            let media_time = Duration::from_secs_f64(from_s + 0.1 * f64::from(n));
            last = rule.observe(&Observation { camera: "cam", media_time, wall_time: chrono::Utc::now(), detections, image });
        }
        last
    }
    /// Largest gain-corrected and uncorrected difference against the reference in the zone.
    fn max_diff(rule: &ExposedWaste, image: &RgbImage) -> (f32, f32, f32) {
        let (Some(grid), Reference::Ready(reference)) = (&rule.grid, &rule.reference) else { panic!("no reference") };
        let frame = grid.sample(image).expect("zone in frame");
        let gain = global_gain(&frame, reference, &grid.inside);
        let max = |g: f32| frame.iter().zip(reference).zip(&grid.inside).filter(|(_, i)| **i).map(|((f, r), _)| (f / g - r).abs()).fold(0.0, f32::max);
        (gain, max(gain), max(1.0))
    }

    #[test]
    fn litter_is_found_where_it_lies_and_nothing_on_the_clean_frame() {
        let (clean, litter) = frames();
        for (zone, place) in [(SHEET_ZONE, SHEET), (PAPER_ZONE, PAPER)] {
            let mut rule = rule(zone);
            assert!(feed(&mut rule, &clean, &[], 10.0, 5).is_empty(), "clean frame at {place:?}");
            assert!(feed(&mut rule, &litter, &[], 40.0, 2).is_empty(), "two sightings are not yet persistent");
            let found = feed(&mut rule, &litter, &[], 40.2, 1);
            assert_eq!(found.len(), 1, "{found:?}");
            let c = &found[0];
            assert!(c.seen && c.since == Duration::from_secs(40), "{c:?}");
            assert!(iou(&c.bbox, &place) > 0.5, "blob {:?} vs litter {place:?}", c.bbox);
            let object = &c.objects[0];
            assert_eq!((object.role.as_deref(), object.class.as_ref()), (Some("waste"), "change"));
            assert!(object.confidence > 0.5, "{object:?}");
        }
    }

    #[test]
    fn plain_grass_stays_quiet_when_the_litter_is_there() {
        let mut rule = rule(GRASS_ZONE);
        assert!(feed(&mut rule, &frames().1, &[], 40.0, 5).is_empty());
    }

    #[test]
    fn a_global_light_change_of_forty_percent_makes_no_blob() {
        let (clean, litter) = frames();
        // Threshold 20: below what the uncorrected ±40 % gives on grass, so this checks the gain.
        let sensitive = ExposedWasteParams { threshold: 20.0, ..params() };
        for zone in [SHEET_ZONE, PAPER_ZONE, GRASS_ZONE] {
            for k in [0.6, 1.4] {
                let mut rule = ExposedWaste::new(area(zone), sensitive.clone()).expect("reference loads");
                let changed = scaled(&clean, k);
                let (gain, corrected, uncorrected) = max_diff(&rule, &changed);
                println!("×{k} clean in {zone:?}: gain {gain:.3}, max diff {corrected:.1} (uncorrected {uncorrected:.1})");
                assert!(uncorrected > 20.0, "the check would not catch a missing gain");
                assert!(feed(&mut rule, &changed, &[], 10.0, 5).is_empty(), "×{k} in {zone:?}");
            }
        }
        let mut rule = rule(SHEET_ZONE);
        let found = feed(&mut rule, &scaled(&litter, 0.6), &[], 40.0, 3);
        assert!(found.len() == 1 && iou(&found[0].bbox, &SHEET) > 0.5, "dimmed litter is still litter: {found:?}");
    }

    #[test]
    fn a_person_over_the_blob_explains_it_and_a_brief_miss_keeps_its_identity() {
        let (_, litter) = frames();
        let standing = [Detection { class_id: 0, class: "person".into(), role: Some("person".into()), confidence: 0.8, bbox: BBox::new(0.09, 0.70, 0.17, 0.93) }];
        let mut rule = rule(SHEET_ZONE);
        assert!(feed(&mut rule, &litter, &standing, 40.0, 5).is_empty(), "a person explains the change");
        let found = feed(&mut rule, &litter, &[], 41.0, 10);
        assert_eq!(found.len(), 1, "{found:?}");
        let hidden = feed(&mut rule, &litter, &standing, 42.0, 20);
        assert_eq!(hidden.len(), 1, "remembered while the person stands on it");
        assert!(!hidden[0].seen && hidden[0].key == found[0].key, "{hidden:?}");
        let again = feed(&mut rule, &litter, &[], 44.0, 1);
        assert!(again[0].seen && again[0].key == found[0].key && again[0].since == Duration::from_secs(41), "{again:?}");
    }

    #[test]
    fn waste_detections_are_candidates_at_once() {
        let mut rule = rule(PAPER_ZONE);
        let bottle = Detection { class_id: 0, class: "bottle".into(), role: Some("waste".into()), confidence: 0.6, bbox: BBox::new(0.42, 0.78, 0.45, 0.81) };
        let found = feed(&mut rule, &frames().0, &[bottle], 10.0, 1);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].objects[0].class.as_ref(), "bottle");
    }

    #[test]
    fn without_a_reference_it_learns_first_then_finds_the_litter() {
        let mut rule = ExposedWaste::new(area(SHEET_ZONE), ExposedWasteParams { learn_s: 2.0, ..ExposedWasteParams::default() }).expect("no file to load");
        let (clean, litter) = frames();
        assert!(feed(&mut rule, &clean, &[], 0.0, 20).is_empty());
        assert!(!rule.reference_ready(), "1.9 s of 2 learned");
        assert!(feed(&mut rule, &clean, &[], 2.0, 5).is_empty());
        assert!(rule.reference_ready());
        let found = feed(&mut rule, &litter, &[], 40.0, 3);
        assert!(found.len() == 1 && iou(&found[0].bbox, &SHEET) > 0.5, "{found:?}");
    }

    #[test]
    fn a_reference_that_does_not_load_names_its_path() {
        let params = ExposedWasteParams { reference: Some("/nonexistent/clean.png".into()), ..ExposedWasteParams::default() };
        let error = ExposedWaste::new(area(SHEET_ZONE), params).err().expect("fails").to_string();
        assert!(error.contains("/nonexistent/clean.png"), "{error}");
    }

    #[test]
    fn measurements_and_time_per_frame() {
        let (clean, litter) = frames();
        for (name, zone) in [("sheet", SHEET_ZONE), ("paper", PAPER_ZONE), ("grass", GRASS_ZONE), ("whole frame", BBox::new(0.0, 0.0, 1.0, 1.0))] {
            let mut rule = rule(zone);
            let grid = rule.grid.as_ref().map(|g| (g.width, g.height));
            for (frame, image) in [("clean t10", clean.clone()), ("litter t40", litter.clone()), ("clean ×0.6", scaled(&clean, 0.6)), ("litter ×0.6", scaled(&litter, 0.6))] {
                let (gain, corrected, uncorrected) = max_diff(&rule, &image);
                println!("{name} {grid:?} {frame}: gain {gain:.3}, max diff {corrected:.1} (uncorrected {uncorrected:.1})");
            }
            if name == "sheet" {
                assert!(max_diff(&rule, &clean).1 < 15.0 && max_diff(&rule, &scaled(&clean, 0.6)).1 < 15.0 && max_diff(&rule, &litter).1 > 100.0);
            }
            let start = Instant::now();
            feed(&mut rule, &litter, &[], 40.0, 20);
            println!("{name} {grid:?}: {:.2} ms per frame", start.elapsed().as_secs_f64() * 1000.0 / 20.0);
        }
    }
}
