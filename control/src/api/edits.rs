//! Changing the config through the API: one edit at a time through the config store (validated
//! as a whole, written atomically, then hot-reloaded), its problems turned into field errors.

use std::sync::Arc;

use steward_edge::config::{Config, ConfigChange, ConfigErrors, ConfigStore, EditError};

use super::{ApiError, ApiResult, FieldError};
use crate::app::AppState;

/// Applies `change` to the config file; on success the running edge follows within moments.
pub async fn apply(state: &AppState, change: ConfigChange) -> ApiResult<Arc<Config>> {
    let store = state.config.clone();
    let result = tokio::task::spawn_blocking(move || store.apply(change)).await.map_err(|e| ApiError::internal(e.to_string()))?;
    result.map_err(edit_error)
}

fn edit_error(error: EditError) -> ApiError {
    match error {
        EditError::NotFound(message) => ApiError::not_found(message),
        EditError::Conflict(message) => ApiError::conflict(message),
        EditError::Invalid { errors, scope } => ApiError::invalid("the change would make the config invalid; nothing was saved", field_errors(&errors, scope.as_deref())),
        EditError::FileInvalid(errors) => {
            let mut error = ApiError::conflict(format!("the config file {} has problems (edited by hand?); fix it first", errors.file));
            error.body.fields = field_errors(&errors, None);
            error
        }
        EditError::Io(message) => ApiError::internal(message),
    }
}

/// Each config problem as a field error: the path relative to the edited item when it lies
/// inside it, else the full tree path.
fn field_errors(errors: &ConfigErrors, scope: Option<&str>) -> Vec<FieldError> {
    errors
        .errors
        .iter()
        .map(|e| FieldError {
            field: scope.and_then(|s| e.field_under(s)).or_else(|| e.path.clone()).unwrap_or_default(),
            message: e.message.clone(),
            line: e.line_col.map(|(line, _)| line),
            column: e.line_col.map(|(_, column)| column),
        })
        .collect()
}

/// A camera's table exactly as the config file has it (zones included), as JSON.
pub fn raw_camera(store: &ConfigStore, id: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(store.path()).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    let json = serde_json::to_value(value).ok()?;
    json.get("camera")?.as_array()?.iter().find(|c| c.get("id").and_then(|v| v.as_str()) == Some(id)).cloned()
}
