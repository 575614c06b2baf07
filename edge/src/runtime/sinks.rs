//! The running delivery tasks, one per configured sink, each with its own stop switch so a
//! changed sink restarts without pausing the others.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Sink;
use crate::sink::{SinkHandle, run_http_sink, run_mqtt_sink};
use crate::telemetry::Telemetry;

struct RunningSink {
    config: Sink,
    handle: SinkHandle,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Wakes every running sink (after records were written or re-queued).
#[derive(Clone, Default)]
pub struct SinkWaker(Arc<Mutex<Vec<SinkHandle>>>);

impl SinkWaker {
    pub fn wake_all(&self) {
        self.0.lock().expect("sink handles lock").iter().for_each(SinkHandle::wake);
    }
    fn set(&self, handles: Vec<SinkHandle>) {
        *self.0.lock().expect("sink handles lock") = handles;
    }
}

pub struct SinkSet {
    database: PathBuf,
    telemetry: Telemetry,
    waker: SinkWaker,
    running: Vec<RunningSink>,
}

impl SinkSet {
    pub fn new(database: PathBuf, telemetry: Telemetry, waker: SinkWaker) -> Self {
        SinkSet { database, telemetry, waker, running: Vec::new() }
    }

    /// Starts, restarts (changed settings) and stops sinks to match `wanted`; returns whether
    /// anything changed. Must run inside a Tokio runtime.
    pub async fn reconcile(&mut self, wanted: &[Sink]) -> bool {
        let mut changed = false;
        let mut kept = Vec::new();
        for running in std::mem::take(&mut self.running) {
            if wanted.contains(&running.config) {
                kept.push(running);
            } else {
                tracing::info!(sink = running.config.name(), "sink removed or changed; stopping it");
                stop(running).await;
                changed = true;
            }
        }
        self.running = kept;
        for sink in wanted {
            if !self.running.iter().any(|r| &r.config == sink) {
                self.start(sink);
                changed = true;
            }
        }
        self.running.sort_by_key(|r| wanted.iter().position(|w| w == &r.config));
        self.waker.set(self.handles());
        changed
    }

    fn start(&mut self, sink: &Sink) {
        let handle = SinkHandle::default();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = match sink {
            Sink::Http(http) => tokio::spawn(run_http_sink(http.clone(), self.database.clone(), self.telemetry.clone(), handle.clone(), stop_rx)),
            Sink::Mqtt(mqtt) => tokio::spawn(run_mqtt_sink(mqtt.clone(), self.database.clone(), self.telemetry.clone(), handle.clone(), stop_rx)),
        };
        self.running.push(RunningSink { config: sink.clone(), handle, stop: stop_tx, task });
    }

    pub fn names(&self) -> Vec<String> {
        self.running.iter().map(|r| r.config.name().to_string()).collect()
    }

    pub fn handles(&self) -> Vec<SinkHandle> {
        self.running.iter().map(|r| r.handle.clone()).collect()
    }

    pub async fn stop_all(&mut self) {
        for running in std::mem::take(&mut self.running) {
            stop(running).await;
        }
        self.waker.set(Vec::new());
    }
}

async fn stop(running: RunningSink) {
    let _ = running.stop.send(true);
    let _ = running.task.await;
}
