//! The exact bytes a platform receives: the stored document with evidence inlined (base64),
//! and the headers that identify and sign it.

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

/// `sha256=<hex HMAC-SHA256 of body>`, the `X-Steward-Signature` header value.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?"
        assert_eq!(sign("Jefe", b"what do ya want for nothing?"), "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
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
