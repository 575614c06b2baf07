//! The detector: one ONNX Runtime session for one model, fed letterboxed model-input frames.

use std::sync::{Arc, OnceLock};

use ort::session::Session;
use ort::value::TensorRef;

use super::letterbox::Letterbox;
use super::manifest::Manifest;
use super::nanodet::{RawBox, decode_nanodet, nms_per_class};
use super::runtime_lib::{RuntimeLibError, find_onnxruntime};
use crate::geometry::BBox;

#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    #[error(transparent)]
    RuntimeLib(#[from] RuntimeLibError),
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    LoadRuntime { path: String, message: String },
    #[error("cannot load model {path}: {message}")]
    LoadModel { path: String, message: String },
    #[error("model {model} does not match its manifest: {message}")]
    Mismatch { model: String, message: String },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("model input has {got} bytes, expected {expected} ({w}×{h}×3)")]
    InputSize { got: usize, expected: usize, w: u32, h: u32 },
}

/// One detected object, in normalised image coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub class_id: usize,
    pub class: Arc<str>,
    /// What the rules call it (`vehicle`, `person`, …), from the manifest's role map.
    pub role: Option<Arc<str>>,
    pub confidence: f32,
    pub bbox: BBox,
}

/// Which outputs carry one stride's head.
#[derive(Debug)]
struct Head {
    stride: u32,
    side: usize,
    scores: String,
    distributions: String,
}

/// Owns the `ort` session for one model. Not shared between threads: one detector thread feeds it.
pub struct Detector {
    session: Session,
    manifest: Manifest,
    class_names: Vec<Arc<str>>,
    roles: Vec<Option<Arc<str>>>,
    heads: Vec<Head>,
    /// Most frames one run takes: the model's fixed batch size, or unlimited when dynamic.
    batch_limit: Option<usize>,
    input: Vec<f32>,
}

static RUNTIME: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

pub(super) fn environment() -> Result<&'static ort::environment::Environment, DetectorError> {
    let result = RUNTIME.get_or_init(|| {
        let path = find_onnxruntime().map_err(|e| e.to_string())?;
        let builder = ort::init_from(&path).map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
        builder.with_name("steward").build().map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", path.display()))
    });
    result.as_ref().map_err(|message| DetectorError::LoadRuntime { path: "(see message)".into(), message: message.clone() })
}

impl Detector {
    /// Loads the model named by `manifest`, with `threads` intra-op threads.
    pub fn new(manifest: Manifest, threads: usize) -> Result<Detector, DetectorError> {
        let env = environment()?;
        let model_path = manifest.model_path();
        let load_error = |message: String| DetectorError::LoadModel { path: model_path.display().to_string(), message };
        let session = Session::builder(env)
            .map_err(|e| load_error(e.to_string()))?
            .with_intra_threads(threads)
            .map_err(|e| load_error(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| load_error(e.to_string()))?
            // Idle ONNX Runtime threads sleep instead of spinning: the same cores decode video.
            // Measured end to end (10 cameras of 1080p25, 2 cores): 1.99 → 1.70 cores, and the
            // cameras went from falling behind to holding 1.00 fps.
            .with_intra_op_spinning(false)
            .map_err(|e| load_error(e.to_string()))?
            .commit_from_file(&model_path)
            .map_err(|e| load_error(e.to_string()))?;
        let heads = match_heads(&session, &manifest)?;
        let batch_limit = match session.inputs().first().and_then(|i| i.dtype().tensor_shape().map(|s| s[0])) {
            Some(n) if n > 0 => Some(n as usize),
            _ => None,
        };
        let class_names = manifest.classes.names.iter().map(|n| Arc::<str>::from(n.as_str())).collect();
        let roles = manifest.class_roles().into_iter().map(|r| r.map(|r| Arc::<str>::from(r.as_str()))).collect();
        let input = vec![0f32; 3 * (manifest.input.width * manifest.input.height) as usize];
        Ok(Detector { session, manifest, class_names, roles, heads, batch_limit, input })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Most frames one run takes, when the model's batch size is fixed (`Some(1)` for a model
    /// exported with batch 1); `None` when the batch dimension is dynamic.
    pub fn batch_limit(&self) -> Option<usize> {
        self.batch_limit
    }

    /// Detects objects in one model-input frame: packed pixels, `width × height × 3`, in the
    /// manifest's channel order, letterboxed as `letterbox` says.
    pub fn detect(&mut self, pixels: &[u8], letterbox: &Letterbox) -> Result<Vec<Detection>, DetectorError> {
        Ok(self.detect_batch(&[(pixels, letterbox)])?.pop().unwrap_or_default())
    }

    /// Detects objects in several frames (from any cameras) with as few runs as the model
    /// allows: one run for a dynamic batch dimension. Results are in the order of `frames`.
    pub fn detect_batch(&mut self, frames: &[(&[u8], &Letterbox)]) -> Result<Vec<Vec<Detection>>, DetectorError> {
        let pixels: Vec<&[u8]> = frames.iter().map(|(p, _)| *p).collect();
        let raw = self.detect_raw_batch(&pixels)?;
        Ok(raw
            .into_iter()
            .zip(frames)
            .map(|(boxes, (_, letterbox))| {
                boxes
                    .into_iter()
                    .map(|b| Detection {
                        class_id: b.class_id,
                        class: self.class_names[b.class_id].clone(),
                        role: self.roles[b.class_id].clone(),
                        confidence: b.score,
                        bbox: letterbox.to_image(b.x1, b.y1, b.x2, b.y2),
                    })
                    .collect()
            })
            .collect())
    }

    /// Boxes in model-input pixels, after NMS (what the Python reference also produces).
    pub fn detect_raw(&mut self, pixels: &[u8]) -> Result<Vec<RawBox>, DetectorError> {
        Ok(self.detect_raw_batch(&[pixels])?.pop().unwrap_or_default())
    }

    /// [`Detector::detect_raw`] for several frames, split into runs of at most the model's
    /// batch size.
    pub fn detect_raw_batch(&mut self, frames: &[&[u8]]) -> Result<Vec<Vec<RawBox>>, DetectorError> {
        let run = self.batch_limit.unwrap_or(frames.len()).max(1);
        let mut results = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(run) {
            results.extend(self.run_once(chunk)?);
        }
        Ok(results)
    }

    /// One session run over `frames` as one batch.
    fn run_once(&mut self, frames: &[&[u8]]) -> Result<Vec<Vec<RawBox>>, DetectorError> {
        let (w, h) = (self.manifest.input.width, self.manifest.input.height);
        let plane = (w * h) as usize;
        let batch = frames.len();
        self.input.resize(batch * 3 * plane, 0.0);
        let (mean, std) = (self.manifest.input.mean, self.manifest.input.std);
        let inv_std = [1.0 / std[0], 1.0 / std[1], 1.0 / std[2]];
        for (pixels, input) in frames.iter().zip(self.input.chunks_exact_mut(3 * plane)) {
            if pixels.len() != plane * 3 {
                return Err(DetectorError::InputSize { got: pixels.len(), expected: plane * 3, w, h });
            }
            let (c0, rest) = input.split_at_mut(plane);
            let (c1, c2) = rest.split_at_mut(plane);
            for (i, px) in pixels.chunks_exact(3).enumerate() {
                c0[i] = (px[0] as f32 - mean[0]) * inv_std[0];
                c1[i] = (px[1] as f32 - mean[1]) * inv_std[1];
                c2[i] = (px[2] as f32 - mean[2]) * inv_std[2];
            }
        }
        let tensor = TensorRef::from_array_view(([batch, 3, h as usize, w as usize], &self.input[..]))
            .map_err(|e| DetectorError::Inference(e.to_string()))?;
        let input_name = self.manifest.input.name.clone();
        let outputs = self
            .session
            .run(ort::inputs![input_name.as_str() => tensor])
            .map_err(|e| DetectorError::Inference(e.to_string()))?;
        let decoder = &self.manifest.decoder;
        let classes = self.manifest.classes.names.len();
        let mut boxes = vec![Vec::new(); batch];
        for head in &self.heads {
            let (_, scores) = outputs[head.scores.as_str()].try_extract_tensor::<f32>().map_err(|e| DetectorError::Inference(e.to_string()))?;
            let (_, dists) = outputs[head.distributions.as_str()].try_extract_tensor::<f32>().map_err(|e| DetectorError::Inference(e.to_string()))?;
            let (score_len, dist_len) = (scores.len() / batch, dists.len() / batch);
            for (b, found) in boxes.iter_mut().enumerate() {
                let scores = &scores[b * score_len..(b + 1) * score_len];
                let dists = &dists[b * dist_len..(b + 1) * dist_len];
                decode_nanodet(scores, dists, classes, decoder.bins, head.stride, head.side, decoder.score_threshold, found);
            }
        }
        Ok(boxes.into_iter().map(|found| nms_per_class(found, decoder.nms_iou)).collect())
    }
}

/// Tells the outputs apart by shape: `[batch, cells, classes]` scores and `[batch, cells, 4·bins]`
/// distributions, where `cells = (input / stride)²`.
fn match_heads(session: &Session, manifest: &Manifest) -> Result<Vec<Head>, DetectorError> {
    let classes = manifest.classes.names.len() as i64;
    let dist_len = 4 * manifest.decoder.bins as i64;
    let mismatch = |message: String| DetectorError::Mismatch { model: manifest.name.clone(), message };
    let shapes: Vec<(String, Vec<i64>)> = session
        .outputs()
        .iter()
        .map(|o| (o.name().to_string(), o.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default()))
        .collect();
    let mut heads = Vec::new();
    for &stride in &manifest.decoder.strides {
        if manifest.input.width != manifest.input.height || manifest.input.width % stride != 0 {
            return Err(mismatch(format!("input {}×{} is not square or not divisible by stride {stride}", manifest.input.width, manifest.input.height)));
        }
        let side = (manifest.input.width / stride) as usize;
        let cells = (side * side) as i64;
        let find = |last: i64| shapes.iter().find(|(_, shape)| shape.len() == 3 && shape[1] == cells && shape[2] == last).map(|(n, _)| n.clone());
        let scores = find(classes).ok_or_else(|| mismatch(format!("no output shaped [1, {cells}, {classes}] for stride {stride}; outputs: {shapes:?}")))?;
        let distributions = find(dist_len).ok_or_else(|| mismatch(format!("no output shaped [1, {cells}, {dist_len}] for stride {stride}; outputs: {shapes:?}")))?;
        heads.push(Head { stride, side, scores, distributions });
    }
    Ok(heads)
}
