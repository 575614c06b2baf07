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
    /// `http` or `mqtt`.
    pub kind: String,
    /// The endpoint (HTTP) or broker (MQTT), any user and password shown as `***`.
    pub url: String,
    /// HTTP: per-request timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// HTTP: whether a signing secret is set (the secret itself is never returned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_secret: Option<bool>,
    /// MQTT: the topic template incidents are published on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// MQTT: the status topic template (`online` / `offline`, retained).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// MQTT: whether a password is set (the password itself is never returned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_password: Option<bool>,
    /// The CA certificates trusted (HTTP: besides the default roots; MQTT: for `mqtts://`), the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_s: Option<u64>,
    /// HTTP: the client certificate shown for mutual TLS (the path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// HTTP: the client certificate's private key (the path; the key itself is never read out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// HTTP: `inline` (pictures in the body) or `url` (signed, expiring links the platform fetches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// HTTP, `url` mode: where the platform reaches this box.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_base_url: Option<String>,
    /// HTTP, `url` mode: how long an evidence link stays valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_url_ttl_s: Option<f64>,
    pub pending: u64,
    pub delivered: u64,
    pub rejected: u64,
}

/// A sink to create or change; keys left out keep their stored values. `kind` is `http` (the
/// default) or `mqtt`. `hmac_secret` (HTTP) is required when creating; `hmac_secret` and
/// `password` (MQTT) are write-only: left out, empty or `***` they keep the stored one. An
/// empty `username` removes the MQTT user name and password. The TLS files (`ca_file`,
/// `client_cert` + `client_key`: PEM paths on the box, relative to the config file) and
/// `evidence_base_url` are removed when empty.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// HTTP: `inline` or `url`.
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
    /// HTTP status, or 0 when no HTTP answer came: then `body` says why, or is `PUBACK` when an
    /// MQTT broker acknowledged the publish.
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
    let count = counts.get(sink.name());
    let mut view = SinkView {
        name: sink.name().to_string(),
        kind: sink.kind().into(),
        url: String::new(),
        timeout_s: None,
        has_secret: None,
        topic: None,
        status_topic: None,
        client_id: None,
        username: None,
        has_password: None,
        ca_file: None,
        keep_alive_s: None,
        client_cert: None,
        client_key: None,
        evidence: None,
        evidence_base_url: None,
        evidence_url_ttl_s: None,
        pending: count.map_or(0, |c| c.pending),
        delivered: count.map_or(0, |c| c.delivered),
        rejected: count.map_or(0, |c| c.rejected),
    };
    match sink {
        Sink::Http(http) => {
            let mut url = http.url.clone();
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_username("***");
                let _ = url.set_password(None);
            }
            view.url = url.to_string();
            view.timeout_s = Some(http.timeout_s);
            view.has_secret = Some(!http.hmac_secret.expose().is_empty());
            view.ca_file = http.ca_file.as_ref().map(|p| p.display().to_string());
            view.client_cert = http.client_cert.as_ref().map(|c| c.cert.display().to_string());
            view.client_key = http.client_cert.as_ref().map(|c| c.key.display().to_string());
            let (evidence, base_url, ttl_s) = match &http.evidence {
                EvidenceMode::Inline => ("inline", None, None),
                EvidenceMode::Url { base_url, ttl_s } => ("url", Some(base_url.to_string()), Some(*ttl_s)),
            };
            (view.evidence, view.evidence_base_url, view.evidence_url_ttl_s) = (Some(evidence.into()), base_url, ttl_s);
        }
        Sink::Mqtt(mqtt) => {
            view.url = mqtt.url.to_string();
            view.topic = Some(mqtt.topic.to_string());
            view.status_topic = Some(mqtt.status_topic.to_string());
            view.client_id = Some(mqtt.client_id.clone());
            view.username = mqtt.username.clone();
            view.has_password = Some(mqtt.password.is_some());
            view.ca_file = mqtt.ca_file.as_ref().map(|f| f.display().to_string());
            view.keep_alive_s = Some(mqtt.keep_alive_s);
        }
    }
    view
}

/// Every sink with its delivery counts.
#[utoipa::path(get, path = "/sinks", tag = "sinks", responses((status = 200, body = Vec<SinkView>), (status = 401, body = ErrorBody)))]
async fn list_sinks(_: RequireViewer, State(state): State<AppState>) -> ApiResult<Json<Vec<SinkView>>> {
    let database = state.edge.database.clone();
    let counts = tokio::task::spawn_blocking(move || steward_edge::outbox::sink_counts(&database)).await.map_err(|e| ApiError::internal(e.to_string()))?.unwrap_or_default();
    Ok(Json(state.config.current().sinks.iter().map(|s| sink_view(s, &counts)).collect()))
}

/// Creates or changes an HTTP or MQTT sink; delivery restarts with the new settings.
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

/// Sends a test incident to the sink now (outside the outbox; zone `test`, title starting
/// `[TEST]`; HTTP with header `X-Steward-Test: 1`, MQTT as client `<client_id>-test`) and
/// returns the platform's answer.
#[utoipa::path(post, path = "/sinks/{name}/test", tag = "sinks", params(("name" = String, Path)),
    responses((status = 200, body = TestDelivery), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test_sink(RequireAdmin(user): RequireAdmin, State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<TestDelivery>> {
    let config = state.config.current();
    let Some(sink) = config.sinks.iter().find(|s| s.name() == name).cloned() else {
        return Err(ApiError::not_found(format!("no sink `{name}`")));
    };
    let document = test_document(&state, &config);
    let started = Instant::now();
    let answer = match &sink {
        Sink::Http(http) => send(http, &document).await,
        Sink::Mqtt(mqtt) => steward_edge::sink::publish_test(mqtt, &document).await.map(|()| (0, "PUBACK".to_string())),
    };
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
