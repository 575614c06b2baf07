//! The HTTP client of one webhook sink: its timeout, and its TLS — the CA bundle it trusts
//! besides the default roots (`ca_file`) and the certificate it shows for mutual TLS
//! (`client_cert` + `client_key`). Errors name the file and the config key.

use std::path::Path;
use std::time::Duration;

use crate::config::HttpSinkConfig;

/// Why a sink's client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{key} {path}: cannot read: {source}")]
    Unreadable { key: &'static str, path: String, source: std::io::Error },
    #[error("{key} {path}: {problem}")]
    Invalid { key: &'static str, path: String, problem: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// The client `config` delivers with. Reads the PEM files now, so a missing or broken file is
/// reported here (by `steward check-config` and when the sink starts), not at the first send.
pub fn http_client(config: &HttpSinkConfig) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(config.timeout_s))
        .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
        .use_rustls_tls();
    if let Some(ca_file) = &config.ca_file {
        let pem = read("ca_file", ca_file)?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| invalid("ca_file", ca_file, format!("not a PEM certificate bundle ({e})")))?;
        if certificates.is_empty() {
            return Err(invalid("ca_file", ca_file, "no certificate in this PEM file".into()));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let Some(client) = &config.client_cert {
        let mut pem = read("client_cert", &client.cert)?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid("client_cert", &client.cert, "no certificate in this PEM file".into()));
        }
        let key = read("client_key", &client.key)?;
        if !String::from_utf8_lossy(&key).contains("PRIVATE KEY-----") {
            return Err(invalid("client_key", &client.key, "no private key in this PEM file".into()));
        }
        pem.push(b'\n');
        pem.extend_from_slice(&key);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| invalid("client_key", &client.key, format!("not a usable certificate and key ({e})")))?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| ClientError::Build(super::http::describe_error(e)))
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::Unreadable { key, path: path.display().to_string(), source })
}

fn invalid(key: &'static str, path: &Path, problem: String) -> ClientError {
    ClientError::Invalid { key, path: path.display().to_string(), problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClientCert, EvidenceMode, Secret};

    fn sink(dir: &Path, ca: Option<&str>, client: Option<(&str, &str)>) -> HttpSinkConfig {
        HttpSinkConfig {
            name: "city".into(),
            url: "https://127.0.0.1:9/incidents".parse().unwrap(),
            hmac_secret: Secret::new("s".into()),
            timeout_s: 5.0,
            evidence: EvidenceMode::Inline,
            ca_file: ca.map(|f| dir.join(f)),
            client_cert: client.map(|(cert, key)| ClientCert { cert: dir.join(cert), key: dir.join(key) }),
        }
    }

    #[test]
    fn broken_tls_files_are_named_with_their_key() {
        let dir = std::env::temp_dir().join(format!("steward-sink-client-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("empty.pem"), "").unwrap();
        std::fs::write(dir.join("junk.pem"), "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n").unwrap();
        std::fs::write(dir.join("key-only.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();

        assert!(http_client(&sink(&dir, None, None)).is_ok(), "no TLS files: the default roots");
        let message = |config: HttpSinkConfig| http_client(&config).unwrap_err().to_string();
        let missing = message(sink(&dir, Some("gone.pem"), None));
        assert!(missing.starts_with(&format!("ca_file {}: cannot read", dir.join("gone.pem").display())), "{missing}");
        assert!(message(sink(&dir, Some("empty.pem"), None)).ends_with("empty.pem: no certificate in this PEM file"));
        assert!(message(sink(&dir, Some("junk.pem"), None)).contains("junk.pem: not a PEM certificate bundle"));
        assert!(message(sink(&dir, None, Some(("key-only.pem", "key-only.pem")))).starts_with("client_cert "));
        assert!(message(sink(&dir, None, Some(("junk.pem", "empty.pem")))).ends_with("empty.pem: no private key in this PEM file"));
        let unreadable_key = message(sink(&dir, None, Some(("junk.pem", "gone.key"))));
        assert!(unreadable_key.starts_with("client_key ") && unreadable_key.contains("cannot read"), "{unreadable_key}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
