//! Steward's edge pipeline: cameras in, dispatchable incidents out.
//!
//! Data flows one way:
//!
//! ```text
//! source ──► detect ──► track ──► rules ──► incident ──► outbox ──► sink
//! ```
//!
//! - [`source`]: one GStreamer pipeline per camera on its own thread, frames at the analysis
//!   rate, letterboxed for the model plus a full-resolution copy for evidence.
//! - [`detect`]: one ONNX Runtime session (one detector thread), model described by a manifest.
//! - [`track`]: memory of stationary objects, on media time.
//! - [`rules`]: per zone, one module per violation kind behind the [`rules::Rule`] trait.
//! - [`incident`]: new-or-already-open, the v1 document, the annotated snapshot.
//! - [`outbox`]: SQLite; a record is committed before any delivery is tried.
//! - [`sink`]: async delivery with retries (HTTP webhook).
//!
//! [`runtime`] is the only place that wires the stages, threads, channels and shutdown;
//! [`config`] is the typed, validated configuration; [`telemetry`] the Prometheus metrics.

pub mod config;
pub mod detect;
pub mod geometry;
pub mod incident;
pub mod kind;
pub mod outbox;
pub mod rules;
pub mod runtime;
pub mod sink;
pub mod source;
pub mod telemetry;
pub mod track;

/// This software's version, as reported in incident documents.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
