//! `steward receive`: a reference receiver for platform integrators. Verifies the signature,
//! de-duplicates by `Idempotency-Key`, checks every evidence file against its sha256, stores
//! documents and evidence in a folder, and prints one line per incident event.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub struct ReceiverState {
    pub secret: String,
    pub dir: PathBuf,
    seen: Mutex<HashSet<String>>,
}

impl ReceiverState {
    pub fn new(secret: String, dir: PathBuf) -> Arc<Self> {
        Arc::new(ReceiverState { secret, dir, seen: Mutex::new(HashSet::new()) })
    }
}

/// Accepts incident documents on `POST /incidents`.
pub fn router(state: Arc<ReceiverState>) -> Router {
    Router::new().route("/incidents", post(receive)).with_state(state)
}

fn signature_valid(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.strip_prefix("sha256=")) else { return false };
    let Ok(given) = hex::decode(hex_sig) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !signature_valid(&state.secret, &body, header("x-steward-signature")) {
        eprintln!("refused: bad or missing X-Steward-Signature");
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    let Some(key) = header("idempotency-key").map(str::to_string) else {
        return (StatusCode::BAD_REQUEST, "missing Idempotency-Key".into());
    };
    let document: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(document) => document,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    let (Some(id), Some(seq)) = (document["id"].as_str(), document["seq"].as_u64()) else {
        return (StatusCode::BAD_REQUEST, "document lacks id or seq".into());
    };
    if key != format!("{id}:{seq}") {
        return (StatusCode::BAD_REQUEST, "Idempotency-Key does not match the document's id:seq".into());
    }
    let folder = state.dir.join(id);
    let stored = folder.join(format!("{seq}.json"));
    if state.seen.lock().expect("seen lock").contains(&key) || stored.exists() {
        println!("duplicate {key} (already stored)");
        return (StatusCode::OK, "duplicate".into());
    }
    let mut files = Vec::new();
    for (n, item) in document["evidence"].as_array().into_iter().flatten().enumerate() {
        let Some(encoded) = item["bytes"].as_str() else { continue };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return (StatusCode::UNPROCESSABLE_ENTITY, format!("evidence {n}: bytes are not base64"));
        };
        if item["sha256"].as_str() != Some(hex::encode(Sha256::digest(&bytes)).as_str()) {
            return (StatusCode::UNPROCESSABLE_ENTITY, format!("evidence {n}: sha256 does not match its bytes"));
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
        return (StatusCode::INTERNAL_SERVER_ERROR, "cannot store".into());
    }
    state.seen.lock().expect("seen lock").insert(key);
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
    (StatusCode::OK, "stored".into())
}
