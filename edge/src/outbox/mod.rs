//! Outbox: every incident state change is committed to SQLite (WAL, synchronous=FULL) before
//! anything is sent. Each sink has its own delivery rows, so one slow sink never blocks another;
//! a record leaves a sink's queue only when that sink has delivered it (at-least-once).
//!
//! `schema` creates the tables; `store` is the single writer used by the incident stage;
//! `queue` is one sink's view: what is due, and what became of each attempt; `browse` is the
//! control plane's: incidents, their events and delivery, and queueing an incident again;
//! `retention` keeps the storage folder under its quota without touching undelivered data;
//! `export` reads every event with its delivery state, read-only, for `steward incidents export`.

mod browse;
mod export;
mod queue;
mod retention;
mod schema;
mod store;

pub use browse::{
    AttemptItem, DEFAULT_LIMIT, DeliveryItem, EventDetail, EvidenceItem, IncidentDetail, IncidentFilter, IncidentPage, IncidentSummary, MAX_LIMIT, SinkCounts, evidence_file, incident_detail,
    list_incidents, resend, sink_counts,
};
pub use export::{ExportError, ExportFilter, ExportedDelivery, ExportedEvent, export_events};
pub use queue::{ATTEMPTS_KEPT, DeliveryQueue, PendingRecord, pending_total};
pub use retention::{Enforced, StorageBudget, StorageStatus, enforce};
pub use store::{Outbox, StoredEvidence};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database {path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("outbox: cannot encode document: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("outbox: cannot create {path}: {source}")]
    Dir { path: String, source: std::io::Error },
}

/// The outbox database inside a storage folder.
pub fn database_path(storage_dir: &std::path::Path) -> std::path::PathBuf {
    storage_dir.join("outbox.sqlite3")
}
