//! Sink: delivers outbox records to the platform. Retry *classification* (what an answer
//! means) and retry *policy* (when to try again) live in `retry`; `envelope` builds the exact
//! bytes and headers sent (and checks them, for receivers); `evidence_link` signs the links
//! of the `url` evidence mode; `client` sets up an HTTP sink's client and TLS; `http` runs one
//! HTTP webhook sink.

mod client;
mod envelope;
mod evidence_link;
mod http;
mod retry;

pub use client::{ClientError, http_client};
pub use envelope::{Envelope, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, compose, sign, verify};
pub use evidence_link::{EVIDENCE_LINK_PATH, EvidenceLinks, LinkRefused, link_signature, verify_link};
pub use http::{Answer, SinkHandle, post_signed, run_http_sink};
pub use retry::{Outcome, REJECTED_BODY_MAX, RetryPolicy, classify_status, parse_retry_after, truncate};
