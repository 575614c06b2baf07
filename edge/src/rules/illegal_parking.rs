//! `illegal_parking` (机动车乱停放): a vehicle stationary in the zone for at least `dwell_s`.

use std::collections::HashSet;
use std::time::Duration;

use super::{Finding, FindingObject, Observation, Rule, ViolationKind, ZoneArea};
use crate::config::IllegalParkingParams;
use crate::track::{StationaryTracker, TrackerParams};

/// Share of the expected sightings a vehicle must have over its dwell: one lucky detection at
/// each end of the dwell is not a parked car.
const MIN_PRESENCE: f64 = 0.3;
/// Fewest sightings before anything is confirmed.
const MIN_SIGHTINGS: u32 = 3;

pub struct IllegalParking {
    zone: ZoneArea,
    params: IllegalParkingParams,
    tracker: StationaryTracker,
    /// Tracked objects already reported: one incident per vehicle.
    reported: HashSet<u64>,
    /// Media time of the previous frame, to estimate the analysis rate.
    frame_interval: Option<Duration>,
    last_time: Option<Duration>,
}

impl IllegalParking {
    pub fn new(zone: ZoneArea, params: IllegalParkingParams) -> Self {
        let tracker = StationaryTracker::new(TrackerParams {
            iou_threshold: params.iou_threshold as f32,
            miss_tolerance: Duration::from_secs_f64(params.miss_tolerance_s),
        });
        IllegalParking { zone, params, tracker, reported: HashSet::new(), frame_interval: None, last_time: None }
    }

    fn enough_sightings(&self, hits: u32, dwell: Duration) -> bool {
        let expected = match self.frame_interval {
            Some(interval) if !interval.is_zero() => dwell.as_secs_f64() / interval.as_secs_f64(),
            _ => 0.0,
        };
        hits >= MIN_SIGHTINGS && f64::from(hits) >= MIN_PRESENCE * expected
    }
}

impl Rule for IllegalParking {
    fn kind(&self) -> ViolationKind {
        ViolationKind::IllegalParking
    }

    fn zone_id(&self) -> &str {
        &self.zone.id
    }

    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Finding> {
        let now = observation.media_time;
        if let Some(last) = self.last_time
            && now > last
        {
            let step = now - last;
            self.frame_interval = Some(self.frame_interval.map_or(step, |i| i.min(step)));
        }
        self.last_time = Some(now);

        let vehicles = self.zone.select(observation.detections, "vehicle", self.params.min_confidence as f32);
        self.tracker.update(now, &vehicles);
        let dwell_needed = Duration::from_secs_f64(self.params.dwell_s);
        let mut findings = Vec::new();
        let mut confirmed = Vec::new();
        for object in self.tracker.objects() {
            if object.dwell() < dwell_needed || self.reported.contains(&object.id) || !self.enough_sightings(object.hits, object.dwell()) {
                continue;
            }
            confirmed.push(object.id);
            let since_first = chrono::Duration::from_std(now.saturating_sub(object.first_seen)).unwrap_or_default();
            tracing::info!(camera = observation.camera, zone = %self.zone.id, object = object.id, class = %object.class, dwell_s = object.dwell().as_secs_f64(), "vehicle parked past dwell");
            findings.push(Finding {
                kind: ViolationKind::IllegalParking,
                camera: observation.camera.to_string(),
                zone_id: self.zone.id.clone(),
                bbox: object.last_box,
                objects: vec![FindingObject { role: object.role.clone(), class: object.class.clone(), confidence: object.confidence, bbox: object.last_box }],
                first_seen: observation.wall_time - since_first,
                confirmed_at: observation.wall_time,
                dwell: object.dwell(),
            });
        }
        self.reported.extend(confirmed);
        let alive: HashSet<u64> = self.tracker.objects().iter().map(|o| o.id).collect();
        self.reported.retain(|id| alive.contains(id));
        findings
    }
}
