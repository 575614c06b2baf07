//! Track: objects over time. These violations are about things that *stay*, so identity comes
//! from spatial persistence against remembered objects — tolerant of missed detections and
//! occlusion — rather than from a motion model.
//!
//! `stationary` holds the memory and its matching; geometry helpers live in `crate::geometry`.

mod stationary;

pub use stationary::{StationaryObject, StationaryTracker, TrackerParams};
