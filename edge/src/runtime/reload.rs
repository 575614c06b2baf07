//! Hot reload: turns a new config into the smallest set of changes to the running edge —
//! cameras started, stopped or restarted one by one, zone rules swapped per camera (unchanged
//! zones keep their state), sinks restarted — and says what needs a restart instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use super::analysis::AnalysisChange;
use super::cameras::CameraSet;
use super::sinks::SinkSet;
use crate::config::{Camera, Config, Zone};
use crate::rules::{ZoneRule, zone_rules};

pub struct Reloader {
    pub applied: Arc<Config>,
    pub cameras: Arc<Mutex<CameraSet>>,
    pub sinks: SinkSet,
    pub analysis: Sender<AnalysisChange>,
}

impl Reloader {
    /// Applies `next`. Must run inside a Tokio runtime (camera threads are joined off it).
    pub async fn apply(&mut self, next: Arc<Config>) {
        let previous = self.applied.clone();
        for setting in restart_only_changes(&previous, &next) {
            tracing::warn!(setting, "changed in the config; takes effect after a restart of steward");
        }
        let wanted = next.cameras.clone();
        let cameras = self.cameras.clone();
        let changes = tokio::task::spawn_blocking(move || cameras.lock().expect("camera set lock").reconcile(&wanted)).await.unwrap_or_default();
        for id in &changes.stopped {
            let _ = self.analysis.send(AnalysisChange::Forget { camera: id.clone() });
        }
        let site_changed = format!("{:?}", previous.site) != format!("{:?}", next.site);
        let mut zones_changed = Vec::new();
        for camera in &next.cameras {
            let before: &[Zone] = match previous.cameras.iter().find(|c| c.id == camera.id) {
                Some(old) if !site_changed => &old.zones,
                _ => &[],
            };
            if let Some(change) = rules_change(&next, camera, before) {
                zones_changed.push(camera.id.clone());
                let _ = self.analysis.send(change);
            }
        }
        let cameras_by_id: HashMap<String, Camera> = next.cameras.iter().map(|c| (c.id.clone(), c.clone())).collect();
        let _ = self.analysis.send(AnalysisChange::Context { site: next.site.clone(), cameras: cameras_by_id, codes: next.codes.clone() });
        let sinks_changed = self.sinks.reconcile(&next.sinks).await;
        if sinks_changed {
            let _ = self.analysis.send(AnalysisChange::Sinks { names: self.sinks.names(), handles: self.sinks.handles() });
        }
        tracing::info!(
            started = ?changes.started,
            stopped = ?changes.stopped,
            restarted = ?changes.restarted,
            zones_changed = ?zones_changed,
            sinks_changed,
            "config applied"
        );
        self.applied = next;
    }
}

/// The rule change for one camera, if its zones differ from `before` (empty for a new camera,
/// or when every rule must be rebuilt). Zones equal to their old selves keep running.
fn rules_change(config: &Config, camera: &Camera, before: &[Zone]) -> Option<AnalysisChange> {
    let unchanged = |zone: &Zone| before.iter().any(|old| old == zone);
    let same_ids = before.len() == camera.zones.len();
    if same_ids && camera.zones.iter().all(unchanged) && !before.is_empty() {
        return None;
    }
    if before.is_empty() && camera.zones.is_empty() {
        return None;
    }
    let keep: Vec<String> = camera.zones.iter().filter(|z| unchanged(z)).map(|z| z.id.clone()).collect();
    let fresh: Vec<Zone> = camera.zones.iter().filter(|z| !unchanged(z)).cloned().collect();
    let added: Vec<ZoneRule> = match zone_rules(&config.site, &fresh) {
        Ok(rules) => rules,
        Err(error) => {
            tracing::error!(camera = %camera.id, %error, "cannot build the changed zones' rules; they are not judged until fixed");
            Vec::new()
        }
    };
    Some(AnalysisChange::Rules { camera: camera.id.clone(), keep, added })
}

/// Settings the running edge cannot change in place.
fn restart_only_changes(previous: &Config, next: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if format!("{:?}", previous.storage) != format!("{:?}", next.storage) {
        changed.push("[storage]");
    }
    if format!("{:?}", previous.control) != format!("{:?}", next.control) {
        changed.push("[control]");
    }
    if format!("{:?}", previous.device) != format!("{:?}", next.device) {
        changed.push("[device]");
    }
    if format!("{:?}", previous.model) != format!("{:?}", next.model) {
        changed.push("[model]");
    }
    if previous.privacy != next.privacy {
        changed.push("[privacy]");
    }
    changed
}
