//! `illegal_parking` (机动车乱停放): a vehicle stationary in the zone for at least `dwell_s`.

use std::time::Duration;

use super::{Candidate, Observation, Rule, ViolationKind, ViolationObject, ZoneArea};
use crate::config::IllegalParkingParams;
use crate::track::{StationaryTracker, TrackerParams};

/// Share of the expected sightings a vehicle must have over the time it has stood: one lucky
/// detection at each end of a long gap is not a parked car.
const MIN_PRESENCE: f64 = 0.3;
/// Fewest sightings before anything is confirmed.
const MIN_SIGHTINGS: u32 = 3;

pub struct IllegalParking {
    zone: ZoneArea,
    params: IllegalParkingParams,
    tracker: StationaryTracker,
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
        IllegalParking { zone, params, tracker, frame_interval: None, last_time: None }
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

    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Candidate> {
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
        // A vehicle that has stood still (enough sightings for how long it has stood) is a
        // candidate; the shared dwell gate decides when it has stood long enough.
        self.tracker
            .objects()
            .iter()
            .filter(|object| self.enough_sightings(object.hits, object.dwell()))
            .map(|object| Candidate {
                key: object.id,
                since: object.first_seen,
                bbox: object.last_box,
                objects: vec![ViolationObject { role: object.role.clone(), class: object.class.clone(), confidence: object.confidence, bbox: object.last_box }],
                seen: object.last_seen == now,
            })
            .collect()
    }
}
