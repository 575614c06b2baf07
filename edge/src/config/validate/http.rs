//! Validation of `[[sink]] kind = "http"`: endpoint, secret, TLS files and the evidence mode,
//! each problem at its key.

use std::path::Path;

use super::{Problems, resolve, valid_id};
use crate::config::diagnostic::TreePath;
use crate::config::raw::RawSink;
use crate::config::types::{ClientCert, EvidenceMode, HttpSinkConfig, Secret};

/// An HTTP sink from its raw table; paths are relative to `base_dir` (the config file's folder).
pub(super) fn validate_http_sink(raw: RawSink, index: usize, base_dir: &Path, path: &TreePath, problems: &mut Problems) -> Option<HttpSinkConfig> {
    super::mqtt::refuse_mqtt_keys(&raw, path, problems);
    let url = problems.required(&raw.url, path, "url").and_then(|text| match url::Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Some(url),
        Ok(url) => {
            problems.value(path.key("url"), format!("sink URL scheme `{}`: expected http or https", url.scheme()));
            None
        }
        Err(e) => {
            problems.value(path.key("url"), format!("`{text}` is not a valid URL ({e})"));
            None
        }
    });
    let secret = problems.required(&raw.hmac_secret, path, "hmac_secret");
    if secret.as_deref() == Some("") {
        problems.value(path.key("hmac_secret"), "hmac_secret must not be empty");
    }
    let timeout_s = problems.number(raw.timeout_s, 10.0, path.key("timeout_s"), |v| v > 0.0 && v <= 600.0, "more than 0 and at most 600 seconds");
    let name = raw.name.unwrap_or_else(|| if index == 0 { "http".to_string() } else { format!("http-{index}") });
    if !valid_id(&name) {
        problems.value(path.key("name"), format!("sink name `{name}`: use letters, digits, `-`, `_` or `.`"));
    }
    let evidence = evidence_mode(&raw.evidence, &raw.evidence_base_url, raw.evidence_url_ttl_s, path, problems);
    let ca_file = raw.ca_file.as_deref().map(|file| resolve(base_dir, file));
    let client_cert = match (raw.client_cert.as_deref(), raw.client_key.as_deref()) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(ClientCert { cert: resolve(base_dir, cert), key: resolve(base_dir, key) }),
        (Some(_), None) => {
            problems.value(path.key("client_cert"), "give `client_key` (the client certificate's private key, PEM) with `client_cert`, or neither");
            None
        }
        (None, Some(_)) => {
            problems.value(path.key("client_key"), "give `client_cert` (the client certificate chain, PEM) with `client_key`, or neither");
            None
        }
    };
    if let Some(url) = &url
        && url.scheme() != "https"
    {
        for (key, given) in [("ca_file", raw.ca_file.is_some()), ("client_cert", raw.client_cert.is_some()), ("client_key", raw.client_key.is_some())] {
            if given {
                problems.value(path.key(key), format!("`{key}` applies to an https URL only; this sink's URL is {}", url.scheme()));
            }
        }
    }
    Some(HttpSinkConfig { name, url: url?, hmac_secret: Secret::new(secret?), timeout_s, evidence: evidence?, ca_file, client_cert })
}

/// `evidence`, `evidence_base_url` and `evidence_url_ttl_s` of an HTTP sink.
fn evidence_mode(mode: &Option<String>, base_url: &Option<String>, ttl_s: Option<f64>, path: &TreePath, problems: &mut Problems) -> Option<EvidenceMode> {
    let ttl_s = problems.number(ttl_s, 7.0 * 86400.0, path.key("evidence_url_ttl_s"), |v| v >= 60.0 && v <= 365.0 * 86400.0, "at least 60 seconds and at most a year");
    match mode.as_deref().unwrap_or("inline") {
        "inline" => {
            if base_url.is_some() {
                problems.value(path.key("evidence_base_url"), "evidence_base_url is only used with evidence = \"url\"");
            }
            Some(EvidenceMode::Inline)
        }
        "url" => {
            let Some(text) = base_url else {
                problems.value(path.key("evidence"), "evidence = \"url\" needs evidence_base_url: where the platform reaches this box (e.g. `https://box-17.city.example:8080`)");
                return None;
            };
            match url::Url::parse(text) {
                Ok(base_url) if matches!(base_url.scheme(), "http" | "https") && base_url.host_str().is_some() => Some(EvidenceMode::Url { base_url, ttl_s }),
                _ => {
                    problems.value(path.key("evidence_base_url"), format!("`{text}` is not an http(s) URL"));
                    None
                }
            }
        }
        other => {
            problems.value(path.key("evidence"), format!("evidence `{other}`: expected `inline` or `url`"));
            None
        }
    }
}
