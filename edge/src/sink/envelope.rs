//! The exact bytes a platform receives: the stored document with evidence inlined (base64),
//! and the headers that identify and sign it (and how a receiver checks them).

use std::path::PathBuf;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::evidence_link::EvidenceLinks;

/// A ready-to-send request body and its identity.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub body: Vec<u8>,
    /// `Idempotency-Key`: `<incident id>:<seq>`, the same on every retry.
    pub idempotency_key: String,
}

/// Builds the body for a stored `document`: each evidence item at `position` gets its file's
/// bytes, base64-encoded — or, with `links` (the sink's `evidence = "url"` mode), a signed,
/// expiring link from which the platform fetches it. An item whose file cannot be read is left
/// out of the body (reported loudly), so the platform still gets a valid document rather than
/// one it must refuse.
pub fn compose(document: &str, evidence: &[(usize, PathBuf)], incident_id: &str, seq: u32, links: Option<&EvidenceLinks<'_>>) -> Result<Envelope, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_str(document)?;
    if let Some(items) = value.get_mut("evidence").and_then(|e| e.as_array_mut()) {
        let mut readable = vec![false; items.len()];
        let now = chrono::Utc::now();
        for (position, path) in evidence {
            let Some(item) = items.get_mut(*position).and_then(|i| i.as_object_mut()) else { continue };
            let filled = match links {
                Some(links) if path.is_file() => Ok(("url", links.link(incident_id, seq, *position, now))),
                Some(_) => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
                None => std::fs::read(path).map(|bytes| ("bytes", base64::engine::general_purpose::STANDARD.encode(bytes))),
            };
            match filled {
                Ok((field, text)) => {
                    item.insert(field.into(), text.into());
                    readable[*position] = true;
                }
                Err(error) => tracing::error!(incident = incident_id, path = %path.display(), %error, "evidence file unreadable; sending the document without it"),
            }
        }
        let mut position = 0;
        items.retain(|_| {
            position += 1;
            readable[position - 1]
        });
    }
    Ok(Envelope { body: serde_json::to_vec(&value)?, idempotency_key: format!("{incident_id}:{seq}") })
}

/// The header carrying the unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Steward-Timestamp";
/// The header carrying the signature, `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Steward-Signature";

/// `sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`, the `X-Steward-Signature` value for a
/// request sent at `timestamp` (unix seconds, the `X-Steward-Timestamp` value). Covering the
/// timestamp lets a receiver refuse a recorded request played again later.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(signing_mac(secret, timestamp, body).finalize().into_bytes()))
}

fn signing_mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why a receiver refuses a request's signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed X-Steward-Timestamp (expected unix seconds)")]
    NoTimestamp,
    #[error("X-Steward-Timestamp is {skew_s} s away from the receiver's clock (at most {max_skew_s} s allowed): a replayed request or a wrong clock")]
    Stale { skew_s: i64, max_skew_s: u64 },
    #[error("missing or malformed X-Steward-Signature (expected sha256=<hex>)")]
    NoSignature,
    #[error("X-Steward-Signature does not match the timestamp and body: a changed body or a different secret")]
    Mismatch,
}

/// Checks a request as a receiver should: the timestamp header within `max_skew_s` of `now`
/// (unix seconds), then the signature over exactly that timestamp and the raw body, compared
/// in constant time.
pub fn verify(secret: &str, timestamp: Option<&str>, signature: Option<&str>, body: &[u8], now: i64, max_skew_s: u64) -> Result<(), SignatureError> {
    let timestamp: i64 = timestamp.and_then(|t| t.trim().parse().ok()).ok_or(SignatureError::NoTimestamp)?;
    let skew_s = now.saturating_sub(timestamp);
    if skew_s.unsigned_abs() > max_skew_s {
        return Err(SignatureError::Stale { skew_s, max_skew_s });
    }
    let given = signature.and_then(|s| s.trim().strip_prefix("sha256=")).and_then(|h| hex::decode(h).ok()).ok_or(SignatureError::NoSignature)?;
    signing_mac(secret, timestamp, body).verify_slice(&given).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_dot_body() {
        // HMAC-SHA256 of the bytes "1700000000.hello", key "Jefe" (as `openssl dgst -sha256 -hmac Jefe` gives).
        assert_eq!(sign("Jefe", 1_700_000_000, b"hello"), "sha256=86c50c1641104be705d03ec157106bfe13e510a12e037d6e6eab275dda9f871f");
    }

    #[test]
    fn a_receiver_accepts_only_the_signed_timestamp_and_body_within_the_window() {
        let (secret, at, body) = ("s3cret", 1_700_000_000, br#"{"id":"x","seq":1}"#.as_slice());
        let signature = sign(secret, at, body);
        let stamp = at.to_string();
        let check = |timestamp: &str, signature: &str, body: &[u8], now: i64| verify(secret, Some(timestamp), Some(signature), body, now, 300);
        assert_eq!(check(&stamp, &signature, body, at + 299), Ok(()));
        assert_eq!(check(&stamp, &signature, body, at - 300), Ok(()), "a receiver clock slightly behind is fine");
        assert_eq!(check(&stamp, &signature, br#"{"id":"x","seq":2}"#, at), Err(SignatureError::Mismatch));
        assert_eq!(check(&(at + 1).to_string(), &signature, body, at), Err(SignatureError::Mismatch), "the timestamp is signed too");
        assert_eq!(check(&stamp, &signature, body, at + 301), Err(SignatureError::Stale { skew_s: 301, max_skew_s: 300 }));
        assert_eq!(check(&stamp, &sign("other", at, body), body, at), Err(SignatureError::Mismatch));
        assert_eq!(check("yesterday", &signature, body, at), Err(SignatureError::NoTimestamp));
        assert_eq!(check(&stamp, "md5=00", body, at), Err(SignatureError::NoSignature));
        assert_eq!(verify(secret, None, Some(&signature), body, at, 300), Err(SignatureError::NoTimestamp));
    }

    #[test]
    fn evidence_is_inlined_at_its_position() {
        let dir = std::env::temp_dir().join(format!("steward-envelope-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.jpg");
        std::fs::write(&file, b"\xff\xd8hello").unwrap();
        let doc = r#"{"id":"x","evidence":[{"role":"confirmation","sha256":"s"}]}"#;
        let envelope = compose(doc, &[(0, file.clone())], "x", 3, None).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&envelope.body).unwrap();
        assert_eq!(value["evidence"][0]["bytes"], "/9hoZWxsbw==");
        assert_eq!(envelope.idempotency_key, "x:3");
        let missing = compose(doc, &[(0, dir.join("gone.jpg"))], "x", 1, None).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&missing.body).unwrap();
        assert_eq!(value["evidence"], serde_json::json!([]), "an unreadable file is left out, not sent half-filled");

        let base = url::Url::parse("http://box:8080").unwrap();
        let links = EvidenceLinks { base_url: &base, ttl_s: 60.0, sink: "http", secret: "k" };
        let linked = compose(doc, &[(0, file)], "x", 3, Some(&links)).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&linked.body).unwrap();
        assert!(value["evidence"][0]["url"].as_str().unwrap().starts_with("http://box:8080/api/v1/evidence-links/x/3/0?sink=http&expires="));
        assert!(value["evidence"][0].get("bytes").is_none(), "a link instead of the bytes");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
