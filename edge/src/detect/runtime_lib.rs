//! Finding the ONNX Runtime shared library, which is loaded at run time (`ort` load-dynamic).

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeLibError {
    #[error("ORT_DYLIB_PATH points at {0}, which does not exist")]
    EnvMissing(PathBuf),
    #[error(
        "ONNX Runtime library not found (looked for {name} in: {looked}). Run `make deps` in the \
         checkout, or set ORT_DYLIB_PATH to libonnxruntime.so (>= 1.23; the PyPI `onnxruntime` \
         wheel ships it as onnxruntime/capi/libonnxruntime.so.1.x)"
    )]
    NotFound { name: &'static str, looked: String },
}

const LIB_NAME: &str = "libonnxruntime.so";

/// `ORT_DYLIB_PATH`, else beside the executable, else a checkout's `vendor/onnxruntime/`.
pub fn find_onnxruntime() -> Result<PathBuf, RuntimeLibError> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(RuntimeLibError::EnvMissing(path)) };
    }
    let exe_dir = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    let mut dirs = Vec::new();
    if let Some(dir) = &exe_dir {
        dirs.push(dir.clone());
        // target/release/steward and target/release/deps/test-binary both reach the checkout.
        for up in dir.ancestors().skip(1).take(3) {
            dirs.push(up.join("vendor/onnxruntime"));
        }
    }
    dirs.push(PathBuf::from("/usr/lib/steward"));
    for dir in &dirs {
        let candidate = dir.join(LIB_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(RuntimeLibError::NotFound {
        name: LIB_NAME,
        looked: dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}
