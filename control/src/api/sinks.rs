//! Delivery endpoints and the code table: list sinks with their delivery counts, create/change/
//! remove them (secrets are write-only), send a test incident, read and set per-city codes.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::edits::apply;
use super::{ApiError, ApiResult, ErrorBody};
use crate::app::AppState;
use crate::auth::{RequireAdmin, RequireViewer};
use steward_edge::config::{ConfigChange, EvidenceMode, HttpSinkConfig, Sink};
use steward_edge::kind::ViolationKind;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sinks))
        .routes(routes!(put_sink, remove_sink))
        .routes(routes!(test_sink))
        .routes(routes!(get_codes, put_codes))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SinkView {
    pub name: String,
    /// `http`.
    pub kind: String,
    /// The endpoint, any user and password shown as `***`.
    pub url: String,
    pub timeout_s: f64,
    /// Whether a signing secret is set (the secret itself is never returned).
    pub has_secret: bool,
    /// PEM bundle of CA certificates trusted besides the default roots (the path).
    pub ca_file: Option<String>,
    /// The client certificate shown for mutual TLS (the path).
    pub client_cert: Option<String>,
    /// The client certificate's private key (the path; the key itself is never read out).
    pub client_key: Option<String>,
    /// `inline` (pictures in the body) or `url` (signed, expiring links the platform fetches).
    pub evidence: String,
    /// Where the platform reaches this box, in `url` mode.
    pub evidence_base_url: Option<String>,
    /// How long an evidence link stays valid, in `url` mode.
    pub evidence_url_ttl_s: Option<f64>,
    pub pending: u64,
    pub delivered: u64,
    pub rejected: u64,
}

/// A sink to create or change. `hmac_secret` is required when creating; left out (or empty) it
/// keeps the stored one. The TLS files (`ca_file`, `client_cert` + `client_key`: PEM paths on
/// the box, relative to the config file) are kept when left out and removed when empty.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkInput {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// `inline` or `url`; kept when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_url_ttl_s: Option<f64>,
}

/// The sink keys that an empty string removes.
const REMOVABLE: [&str; 4] = ["ca_file", "client_cert", "client_key", "evidence_base_url"];

/// What the platform answered to the test incident.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestDelivery {
    /// HTTP status, or 0 when no answer came (then `body` says why).
    pub status: u16,
    pub latency_ms: u64,
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeTableView {
    pub kinds: Vec<KindCodesView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KindCodesView {
    pub kind: String,
    /// The national codes used when the table says nothing.
    pub default: CodeSet,
    /// What this city's platform wants instead.
    #[serde(rename = "override")]
    pub overrides: CodeSet,
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSet {
    /// 5-digit GB/T 47678.5 type code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gb47678: Option<String>,
    /// CJ/T 214 code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cjt214: Option<String>,
    /// The city platform's own code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

fn sink_view(sink: &Sink, counts: &BTreeMap<String, steward_edge::outbox::SinkCounts>) -> SinkView {
    let Sink::Http(http) = sink;
    let mut url = http.url.clone();
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("***");
        let _ = url.set_password(None);
    }
    let count = counts.get(&http.name);
    let (evidence, evidence_base_url, evidence_url_ttl_s) = match &http.evidence {
        EvidenceMode::Inline => ("inline", None, None),
        EvidenceMode::Url { base_url, ttl_s } => ("url", Some(base_url.to_string()), Some(*ttl_s)),
    };
    SinkView {
        name: http.name.clone(),
        kind: "http".into(),
        url: url.to_string(),
        timeout_s: http.timeout_s,
        has_secret: !http.hmac_secret.expose().is_empty(),
        ca_file: http.ca_file.as_ref().map(|p| p.display().to_string()),
        client_cert: http.client_cert.as_ref().map(|c| c.cert.display().to_string()),
        client_key: http.client_cert.as_ref().map(|c| c.key.display().to_string()),
        evidence: evidence.into(),
        evidence_base_url,
        evidence_url_ttl_s,
        pending: count.map_or(0, |c| c.pending),
        delivered: count.map_or(0, |c| c.delivered),
        rejected: count.map_or(0, |c| c.rejected),
    }
}

/// Every sink with its delivery counts.
#[utoipa::path(get, path = "/sinks", tag = "sinks", responses((status = 200, body = Vec<SinkView>), (status = 401, body = ErrorBody)))]
async fn list_sinks(_: RequireViewer, State(state): State<AppState>) -> ApiResult<Json<Vec<SinkView>>> {
    let database = state.edge.database.clone();
    let counts = tokio::task::spawn_blocking(move || steward_edge::outbox::sink_counts(&database)).await.map_err(|e| ApiError::internal(e.to_string()))?.unwrap_or_default();
    Ok(Json(state.config.current().sinks.iter().map(|s| sink_view(s, &counts)).collect()))
}

/// Creates or changes an HTTP sink; delivery restarts with the new settings.
#[utoipa::path(put, path = "/sinks/{name}", tag = "sinks", params(("name" = String, Path)), request_body = SinkInput,
    responses((status = 200, body = SinkView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_sink(RequireAdmin(user): RequireAdmin, State(state): State<AppState>, Path(name): Path<String>, Json(input): Json<SinkInput>) -> ApiResult<Json<SinkView>> {
    let mut fields = match serde_json::to_value(&input) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => return Err(ApiError::internal("cannot read the sink")),
    };
    for key in REMOVABLE {
        if fields.get(key).and_then(serde_json::Value::as_str).is_some_and(|v| v.trim().is_empty()) {
            fields.insert(key.to_string(), serde_json::Value::Null);
        }
    }
    let config = apply(&state, ConfigChange::PutSink { name: name.clone(), fields }).await?;
    tracing::info!(user = %user.name, sink = %name, "sink saved");
    let sink = config.sinks.iter().find(|s| s.name() == name).ok_or_else(|| ApiError::internal("sink missing after the edit"))?;
    Ok(Json(sink_view(sink, &BTreeMap::new())))
}

/// Removes a sink. Records already queued for it stay in the outbox.
#[utoipa::path(delete, path = "/sinks/{name}", tag = "sinks", params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_sink(RequireAdmin(user): RequireAdmin, State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    apply(&state, ConfigChange::RemoveSink { name: name.clone() }).await?;
    tracing::info!(user = %user.name, sink = %name, "sink removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test incident to the sink now (outside the outbox; header `X-Steward-Test: 1`, zone
/// `test`, title starting `[TEST]`) and returns the platform's answer.
#[utoipa::path(post, path = "/sinks/{name}/test", tag = "sinks", params(("name" = String, Path)),
    responses((status = 200, body = TestDelivery), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test_sink(RequireAdmin(user): RequireAdmin, State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<TestDelivery>> {
    let config = state.config.current();
    let Some(Sink::Http(http)) = config.sinks.iter().find(|s| s.name() == name).cloned() else {
        return Err(ApiError::not_found(format!("no sink `{name}`")));
    };
    let document = test_document(&state, &config);
    let started = Instant::now();
    let answer = send(&http, &document).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    tracing::info!(user = %user.name, sink = %name, latency_ms, "test incident sent");
    Ok(Json(match answer {
        Ok((status, body)) => TestDelivery { status, latency_ms, body },
        Err(error) => TestDelivery { status: 0, latency_ms, body: error },
    }))
}

/// Posts `document` the way the sink delivers (its TLS, its signing), marked as a test.
async fn send(http: &HttpSinkConfig, document: &serde_json::Value) -> Result<(u16, String), String> {
    let body = serde_json::to_vec(document).map_err(|e| e.to_string())?;
    let client = steward_edge::sink::http_client(http).map_err(|e| e.to_string())?;
    let id = document["id"].as_str().unwrap_or_default();
    let answer = steward_edge::sink::post_signed(&client, http, body, &format!("{id}:1"), &[("X-Steward-Test", "1")]).await?;
    Ok((answer.status, steward_edge::sink::truncate(&answer.body, steward_edge::sink::REJECTED_BODY_MAX).to_string()))
}

/// A schema-valid `open` document for zone `test` of the first camera (or `test`).
fn test_document(state: &AppState, config: &steward_edge::config::Config) -> serde_json::Value {
    let now = chrono::Utc::now().with_timezone(&config.site.timezone).to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let kind = ViolationKind::IllegalParking;
    let codes = steward_edge::incident::codes_for(kind);
    let camera = config.cameras.first();
    serde_json::json!({
        "schema": "steward.incident/v1",
        "id": uuid::Uuid::now_v7().to_string(),
        "event": "open",
        "seq": 1,
        "kind": kind.as_str(),
        "codes": {"gb47678": format!("{}{}", config.site.region_code, codes.gb47678_type), "cjt214": codes.cjt214, "city": null},
        "title": format!("[TEST] {}", codes.title),
        "site": {"name": config.site.name, "region_code": config.site.region_code},
        "camera": {"id": camera.map_or("test", |c| c.id.as_str()), "name": camera.map_or("test", |c| c.name.as_str()), "gb28181_id": null},
        "zone": {"id": "test", "name": "test", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]},
        "first_seen": now,
        "confirmed_at": now,
        "resolved_at": null,
        "dwell_s": 0.0,
        "objects": [],
        "evidence": [],
        "device": {"id": config.device.id, "software": format!("steward {}", steward_edge::VERSION), "model": {"name": state.edge.model_name, "sha256": state.edge.model_sha256}},
    })
}

/// The national defaults and this city's overrides, per kind.
#[utoipa::path(get, path = "/codes", tag = "sinks", responses((status = 200, body = CodeTableView), (status = 401, body = ErrorBody)))]
async fn get_codes(_: RequireViewer, State(state): State<AppState>) -> Json<CodeTableView> {
    let config = state.config.current();
    let kinds = ViolationKind::ALL
        .iter()
        .map(|kind| {
            let national = steward_edge::incident::codes_for(*kind);
            let city = config.codes.overrides.get(kind);
            KindCodesView {
                kind: kind.as_str().into(),
                default: CodeSet { gb47678: Some(national.gb47678_type.into()), cjt214: Some(national.cjt214.into()), city: None },
                overrides: CodeSet { gb47678: city.and_then(|c| c.gb47678.clone()), cjt214: city.and_then(|c| c.cjt214.clone()), city: city.and_then(|c| c.city.clone()) },
            }
        })
        .collect();
    Json(CodeTableView { kinds })
}

/// Replaces the code table: `{kind: {gb47678?, cjt214?, city?}}`; kinds left out use the
/// national defaults.
#[utoipa::path(put, path = "/codes", tag = "sinks", request_body = BTreeMap<String, CodeSet>,
    responses((status = 200, body = CodeTableView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_codes(admin: RequireAdmin, State(state): State<AppState>, Json(input): Json<BTreeMap<String, CodeSet>>) -> ApiResult<Json<CodeTableView>> {
    let mut table = serde_json::Map::new();
    for (kind, codes) in input {
        let given = |code: Option<String>| code.filter(|c| !c.trim().is_empty());
        let codes = CodeSet { gb47678: given(codes.gb47678), cjt214: given(codes.cjt214), city: given(codes.city) };
        let entry = serde_json::to_value(&codes).map_err(|e| ApiError::internal(e.to_string()))?;
        if entry.as_object().is_some_and(|o| !o.is_empty()) {
            table.insert(kind, entry);
        }
    }
    apply(&state, ConfigChange::SetCodes(table)).await?;
    tracing::info!(user = %admin.0.name, "code table saved");
    Ok(get_codes(RequireViewer(admin.0), State(state)).await)
}
