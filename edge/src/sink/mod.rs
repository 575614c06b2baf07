//! Sink: delivers outbox records to the platform. `delivery` is the loop every sink runs over
//! its outbox queue (what is due, what became of each attempt); a transport sends one record:
//! `http` (webhook) or `mqtt` (QoS 1 publish, `topic` fills its topic template). Retry
//! *classification* (what an answer means) and retry *policy* (when to try again) live in
//! `retry`; `envelope` builds the exact bytes and headers sent.

mod delivery;
mod envelope;
mod http;
mod mqtt;
mod retry;
mod topic;

pub use delivery::{SinkHandle, Transport, run_delivery};
pub use envelope::{Envelope, compose, sign};
pub use http::run_http_sink;
pub use mqtt::{publish_test, read_ca_file, run_mqtt_sink};
pub use retry::{Outcome, RetryPolicy, classify_status};
pub use topic::{TopicField, TopicTemplate};
