//! The zone as rules use it: which detections stand inside it.

use crate::config::Zone;
use crate::detect::Detection;
use crate::geometry::Polygon;

/// A zone's id and area. An object is in the zone when the point where it meets the ground
/// (the middle of its box's bottom edge) lies inside the polygon.
#[derive(Debug, Clone)]
pub struct ZoneArea {
    pub id: String,
    pub polygon: Polygon,
}

impl From<&Zone> for ZoneArea {
    fn from(zone: &Zone) -> Self {
        ZoneArea { id: zone.id.clone(), polygon: zone.polygon.clone() }
    }
}

impl ZoneArea {
    pub fn contains(&self, detection: &Detection) -> bool {
        let (x, y) = detection.bbox.bottom_centre();
        self.polygon.contains(x as f64, y as f64)
    }

    /// Detections of `role`, at least `min_confidence`, standing in the zone.
    pub fn select<'d>(&self, detections: &'d [Detection], role: &str, min_confidence: f32) -> Vec<&'d Detection> {
        detections
            .iter()
            .filter(|d| d.role.as_deref() == Some(role) && d.confidence >= min_confidence && self.contains(d))
            .collect()
    }
}
