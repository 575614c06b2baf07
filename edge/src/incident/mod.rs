//! Incident: a confirmed violation becomes one dispatchable case — the v1 document the
//! platform receives, with its evidence — and is handed to the outbox.
//!
//! `codes` maps kinds to national event codes; `clip` remuxes the encoded stream into an MP4; `document` is the v1 wire format; `evidence`
//! draws and stores the annotated snapshot; `lifecycle` decides when a finding is a new
//! incident and when it is one already open.

mod clip;
mod codes;
mod document;
mod evidence;
mod lifecycle;

pub use clip::write_clip;
pub use codes::{KindCodes, codes_for};
pub use document::*;
pub use evidence::{Annotation, EvidenceFile, write_snapshot};
pub use lifecycle::{IncidentContext, IncidentError, IncidentManager, Moment, OpenIncident, Scope};
