//! NanoDet head decoding (GFL): per-cell class scores and per-side distance distributions.
//!
//! For a stride `s` the input is a grid of `side = input / s` cells; cell `i` is centred at
//! `((i % side + ½)·s, (i / side + ½)·s)` (the cell centre, as legacy NanoDet decodes it:
//! the cell origin shifts every box up-left by half a stride — checked with mirrored images). Each side's distance is the expectation of a softmax over
//! `bins` values, times `s`. Pure functions, so they are tested against the Python reference.

/// A decoded box in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawBox {
    pub class_id: usize,
    pub score: f32,
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl RawBox {
    fn area(&self) -> f32 {
        (self.x2 - self.x1).max(0.0) * (self.y2 - self.y1).max(0.0)
    }
    fn iou(&self, other: &RawBox) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// Decodes one stride's outputs. `scores` is `[cells × classes]` (sigmoid already applied),
/// `distributions` is `[cells × 4 × bins]` in left, top, right, bottom order.
pub fn decode_nanodet(
    scores: &[f32],
    distributions: &[f32],
    classes: usize,
    bins: usize,
    stride: u32,
    side: usize,
    score_threshold: f32,
    out: &mut Vec<RawBox>,
) {
    let cells = side * side;
    debug_assert_eq!(scores.len(), cells * classes);
    debug_assert_eq!(distributions.len(), cells * 4 * bins);
    let stride = stride as f32;
    for cell in 0..cells {
        let row = &scores[cell * classes..(cell + 1) * classes];
        let (class_id, &score) = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("a model has at least one class");
        if score < score_threshold {
            continue;
        }
        let cx = ((cell % side) as f32 + 0.5) * stride;
        let cy = ((cell / side) as f32 + 0.5) * stride;
        let dist = &distributions[cell * 4 * bins..(cell + 1) * 4 * bins];
        let mut sides = [0f32; 4];
        for (k, side_dist) in dist.chunks_exact(bins).enumerate() {
            sides[k] = softmax_expectation(side_dist) * stride;
        }
        out.push(RawBox { class_id, score, x1: cx - sides[0], y1: cy - sides[1], x2: cx + sides[2], y2: cy + sides[3] });
    }
}

/// Σ k · softmax(logits)_k
fn softmax_expectation(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    let mut weighted = 0.0;
    for (k, &logit) in logits.iter().enumerate() {
        let e = (logit - max).exp();
        sum += e;
        weighted += e * k as f32;
    }
    weighted / sum
}

/// Greedy non-maximum suppression within each class; returns boxes by descending score.
pub fn nms_per_class(mut boxes: Vec<RawBox>, iou_threshold: f32) -> Vec<RawBox> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<RawBox> = Vec::with_capacity(boxes.len());
    for candidate in boxes {
        if kept.iter().all(|k| k.class_id != candidate.class_id || k.iou(&candidate) <= iou_threshold) {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confident_cell_decodes_to_its_distances() {
        // 2×2 grid at stride 8, 2 classes, 3 bins. Cell 3 (x=1, y=1) is class 1.
        let mut scores = vec![0.0; 4 * 2];
        scores[3 * 2 + 1] = 0.9;
        // Distributions peaked hard on bin 2 for every side → distance ≈ 2 × 8.
        let mut dist = vec![0.0; 4 * 4 * 3];
        for side in 0..4 {
            dist[3 * 12 + side * 3 + 2] = 50.0;
        }
        let mut out = Vec::new();
        decode_nanodet(&scores, &dist, 2, 3, 8, 2, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        let b = out[0];
        assert_eq!(b.class_id, 1);
        assert!((b.x1 - (12.0 - 16.0)).abs() < 1e-3 && (b.y2 - (12.0 + 16.0)).abs() < 1e-3, "{b:?}");
    }

    #[test]
    fn nms_keeps_overlaps_of_different_classes() {
        let a = RawBox { class_id: 0, score: 0.9, x1: 0.0, y1: 0.0, x2: 10.0, y2: 10.0 };
        let b = RawBox { score: 0.8, ..a };
        let c = RawBox { class_id: 1, score: 0.7, ..a };
        let kept = nms_per_class(vec![b, c, a], 0.6);
        assert_eq!(kept, vec![a, c]);
    }
}
