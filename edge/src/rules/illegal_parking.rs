//! `illegal_parking` (机动车乱停放): a vehicle stationary in the zone for at least `dwell_s`.

use std::time::Duration;

use super::{Candidate, Observation, Rule, ViolationKind, ZoneArea};
use crate::config::IllegalParkingParams;
use crate::track::{StationaryTracker, TrackerParams};

pub struct IllegalParking {
    zone: ZoneArea,
    params: IllegalParkingParams,
    tracker: StationaryTracker,
}

impl IllegalParking {
    pub fn new(zone: ZoneArea, params: IllegalParkingParams) -> Self {
        let tracker = StationaryTracker::new(TrackerParams {
            iou_threshold: params.iou_threshold as f32,
            miss_tolerance: Duration::from_secs_f64(params.miss_tolerance_s),
        });
        IllegalParking { zone, params, tracker }
    }
}

impl Rule for IllegalParking {
    fn kind(&self) -> ViolationKind {
        ViolationKind::IllegalParking
    }

    fn observe(&mut self, observation: &Observation<'_>) -> Vec<Candidate> {
        let now = observation.media_time;

        let vehicles = self.zone.select(observation.detections, "vehicle", self.params.min_confidence as f32);
        self.tracker.update(now, &vehicles);
        // A vehicle that has stood still (enough sightings for how long it has stood) is a
        // candidate; the shared dwell gate decides when it has stood long enough.
        self.tracker
            .objects()
            .iter()
            .filter(|object| self.tracker.is_steady(object))
            .map(|object| Candidate::of_object(object, now))
            .collect()
    }
}
