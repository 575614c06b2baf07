//! The configuration exactly as written: serde structs, every field optional where a default exists.
//!
//! Unknown keys are not refused here (serde would stop at the first one); `load` collects them
//! all with `serde_ignored` so that one run of `check-config` names every problem.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    pub site: Option<RawSite>,
    pub storage: Option<RawStorage>,
    pub control: Option<RawControl>,
    pub device: Option<RawDevice>,
    pub model: Option<RawModel>,
    pub privacy: Option<RawPrivacy>,
    #[serde(default)]
    pub camera: Vec<RawCamera>,
    #[serde(default)]
    pub sink: Vec<RawSink>,
    /// `[codes.<kind>]` tables.
    pub codes: Option<std::collections::BTreeMap<String, RawCodes>>,
}

#[derive(Debug, Deserialize)]
pub struct RawCodes {
    pub gb47678: Option<String>,
    pub cjt214: Option<String>,
    pub city: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawSite {
    pub name: Option<String>,
    pub region_code: Option<String>,
    pub timezone: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct RawStorage {
    pub dir: Option<String>,
    pub quota_mb: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct RawControl {
    pub listen: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawDevice {
    pub id: Option<String>,
    pub platform: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawPrivacy {
    pub blur_faces: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct RawModel {
    pub manifest: Option<String>,
    pub threads: Option<i64>,
    pub max_batch: Option<i64>,
    pub max_wait_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct RawCamera {
    pub id: Option<String>,
    pub name: Option<String>,
    pub gb28181_id: Option<String>,
    pub url: Option<String>,
    pub analysis_fps: Option<f64>,
    pub decode: Option<String>,
    pub transport: Option<String>,
    pub stall_s: Option<f64>,
    pub retry_max_s: Option<f64>,
    pub pace: Option<String>,
    #[serde(rename = "loop")]
    pub looping: Option<bool>,
    pub clip_s: Option<f64>,
    pub location: Option<RawLocation>,
    #[serde(default)]
    pub zone: Vec<RawZone>,
}

#[derive(Debug, Deserialize)]
pub struct RawLocation {
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub crs: Option<String>,
    pub address: Option<String>,
    pub grid_code: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawZone {
    pub id: Option<String>,
    pub name: Option<String>,
    pub polygon: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// One rule entry. Flat on purpose: the kind decides which parameters apply, and `validate`
/// refuses a parameter that the kind does not use.
#[derive(Debug, Deserialize)]
pub struct RawRule {
    pub kind: Option<String>,
    pub dwell_s: Option<f64>,
    pub schedule: Option<crate::rules::schedule::ScheduleSpec>,
    pub resolve_after_s: Option<f64>,
    pub renotify_s: Option<f64>,
    pub cooldown_s: Option<f64>,
    pub miss_tolerance_s: Option<f64>,
    pub iou_threshold: Option<f64>,
    pub min_confidence: Option<f64>,
    pub dark_ratio: Option<f64>,
    pub lit_level: Option<f64>,
    pub min_persons: Option<i64>,
    pub reach: Option<f64>,
    pub static_objects: Option<bool>,
    pub reference: Option<String>,
    pub learn_s: Option<f64>,
    pub min_area: Option<f64>,
    pub threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct RawSink {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub hmac_secret: Option<String>,
    pub timeout_s: Option<f64>,
    pub evidence: Option<String>,
    pub evidence_base_url: Option<String>,
    pub evidence_url_ttl_s: Option<f64>,
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    // MQTT sinks
    pub topic: Option<String>,
    pub status_topic: Option<String>,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keep_alive_s: Option<f64>,
}
