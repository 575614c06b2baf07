//! Face blurring for evidence: finds faces with CenterFace and pixelates them, and nothing else.
//!
//! Only face boxes are touched (grown by [`FACE_GROWTH`]), so vehicle plates, signs and the rest
//! of the picture stay byte-identical. The model and its decoding are described in
//! `models/face-centerface.toml` and `models/README.md` ("Face detector").

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use image::RgbImage;
use image::imageops::{self, FilterType};
use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;

use super::detector::{DetectorError, environment};
use super::manifest::default_manifest_path;
use crate::geometry::{BBox, iou};

/// How much each face box is grown (in width and in height) before it is obscured: hair, ears and
/// chin lie outside the detector's box.
pub const FACE_GROWTH: f32 = 0.2;
/// The obscured box is pixelated into about this many cells along its longer side, then smoothed.
const CELLS_ACROSS: u32 = 6;
/// Evidence is written a few times per incident: one thread, so detection keeps its cores.
const THREADS: usize = 1;
const MANIFEST_FILE: &str = "face-centerface.toml";

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("cannot read face model manifest {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("face model manifest {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Runtime(#[from] DetectorError),
    #[error("cannot load face model {path}: {message}")]
    LoadModel { path: PathBuf, message: String },
    #[error("face model {model} does not match its manifest: {message}")]
    Mismatch { model: String, message: String },
    #[error("face detection failed: {0}")]
    Inference(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaceManifest {
    name: String,
    file: String,
    sha256: String,
    input: FaceInput,
    decoder: FaceDecoder,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaceInput {
    name: String,
    layout: String,
    channels: String,
    mean: [f32; 3],
    std: [f32; 3],
    multiple_of: u32,
    max_side: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaceDecoder {
    kind: String,
    stride: u32,
    heatmap: String,
    scale: String,
    offset: String,
    landmarks: String,
    score_threshold: f32,
    nms_iou: f32,
}

/// Owns the face model's `ort` session. Not shared between threads: the evidence writer owns one.
pub struct FaceBlurrer {
    session: Session,
    manifest: FaceManifest,
    input: Vec<f32>,
}

impl FaceBlurrer {
    /// The bundled face model's manifest: `face-centerface.toml` in the same `models/` directory
    /// as the bundled detector's manifest ([`default_manifest_path`]).
    pub fn default_path() -> Option<PathBuf> {
        let dir = default_manifest_path()?.parent()?.to_path_buf();
        Some(dir.join(MANIFEST_FILE)).filter(|p| p.is_file())
    }

    /// Loads the face model named by the manifest at `manifest_path`.
    pub fn load(manifest_path: &Path) -> Result<FaceBlurrer, FaceError> {
        let manifest = read_manifest(manifest_path)?;
        let model_path = manifest_path.parent().unwrap_or(Path::new(".")).join(&manifest.file);
        let load_error = |message: String| FaceError::LoadModel { path: model_path.clone(), message };
        let session = Session::builder(environment()?)
            .map_err(|e| load_error(e.to_string()))?
            .with_intra_threads(THREADS)
            .map_err(|e| load_error(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| load_error(e.to_string()))?
            .commit_from_file(&model_path)
            .map_err(|e| load_error(e.to_string()))?;
        check_session(&session, &manifest)?;
        Ok(FaceBlurrer { session, manifest, input: Vec::new() })
    }

    pub fn model_name(&self) -> &str {
        &self.manifest.name
    }

    /// sha256 of the .onnx file, as the manifest states it.
    pub fn model_sha256(&self) -> &str {
        &self.manifest.sha256
    }

    /// Faces in `image`, in normalised image coordinates, best first (after NMS).
    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<BBox>, FaceError> {
        let (width, height) = image.dimensions();
        if width == 0 || height == 0 {
            return Ok(Vec::new());
        }
        let spec = &self.manifest.input;
        // Scale down (never up) so the long side fits, then pad right/bottom to the multiple.
        let factor = (spec.max_side as f32 / width.max(height) as f32).min(1.0);
        let (rw, rh) = (((width as f32 * factor).round() as u32).max(1), ((height as f32 * factor).round() as u32).max(1));
        let scaled: Cow<RgbImage> = if (rw, rh) == (width, height) { Cow::Borrowed(image) } else { Cow::Owned(imageops::resize(image, rw, rh, FilterType::Triangle)) };
        let m = spec.multiple_of;
        let (iw, ih) = (rw.div_ceil(m) * m, rh.div_ceil(m) * m);
        let plane = (iw * ih) as usize;
        self.input.clear();
        self.input.resize(3 * plane, 0.0);
        let order = if spec.channels == "bgr" { [2, 1, 0] } else { [0, 1, 2] };
        for (x, y, px) in scaled.enumerate_pixels() {
            let at = (y * iw + x) as usize;
            for (c, &src) in order.iter().enumerate() {
                self.input[c * plane + at] = (px[src] as f32 - spec.mean[c]) / spec.std[c];
            }
        }
        let tensor = TensorRef::from_array_view(([1usize, 3, ih as usize, iw as usize], &self.input[..]))
            .map_err(|e| FaceError::Inference(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.manifest.input.name.as_str() => tensor])
            .map_err(|e| FaceError::Inference(e.to_string()))?;
        let dec = &self.manifest.decoder;
        let (gw, gh) = ((iw / dec.stride) as usize, (ih / dec.stride) as usize);
        let mut planes = Vec::with_capacity(3);
        for (name, channels) in [(&dec.heatmap, 1), (&dec.scale, 2), (&dec.offset, 2)] {
            let (shape, data) = outputs[name.as_str()].try_extract_tensor::<f32>().map_err(|e| FaceError::Inference(e.to_string()))?;
            if shape[..] != [1, channels as i64, gh as i64, gw as i64] {
                return Err(FaceError::Inference(format!("output {name} has shape {shape:?}, expected [1, {channels}, {gh}, {gw}]")));
            }
            planes.push(data);
        }
        let grid = Grid { width: gw, height: gh, stride: dec.stride as f32 };
        let faces = decode_centerface(planes[0], planes[1], planes[2], &grid, dec.score_threshold, (rw as f32, rh as f32));
        Ok(nms(faces, dec.nms_iou).into_iter().map(|(_, b)| b).collect())
    }

    /// Detects the faces in `image` and obscures each one in place; returns how many.
    pub fn blur(&mut self, image: &mut RgbImage) -> Result<usize, FaceError> {
        let faces = self.detect(image)?;
        for face in &faces {
            obscure_face(image, face);
        }
        Ok(faces.len())
    }
}

/// Pixelates `face` (normalised) grown by [`FACE_GROWTH`] into about 6 cells across, then smooths
/// it, so the face is unrecognisable. Pixels outside the grown box are not changed.
pub fn obscure_face(image: &mut RgbImage, face: &BBox) {
    let (width, height) = image.dimensions();
    let (cx, cy) = face.centre();
    let (hw, hh) = (face.width() * (1.0 + FACE_GROWTH) / 2.0, face.height() * (1.0 + FACE_GROWTH) / 2.0);
    // Whole pixels covering the grown box: floor of the start, ceiling of the end.
    let px = |v: f32, size: u32, round: fn(f32) -> f32| round(v * size as f32).clamp(0.0, size as f32) as u32;
    let (x0, y0) = (px(cx - hw, width, f32::floor), px(cy - hh, height, f32::floor));
    let (x1, y1) = (px(cx + hw, width, f32::ceil), px(cy + hh, height, f32::ceil));
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let mut patch = imageops::crop_imm(image, x0, y0, w, h).to_image();
    let cell = w.max(h).div_ceil(CELLS_ACROSS).max(2);
    for by in (0..h).step_by(cell as usize) {
        for bx in (0..w).step_by(cell as usize) {
            let (bw, bh) = (cell.min(w - bx), cell.min(h - by));
            let mut sum = [0u64; 3];
            for y in by..by + bh {
                for x in bx..bx + bw {
                    let p = patch.get_pixel(x, y);
                    (0..3).for_each(|c| sum[c] += p[c] as u64);
                }
            }
            let n = (bw * bh) as u64;
            let mean = image::Rgb([(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]);
            for y in by..by + bh {
                for x in bx..bx + bw {
                    patch.put_pixel(x, y, mean);
                }
            }
        }
    }
    let smooth = imageproc::filter::gaussian_blur_f32(&patch, cell as f32 / 2.0);
    imageops::replace(image, &smooth, x0 as i64, y0 as i64);
}

/// The output grid: `width × height` cells of `stride` input pixels.
struct Grid {
    width: usize,
    height: usize,
    stride: f32,
}

/// CenterFace boxes from the heatmap, scale and offset planes (row-major `[C, h, w]`). Cell
/// `(r, c)` with heat ≥ `threshold` is a face centred at `((c + ox + 0.5)·s, (r + oy + 0.5)·s)`
/// of size `(exp(sw)·s, exp(sh)·s)`, in input pixels; `content` is the unpadded image area there.
/// Returns (score, box normalised to `content`, clipped to it).
fn decode_centerface(heat: &[f32], scale: &[f32], offset: &[f32], grid: &Grid, threshold: f32, content: (f32, f32)) -> Vec<(f32, BBox)> {
    let cells = grid.width * grid.height;
    let (s, (cw, ch)) = (grid.stride, content);
    let mut faces = Vec::new();
    for (i, &score) in heat.iter().enumerate().take(cells) {
        if score < threshold {
            continue;
        }
        let (row, col) = ((i / grid.width) as f32, (i % grid.width) as f32);
        let (box_h, box_w) = (scale[i].exp() * s, scale[cells + i].exp() * s);
        let (y, x) = ((row + offset[i] + 0.5) * s, (col + offset[cells + i] + 0.5) * s);
        let bbox = BBox::new((x - box_w / 2.0) / cw, (y - box_h / 2.0) / ch, (x + box_w / 2.0) / cw, (y + box_h / 2.0) / ch).clamped();
        if bbox.area() > 0.0 {
            faces.push((score, bbox));
        }
    }
    faces
}

/// Greedy NMS: best first, dropping boxes that overlap a kept one by IoU ≥ `threshold`.
fn nms(mut faces: Vec<(f32, BBox)>, threshold: f32) -> Vec<(f32, BBox)> {
    faces.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut kept: Vec<(f32, BBox)> = Vec::new();
    for face in faces {
        if kept.iter().all(|k| iou(&k.1, &face.1) < threshold) {
            kept.push(face);
        }
    }
    kept
}

fn read_manifest(path: &Path) -> Result<FaceManifest, FaceError> {
    let text = std::fs::read_to_string(path).map_err(|source| FaceError::Read { path: path.to_path_buf(), source })?;
    let invalid = |message: String| FaceError::Invalid { path: path.to_path_buf(), message };
    let manifest: FaceManifest = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let (input, dec) = (&manifest.input, &manifest.decoder);
    if dec.kind != "centerface" {
        return Err(invalid(format!("decoder `{}` is not supported; supported: centerface", dec.kind)));
    }
    if input.layout != "nchw" || !matches!(input.channels.as_str(), "bgr" | "rgb") {
        return Err(invalid("input must be layout = \"nchw\" with channels \"bgr\" or \"rgb\"".into()));
    }
    if dec.stride == 0 || input.multiple_of == 0 || input.multiple_of % dec.stride != 0 || input.max_side < input.multiple_of {
        return Err(invalid("need stride > 0, multiple_of a multiple of stride, max_side ≥ multiple_of".into()));
    }
    if input.std.iter().any(|s| *s == 0.0) || !(0.0..1.0).contains(&dec.score_threshold) {
        return Err(invalid("std must be non-zero and score_threshold in 0..1".into()));
    }
    Ok(manifest)
}

/// The manifest's input and outputs exist, with the channel counts the decoder reads.
fn check_session(session: &Session, manifest: &FaceManifest) -> Result<(), FaceError> {
    let mismatch = |message: String| FaceError::Mismatch { model: manifest.name.clone(), message };
    if !session.inputs().iter().any(|i| i.name() == manifest.input.name) {
        return Err(mismatch(format!("no input named `{}`", manifest.input.name)));
    }
    let dec = &manifest.decoder;
    for (name, channels) in [(&dec.heatmap, 1), (&dec.scale, 2), (&dec.offset, 2), (&dec.landmarks, 10)] {
        let output = session.outputs().iter().find(|o| o.name() == name.as_str()).ok_or_else(|| mismatch(format!("no output named `{name}`")))?;
        let shape = output.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        if shape.len() != 4 || (shape[1] >= 0 && shape[1] != channels) {
            return Err(mismatch(format!("output `{name}` has shape {shape:?}, expected [B, {channels}, H/4, W/4]")));
        }
    }
    Ok(())
}
