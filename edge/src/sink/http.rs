//! The HTTP webhook sink: POSTs each outbox record with its idempotency key and HMAC
//! signature; the shared delivery loop (`delivery`) retries with backoff until the platform has it.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::delivery::{SinkHandle, Transport, run_delivery};
use super::envelope::{Envelope, compose, sign};
use super::retry::{Outcome, classify_status};
use crate::config::HttpSinkConfig;
use crate::outbox::PendingRecord;
use crate::telemetry::Telemetry;

/// Runs the sink until `stop` turns true.
pub async fn run_http_sink(config: HttpSinkConfig, database: PathBuf, telemetry: Telemetry, handle: SinkHandle, stop: watch::Receiver<bool>) {
    let sink = config.name.clone();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(config.timeout_s))
        .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(sink = %sink, %error, "cannot build the HTTP client; this sink will not deliver");
            return;
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

async fn deliver(client: &reqwest::Client, config: &HttpSinkConfig, record: &PendingRecord) -> Outcome {
    let envelope: Envelope = match compose(&record.document, &record.evidence, &record.incident_id, record.seq) {
        Ok(envelope) => envelope,
        Err(error) => return Outcome::Rejected { status: 0, body: format!("stored document unreadable: {error}") },
    };
    let signature = sign(config.hmac_secret.expose(), &envelope.body);
    let response = client
        .post(config.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("Idempotency-Key", &envelope.idempotency_key)
        .header("X-Steward-Signature", signature)
        .body(envelope.body)
        .send()
        .await;
    match response {
        Err(error) => Outcome::Retry { status: None, error: describe(error), retry_after: None },
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.text().await.unwrap_or_default();
            classify_status(status, &body, retry_after)
        }
    }
}

/// A network error with its causes, without the URL's query (which may carry tokens).
fn describe(error: reqwest::Error) -> String {
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
