//! Rules: per zone, turn what the detector saw over time into findings ("this vehicle has been
//! parked here for 20 s"). Every rule implements [`Rule`]; what rules share — the zone test and
//! the finding they report — lives in `zone` and here.

mod illegal_parking;
mod zone;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use illegal_parking::IllegalParking;
pub use zone::ZoneArea;

use crate::config::{RuleConfig, Zone};
use crate::detect::Detection;
use crate::geometry::BBox;

/// What one analysed frame shows, as rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub camera: &'a str,
    pub media_time: Duration,
    pub wall_time: DateTime<Utc>,
    pub detections: &'a [Detection],
}

/// The violation kinds Steward reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    IllegalParking,
}

impl ViolationKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ViolationKind::IllegalParking => "illegal_parking",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "illegal_parking" => Some(ViolationKind::IllegalParking),
            _ => None,
        }
    }
}

/// An object a finding is about.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingObject {
    pub role: Option<Arc<str>>,
    pub class: Arc<str>,
    pub confidence: f32,
    pub bbox: BBox,
}

/// A rule's verdict: a violation confirmed in a zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: ViolationKind,
    pub camera: String,
    pub zone_id: String,
    /// Where the violation is: the main object's box.
    pub bbox: BBox,
    pub objects: Vec<FindingObject>,
    pub first_seen: DateTime<Utc>,
    pub confirmed_at: DateTime<Utc>,
    pub dwell: Duration,
}

/// A rule attached to one zone of one camera.
pub trait Rule: Send {
    fn kind(&self) -> ViolationKind;
    fn zone_id(&self) -> &str;
    /// Looks at one frame; returns the violations confirmed by it.
    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Finding>;
}

/// Builds the rules configured on `zone`.
pub fn build_rules(zone: &Zone) -> Vec<Box<dyn Rule>> {
    zone.rules
        .iter()
        .map(|rule| match rule {
            RuleConfig::IllegalParking(params) => Box::new(IllegalParking::new(ZoneArea::from(zone), params.clone())) as Box<dyn Rule>,
        })
        .collect()
}
