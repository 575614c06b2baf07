//! Rules: per zone, turn what the detector saw over time into violations.
//!
//! Each kind is a small module behind [`Rule`]: it says, frame by frame, which *candidates*
//! look like its violation right now and since when. What every kind shares lives here and in
//! its own modules — `zone` (which detections stand inside), `dwell` (a candidate becomes a
//! violation after `dwell_s`, with its first-sight picture kept), `schedule` (when a rule is
//! judged at all) — and [`ZoneRule`] puts them together for one rule of one zone.

mod dwell;
mod exposed_waste;
mod illegal_parking;
pub mod schedule;
mod street_vending;
mod unlit_signage;
mod zone;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use image::RgbImage;

pub use dwell::{DwellGate, Violation};
pub use exposed_waste::{ExposedWaste, ExposedWasteError};
pub use illegal_parking::IllegalParking;
pub use street_vending::StreetVending;
pub use unlit_signage::{UnlitSignage, region_luma};
pub use zone::ZoneArea;

use crate::config::{LifecycleParams, RuleConfig, RuleParams, Site, Zone};
use schedule::{Schedule, SunPosition};
use crate::detect::Detection;
use crate::geometry::BBox;
use crate::track::StationaryObject;
pub use crate::kind::ViolationKind;

/// What one analysed frame shows, as rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub camera: &'a str,
    pub media_time: Duration,
    pub wall_time: DateTime<Utc>,
    pub detections: &'a [Detection],
    /// The full-resolution picture (for rules that look at pixels, and for evidence).
    pub image: &'a Arc<RgbImage>,
}

/// An object a violation is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationObject {
    pub role: Option<Arc<str>>,
    pub class: Arc<str>,
    pub confidence: f32,
    pub bbox: BBox,
}

/// Something that looks like the rule's violation in this frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Identity within the rule (e.g. the tracked object's id), stable while it lasts.
    pub key: u64,
    /// Media time since when it has looked like a violation.
    pub since: Duration,
    /// Where it is.
    pub bbox: BBox,
    pub objects: Vec<ViolationObject>,
    /// Actually seen in this frame — false while it is only remembered (hidden by a passing
    /// bus): its dwell goes on, but it neither opens an incident nor keeps one alive.
    pub seen: bool,
}

impl Candidate {
    /// A remembered object as a candidate: the violation is the object itself, there since it
    /// was first seen.
    pub fn of_object(object: &StationaryObject, now: Duration) -> Candidate {
        Candidate {
            key: object.id,
            since: object.first_seen,
            bbox: object.last_box,
            objects: vec![ViolationObject { role: object.role.clone(), class: object.class.clone(), confidence: object.confidence, bbox: object.last_box }],
            seen: object.last_seen == now,
        }
    }
}

/// BT.601 luma (0–255) of an RGB pixel: what "how bright" means to every rule.
pub fn luma([r, g, b]: [u8; 3]) -> f64 {
    0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
}

/// One kind of violation judged in one zone.
pub trait Rule: Send {
    fn kind(&self) -> ViolationKind;
    /// Looks at one frame; returns what looks like a violation now.
    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Candidate>;
}

/// A rule of one zone with everything rules share: dwell and lifecycle settings.
pub struct ZoneRule {
    pub zone_id: String,
    pub kind: ViolationKind,
    pub lifecycle: LifecycleParams,
    rule: Box<dyn Rule>,
    dwell: DwellGate,
    schedule: Schedule,
    timezone: chrono_tz::Tz,
    sun: Option<SunPosition>,
    /// Frames on which the rule panicked so far.
    failures: u32,
}

/// What a zone rule concluded from one frame.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// False outside the rule's schedule: nothing is judged, open incidents are left as they are.
    pub judged: bool,
    /// Violations present now, past their dwell: each may open an incident.
    pub present: Vec<Violation>,
    /// Where anything that looks like the violation is now, dwell or not: an open incident at
    /// such a place is still there (a vehicle back after an occlusion need not dwell again).
    pub sightings: Vec<BBox>,
}

impl ZoneRule {
    pub fn new(site: &Site, zone: &Zone, config: &RuleConfig) -> Result<Self, ExposedWasteError> {
        let area = ZoneArea::from(zone);
        let rule: Box<dyn Rule> = match &config.params {
            RuleParams::ExposedWaste(params) => Box::new(ExposedWaste::new(area, params.clone())?),
            RuleParams::IllegalParking(params) => Box::new(IllegalParking::new(area, params.clone())),
            RuleParams::UnlitSignage(params) => Box::new(UnlitSignage::new(area, params.clone())),
            RuleParams::StreetVending(params) => Box::new(StreetVending::new(area, params.clone())?),
        };
        Ok(ZoneRule {
            zone_id: zone.id.clone(),
            kind: config.kind,
            lifecycle: config.lifecycle,
            rule,
            dwell: DwellGate::new(Duration::from_secs_f64(config.dwell_s)),
            schedule: config.schedule.clone(),
            timezone: site.timezone,
            sun: site.position.map(|(lat, lon)| SunPosition { lat, lon }),
            failures: 0,
        })
    }

    /// Rules keep observing outside their schedule (so what stands there keeps its history),
    /// but judge nothing there.
    ///
    /// A rule that panics on a frame (a bug meeting odd input) leaves that frame unjudged — no
    /// incident opens or resolves on it — and is logged; the box and every other rule go on.
    pub fn evaluate(&mut self, observation: &Observation<'_>) -> Judgement {
        let observed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.rule.observe(observation)));
        let candidates = match observed {
            Ok(candidates) => candidates,
            Err(panic) => {
                self.failures += 1;
                let message = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
                if self.failures <= 3 || self.failures.is_power_of_two() {
                    tracing::error!(camera = observation.camera, zone = %self.zone_id, kind = %self.kind, failures = self.failures, %message, "rule failed on a frame; the frame is not judged");
                }
                return Judgement { judged: false, present: Vec::new(), sightings: Vec::new() };
            }
        };
        let sightings = candidates.iter().filter(|c| c.seen).map(|c| c.bbox).collect();
        let present = self.dwell.pass(candidates, observation);
        if !self.schedule.is_active(observation.wall_time, self.timezone, self.sun) {
            return Judgement { judged: false, present: Vec::new(), sightings: Vec::new() };
        }
        Judgement { judged: true, present, sightings }
    }
}

/// Every rule of every zone of a camera.
pub fn zone_rules(site: &Site, zones: &[Zone]) -> Result<Vec<ZoneRule>, ExposedWasteError> {
    zones.iter().flat_map(|zone| zone.rules.iter().map(move |rule| ZoneRule::new(site, zone, rule))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Panics on every other frame; otherwise reports one candidate there since t = 0.
    struct Flaky {
        frames: u32,
    }

    impl Rule for Flaky {
        fn kind(&self) -> ViolationKind {
            ViolationKind::IllegalParking
        }
        fn observe(&mut self, _: &Observation<'_>) -> Vec<Candidate> {
            self.frames += 1;
            assert!(self.frames % 2 == 1, "odd input on frame {}", self.frames);
            vec![Candidate { key: 1, since: Duration::ZERO, bbox: BBox { x1: 0.1, y1: 0.1, x2: 0.2, y2: 0.2 }, objects: Vec::new(), seen: true }]
        }
    }

    #[test]
    fn a_rule_that_panics_leaves_the_frame_unjudged_and_keeps_working() {
        let mut rule = ZoneRule {
            zone_id: "z".into(),
            kind: ViolationKind::IllegalParking,
            lifecycle: LifecycleParams::default(),
            rule: Box::new(Flaky { frames: 0 }),
            dwell: DwellGate::new(Duration::from_secs(2)),
            schedule: Schedule::always(),
            timezone: chrono_tz::Asia::Shanghai,
            sun: None,
            failures: 0,
        };
        let image = Arc::new(RgbImage::new(4, 4));
        let mut judged = Vec::new();
        for t in 0..6 {
            let observation = Observation { camera: "cam", media_time: Duration::from_secs(t), wall_time: Utc::now(), detections: &[], image: &image };
            let judgement = rule.evaluate(&observation);
            judged.push((judgement.judged, judgement.present.len()));
        }
        assert_eq!(judged, [(true, 0), (false, 0), (true, 1), (false, 0), (true, 1), (false, 0)]);
        assert_eq!(rule.failures, 3);
    }
}
