//! Signed, expiring evidence links, for sinks in `evidence = "url"` mode: instead of carrying
//! the pictures inline, the document points at the box's API, and the platform fetches them from
//! there. A link names the sink whose secret signs it and when it expires:
//! `<base>/api/v1/evidence-links/<incident>/<seq>/<position>?sink=<name>&expires=<unix s>&sig=<hex>`
//! with `sig = HMAC-SHA256(secret, "<incident>:<seq>:<position>:<expires>")`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The path under which the control plane serves signed evidence links.
pub const EVIDENCE_LINK_PATH: &str = "/api/v1/evidence-links";

/// Makes the links of one sink.
#[derive(Debug, Clone)]
pub struct EvidenceLinks<'a> {
    /// Where the platform reaches the box (`https://box-17.city.example:8080`).
    pub base_url: &'a url::Url,
    pub ttl_s: f64,
    pub sink: &'a str,
    pub secret: &'a str,
}

impl EvidenceLinks<'_> {
    /// The link to evidence item `position` of event `seq` of `incident`, valid until `now + ttl`.
    pub fn link(&self, incident: &str, seq: u32, position: usize, now: DateTime<Utc>) -> String {
        let expires = now.timestamp() + self.ttl_s.ceil() as i64;
        let signature = link_signature(self.secret, incident, seq, position, expires);
        let base = self.base_url.as_str().trim_end_matches('/');
        format!("{base}{EVIDENCE_LINK_PATH}/{incident}/{seq}/{position}?sink={}&expires={expires}&sig={signature}", self.sink)
    }
}

/// Hex HMAC-SHA256 of `"<incident>:<seq>:<position>:<expires>"`.
pub fn link_signature(secret: &str, incident: &str, seq: u32, position: usize, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{incident}:{seq}:{position}:{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    #[error("the link has expired")]
    Expired,
    #[error("the link's signature does not match")]
    BadSignature,
}

/// Checks a link's signature (in constant time) and expiry.
pub fn verify_link(secret: &str, incident: &str, seq: u32, position: usize, expires: i64, signature: &str, now: DateTime<Utc>) -> Result<(), LinkRefused> {
    let Ok(given) = hex::decode(signature) else { return Err(LinkRefused::BadSignature) };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{incident}:{seq}:{position}:{expires}").as_bytes());
    mac.verify_slice(&given).map_err(|_| LinkRefused::BadSignature)?;
    if now.timestamp() > expires {
        return Err(LinkRefused::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_until_it_expires_and_not_when_altered() {
        let base = url::Url::parse("https://box-17.city.example:8080/").unwrap();
        let links = EvidenceLinks { base_url: &base, ttl_s: 3600.0, sink: "platform", secret: "s3cret" };
        let now = DateTime::parse_from_rfc3339("2026-11-27T08:00:00Z").unwrap().with_timezone(&Utc);
        let link = links.link("0192-abc", 2, 1, now);
        assert!(link.starts_with("https://box-17.city.example:8080/api/v1/evidence-links/0192-abc/2/1?sink=platform&expires="), "{link}");
        let query: std::collections::HashMap<String, String> = url::Url::parse(&link).unwrap().query_pairs().into_owned().collect();
        let (expires, sig) = (query["expires"].parse::<i64>().unwrap(), query["sig"].as_str());
        assert_eq!(expires, now.timestamp() + 3600);
        assert_eq!(verify_link("s3cret", "0192-abc", 2, 1, expires, sig, now), Ok(()));
        assert_eq!(verify_link("s3cret", "0192-abc", 2, 0, expires, sig, now), Err(LinkRefused::BadSignature), "another picture");
        assert_eq!(verify_link("s3cret", "0192-abc", 2, 1, expires + 10, sig, now), Err(LinkRefused::BadSignature), "a longer life");
        assert_eq!(verify_link("other", "0192-abc", 2, 1, expires, sig, now), Err(LinkRefused::BadSignature));
        assert_eq!(verify_link("s3cret", "0192-abc", 2, 1, expires, "zz", now), Err(LinkRefused::BadSignature));
        let later = now + chrono::Duration::seconds(3601);
        assert_eq!(verify_link("s3cret", "0192-abc", 2, 1, expires, sig, later), Err(LinkRefused::Expired));
    }
}
