//! The HTTP webhook sink: POSTs each outbox record with its idempotency key, timestamp and
//! HMAC signature, retrying with backoff until the platform has it. `run_http_sink` is the
//! record-queue loop (what is due, what became of it); `deliver` and `post_signed` are the
//! sending of one record.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use super::client::http_client;
use super::envelope::{Envelope, SIGNATURE_HEADER, TIMESTAMP_HEADER, compose, sign};
use super::evidence_link::EvidenceLinks;
use super::retry::{Outcome, RetryPolicy, classify_status, parse_retry_after};
use crate::config::{EvidenceMode, HttpSinkConfig};
use crate::outbox::{DeliveryQueue, OutboxError, PendingRecord};
use crate::telemetry::{SinkLabel, SinkResultLabel, Telemetry};

/// Lets the incident stage wake a sink when it has written something new.
#[derive(Clone, Debug, Default)]
pub struct SinkHandle {
    wake: Arc<Notify>,
}

impl SinkHandle {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

const BATCH: usize = 16;
const IDLE_POLL: Duration = Duration::from_secs(1);
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
    let policy = RetryPolicy::default();
    let queue = loop {
        let (db, name) = (database.clone(), sink.clone());
        match blocking(move || {
            let queue = DeliveryQueue::open(&db, &name)?;
            queue.retry_now()?;
            Ok(queue)
        })
        .await
        {
            Ok(queue) => break Arc::new(Mutex::new(queue)),
            Err(error) => {
                tracing::error!(sink = %sink, %error, "cannot open the outbox; retrying in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    };
    let with_queue = |f: Box<dyn FnOnce(&DeliveryQueue) -> Result<(), OutboxError> + Send>| {
        let queue = queue.clone();
        blocking(move || f(&queue.lock().expect("queue lock")))
    };

    while !*stop.borrow() {
        let due = {
            let queue = queue.clone();
            blocking(move || queue.lock().expect("queue lock").due(now_ms(), BATCH)).await
        };
        let records = match due {
            Ok(records) => records,
            Err(error) => {
                tracing::error!(sink = %sink, %error, "cannot read the outbox");
                Vec::new()
            }
        };
        if records.is_empty() {
            let queue_for_stats = queue.clone();
            let (pending, next_due) = blocking(move || {
                let q = queue_for_stats.lock().expect("queue lock");
                Ok((q.pending_count()?, q.next_due_ms()?))
            })
            .await
            .unwrap_or((0, None));
            telemetry.outbox_pending.get_or_create(&SinkLabel { sink: sink.clone() }).set(pending as i64);
            let wait = next_due.map_or(IDLE_POLL, |due| Duration::from_millis((due - now_ms()).clamp(10, IDLE_POLL.as_millis() as i64) as u64));
            tokio::select! {
                _ = handle.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for record in records {
            if *stop.borrow() {
                break;
            }
            let (outcome, latency_ms) = deliver(&client, &config, &record).await;
            let attempts = record.attempts + 1;
            let (event_id, result) = (record.event_id, outcome_label(&outcome));
            telemetry.deliveries.get_or_create(&SinkResultLabel { sink: sink.clone(), result: result.into() }).inc();
            let update = match outcome {
                Outcome::Delivered(status) => {
                    tracing::info!(sink = %sink, incident = %record.incident_id, seq = record.seq, status, attempts, latency_ms, "incident delivered");
                    with_queue(Box::new(move |q| q.mark_delivered(event_id, status, latency_ms)))
                }
                Outcome::Retry { status, error, retry_after } => {
                    let delay = policy.delay(attempts, retry_after);
                    tracing::warn!(sink = %sink, incident = %record.incident_id, seq = record.seq, attempts, status, error = %error, latency_ms, retry_in_s = delay.as_secs_f64(), "delivery failed; will retry");
                    let next = now_ms() + delay.as_millis() as i64;
                    with_queue(Box::new(move |q| q.mark_retry(event_id, next, status, &error, latency_ms)))
                }
                Outcome::Rejected { status, body } => {
                    tracing::error!(sink = %sink, incident = %record.incident_id, seq = record.seq, status, body = %body, latency_ms, "platform rejected the incident; parked as rejected (resend it once fixed)");
                    with_queue(Box::new(move |q| q.mark_rejected(event_id, status, &body, latency_ms)))
                }
            };
            if let Err(error) = update.await {
                tracing::error!(sink = %sink, incident = %record.incident_id, %error, "cannot record the delivery result; the record will be sent again");
            }
        }
    }
}

/// Sends one record; says what its answer means and how long the request took (ms).
async fn deliver(client: &reqwest::Client, config: &HttpSinkConfig, record: &PendingRecord) -> (Outcome, u64) {
    let links = match &config.evidence {
        EvidenceMode::Inline => None,
        EvidenceMode::Url { base_url, ttl_s } => Some(EvidenceLinks { base_url, ttl_s: *ttl_s, sink: &config.name, secret: config.hmac_secret.expose() }),
    };
    let envelope: Envelope = match compose(&record.document, &record.evidence, &record.incident_id, record.seq, links.as_ref()) {
        Ok(envelope) => envelope,
        Err(error) => return (Outcome::Rejected { status: 0, body: format!("stored document unreadable: {error}") }, 0),
    };
    let started = Instant::now();
    let answer = post_signed(client, config, envelope.body, &envelope.idempotency_key, &[]).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let outcome = match answer {
        Err(error) => Outcome::Retry { status: None, error, retry_after: None },
        Ok(answer) => classify_status(answer.status, &answer.body, answer.retry_after),
    };
    (outcome, latency_ms)
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

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered(_) => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Rejected { .. } => "rejected",
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, OutboxError> + Send + 'static) -> Result<T, OutboxError> {
    tokio::task::spawn_blocking(f).await.expect("outbox task panicked")
}
