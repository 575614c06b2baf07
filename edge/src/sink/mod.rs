//! Sink: delivers outbox records to the platform. `delivery` is the loop every sink runs over
//! its outbox queue (what is due, what became of each attempt); a transport sends one record:
//! `http` (webhook; `client` sets up its client and TLS) or `mqtt` (QoS 1 publish, `topic`
//! fills its topic template). Retry *classification* (what an answer means) and retry
//! *policy* (when to try again) live in `retry`; `envelope` builds the exact bytes and headers
//! sent (and checks them, for receivers); `evidence_link` signs the links of the `url`
//! evidence mode.

mod client;
mod delivery;
mod envelope;
mod evidence_link;
mod http;
mod mqtt;
mod retry;
mod topic;

pub use client::{ClientError, http_client};
pub use delivery::{SinkHandle, Transport, run_delivery};
pub use envelope::{Envelope, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, compose, sign, verify};
pub use evidence_link::{EVIDENCE_LINK_PATH, EvidenceLinks, LinkRefused, link_signature, verify_link};
pub use http::{Answer, post_signed, run_http_sink};
pub use mqtt::{publish_test, read_ca_file, run_mqtt_sink};
pub use retry::{Outcome, REJECTED_BODY_MAX, RetryPolicy, classify_status, parse_retry_after, truncate};
pub use topic::{TopicField, TopicTemplate};
