//! `street_vending` (占道经营 / 无照经营游商): a stall — a `vendor_stall`-role object (for the
//! COCO model: umbrella, dining table, bench, bicycle used as a cart, …), or any static
//! foreground object the model has no class for — standing in the zone with at least
//! `min_persons` people at it, the two staying together.
//!
//! Static foreground objects come from the same change detection as `exposed_waste` (a
//! persistent change against the zone's learned empty picture that no person or vehicle
//! explains), composed here rather than copied.

use std::collections::HashMap;
use std::time::Duration;

use super::exposed_waste::{ExposedWaste, ExposedWasteError};
use super::{Candidate, Observation, Rule, ViolationKind, ViolationObject, ZoneArea};
use crate::config::{ExposedWasteParams, StreetVendingParams};
use crate::detect::Detection;
use crate::geometry::BBox;
use crate::track::{StationaryTracker, TrackerParams};

pub struct StreetVending {
    zone: ZoneArea,
    params: StreetVendingParams,
    stalls: StationaryTracker,
    /// Per stall: since when it has been attended, and when it last was.
    attended: HashMap<u64, (Duration, Duration)>,
    /// Finds static foreground objects, when `static_objects` is on.
    foreground: Option<ExposedWaste>,
}

/// The class given to a stall found as a static foreground object.
const STATIC_OBJECT: &str = "static object";

impl StreetVending {
    pub fn new(zone: ZoneArea, params: StreetVendingParams) -> Result<Self, ExposedWasteError> {
        Self::with_foreground(zone, params, ExposedWasteParams::default())
    }

    /// As [`StreetVending::new`], with the change-detection settings for static objects.
    pub fn with_foreground(zone: ZoneArea, params: StreetVendingParams, foreground: ExposedWasteParams) -> Result<Self, ExposedWasteError> {
        let stalls = StationaryTracker::new(TrackerParams {
            iou_threshold: params.iou_threshold as f32,
            miss_tolerance: Duration::from_secs_f64(params.miss_tolerance_s),
        });
        let foreground = if params.static_objects { Some(ExposedWaste::new(zone.clone(), foreground)?) } else { None };
        Ok(StreetVending { zone, params, stalls, attended: HashMap::new(), foreground })
    }

    /// Stall sightings of this frame: stall-role detections in the zone, and static objects.
    fn stall_sightings(&mut self, observation: &Observation<'_>) -> Vec<Detection> {
        let mut stalls: Vec<Detection> = self.zone.select(observation.detections, "vendor_stall", self.params.min_confidence as f32).into_iter().cloned().collect();
        if let Some(foreground) = self.foreground.as_mut() {
            stalls.extend(foreground.observe(observation).into_iter().filter(|c| c.seen).map(|c| Detection {
                class_id: 0,
                class: STATIC_OBJECT.into(),
                role: Some("vendor_stall".into()),
                confidence: c.objects.first().map_or(0.5, |o| o.confidence),
                bbox: c.bbox,
            }));
        }
        stalls
    }
}

/// Distance from a person's feet to the nearest point of the stall's box.
fn distance_to(stall: &BBox, person: &Detection) -> f32 {
    let (x, y) = person.bbox.bottom_centre();
    let dx = (stall.x1 - x).max(0.0).max(x - stall.x2);
    let dy = (stall.y1 - y).max(0.0).max(y - stall.y2);
    (dx * dx + dy * dy).sqrt()
}

impl Rule for StreetVending {
    fn kind(&self) -> ViolationKind {
        ViolationKind::StreetVending
    }

    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Candidate> {
        let now = observation.media_time;
        let min_confidence = self.params.min_confidence as f32;
        let stalls = self.stall_sightings(observation);
        self.stalls.update(now, &stalls.iter().collect::<Vec<_>>());
        let people: Vec<&Detection> = observation.detections.iter().filter(|d| d.role.as_deref() == Some("person") && d.confidence >= min_confidence).collect();
        let tolerance = Duration::from_secs_f64(self.params.miss_tolerance_s);
        let mut candidates = Vec::new();
        for stall in self.stalls.objects().iter().filter(|s| self.stalls.is_steady(s)) {
            let vendors: Vec<&Detection> = people.iter().copied().filter(|p| distance_to(&stall.last_box, p) <= self.params.reach as f32).collect();
            let attended_now = stall.last_seen == now && vendors.len() >= self.params.min_persons as usize;
            let entry = self.attended.get(&stall.id).copied();
            let state = match (entry, attended_now) {
                (Some((since, _)), true) => Some((since, now)),
                (None, true) => Some((now, now)),
                (Some((since, last)), false) if now.saturating_sub(last) <= tolerance => Some((since, last)),
                _ => None,
            };
            let Some((since, last)) = state else {
                self.attended.remove(&stall.id);
                continue;
            };
            self.attended.insert(stall.id, (since, last));
            let mut objects = vec![ViolationObject { role: stall.role.clone(), class: stall.class.clone(), confidence: stall.confidence, bbox: stall.last_box }];
            objects.extend(vendors.iter().map(|p| ViolationObject { role: p.role.clone(), class: p.class.clone(), confidence: p.confidence, bbox: p.bbox }));
            candidates.push(Candidate { key: stall.id, since, bbox: stall.last_box, objects, seen: stall.last_seen == now });
        }
        let alive: Vec<u64> = self.stalls.objects().iter().map(|s| s.id).collect();
        self.attended.retain(|id, _| alive.contains(id));
        candidates
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use image::RgbImage;

    use super::*;
    use crate::geometry::Polygon;

    fn detection(role: &str, class: &str, bbox: BBox) -> Detection {
        Detection { class_id: 0, class: class.into(), role: Some(role.into()), confidence: 0.7, bbox }
    }

    fn run(frames: &[(u64, Vec<Detection>)]) -> Vec<Vec<Candidate>> {
        let zone = ZoneArea { id: "square".into(), polygon: Polygon::new(vec![(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]) };
        let params = StreetVendingParams { static_objects: false, ..StreetVendingParams::default() };
        let mut rule = StreetVending::new(zone, params).unwrap();
        let image = Arc::new(RgbImage::new(8, 8));
        frames
            .iter()
            .map(|(t, detections)| {
                rule.observe(&Observation { camera: "cam", media_time: Duration::from_secs(*t), wall_time: chrono::Utc::now(), detections, image: &image })
            })
            .collect()
    }

    const STALL: BBox = BBox { x1: 0.40, y1: 0.40, x2: 0.50, y2: 0.50 };
    const VENDOR: BBox = BBox { x1: 0.51, y1: 0.35, x2: 0.54, y2: 0.50 };
    const FAR: BBox = BBox { x1: 0.70, y1: 0.60, x2: 0.73, y2: 0.75 };

    #[test]
    fn a_stall_with_a_person_at_it_is_a_candidate_since_they_were_first_together() {
        let frames: Vec<(u64, Vec<Detection>)> = (0..10)
            .map(|t| {
                let mut d = vec![detection("vendor_stall", "umbrella", STALL)];
                if t >= 3 {
                    d.push(detection("person", "person", VENDOR));
                }
                (t, d)
            })
            .collect();
        let out = run(&frames);
        assert!(out[2].is_empty(), "an unattended stall is not vending");
        assert_eq!(out[9].len(), 1);
        assert_eq!(out[9][0].since, Duration::from_secs(3));
        assert_eq!(out[9][0].objects.len(), 2);
    }

    #[test]
    fn people_passing_far_from_the_stall_do_not_make_it_vending() {
        let frames: Vec<(u64, Vec<Detection>)> = (0..10).map(|t| (t, vec![detection("vendor_stall", "bench", STALL), detection("person", "person", FAR)])).collect();
        assert!(run(&frames).iter().all(Vec::is_empty));
    }

    /// Real staged frames: the spot empty at 10 s, a bicycle and its vendor at 40 s. The model's
    /// bicycle detection is withheld, so only the static-object path can find the stall.
    #[test]
    fn a_stall_the_model_cannot_name_is_found_as_a_static_object() {
        let frames = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/staged/frames");
        let load = |name: &str| Arc::new(image::open(format!("{frames}/{name}")).unwrap().to_rgb8());
        let (empty, stall) = (load("vending-t10.png"), load("vending-t40.png"));
        let zone = ZoneArea { id: "stall-spot".into(), polygon: Polygon::new(vec![(0.60, 0.46), (0.82, 0.46), (0.82, 0.62), (0.60, 0.62)]) };
        let learn = ExposedWasteParams { learn_s: 2.0, ..ExposedWasteParams::default() };
        let vendor = detection("person", "person", BBox::new(0.7370, 0.3976, 0.7826, 0.5538));
        for (with_vendor, expected) in [(true, 1), (false, 0)] {
            let mut rule = StreetVending::with_foreground(zone.clone(), StreetVendingParams::default(), learn.clone()).unwrap();
            let mut last = Vec::new();
            for step in 0..12u64 {
                let (image, detections) = if step < 6 { (&empty, Vec::new()) } else if with_vendor { (&stall, vec![vendor.clone()]) } else { (&stall, Vec::new()) };
                let time = Duration::from_millis(500 * step);
                last = rule.observe(&Observation { camera: "cam", media_time: time, wall_time: chrono::Utc::now(), detections: &detections, image });
            }
            assert_eq!(last.len(), expected, "with vendor: {with_vendor}: {last:?}");
            if let Some(found) = last.first() {
                assert_eq!(&*found.objects[0].class, STATIC_OBJECT);
                let bike = BBox::new(0.6094, 0.4375, 0.7383, 0.5486);
                assert!(crate::geometry::iou(&found.bbox, &bike) > 0.3, "{:?}", found.bbox);
            }
        }
    }

    #[test]
    fn a_vendor_stepping_away_briefly_keeps_the_dwell() {
        let frames: Vec<(u64, Vec<Detection>)> = (0..60)
            .map(|t| {
                let mut d = vec![detection("vendor_stall", "umbrella", STALL)];
                if !(20..40).contains(&t) {
                    d.push(detection("person", "person", VENDOR));
                }
                (t, d)
            })
            .collect();
        let out = run(&frames);
        assert_eq!(out[59][0].since, Duration::from_secs(2), "attended since the stall was steady (third sighting), through the 20 s away");
    }
}
