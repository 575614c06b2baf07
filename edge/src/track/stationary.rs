//! Memory of stationary objects: a detection that overlaps a remembered box (IoU ≥ threshold)
//! is the same object, still there; an object unseen for longer than the miss tolerance is
//! forgotten. Dwell is measured on media time.

use std::sync::Arc;
use std::time::Duration;

use crate::detect::Detection;
use crate::geometry::{BBox, iou};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    pub iou_threshold: f32,
    pub miss_tolerance: Duration,
}

/// One remembered object.
#[derive(Debug, Clone, PartialEq)]
pub struct StationaryObject {
    /// Unique within one tracker.
    pub id: u64,
    pub role: Option<Arc<str>>,
    pub class: Arc<str>,
    /// Where the object stands: starts at the first box and follows the detections slowly,
    /// so jitter is absorbed but a moving object falls out of it.
    pub anchor: BBox,
    pub last_box: BBox,
    pub confidence: f32,
    pub first_seen: Duration,
    pub last_seen: Duration,
    pub hits: u32,
}

impl StationaryObject {
    /// How long the object has stood there, first sighting to last.
    pub fn dwell(&self) -> Duration {
        self.last_seen.saturating_sub(self.first_seen)
    }
}

/// How strongly the anchor follows each new matched detection.
const ANCHOR_FOLLOW: f32 = 0.1;

/// Share of the expected sightings a steady object has over the time it has stood: one lucky
/// detection at each end of a long gap is not a parked car.
const MIN_PRESENCE: f64 = 0.3;
/// Fewest sightings before an object counts as steady.
const MIN_SIGHTINGS: u32 = 3;

#[derive(Debug)]
pub struct StationaryTracker {
    params: TrackerParams,
    objects: Vec<StationaryObject>,
    next_id: u64,
    /// The shortest step between updates seen so far: the analysis rate.
    frame_interval: Option<Duration>,
    last_update: Option<Duration>,
}

impl StationaryTracker {
    pub fn new(params: TrackerParams) -> Self {
        StationaryTracker { params, objects: Vec::new(), next_id: 1, frame_interval: None, last_update: None }
    }

    /// Whether `object` has been seen in enough of the frames since it appeared to be a real,
    /// standing object rather than a few scattered false detections.
    pub fn is_steady(&self, object: &StationaryObject) -> bool {
        let expected = match self.frame_interval {
            Some(interval) if !interval.is_zero() => object.dwell().as_secs_f64() / interval.as_secs_f64(),
            _ => 0.0,
        };
        object.hits >= MIN_SIGHTINGS && f64::from(object.hits) >= MIN_PRESENCE * expected
    }

    pub fn objects(&self) -> &[StationaryObject] {
        &self.objects
    }

    /// Feeds the detections of one frame at media time `now`. Returns the ids of objects seen
    /// in this frame.
    pub fn update(&mut self, now: Duration, detections: &[&Detection]) -> Vec<u64> {
        if let Some(last) = self.last_update
            && now > last
        {
            let step = now - last;
            self.frame_interval = Some(self.frame_interval.map_or(step, |i| i.min(step)));
        }
        self.last_update = Some(now);
        // Greedy matching, best overlaps first.
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (d, det) in detections.iter().enumerate() {
            for (o, obj) in self.objects.iter().enumerate() {
                let overlap = iou(&obj.anchor, &det.bbox);
                if overlap >= self.params.iou_threshold {
                    pairs.push((overlap, d, o));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut det_used = vec![false; detections.len()];
        let mut obj_used = vec![false; self.objects.len()];
        let mut seen = Vec::new();
        for (_, d, o) in pairs {
            if det_used[d] || obj_used[o] {
                continue;
            }
            det_used[d] = true;
            obj_used[o] = true;
            let det = detections[d];
            let obj = &mut self.objects[o];
            obj.anchor = follow(&obj.anchor, &det.bbox);
            obj.last_box = det.bbox;
            obj.last_seen = now;
            obj.hits += 1;
            obj.confidence = obj.confidence.max(det.confidence);
            obj.class = det.class.clone();
            seen.push(obj.id);
        }
        // Unmatched detections become new objects — unless they overlap an object seen in
        // this very frame: the detector may report one van as both `car` and `truck`.
        let mut unmatched: Vec<&Detection> = detections.iter().enumerate().filter(|(d, _)| !det_used[*d]).map(|(_, det)| *det).collect();
        unmatched.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        for det in unmatched {
            let duplicate = self.objects.iter().any(|o| o.last_seen == now && seen.contains(&o.id) && iou(&o.last_box, &det.bbox) >= self.params.iou_threshold);
            if duplicate {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.objects.push(StationaryObject {
                id,
                role: det.role.clone(),
                class: det.class.clone(),
                anchor: det.bbox,
                last_box: det.bbox,
                confidence: det.confidence,
                first_seen: now,
                last_seen: now,
                hits: 1,
            });
            seen.push(id);
        }
        let tolerance = self.params.miss_tolerance;
        self.objects.retain(|obj| now.saturating_sub(obj.last_seen) <= tolerance);
        seen
    }
}

fn follow(anchor: &BBox, seen: &BBox) -> BBox {
    let mix = |a: f32, b: f32| a + (b - a) * ANCHOR_FOLLOW;
    BBox::new(mix(anchor.x1, seen.x1), mix(anchor.y1, seen.y1), mix(anchor.x2, seen.x2), mix(anchor.y2, seen.y2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn car(x: f32) -> Detection {
        Detection { class_id: 2, class: "car".into(), role: Some("vehicle".into()), confidence: 0.8, bbox: BBox::new(x, 0.5, x + 0.1, 0.6) }
    }
    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }
    const PARAMS: TrackerParams = TrackerParams { iou_threshold: 0.5, miss_tolerance: Duration::from_secs(30) };

    #[test]
    fn a_parked_car_keeps_its_identity_through_a_long_miss() {
        let mut t = StationaryTracker::new(PARAMS);
        let parked = car(0.2);
        let first = t.update(secs(0.0), &[&parked]);
        t.update(secs(10.0), &[&parked]);
        t.update(secs(35.0), &[]); // hidden by a bus for 25 s
        let again = t.update(secs(39.0), &[&parked]);
        assert_eq!(first, again);
        assert_eq!(t.objects()[0].dwell(), secs(39.0));
    }

    #[test]
    fn scattered_detections_are_not_steady() {
        let mut t = StationaryTracker::new(PARAMS);
        for step in 0..40 {
            let seen: Vec<Detection> = if step % 10 == 0 { vec![car(0.2)] } else { Vec::new() };
            t.update(secs(step as f64 * 0.5), &seen.iter().collect::<Vec<_>>());
        }
        assert!(!t.is_steady(&t.objects()[0]), "4 sightings in 20 s at 2 fps");
        let mut steady = StationaryTracker::new(PARAMS);
        for step in 0..40 {
            steady.update(secs(step as f64 * 0.5), &[&car(0.2)]);
        }
        assert!(steady.is_steady(&steady.objects()[0]));
    }

    #[test]
    fn an_object_unseen_beyond_the_tolerance_is_forgotten() {
        let mut t = StationaryTracker::new(PARAMS);
        let first = t.update(secs(0.0), &[&car(0.2)]);
        t.update(secs(31.0), &[]);
        assert!(t.objects().is_empty());
        let later = t.update(secs(32.0), &[&car(0.2)]);
        assert_ne!(first, later);
        assert_eq!(t.objects()[0].dwell(), Duration::ZERO);
    }

    #[test]
    fn a_moving_car_never_accumulates_dwell() {
        let mut t = StationaryTracker::new(PARAMS);
        for step in 0..40 {
            t.update(secs(step as f64 * 0.5), &[&car(0.05 * step as f32 / 2.0)]);
        }
        assert!(t.objects().iter().all(|o| o.dwell() < secs(1.0)), "{:?}", t.objects());
    }

    #[test]
    fn one_vehicle_reported_under_two_classes_is_one_object() {
        let mut t = StationaryTracker::new(PARAMS);
        let as_car = car(0.2);
        let as_truck = Detection { class_id: 7, class: "truck".into(), confidence: 0.5, bbox: BBox::new(0.201, 0.5, 0.101 + 0.2, 0.601), ..car(0.2) };
        for step in 0..5 {
            t.update(secs(step as f64), &[&as_truck, &as_car]);
        }
        assert_eq!(t.objects().len(), 1, "{:?}", t.objects());
        assert_eq!(t.objects()[0].hits, 5);
    }

    #[test]
    fn a_car_passing_a_parked_car_does_not_steal_its_identity() {
        let mut t = StationaryTracker::new(PARAMS);
        let parked = car(0.5);
        let id = t.update(secs(0.0), &[&parked])[0];
        for step in 0..20 {
            let passing = car(0.3 + 0.02 * step as f32);
            t.update(secs(1.0 + step as f64 * 0.5), &[&parked, &passing]);
        }
        let parked_now = t.objects().iter().find(|o| o.id == id).expect("parked car remembered");
        assert!(parked_now.dwell() >= secs(10.0));
        assert!(iou(&parked_now.anchor, &parked.bbox) > 0.9);
    }
}
