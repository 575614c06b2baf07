//! The runtime: the only place that wires stages, threads, channels and shutdown.
//!
//! ```text
//! camera threads ──(a lane per camera: files wait,──► detector thread ──► analysis thread
//!   (GStreamer)      live drops its oldest)           (one ort session,  (track, rules,
//!                                                      batches, fair)    incidents, outbox)
//!                                                     async sinks ◄── outbox (SQLite) ◄──┘
//! ```

mod analysis;
mod cameras;
mod reload;
mod sinks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use tokio::sync::watch;

pub use analysis::{LatestFrame, LatestFrames};
use analysis::AnalysisStage;
use cameras::{CameraKit, CameraSet};
use reload::Reloader;
pub use sinks::SinkWaker;
use sinks::SinkSet;

use crate::config::Config;
use crate::detect::{BatchPolicy, BatchQueue, Detection, Detector, DetectorError, FaceBlurrer, Manifest, ManifestError, default_manifest_path};
use crate::incident::IncidentContext;
use crate::outbox::{Outbox, OutboxError, StorageBudget, database_path, enforce, pending_total};
use crate::rules::{ZoneRule, zone_rules};
use crate::source::{Frame, HealthBoard, PipelineTemplate, SourceExit, TemplateError};
use crate::telemetry::{CameraReasonLabel, Telemetry};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no model manifest configured and the bundled one was not found (set [model] manifest, or STEWARD_MODELS)")]
    NoModel,
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Detector(#[from] DetectorError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("cannot initialise GStreamer: {0}")]
    GStreamer(String),
    #[error(transparent)]
    Rule(#[from] crate::rules::ExposedWasteError),
    #[error("face blurring is on ([privacy] blur_faces) but the face model models/face-centerface.toml was not found; install it next to the detection model or set blur_faces = false")]
    NoFaceModel,
    #[error(transparent)]
    Faces(#[from] crate::detect::FaceError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot create storage folder {path}: {source}")]
    Storage { path: PathBuf, source: std::io::Error },
}

/// How `run` ends.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Return once every camera (all must be files) has ended and the outbox is empty.
    pub exit_when_done: bool,
    /// With `exit_when_done`: how long to wait for delivery after the sources end.
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Shutdown was requested.
    Stopped,
    /// Every source ended and everything was delivered.
    Done,
    /// Every source ended but records were still undelivered after the drain timeout.
    DrainTimedOut { pending: u64 },
}

/// What the control plane may read while the edge runs.
#[derive(Clone)]
pub struct EdgeHandle {
    pub health: HealthBoard,
    pub telemetry: Telemetry,
    pub model_name: String,
    pub model_sha256: String,
    pub started: Instant,
    /// Every camera's last analysed picture.
    pub latest: LatestFrames,
    /// Wakes the sinks (after records were re-queued).
    pub sinks: SinkWaker,
    /// The camera pipeline template in use (`steward snapshot`, "test connection").
    pub template: PipelineTemplate,
    /// The SQLite outbox.
    pub database: PathBuf,
    /// The storage folder against its quota.
    pub storage: StorageBudget,
}

/// A configured, ready-to-run edge: model loaded, outbox open.
pub struct Edge {
    config: Config,
    faces: Option<FaceBlurrer>,
    rules: HashMap<String, Vec<ZoneRule>>,
    detector: Detector,
    outbox: Outbox,
    context: IncidentContext,
    handle: EdgeHandle,
    updates: Option<watch::Receiver<Arc<Config>>>,
}

impl Edge {
    pub fn new(config: Config) -> Result<Edge, StartError> {
        gstreamer::init().map_err(|e| StartError::GStreamer(e.to_string()))?;
        std::fs::create_dir_all(&config.storage.dir).map_err(|source| StartError::Storage { path: config.storage.dir.clone(), source })?;
        let manifest_path = config.model.manifest.clone().or_else(default_manifest_path).ok_or(StartError::NoModel)?;
        let manifest = Manifest::load(&manifest_path)?;
        tracing::info!(model = %manifest.name, manifest = %manifest_path.display(), "loading model");
        let detector = Detector::new(manifest.clone(), config.model.threads)?;
        let template = PipelineTemplate::for_platform(config.device.platform)?;
        tracing::info!(platform = %config.device.platform, template = template.name, max_batch = config.model.max_batch, model_batch_limit = ?detector.batch_limit(), "camera pipelines and inference");
        let sinks = config.sinks.iter().map(|s| s.name().to_string()).collect();
        let database = database_path(&config.storage.dir);
        let outbox = Outbox::open(&database, sinks)?;
        let context = IncidentContext {
            site: config.site.clone(),
            device: config.device.clone(),
            software: format!("steward {}", crate::VERSION),
            model_name: manifest.name.clone(),
            model_sha256: manifest.sha256.clone(),
            cameras: config.cameras.iter().map(|c| (c.id.clone(), c.clone())).collect(),
            codes: config.codes.clone(),
            evidence_dir: config.storage.dir.join("evidence"),
        };
        let faces = match config.privacy.blur_faces {
            true => Some(FaceBlurrer::load(&FaceBlurrer::default_path().ok_or(StartError::NoFaceModel)?)?),
            false => None,
        };
        let mut rules = HashMap::new();
        for camera in &config.cameras {
            rules.insert(camera.id.clone(), zone_rules(&config.site, &camera.zones)?);
        }
        let handle = EdgeHandle {
            health: HealthBoard::default(),
            telemetry: Telemetry::new(),
            model_name: manifest.name,
            model_sha256: manifest.sha256,
            started: Instant::now(),
            latest: LatestFrames::default(),
            sinks: SinkWaker::default(),
            template,
            database,
            storage: StorageBudget::new(config.storage.quota_bytes),
        };
        Ok(Edge { config, faces, rules, detector, outbox, context, handle, updates: None })
    }

    pub fn handle(&self) -> EdgeHandle {
        self.handle.clone()
    }

    /// Follows config changes (from the config store) while running: cameras, zones, sinks,
    /// site and codes change in place. Not with `exit_when_done`, where the sources are fixed.
    pub fn follow(mut self, updates: watch::Receiver<Arc<Config>>) -> Edge {
        self.updates = Some(updates);
        self
    }

    /// Runs until `shutdown` resolves, or — with `exit_when_done` — until the files have
    /// played and everything is delivered. Must be called inside a Tokio runtime.
    pub async fn run(self, options: RunOptions, shutdown: impl std::future::Future<Output = ()>) -> RunOutcome {
        let Edge { config, faces, rules, detector, outbox, context, handle, updates } = self;
        let database = handle.database.clone();
        let mut sinks = SinkSet::new(database.clone(), handle.telemetry.clone(), handle.sinks.clone());
        // Sinks first, so records left from a previous run start moving at once.
        sinks.reconcile(&config.sinks).await;

        // Analysis, then detection, then the cameras that feed them.
        let (detected_tx, detected_rx) = bounded::<(Frame, Vec<Detection>)>(4);
        let (change_tx, change_rx) = crossbeam_channel::unbounded();
        let stage = AnalysisStage {
            rules,
            outbox,
            context,
            faces,
            telemetry: handle.telemetry.clone(),
            sinks: sinks.handles(),
            latest: handle.latest.clone(),
            storage: handle.storage.clone(),
        };
        let (storage_stop, storage_stopped) = watch::channel(false);
        let storage_keeper = tokio::spawn(keep_storage(database.clone(), handle.storage.clone(), handle.telemetry.clone(), storage_stopped));
        let analysis = stage.spawn(detected_rx, change_rx);
        let queue = BatchQueue::new(BatchPolicy { lane_capacity: 2, max_batch: config.model.max_batch, max_wait: config.model.max_wait });
        // The camera set's producer exists before the detector starts: it ends when the last
        // producer is dropped.
        let kit = CameraKit {
            template: handle.template.clone(),
            model_input: detection_input(detector.manifest()),
            lanes: queue.producer(KEEPER_LANE),
            health: handle.health.clone(),
            telemetry: handle.telemetry.clone(),
        };
        let detection = spawn_detector(detector, queue, detected_tx, handle.telemetry.clone());
        let mut camera_set = CameraSet::new(kit);
        for camera in &config.cameras {
            camera_set.start(camera);
        }

        let all_files = config.cameras.iter().all(|c| c.url.is_file() && !c.looping);
        tokio::pin!(shutdown);
        let mut stages = Some((detection, analysis));
        let (outcome, mut sinks) = if options.exit_when_done && all_files {
            if updates.is_some() {
                tracing::info!("--exit-when-done: config changes are not followed while the files play");
            }
            drop(change_tx);
            // Dropping the set drops its producer: the detector ends after the last camera.
            let threads = camera_set.into_threads();
            let sources_done = tokio::task::spawn_blocking(move || threads.into_iter().map(|t| t.join().unwrap_or(SourceExit::Stopped)).collect::<Vec<_>>());
            tokio::pin!(sources_done);
            let outcome = tokio::select! {
                _ = &mut shutdown => RunOutcome::Stopped,
                _ = &mut sources_done => {
                    let ended = stages.take();
                    let _ = tokio::task::spawn_blocking(move || join_stages(ended)).await;
                    tracing::info!("all sources ended; waiting for delivery");
                    tokio::select! {
                        _ = &mut shutdown => RunOutcome::Stopped,
                        outcome = drain(database.clone(), options.drain_timeout) => outcome,
                    }
                }
            };
            (outcome, sinks)
        } else {
            if options.exit_when_done {
                tracing::warn!("--exit-when-done applies only when every camera is a file that does not loop; running until stopped");
            }
            let camera_set = Arc::new(Mutex::new(camera_set));
            let mut reloader = Reloader { applied: Arc::new(config.clone()), cameras: camera_set.clone(), sinks, analysis: change_tx };
            match updates {
                Some(mut updates) => loop {
                    tokio::select! {
                        _ = &mut shutdown => break,
                        changed = updates.changed() => {
                            if changed.is_err() {
                                shutdown.as_mut().await;
                                break;
                            }
                            let next = updates.borrow_and_update().clone();
                            reloader.apply(next).await;
                        }
                    }
                },
                None => shutdown.as_mut().await,
            }
            // Sources stop within a poll interval; detection ends when their lanes are gone.
            let threads = {
                let mut set = camera_set.lock().expect("camera set lock");
                set.stop_all()
            };
            let Reloader { sinks, .. } = reloader;
            drop(camera_set);
            let _ = tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| drop(t.join()))).await;
            (RunOutcome::Stopped, sinks)
        };

        // Detection and analysis finish what is queued, so a confirmed violation is written
        // before the process ends.
        if let Some(running) = stages.take() {
            let joined = tokio::task::spawn_blocking(move || join_stages(Some(running)));
            if tokio::time::timeout(Duration::from_secs(15), joined).await.is_err() {
                tracing::warn!("analysis did not finish within 15 s of shutdown");
            }
        }
        sinks.stop_all().await;
        let _ = storage_stop.send(true);
        let _ = storage_keeper.await;
        outcome
    }
}

/// How often the storage quota is checked.
const STORAGE_CHECK: Duration = Duration::from_secs(10);

/// Keeps the storage folder under its quota (see `outbox::enforce`) until `stop` turns true,
/// and mirrors the budget into the metrics.
async fn keep_storage(database: PathBuf, budget: StorageBudget, telemetry: Telemetry, mut stop: watch::Receiver<bool>) {
    loop {
        let (db, round) = (database.clone(), budget.clone());
        match tokio::task::spawn_blocking(move || enforce(&db, &round)).await {
            Ok(Ok(done)) => {
                telemetry.evidence_evicted.inc_by(done.evicted_files);
            }
            Ok(Err(error)) => tracing::error!(%error, "cannot check the storage quota"),
            Err(error) => tracing::error!(%error, "storage quota task failed"),
        }
        let status = budget.status();
        telemetry.storage_used_bytes.set(status.used_bytes.min(i64::MAX as u64) as i64);
        telemetry.storage_quota_bytes.set(status.quota_bytes.min(i64::MAX as u64) as i64);
        telemetry.evidence_paused.set(i64::from(status.evidence_paused));
        tokio::select! {
            _ = tokio::time::sleep(STORAGE_CHECK) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// The lane key of the camera set's own producer (no camera can have this id).
const KEEPER_LANE: &str = "\u{0}cameras";

/// Model input width, height and channel order for the pipeline template.
fn detection_input(manifest: &Manifest) -> (u32, u32, &'static str) {
    let order = if manifest.input.channels == "rgb" { "RGB" } else { "BGR" };
    (manifest.input.width, manifest.input.height, order)
}

async fn drain(database: PathBuf, timeout: Duration) -> RunOutcome {
    let deadline = Instant::now() + timeout;
    loop {
        let db = database.clone();
        let pending = tokio::task::spawn_blocking(move || pending_total(&db)).await.expect("outbox task").unwrap_or(u64::MAX);
        if pending == 0 {
            return RunOutcome::Done;
        }
        if Instant::now() >= deadline {
            return RunOutcome::DrainTimedOut { pending };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the detector and analysis threads (they end when their input channel closes).
fn join_stages(stages: Option<(JoinHandle<()>, JoinHandle<()>)>) {
    let Some((detection, analysis)) = stages else { return };
    for (thread, name) in [(detection, "detector"), (analysis, "analysis")] {
        if thread.join().is_err() {
            tracing::error!(thread = name, "stage thread panicked");
        }
    }
}

/// Runs the shared detector: batches from every camera's lane, one inference run per batch.
fn spawn_detector(mut detector: Detector, queue: BatchQueue<Frame>, detected: Sender<(Frame, Vec<Detection>)>, telemetry: Telemetry) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("detector".into())
        .spawn(move || {
            while let Some(batch) = queue.next_batch() {
                let started = Instant::now();
                let inputs: Vec<(&[u8], &crate::detect::Letterbox)> = batch.iter().map(|f| (f.model_input.as_slice(), &f.letterbox)).collect();
                match detector.detect_batch(&inputs) {
                    Ok(found) => {
                        telemetry.observe_inference(started.elapsed());
                        telemetry.inference_batch_size.observe(batch.len() as f64);
                        for (frame, detections) in batch.into_iter().zip(found) {
                            if detected.send((frame, detections)).is_err() {
                                return;
                            }
                        }
                    }
                    Err(error) => {
                        for frame in &batch {
                            telemetry.frames_dropped.get_or_create(&CameraReasonLabel { camera: frame.camera.to_string(), reason: "inference_error".into() }).inc();
                        }
                        tracing::error!(frames = batch.len(), %error, "detection failed; batch skipped");
                    }
                }
            }
        })
        .expect("spawn detector thread")
}
