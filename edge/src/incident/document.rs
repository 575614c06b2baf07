//! The incident document v1 (`steward.incident/v1`): what a platform receives, field for field
//! as DESIGN.md describes it.

use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "steward.incident/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentDocument {
    pub schema: String,
    /// UUIDv7, stable across the incident's updates.
    pub id: String,
    pub event: IncidentEvent,
    /// Per incident, from 1.
    pub seq: u32,
    pub kind: String,
    pub codes: Codes,
    pub title: String,
    pub site: SiteRef,
    pub camera: CameraRef,
    pub zone: ZoneRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationRef>,
    pub first_seen: String,
    pub confirmed_at: String,
    pub resolved_at: Option<String>,
    pub dwell_s: f64,
    pub objects: Vec<ObjectRef>,
    pub evidence: Vec<EvidenceRef>,
    pub device: DeviceRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentEvent {
    Open,
    Update,
    Resolved,
}

impl IncidentEvent {
    pub fn as_str(&self) -> &'static str {
        match self {
            IncidentEvent::Open => "open",
            IncidentEvent::Update => "update",
            IncidentEvent::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codes {
    /// Full 11-digit GB/T 47678.5 事项代码: region code + type code.
    pub gb47678: String,
    pub cjt214: String,
    pub city: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRef {
    pub name: String,
    pub region_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraRef {
    pub id: String,
    pub gb28181_id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationRef {
    pub lon: f64,
    pub lat: f64,
    pub crs: String,
    pub address: Option<String>,
    pub grid_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub role: Option<String>,
    pub class: String,
    pub confidence: f32,
    /// Normalised x, y (top-left), w, h.
    pub bbox: [f32; 4],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// `first_sight`, `confirmation`, `resolution`.
    pub role: String,
    pub media_type: String,
    pub sha256: String,
    /// Base64 of the file, filled in at delivery time in inline mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRef {
    pub id: String,
    pub software: String,
    pub model: ModelRefDoc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRefDoc {
    pub name: String,
    pub sha256: String,
}
