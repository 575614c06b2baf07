//! Plain geometry in normalised image coordinates (0..1, origin top-left): boxes, polygons, IoU.

use serde::{Deserialize, Serialize};

/// An axis-aligned box, normalised to the full image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        BBox { x1, y1, x2, y2 }
    }
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn centre(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }
    /// Where the object meets the ground: the middle of the bottom edge.
    pub fn bottom_centre(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, self.y2)
    }
    pub fn clamped(&self) -> BBox {
        BBox::new(self.x1.clamp(0.0, 1.0), self.y1.clamp(0.0, 1.0), self.x2.clamp(0.0, 1.0), self.y2.clamp(0.0, 1.0))
    }
}

/// Intersection over union of two boxes (0 when they do not touch).
pub fn iou(a: &BBox, b: &BBox) -> f32 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = w * h;
    let union = a.area() + b.area() - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// A closed polygon in normalised image coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    vertices: Vec<(f64, f64)>,
}

impl Polygon {
    pub fn new(vertices: Vec<(f64, f64)>) -> Self {
        Polygon { vertices }
    }
    pub fn vertices(&self) -> &[(f64, f64)] {
        &self.vertices
    }
    /// The bounding box as `[x1, y1, x2, y2]`.
    pub fn bounds(&self) -> [f64; 4] {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for &(x, y) in &self.vertices {
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
        b
    }

    /// Even-odd rule point-in-polygon test.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let v = &self.vertices;
        let mut inside = false;
        let mut j = v.len() - 1;
        for i in 0..v.len() {
            let (xi, yi) = v[i];
            let (xj, yj) = v[j];
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_boxes_is_one_and_of_disjoint_is_zero() {
        let a = BBox::new(0.1, 0.1, 0.3, 0.3);
        assert!((iou(&a, &a) - 1.0).abs() < 1e-6);
        assert_eq!(iou(&a, &BBox::new(0.5, 0.5, 0.6, 0.6)), 0.0);
        let half = BBox::new(0.2, 0.1, 0.4, 0.3);
        assert!((iou(&a, &half) - 1.0 / 3.0).abs() < 1e-5);
    }

    #[test]
    fn polygon_contains_inside_points_only() {
        let square = Polygon::new(vec![(0.8, 0.0), (1.0, 0.0), (1.0, 0.25), (0.8, 0.25)]);
        assert!(square.contains(0.9, 0.1));
        assert!(!square.contains(0.5, 0.1));
        assert!(!square.contains(0.9, 0.3));
        let concave = Polygon::new(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.2), (0.0, 1.0)]);
        assert!(!concave.contains(0.5, 0.6));
        assert!(concave.contains(0.1, 0.5));
    }
}
