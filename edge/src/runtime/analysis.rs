//! The analysis stage: judges every detected frame with its camera's zone rules, turns the
//! judgements into incident events in the outbox, and takes config changes between frames.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, select};
use image::RgbImage;

use crate::config::{Camera, CodeTable, Site};
use crate::detect::{Detection, FaceBlurrer};
use crate::incident::{IncidentContext, IncidentManager, Moment, Scope};
use crate::outbox::{Outbox, StorageBudget};
use crate::rules::{Observation, ZoneRule};
use crate::source::Frame;
use crate::sink::SinkHandle;
use crate::telemetry::{CameraLabel, Telemetry, ZoneRuleLabel};

/// A config change, as the analysis stage applies it between two frames.
pub enum AnalysisChange {
    /// A camera's zone rules changed: keep the running rules of the zones in `keep` (their
    /// dwell and learned state go on), drop the others, add `added`.
    Rules { camera: String, keep: Vec<String>, added: Vec<ZoneRule> },
    /// A camera was removed: its rules go (frames still queued from it are skipped).
    Forget { camera: String },
    /// Site, camera details and codes for the documents written from now on.
    Context { site: Site, cameras: HashMap<String, Camera>, codes: CodeTable },
    /// The sinks new events are queued for, and their wake-up handles.
    Sinks { names: Vec<String>, handles: Vec<SinkHandle> },
}

/// The last analysed picture of one camera.
#[derive(Clone)]
pub struct LatestFrame {
    pub image: Arc<RgbImage>,
    pub wall_time: DateTime<Utc>,
}

/// Every camera's last analysed picture: the zone editor's background and the source of a clean
/// reference or a lit level.
#[derive(Clone, Default)]
pub struct LatestFrames(Arc<Mutex<HashMap<String, LatestFrame>>>);

impl LatestFrames {
    pub fn get(&self, camera: &str) -> Option<LatestFrame> {
        self.0.lock().expect("latest frames lock").get(camera).cloned()
    }
    fn put(&self, camera: &str, frame: LatestFrame) {
        self.0.lock().expect("latest frames lock").insert(camera.to_string(), frame);
    }
    fn forget(&self, camera: &str) {
        self.0.lock().expect("latest frames lock").remove(camera);
    }
}

pub struct AnalysisStage {
    pub rules: HashMap<String, Vec<ZoneRule>>,
    pub outbox: Outbox,
    pub context: IncidentContext,
    pub faces: Option<FaceBlurrer>,
    pub telemetry: Telemetry,
    pub sinks: Vec<SinkHandle>,
    pub latest: LatestFrames,
    /// Whether new evidence pictures fit the storage quota.
    pub storage: StorageBudget,
}

impl AnalysisStage {
    /// Runs until `detected` closes; `changes` may close earlier (no more reconfiguration).
    pub fn spawn(self, detected: Receiver<(Frame, Vec<Detection>)>, changes: Receiver<AnalysisChange>) -> JoinHandle<()> {
        std::thread::Builder::new().name("analysis".into()).spawn(move || self.run(detected, changes)).expect("spawn analysis thread")
    }

    fn run(self, detected: Receiver<(Frame, Vec<Detection>)>, changes: Receiver<AnalysisChange>) {
        let AnalysisStage { mut rules, mut outbox, context, faces, telemetry, mut sinks, latest, storage } = self;
        let open = outbox.open_incidents().unwrap_or_else(|error| {
            tracing::error!(%error, "cannot read open incidents; already-open violations may be reported again");
            Vec::new()
        });
        let mut incidents = IncidentManager::new(context, faces, open, telemetry.clone()).with_storage(storage);
        let mut changes = Some(changes);
        loop {
            let next = match &changes {
                Some(change_rx) => select! {
                    recv(detected) -> frame => Input::Frame(frame.ok()),
                    recv(change_rx) -> change => Input::Change(change.ok()),
                },
                None => Input::Frame(detected.recv().ok()),
            };
            match next {
                Input::Frame(None) => return,
                Input::Change(None) => changes = None,
                Input::Change(Some(change)) => apply(change, &mut rules, &mut incidents, &mut outbox, &mut sinks, &latest),
                Input::Frame(Some((frame, detections))) => {
                    latest.put(&frame.camera, LatestFrame { image: frame.image.clone(), wall_time: frame.wall_time });
                    judge(&frame, &detections, &mut rules, &mut incidents, &mut outbox, &sinks, &telemetry);
                }
            }
        }
    }
}

enum Input {
    Frame(Option<(Frame, Vec<Detection>)>),
    Change(Option<AnalysisChange>),
}

fn apply(change: AnalysisChange, rules: &mut HashMap<String, Vec<ZoneRule>>, incidents: &mut IncidentManager, outbox: &mut Outbox, sinks: &mut Vec<SinkHandle>, latest: &LatestFrames) {
    match change {
        AnalysisChange::Rules { camera, keep, added } => {
            let camera_rules = rules.entry(camera.clone()).or_default();
            camera_rules.retain(|rule| keep.contains(&rule.zone_id));
            let zones: Vec<&str> = added.iter().map(|r| r.zone_id.as_str()).collect();
            tracing::info!(camera = %camera, kept = camera_rules.len(), new_zones = ?zones, "zone rules changed");
            camera_rules.extend(added);
        }
        AnalysisChange::Forget { camera } => {
            rules.remove(&camera);
            latest.forget(&camera);
        }
        AnalysisChange::Context { site, cameras, codes } => incidents.update_context(site, cameras, codes),
        AnalysisChange::Sinks { names, handles } => {
            outbox.set_sinks(names);
            *sinks = handles;
        }
    }
}

fn judge(frame: &Frame, detections: &[Detection], rules: &mut HashMap<String, Vec<ZoneRule>>, incidents: &mut IncidentManager, outbox: &mut Outbox, sinks: &[SinkHandle], telemetry: &Telemetry) {
    telemetry.frames_analysed.get_or_create(&CameraLabel { camera: frame.camera.to_string() }).inc();
    let Some(camera_rules) = rules.get_mut(&*frame.camera) else { return };
    let observation = Observation { camera: &frame.camera, media_time: frame.media_time, wall_time: frame.wall_time, detections, image: &frame.image };
    let moment = Moment { media_time: frame.media_time, wall_time: frame.wall_time, image: &frame.image, clip: frame.clip.as_deref() };
    for rule in camera_rules.iter_mut() {
        let judgement = rule.evaluate(&observation);
        if judgement.judged {
            telemetry.frames_judged.get_or_create(&ZoneRuleLabel { camera: frame.camera.to_string(), zone: rule.zone_id.clone(), kind: rule.kind.as_str().into() }).inc();
        }
        let scope = Scope { camera: &frame.camera, zone: &rule.zone_id, kind: rule.kind };
        match incidents.reconcile(scope, &rule.lifecycle, &judgement, moment, outbox) {
            Ok(0) => {}
            Ok(_) => sinks.iter().for_each(SinkHandle::wake),
            Err(error) => tracing::error!(camera = %frame.camera, zone = %rule.zone_id, %error, "cannot record incident event"),
        }
    }
}
