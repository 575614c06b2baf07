//! What the API can change in the config, and why a change may not be applied.

use std::fmt;

use serde_json::{Map, Value as Json};

use super::diagnostic::ConfigErrors;

/// One change the API makes to the config. Its `Debug` shows which keys, never their values
/// (they may hold passwords and secrets).
pub enum ConfigChange {
    /// Appends a new `[[camera]]`; Conflict if the id exists. `username` / `password` go into
    /// the URL.
    AddCamera(Map<String, Json>),
    /// Sets or replaces the given keys of that camera (its zones only if a key says so); `id`
    /// renames it. `username` / `password` as for [`ConfigChange::AddCamera`]; left out, or the
    /// URL's shown as `***`, the stored credentials stay; both `""` remove them.
    UpdateCamera {
        id: String,
        fields: Map<String, Json>,
    },
    RemoveCamera {
        id: String,
    },
    /// Creates or replaces the `[[camera.zone]]` whose id is `zone["id"]`; keys as in the file.
    PutZone {
        camera: String,
        zone: Map<String, Json>,
    },
    RemoveZone {
        camera: String,
        zone: String,
    },
    /// Sets one key (`null` removes it) of the `kind` rule in that zone.
    SetRuleValue {
        camera: String,
        zone: String,
        kind: String,
        key: String,
        value: Json,
    },
    /// Creates (`kind = "http"`) or updates the sink called `name`. A missing or empty
    /// `hmac_secret` keeps the stored one; a new sink needs one.
    PutSink {
        name: String,
        fields: Map<String, Json>,
    },
    RemoveSink {
        name: String,
    },
    /// Replaces the `[codes]` table: `{kind: {gb47678?, cjt214?, city?}}`.
    SetCodes(Map<String, Json>),
}

/// Why a change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The edited config does not validate. `scope` is the tree path of the edited item
    /// (`camera[2]`, `camera[2].zone[1]`, `sink[0]`): each problem's
    /// [`field_under`](crate::config::ConfigError::field_under) the scope is its field in what
    /// was submitted.
    #[error("the change would make the config invalid:\n{errors}")]
    Invalid { errors: ConfigErrors, scope: Option<String> },
    /// The file on disk (edited by hand) is invalid: it must be fixed first.
    #[error("the config file is invalid; fix it first:\n{0}")]
    FileInvalid(ConfigErrors),
    #[error("{0}")]
    Io(String),
}

impl fmt::Debug for ConfigChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = |fields: &Map<String, Json>| fields.keys().cloned().collect::<Vec<String>>();
        match self {
            ConfigChange::AddCamera(fields) => f.debug_struct("AddCamera").field("keys", &keys(fields)).finish(),
            ConfigChange::UpdateCamera { id, fields } => f.debug_struct("UpdateCamera").field("id", id).field("keys", &keys(fields)).finish(),
            ConfigChange::RemoveCamera { id } => f.debug_struct("RemoveCamera").field("id", id).finish(),
            ConfigChange::PutZone { camera, zone } => f.debug_struct("PutZone").field("camera", camera).field("zone", &zone.get("id")).finish(),
            ConfigChange::RemoveZone { camera, zone } => f.debug_struct("RemoveZone").field("camera", camera).field("zone", zone).finish(),
            ConfigChange::SetRuleValue { camera, zone, kind, key, .. } => {
                f.debug_struct("SetRuleValue").field("camera", camera).field("zone", zone).field("kind", kind).field("key", key).finish()
            }
            ConfigChange::PutSink { name, fields } => f.debug_struct("PutSink").field("name", name).field("keys", &keys(fields)).finish(),
            ConfigChange::RemoveSink { name } => f.debug_struct("RemoveSink").field("name", name).finish(),
            ConfigChange::SetCodes(codes) => f.debug_struct("SetCodes").field("kinds", &keys(codes)).finish(),
        }
    }
}
