//! One sink's delivery loop, whatever the transport: takes what is due from the sink's outbox
//! queue, hands each record to the transport, and records the outcome (delivered, retry with
//! backoff, rejected) with telemetry. Transports (`http`, `mqtt`) only say how one record is sent.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::retry::{Outcome, RetryPolicy};
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

/// How one kind of sink sends a record.
pub trait Transport: Send {
    /// Sends one record; resolves once the platform's answer (or the failure) is known.
    fn send(&mut self, record: &PendingRecord) -> impl Future<Output = Outcome> + Send;

    /// Runs while no record is due (keeping a connection alive, reconnecting). Resolves when the
    /// transport has come back after an outage, so that records waiting out their backoff are
    /// tried at once; the default never resolves.
    fn idle(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Called once when the sink stops.
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

/// A change to the queue, run off the async threads.
type QueueUpdate = Box<dyn FnOnce(&DeliveryQueue) -> Result<(), OutboxError> + Send>;

const BATCH: usize = 16;
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Delivers the outbox records of sink `sink` through `transport` until `stop` turns true.
pub async fn run_delivery<T: Transport>(sink: String, mut transport: T, database: PathBuf, telemetry: Telemetry, handle: SinkHandle, mut stop: watch::Receiver<bool>) {
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
    let with_queue = |f: QueueUpdate| {
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
            let recovered = tokio::select! {
                _ = handle.wake.notified() => false,
                _ = tokio::time::sleep(wait) => false,
                _ = stop.changed() => false,
                _ = transport.idle() => true,
            };
            if recovered && pending > 0 {
                tracing::info!(sink = %sink, pending, "sink is back; retrying the waiting records now");
                if let Err(error) = with_queue(Box::new(|q| q.retry_now())).await {
                    tracing::error!(sink = %sink, %error, "cannot re-queue the waiting records");
                }
            }
            continue;
        }
        for record in records {
            if *stop.borrow() {
                break;
            }
            let started = std::time::Instant::now();
            let outcome = transport.send(&record).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            let attempts = record.attempts + 1;
            let (event_id, result) = (record.event_id, outcome_label(&outcome));
            telemetry.deliveries.get_or_create(&SinkResultLabel { sink: sink.clone(), result: result.into() }).inc();
            let update = match outcome {
                Outcome::Delivered(status) => {
                    tracing::info!(sink = %sink, incident = %record.incident_id, seq = record.seq, status, attempts, "incident delivered");
                    with_queue(Box::new(move |q| q.mark_delivered(event_id, Some(status), latency_ms)))
                }
                Outcome::Acknowledged => {
                    tracing::info!(sink = %sink, incident = %record.incident_id, seq = record.seq, attempts, "incident delivered (acknowledged)");
                    with_queue(Box::new(move |q| q.mark_delivered(event_id, None, latency_ms)))
                }
                Outcome::Retry { status, error, retry_after } => {
                    let delay = policy.delay(attempts, retry_after);
                    tracing::warn!(sink = %sink, incident = %record.incident_id, seq = record.seq, attempts, error = %error, retry_in_s = delay.as_secs_f64(), "delivery failed; will retry");
                    let next = now_ms() + delay.as_millis() as i64;
                    with_queue(Box::new(move |q| q.mark_retry(event_id, next, status, &error, latency_ms)))
                }
                Outcome::Rejected { status, body } => {
                    tracing::error!(sink = %sink, incident = %record.incident_id, seq = record.seq, status, body = %body, "platform rejected the incident; parked as rejected");
                    with_queue(Box::new(move |q| q.mark_rejected(event_id, status, &body, latency_ms)))
                }
            };
            if let Err(error) = update.await {
                tracing::error!(sink = %sink, incident = %record.incident_id, %error, "cannot record the delivery result; the record will be sent again");
            }
        }
    }
    transport.close().await;
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered(_) | Outcome::Acknowledged => "delivered",
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
