//! The HTTP webhook sink: POSTs each outbox record with its idempotency key, timestamp and
//! HMAC signature (`post_signed`); the shared delivery loop (`delivery`) retries with backoff
//! until the platform has it.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::client::http_client;
use super::delivery::{SinkHandle, Transport, run_delivery};
use super::envelope::{Envelope, SIGNATURE_HEADER, TIMESTAMP_HEADER, compose, sign};
use super::evidence_link::EvidenceLinks;
use super::retry::{Outcome, classify_status, parse_retry_after};
use crate::config::{EvidenceMode, HttpSinkConfig};
use crate::outbox::PendingRecord;
use crate::telemetry::Telemetry;

/// How long a sink whose TLS files are unusable waits before reading them again.
const CLIENT_RETRY: Duration = Duration::from_secs(30);

/// Runs the sink until `stop` turns true.
pub async fn run_http_sink(config: HttpSinkConfig, database: PathBuf, telemetry: Telemetry, handle: SinkHandle, mut stop: watch::Receiver<bool>) {
    let sink = config.name.clone();
    // Records stay pending while the client cannot be built (a CA or key file missing or
    // broken); the files are read again every CLIENT_RETRY, so fixing them is enough.
    let client = loop {
        match http_client(&config) {
            Ok(client) => break client,
            Err(error) => {
                tracing::error!(sink = %sink, %error, retry_in_s = CLIENT_RETRY.as_secs(), "cannot set up this sink's HTTPS client; its records wait in the outbox");
                tokio::select! {
                    _ = tokio::time::sleep(CLIENT_RETRY) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    };
    run_delivery(sink, HttpTransport { client, config }, database, telemetry, handle, stop).await;
}

struct HttpTransport {
    client: reqwest::Client,
    config: HttpSinkConfig,
}

impl Transport for HttpTransport {
    fn send(&mut self, record: &PendingRecord) -> impl Future<Output = Outcome> + Send {
        deliver(&self.client, &self.config, record)
    }
}

/// Sends one record and says what its answer means.
async fn deliver(client: &reqwest::Client, config: &HttpSinkConfig, record: &PendingRecord) -> Outcome {
    let links = match &config.evidence {
        EvidenceMode::Inline => None,
        EvidenceMode::Url { base_url, ttl_s } => Some(EvidenceLinks { base_url, ttl_s: *ttl_s, sink: &config.name, secret: config.hmac_secret.expose() }),
    };
    let envelope: Envelope = match compose(&record.document, &record.evidence, &record.incident_id, record.seq, links.as_ref()) {
        Ok(envelope) => envelope,
        Err(error) => return Outcome::Rejected { status: 0, body: format!("stored document unreadable: {error}") },
    };
    match post_signed(client, config, envelope.body, &envelope.idempotency_key, &[]).await {
        Err(error) => Outcome::Retry { status: None, error, retry_after: None },
        Ok(answer) => classify_status(answer.status, &answer.body, answer.retry_after),
    }
}

/// What the platform answered to one POST.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After`, in seconds or as an HTTP date, as a wait from now.
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// POSTs `body` to the sink's URL as the platform expects it: JSON, `Idempotency-Key`, and the
/// signature over the current time and the body (plus any `extra` headers). A network error
/// comes back as its text, without the URL's query (which may carry tokens).
pub async fn post_signed(client: &reqwest::Client, config: &HttpSinkConfig, body: Vec<u8>, idempotency_key: &str, extra: &[(&str, &str)]) -> Result<Answer, String> {
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = client
        .post(config.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("Idempotency-Key", idempotency_key)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sign(config.hmac_secret.expose(), timestamp, &body));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.map_err(describe_error)?;
    let status = response.status().as_u16();
    let retry_after = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, chrono::Utc::now()));
    let body = response.text().await.unwrap_or_default();
    Ok(Answer { status, retry_after, body })
}

/// A reqwest error with its causes, without the URL (whose query may carry tokens).
pub(crate) fn describe_error(error: reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let mut text = error.without_url().to_string();
    for cause in causes {
        text.push_str(": ");
        text.push_str(&cause);
    }
    text
}
