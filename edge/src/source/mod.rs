//! Source: one GStreamer pipeline per camera, producing [`Frame`]s at the analysis rate.
//!
//! `template` picks the pipeline template for the hardware (`pipelines/`) and fills it;
//! `frame` is what leaves the source; `clip` keeps the last seconds of the encoded stream for
//! evidence clips; `snapshot` grabs one still for the operator; `health` is the camera state
//! others can read; `supervisor` runs a camera's pipeline, restarts it with backoff when it
//! fails or stalls, and loops files when asked.

mod clip;
mod frame;
mod health;
mod snapshot;
mod supervisor;
mod template;

pub use clip::{ClipRing, EncodedClip};
pub use frame::Frame;
pub use health::{CameraHealth, CameraState, HealthBoard};
pub use snapshot::{SnapshotError, grab_frame};
pub use supervisor::{CameraSource, SourceExit, run_camera};
pub use template::{PipelineTemplate, TemplateError, TemplateParams};
