//! The runtime: the only place that wires stages, threads, channels and shutdown.
//!
//! ```text
//! camera threads ──(a lane per camera: files wait,──► detector thread ──► analysis thread
//!   (GStreamer)      live drops its oldest)           (one ort session,  (track, rules,
//!                                                      batches, fair)    incidents, outbox)
//!                                                     async sinks ◄── outbox (SQLite) ◄──┘
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use tokio::sync::watch;

use crate::config::{Config, Sink};
use crate::detect::{BatchPolicy, BatchQueue, Detection, Detector, DetectorError, FaceBlurrer, Manifest, ManifestError, Producer, default_manifest_path};
use crate::incident::{IncidentContext, IncidentManager, Moment, Scope};
use crate::outbox::{Outbox, OutboxError, database_path, pending_total};
use crate::rules::{Observation, ZoneRule, zone_rules};
use crate::sink::{SinkHandle, run_http_sink};
use crate::source::{CameraSource, Frame, HealthBoard, PipelineTemplate, SourceExit, TemplateError, run_camera};
use crate::telemetry::{CameraLabel, CameraReasonLabel, Telemetry};

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
    pub started: Instant,
}

/// A configured, ready-to-run edge: model loaded, outbox open.
pub struct Edge {
    config: Config,
    faces: Option<FaceBlurrer>,
    rules: HashMap<String, Vec<ZoneRule>>,
    detector: Detector,
    template: PipelineTemplate,
    outbox: Outbox,
    context: IncidentContext,
    handle: EdgeHandle,
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
        let outbox = Outbox::open(&database_path(&config.storage.dir), sinks)?;
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
        let handle = EdgeHandle { health: HealthBoard::default(), telemetry: Telemetry::new(), model_name: manifest.name, started: Instant::now() };
        Ok(Edge { config, faces, rules, detector, template, outbox, context, handle })
    }

    pub fn handle(&self) -> EdgeHandle {
        self.handle.clone()
    }

    /// Runs until `shutdown` resolves, or — with `exit_when_done` — until the files have
    /// played and everything is delivered. Must be called inside a Tokio runtime.
    pub async fn run(self, options: RunOptions, shutdown: impl std::future::Future<Output = ()>) -> RunOutcome {
        let Edge { config, faces, rules, detector, template, outbox, context, handle } = self;
        let stop = Arc::new(AtomicBool::new(false));
        let (sink_stop_tx, sink_stop_rx) = watch::channel(false);

        // Sinks first, so records left from a previous run start moving at once.
        let database = database_path(&config.storage.dir);
        let mut sink_handles = Vec::new();
        let mut sink_tasks = Vec::new();
        for sink in &config.sinks {
            let sink_handle = SinkHandle::default();
            sink_handles.push(sink_handle.clone());
            match sink {
                Sink::Http(http) => {
                    sink_tasks.push(tokio::spawn(run_http_sink(http.clone(), database.clone(), handle.telemetry.clone(), sink_handle, sink_stop_rx.clone())));
                }
            }
        }

        // Analysis, then detection, then the cameras that feed them.
        let (detected_tx, detected_rx) = bounded::<(Frame, Vec<Detection>)>(4);
        let analysis = spawn_analysis(rules, outbox, context, faces, handle.telemetry.clone(), sink_handles, detected_rx);
        let model = detection_input(detector.manifest());
        let queue = BatchQueue::new(BatchPolicy { lane_capacity: 2, max_batch: config.model.max_batch, max_wait: config.model.max_wait });
        // Every lane exists before the detector starts: it ends when the last one is dropped.
        let lanes: Vec<Producer<Frame>> = config.cameras.iter().map(|c| queue.producer(&c.id)).collect();
        let detection = spawn_detector(detector, queue, detected_tx, handle.telemetry.clone());
        let mut cameras: Vec<JoinHandle<SourceExit>> = Vec::new();
        for (camera, lane) in config.cameras.iter().zip(lanes) {
            handle.health.register(&camera.id, camera.url.redacted());
            let source = CameraSource {
                camera: camera.clone(),
                template: template.clone(),
                input_width: model.0,
                input_height: model.1,
                input_format: model.2,
                frames: lane,
                health: handle.health.clone(),
                telemetry: handle.telemetry.clone(),
                stop: stop.clone(),
                backoff_min: Duration::from_secs(1),
                backoff_max: Duration::from_secs_f64(camera.retry_max_s),
            };
            let name = format!("camera-{}", camera.id);
            cameras.push(std::thread::Builder::new().name(name).spawn(move || run_camera(source)).expect("spawn camera thread"));
        }

        let all_files = config.cameras.iter().all(|c| c.url.is_file() && !c.looping);
        let sources_done = tokio::task::spawn_blocking(move || cameras.into_iter().map(|t| t.join().unwrap_or(SourceExit::Stopped)).collect::<Vec<_>>());
        tokio::pin!(shutdown);
        tokio::pin!(sources_done);

        let mut stages = Some((detection, analysis));
        let outcome = if options.exit_when_done && all_files {
            tokio::select! {
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
            }
        } else {
            if options.exit_when_done {
                tracing::warn!("--exit-when-done applies only when every camera is a file that does not loop; running until stopped");
            }
            shutdown.await;
            RunOutcome::Stopped
        };

        // Sources stop within a poll interval; detection and analysis then finish what is
        // queued, so a confirmed violation is written before the process ends.
        stop.store(true, Ordering::Relaxed);
        if let Some(running) = stages.take() {
            let joined = tokio::task::spawn_blocking(move || join_stages(Some(running)));
            if tokio::time::timeout(Duration::from_secs(15), joined).await.is_err() {
                tracing::warn!("analysis did not finish within 15 s of shutdown");
            }
        }
        let _ = sink_stop_tx.send(true);
        for task in sink_tasks {
            let _ = task.await;
        }
        outcome
    }
}

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
                        telemetry.inference_seconds.observe(started.elapsed().as_secs_f64());
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

fn spawn_analysis(
    mut rules: HashMap<String, Vec<ZoneRule>>,
    mut outbox: Outbox,
    context: IncidentContext,
    faces: Option<FaceBlurrer>,
    telemetry: Telemetry,
    sinks: Vec<SinkHandle>,
    detected: Receiver<(Frame, Vec<Detection>)>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("analysis".into())
        .spawn(move || {
            let open = outbox.open_incidents().unwrap_or_else(|error| {
                tracing::error!(%error, "cannot read open incidents; already-open violations may be reported again");
                Vec::new()
            });
            let mut incidents = IncidentManager::new(context, faces, open, telemetry.clone());
            for (frame, detections) in detected {
                telemetry.frames_analysed.get_or_create(&CameraLabel { camera: frame.camera.to_string() }).inc();
                let observation = Observation { camera: &frame.camera, media_time: frame.media_time, wall_time: frame.wall_time, detections: &detections, image: &frame.image };
                let moment = Moment { media_time: frame.media_time, wall_time: frame.wall_time, image: &frame.image, clip: frame.clip.as_deref() };
                let Some(camera_rules) = rules.get_mut(&*frame.camera) else { continue };
                for rule in camera_rules.iter_mut() {
                    let judgement = rule.evaluate(&observation);
                    let scope = Scope { camera: &frame.camera, zone: &rule.zone_id, kind: rule.kind };
                    match incidents.reconcile(scope, &rule.lifecycle, &judgement, moment, &mut outbox) {
                        Ok(0) => {}
                        Ok(_) => sinks.iter().for_each(SinkHandle::wake),
                        Err(error) => tracing::error!(camera = %frame.camera, zone = %rule.zone_id, %error, "cannot record incident event"),
                    }
                }
            }
        })
        .expect("spawn analysis thread")
}
