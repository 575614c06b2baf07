//! Telemetry: the Prometheus metrics every stage updates, served as text at `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraLabel {
    pub camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraReasonLabel {
    pub camera: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ZoneRuleLabel {
    pub camera: String,
    pub zone: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraStateLabel {
    pub camera: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IncidentLabel {
    pub camera: String,
    pub zone: String,
    pub kind: String,
    pub event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    pub sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkResultLabel {
    pub sink: String,
    pub result: String,
}

/// Running count and total time of detector runs; the histogram keeps its own sums private.
#[derive(Default)]
struct InferenceTally {
    runs: AtomicU64,
    micros: AtomicU64,
}

/// All of Steward's metrics. Cheap to clone; every clone updates the same series.
#[derive(Clone)]
pub struct Telemetry {
    registry: Arc<Registry>,
    pub frames_analysed: Family<CameraLabel, Counter>,
    pub frames_dropped: Family<CameraReasonLabel, Counter>,
    pub frames_judged: Family<ZoneRuleLabel, Counter>,
    pub source_restarts: Family<CameraReasonLabel, Counter>,
    pub camera_state: Family<CameraStateLabel, Gauge>,
    pub inference_seconds: Histogram,
    inference_tally: Arc<InferenceTally>,
    pub inference_batch_size: Histogram,
    pub incidents: Family<IncidentLabel, Counter>,
    pub outbox_pending: Family<SinkLabel, Gauge>,
    pub deliveries: Family<SinkResultLabel, Counter>,
    pub storage_used_bytes: Gauge,
    pub storage_quota_bytes: Gauge,
    pub evidence_paused: Gauge,
    pub evidence_evicted: Counter,
    pub evidence_skipped: Counter,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("steward");
        let frames_analysed = Family::<CameraLabel, Counter>::default();
        registry.register("frames_analysed", "Frames that went through detection and the rules", frames_analysed.clone());
        let frames_dropped = Family::<CameraReasonLabel, Counter>::default();
        registry.register("frames_dropped", "Frames dropped before analysis, by reason", frames_dropped.clone());
        let frames_judged = Family::<ZoneRuleLabel, Counter>::default();
        registry.register("frames_judged", "Frames a zone rule judged (inside its schedule), per camera, zone and kind", frames_judged.clone());
        let source_restarts = Family::<CameraReasonLabel, Counter>::default();
        registry.register("source_restarts", "Camera pipeline restarts, by reason", source_restarts.clone());
        let camera_state = Family::<CameraStateLabel, Gauge>::default();
        registry.register("camera_state", "1 for the state each camera is in", camera_state.clone());
        let inference_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 10));
        registry.register("inference_seconds", "Time for one detector run", inference_seconds.clone());
        let inference_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 7));
        registry.register("inference_batch_size", "Frames in one detector run", inference_batch_size.clone());
        let incidents = Family::<IncidentLabel, Counter>::default();
        registry.register("incident_events", "Incident state changes written to the outbox", incidents.clone());
        let outbox_pending = Family::<SinkLabel, Gauge>::default();
        registry.register("outbox_pending", "Records waiting for delivery, per sink", outbox_pending.clone());
        let deliveries = Family::<SinkResultLabel, Counter>::default();
        registry.register("delivery_attempts", "Delivery attempts per sink, by result", deliveries.clone());
        let storage_used_bytes = Gauge::default();
        registry.register("storage_used_bytes", "Bytes the outbox database and the kept evidence take", storage_used_bytes.clone());
        let storage_quota_bytes = Gauge::default();
        registry.register("storage_quota_bytes", "The storage quota ([storage] quota_mb)", storage_quota_bytes.clone());
        let evidence_paused = Gauge::default();
        registry.register("evidence_paused", "1 while the quota is full of undelivered data and incidents go out without pictures", evidence_paused.clone());
        let evidence_evicted = Counter::default();
        registry.register("evidence_evicted", "Evidence files of delivered events deleted to keep the storage quota", evidence_evicted.clone());
        let evidence_skipped = Counter::default();
        registry.register("evidence_skipped", "Evidence pictures not written because the storage quota is full of undelivered data", evidence_skipped.clone());
        Telemetry {
            registry: Arc::new(registry),
            frames_analysed,
            frames_dropped,
            frames_judged,
            source_restarts,
            camera_state,
            inference_seconds,
            inference_tally: Arc::default(),
            inference_batch_size,
            incidents,
            outbox_pending,
            deliveries,
            storage_used_bytes,
            storage_quota_bytes,
            evidence_paused,
            evidence_evicted,
            evidence_skipped,
        }
    }

    /// Records one detector run: the histogram for Prometheus, the tally for the dashboard.
    pub fn observe_inference(&self, elapsed: std::time::Duration) {
        self.inference_seconds.observe(elapsed.as_secs_f64());
        self.inference_tally.runs.fetch_add(1, Ordering::Relaxed);
        self.inference_tally.micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Detector runs so far and their mean duration in milliseconds (0 before the first run).
    pub fn inference_mean(&self) -> (u64, f64) {
        let runs = self.inference_tally.runs.load(Ordering::Relaxed);
        let micros = self.inference_tally.micros.load(Ordering::Relaxed);
        (runs, if runs == 0 { 0.0 } else { micros as f64 / runs as f64 / 1000.0 })
    }

    /// Marks `state` as the one camera state set to 1.
    pub fn set_camera_state(&self, camera: &str, state: &str) {
        for s in ["connecting", "live", "stalled", "failed", "ended"] {
            self.camera_state.get_or_create(&CameraStateLabel { camera: camera.to_string(), state: s.to_string() }).set(i64::from(s == state));
        }
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
