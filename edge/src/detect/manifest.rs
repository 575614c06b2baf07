//! A model manifest: which file, what input it wants, how to decode its output, what its classes
//! mean to the rules (roles).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read model manifest {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("model manifest {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// The .onnx file, relative to the manifest.
    pub file: String,
    /// sha256 of the .onnx file, reported with every incident.
    pub sha256: String,
    pub input: InputSpec,
    pub decoder: DecoderSpec,
    pub classes: Classes,
    /// Role name → class names, e.g. `vehicle = ["car", "truck", "bus", "motorcycle"]`.
    pub roles: BTreeMap<String, Vec<String>>,
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub layout: String,
    pub channels: String,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderSpec {
    pub kind: String,
    pub strides: Vec<u32>,
    pub bins: usize,
    pub score_threshold: f32,
    pub nms_iou: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classes {
    pub names: Vec<String>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
        let invalid = |message: String| ManifestError::Invalid { path: path.to_path_buf(), message };
        let mut manifest: Manifest = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        manifest.dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        if manifest.decoder.kind != "nanodet" {
            return Err(invalid(format!("decoder `{}` is not supported; supported: nanodet", manifest.decoder.kind)));
        }
        if manifest.input.layout != "nchw" || !matches!(manifest.input.channels.as_str(), "bgr" | "rgb") {
            return Err(invalid("input must be layout = \"nchw\" with channels \"bgr\" or \"rgb\"".into()));
        }
        for (role, classes) in &manifest.roles {
            for class in classes {
                if !manifest.classes.names.contains(class) {
                    return Err(invalid(format!("role `{role}` names class `{class}`, which the model does not have")));
                }
            }
        }
        Ok(manifest)
    }

    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }

    /// The role of each class id (`None` for classes no rule cares about).
    pub fn class_roles(&self) -> Vec<Option<String>> {
        self.classes
            .names
            .iter()
            .map(|class| self.roles.iter().find(|(_, classes)| classes.contains(class)).map(|(role, _)| role.clone()))
            .collect()
    }
}

/// The bundled model when the config names none: `$STEWARD_MODELS`, then `models/` next to the
/// executable or two levels up (a checkout's `target/release/`), then `/usr/share/steward/models`.
pub fn default_manifest_path() -> Option<PathBuf> {
    const FILE: &str = "nanodet-m-416-coco.toml";
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("STEWARD_MODELS") {
        candidates.push(PathBuf::from(dir).join(FILE));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("models").join(FILE));
        if let Some(root) = dir.parent().and_then(Path::parent) {
            candidates.push(root.join("models").join(FILE));
        }
    }
    candidates.push(PathBuf::from("/usr/share/steward/models").join(FILE));
    candidates.into_iter().find(|p| p.is_file())
}
