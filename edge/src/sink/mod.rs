//! Sink: delivers outbox records to the platform. Retry *classification* (what an answer
//! means) and retry *policy* (when to try again) live in `retry`; `envelope` builds the exact
//! bytes and headers sent; `evidence_link` signs the links of the `url` evidence mode; `http`
//! runs one HTTP webhook sink.

mod envelope;
mod evidence_link;
mod http;
mod retry;

pub use envelope::{Envelope, compose, sign};
pub use evidence_link::{EVIDENCE_LINK_PATH, EvidenceLinks, LinkRefused, link_signature, verify_link};
pub use http::{SinkHandle, run_http_sink};
pub use retry::{Outcome, RetryPolicy, classify_status};
