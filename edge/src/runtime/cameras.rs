//! The running cameras: one thread each, started, stopped and swapped one by one so a config
//! change touches only the cameras it names.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Camera;
use crate::detect::Producer;
use crate::source::{CameraSource, Frame, HealthBoard, PipelineTemplate, SourceExit, run_camera};
use crate::telemetry::Telemetry;

/// What every camera thread shares.
pub struct CameraKit {
    pub template: PipelineTemplate,
    /// Model input width, height and channel order.
    pub model_input: (u32, u32, &'static str),
    /// A producer on the detector's queue that new cameras' lanes are made from; while it
    /// lives the detector keeps running, even with no camera.
    pub lanes: Producer<Frame>,
    pub health: HealthBoard,
    pub telemetry: Telemetry,
}

struct RunningCamera {
    config: Camera,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<SourceExit>,
}

/// The cameras now running, by id.
pub struct CameraSet {
    kit: CameraKit,
    running: BTreeMap<String, RunningCamera>,
}

/// What `CameraSet::reconcile` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CameraChanges {
    pub started: Vec<String>,
    pub stopped: Vec<String>,
    pub restarted: Vec<String>,
}

impl CameraSet {
    pub fn new(kit: CameraKit) -> Self {
        CameraSet { kit, running: BTreeMap::new() }
    }

    pub fn start(&mut self, camera: &Camera) {
        let stop = Arc::new(AtomicBool::new(false));
        self.kit.health.register(&camera.id, camera.url.redacted());
        let (input_width, input_height, input_format) = self.kit.model_input;
        let source = CameraSource {
            camera: camera.clone(),
            template: self.kit.template.clone(),
            input_width,
            input_height,
            input_format,
            frames: self.kit.lanes.sibling(&camera.id),
            health: self.kit.health.clone(),
            telemetry: self.kit.telemetry.clone(),
            stop: stop.clone(),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs_f64(camera.retry_max_s),
        };
        let thread = std::thread::Builder::new().name(format!("camera-{}", camera.id)).spawn(move || run_camera(source)).expect("spawn camera thread");
        self.running.insert(camera.id.clone(), RunningCamera { config: camera.clone(), stop, thread });
    }

    /// Stops one camera and waits for its thread (a poll interval); its health entry goes.
    pub fn stop(&mut self, id: &str) {
        if let Some(camera) = self.running.remove(id) {
            camera.stop.store(true, Ordering::Relaxed);
            let _ = camera.thread.join();
            self.kit.health.unregister(id);
        }
    }

    /// Brings the running cameras in line with `wanted`: new ids start, missing ids stop, a
    /// camera whose settings changed (its zones aside: they belong to the rules) restarts.
    /// Untouched cameras keep running undisturbed.
    pub fn reconcile(&mut self, wanted: &[Camera]) -> CameraChanges {
        let mut changes = CameraChanges::default();
        let gone: Vec<String> = self.running.keys().filter(|id| !wanted.iter().any(|c| &c.id == *id)).cloned().collect();
        for id in gone {
            self.stop(&id);
            changes.stopped.push(id);
        }
        for camera in wanted {
            match self.running.get(&camera.id) {
                None => {
                    self.start(camera);
                    changes.started.push(camera.id.clone());
                }
                Some(running) if !same_source(&running.config, camera) => {
                    self.stop(&camera.id);
                    self.start(camera);
                    changes.restarted.push(camera.id.clone());
                }
                Some(_) => {}
            }
        }
        changes
    }

    /// Asks every camera to stop and hands back the threads to wait for.
    pub fn stop_all(&mut self) -> Vec<JoinHandle<SourceExit>> {
        let cameras = std::mem::take(&mut self.running);
        cameras
            .into_values()
            .map(|camera| {
                camera.stop.store(true, Ordering::Relaxed);
                camera.thread
            })
            .collect()
    }

    /// The threads of every camera, for waiting until all files have played.
    pub fn into_threads(self) -> Vec<JoinHandle<SourceExit>> {
        self.running.into_values().map(|camera| camera.thread).collect()
    }
}

/// Whether two configs of a camera read the same stream the same way (zones not compared).
fn same_source(a: &Camera, b: &Camera) -> bool {
    Camera { zones: Vec::new(), ..a.clone() } == Camera { zones: Vec::new(), ..b.clone() }
}
