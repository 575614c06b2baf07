//! Dwell, shared by every rule: a candidate becomes a violation once it has lasted `dwell`
//! seconds of media time. The picture at its first sighting is kept for the evidence pack.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use image::RgbImage;

use super::{Candidate, Observation, ViolationObject};
use crate::geometry::BBox;

/// A violation present in this frame, past its dwell.
#[derive(Debug, Clone)]
pub struct Violation {
    pub bbox: BBox,
    pub objects: Vec<ViolationObject>,
    pub first_seen: DateTime<Utc>,
    /// The frame at first sight, for evidence.
    pub first_image: Arc<RgbImage>,
    pub dwell: Duration,
}

struct FirstSight {
    wall_time: DateTime<Utc>,
    image: Arc<RgbImage>,
}

pub struct DwellGate {
    dwell: Duration,
    first_sights: HashMap<u64, FirstSight>,
}

impl DwellGate {
    pub fn new(dwell: Duration) -> Self {
        DwellGate { dwell, first_sights: HashMap::new() }
    }

    /// Keeps the candidates seen now that have lasted long enough; remembers first sightings of
    /// new ones and forgets those no longer reported.
    pub fn pass(&mut self, candidates: Vec<Candidate>, observation: &Observation<'_>) -> Vec<Violation> {
        let now = observation.media_time;
        self.first_sights.retain(|key, _| candidates.iter().any(|c| c.key == *key));
        let mut present = Vec::new();
        for candidate in candidates {
            let sight = self.first_sights.entry(candidate.key).or_insert_with(|| {
                let back = chrono::Duration::from_std(now.saturating_sub(candidate.since)).unwrap_or_default();
                FirstSight { wall_time: observation.wall_time - back, image: observation.image.clone() }
            });
            let lasted = now.saturating_sub(candidate.since);
            if candidate.seen && lasted >= self.dwell {
                present.push(Violation {
                    bbox: candidate.bbox,
                    objects: candidate.objects,
                    first_seen: sight.wall_time,
                    first_image: sight.image.clone(),
                    dwell: lasted,
                });
            }
        }
        present
    }
}
