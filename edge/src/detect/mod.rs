//! Detection: a model manifest, ONNX Runtime inference and the decoding of its output tensors
//! into [`Detection`]s in normalised image coordinates.
//!
//! `manifest` reads `models/NAME.toml`; `runtime_lib` finds the ONNX Runtime library;
//! `letterbox` maps between model-input pixels and the image; `nanodet` decodes NanoDet heads
//! (pure functions); `detector` owns the `ort` session; `batch_queue` feeds it batches from all
//! cameras, fairly and with bounded memory.

mod batch_queue;
mod detector;
mod faces;
mod letterbox;
mod manifest;
mod nanodet;
mod runtime_lib;

pub use batch_queue::{BatchPolicy, BatchQueue, Producer};
pub use detector::{Detection, Detector, DetectorError};
pub use faces::{FACE_GROWTH, FaceBlurrer, FaceError, obscure_face};
pub use letterbox::Letterbox;
pub use manifest::{Manifest, ManifestError, default_manifest_path};
pub use nanodet::{RawBox, decode_nanodet, nms_per_class};
pub use runtime_lib::{RuntimeLibError, find_onnxruntime};
