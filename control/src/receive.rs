//! `steward receive`: a reference receiver for platform integrators. Checks the timestamp and
//! signature (refusing replays and changed bodies), de-duplicates by `Idempotency-Key`, checks
//! every evidence file against its sha256, stores documents and evidence in a folder, and
//! prints one line per incident event. `--fail` makes it answer an error on purpose.

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use sha2::{Digest, Sha256};
use steward_edge::sink::{SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, verify};

/// How far the sender's timestamp may be from this receiver's clock, by default (seconds).
pub const DEFAULT_MAX_SKEW_S: u64 = 300;

/// `--fail STATUS[:COUNT]`: answer STATUS to the first COUNT requests, or to all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailPlan {
    pub status: StatusCode,
    pub count: Option<u64>,
}

impl FromStr for FailPlan {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (status, count) = match text.split_once(':') {
            Some((status, count)) => (status, Some(count.parse::<u64>().map_err(|_| format!("`{count}` is not a count of requests"))?)),
            None => (text, None),
        };
        let status = status.parse::<u16>().ok().and_then(|s| StatusCode::from_u16(s).ok()).filter(|s| s.as_u16() >= 200).ok_or_else(|| format!("`{status}` is not an HTTP status (200–999)"))?;
        Ok(FailPlan { status, count })
    }
}

/// How the receiver behaves beyond the secret and folder.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveOptions {
    pub max_skew_s: u64,
    pub fail: Option<FailPlan>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions { max_skew_s: DEFAULT_MAX_SKEW_S, fail: None }
    }
}

pub struct ReceiverState {
    pub secret: String,
    pub dir: PathBuf,
    options: ReceiveOptions,
    seen: Mutex<HashSet<String>>,
    /// Requests answered so far (for `--fail`'s count).
    requests: Mutex<u64>,
}

impl ReceiverState {
    pub fn new(secret: String, dir: PathBuf) -> Arc<Self> {
        Self::with_options(secret, dir, ReceiveOptions::default())
    }

    pub fn with_options(secret: String, dir: PathBuf, options: ReceiveOptions) -> Arc<Self> {
        Arc::new(ReceiverState { secret, dir, options, seen: Mutex::new(HashSet::new()), requests: Mutex::new(0) })
    }
}

/// Accepts incident documents on `POST /incidents`.
pub fn router(state: Arc<ReceiverState>) -> Router {
    Router::new().route("/incidents", post(receive)).with_state(state)
}

/// A JSON answer: `{"status": …}` on success, `{"error": reason, "message": why}` otherwise.
fn answer(status: StatusCode, reason: &str, message: String) -> Response {
    let body = if status.is_success() { serde_json::json!({ "status": reason, "message": message }) } else { serde_json::json!({ "error": reason, "message": message }) };
    (status, Json(body)).into_response()
}

fn refuse(status: StatusCode, reason: &str, message: String) -> Response {
    eprintln!("refused ({}): {message}", status.as_u16());
    answer(status, reason, message)
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> Response {
    let request = {
        let mut requests = state.requests.lock().expect("requests lock");
        *requests += 1;
        *requests
    };
    if let Some(plan) = state.options.fail
        && plan.count.is_none_or(|count| request <= count)
    {
        let of = plan.count.map_or_else(String::new, |count| format!(" ({request} of {count})"));
        return refuse(plan.status, "simulated", format!("steward receive --fail: simulated answer {}{of}", plan.status.as_u16()));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(error) = verify(&state.secret, header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER), &body, now, state.options.max_skew_s) {
        let reason = match error {
            SignatureError::NoTimestamp | SignatureError::Stale { .. } => "timestamp",
            SignatureError::NoSignature | SignatureError::Mismatch => "signature",
        };
        return refuse(StatusCode::UNAUTHORIZED, reason, error.to_string());
    }
    let Some(key) = header("idempotency-key").map(str::to_string) else {
        return refuse(StatusCode::BAD_REQUEST, "idempotency_key", "missing Idempotency-Key".into());
    };
    let document: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(document) => document,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "json", format!("not JSON: {e}")),
    };
    let (Some(id), Some(seq)) = (document["id"].as_str(), document["seq"].as_u64()) else {
        return refuse(StatusCode::BAD_REQUEST, "document", "document lacks id or seq".into());
    };
    if key != format!("{id}:{seq}") {
        return refuse(StatusCode::BAD_REQUEST, "idempotency_key", "Idempotency-Key does not match the document's id:seq".into());
    }
    if id.is_empty() || id.contains(['/', '\\', '.']) {
        return refuse(StatusCode::BAD_REQUEST, "document", "document id is not a plain identifier".into());
    }
    let folder = state.dir.join(id);
    let stored = folder.join(format!("{seq}.json"));
    if state.seen.lock().expect("seen lock").contains(&key) || stored.exists() {
        println!("duplicate {key} (already stored)");
        return answer(StatusCode::OK, "duplicate", format!("{key} was stored before"));
    }
    let mut files = Vec::new();
    for (n, item) in document["evidence"].as_array().into_iter().flatten().enumerate() {
        let Some(encoded) = item["bytes"].as_str() else { continue };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, "evidence", format!("evidence {n}: bytes are not base64"));
        };
        if item["sha256"].as_str() != Some(hex::encode(Sha256::digest(&bytes)).as_str()) {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, "evidence", format!("evidence {n}: sha256 does not match its bytes"));
        }
        let role = item["role"].as_str().unwrap_or("evidence").replace(['/', '.'], "_");
        let extension = if item["media_type"] == "video/mp4" { "mp4" } else { "jpg" };
        files.push((folder.join(format!("{seq}-{role}.{extension}")), bytes));
    }
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&folder)?;
        for (path, bytes) in &files {
            std::fs::write(path, bytes)?;
        }
        let partial = stored.with_extension("json.partial");
        std::fs::write(&partial, serde_json::to_vec_pretty(&document).expect("a parsed document serialises"))?;
        std::fs::rename(&partial, &stored)
    };
    if let Err(e) = write() {
        eprintln!("cannot store {key}: {e}");
        return answer(StatusCode::INTERNAL_SERVER_ERROR, "storage", "cannot store".into());
    }
    state.seen.lock().expect("seen lock").insert(key.clone());
    println!(
        "{} {} {} incident={} seq={} camera={} zone={} evidence={}",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        document["event"].as_str().unwrap_or("?"),
        document["kind"].as_str().unwrap_or("?"),
        id,
        seq,
        document["camera"]["id"].as_str().unwrap_or("?"),
        document["zone"]["id"].as_str().unwrap_or("?"),
        files.len()
    );
    answer(StatusCode::OK, "stored", key)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use steward_edge::sink::sign;
    use tower::ServiceExt;

    use super::*;

    const SECRET: &str = "receiver-secret";

    fn receiver(name: &str, options: ReceiveOptions) -> (Router, PathBuf) {
        let dir = std::env::temp_dir().join(format!("steward-receive-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (router(ReceiverState::with_options(SECRET.into(), dir.clone(), options)), dir)
    }

    /// POSTs `body` signed at `timestamp` with `secret`; returns the status and JSON answer.
    async fn post(app: &Router, body: &str, timestamp: i64, secret: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::post("/incidents")
            .header("content-type", "application/json")
            .header("idempotency-key", "inc-1:1")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(secret, timestamp, body.as_bytes()))
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", String::from_utf8_lossy(&bytes))))
    }

    const DOCUMENT: &str = r#"{"id":"inc-1","seq":1,"event":"open","evidence":[]}"#;

    #[tokio::test]
    async fn a_signed_fresh_request_is_stored() {
        let (app, dir) = receiver("fresh", ReceiveOptions::default());
        let now = chrono::Utc::now().timestamp();
        let (status, body) = post(&app, DOCUMENT, now, SECRET).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("stored")), "{body}");
        assert!(dir.join("inc-1/1.json").is_file());
        let (status, body) = post(&app, DOCUMENT, now, SECRET).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("duplicate")));
    }

    #[tokio::test]
    async fn a_changed_body_is_refused_with_the_reason() {
        let (app, dir) = receiver("tampered", ReceiveOptions::default());
        let now = chrono::Utc::now().timestamp();
        let request = Request::post("/incidents")
            .header("idempotency-key", "inc-1:1")
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(SIGNATURE_HEADER, sign(SECRET, now, DOCUMENT.as_bytes()))
            .body(Body::from(DOCUMENT.replace("open", "resolved")))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["error"], "signature", "{body}");
        assert!(body["message"].as_str().unwrap().contains("changed body"), "{body}");
        let (status, body) = post(&app, DOCUMENT, now, "another-secret").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("signature")));
        assert!(!dir.join("inc-1").exists(), "nothing stored");
    }

    #[tokio::test]
    async fn a_timestamp_outside_the_window_is_refused_even_when_signed() {
        let (app, dir) = receiver("replay", ReceiveOptions { max_skew_s: 60, fail: None });
        let now = chrono::Utc::now().timestamp();
        for stale in [now - 3600, now + 3600] {
            let (status, body) = post(&app, DOCUMENT, stale, SECRET).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("timestamp")), "{body}");
            assert!(body["message"].as_str().unwrap().contains("at most 60 s"), "{body}");
        }
        assert!(!dir.join("inc-1").exists(), "a replay is not stored");
        let (status, _) = post(&app, DOCUMENT, now - 30, SECRET).await;
        assert_eq!(status, StatusCode::OK, "within the window");
    }

    #[tokio::test]
    async fn fail_answers_the_status_to_the_first_requests_then_works() {
        let plan: FailPlan = "503:2".parse().unwrap();
        assert_eq!(plan, FailPlan { status: StatusCode::SERVICE_UNAVAILABLE, count: Some(2) });
        let (app, _) = receiver("fail", ReceiveOptions { max_skew_s: 300, fail: Some(plan) });
        let now = chrono::Utc::now().timestamp();
        for _ in 0..2 {
            let (status, body) = post(&app, DOCUMENT, now, SECRET).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("simulated")));
        }
        assert_eq!(post(&app, DOCUMENT, now, SECRET).await.0, StatusCode::OK);

        let (always, _) = receiver("fail-always", ReceiveOptions { max_skew_s: 300, fail: Some("400".parse().unwrap()) });
        for _ in 0..3 {
            assert_eq!(post(&always, DOCUMENT, now, SECRET).await.0, StatusCode::BAD_REQUEST);
        }
        for bad in ["", "abc", "99", "400:", "400:x", "1000"] {
            assert!(bad.parse::<FailPlan>().is_err(), "{bad:?}");
        }
    }
}
