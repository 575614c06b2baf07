//! Incident lifecycle, one zone rule at a time: a violation present past its dwell opens an
//! incident (`open`) unless one is already open at the same place; while it stays, optional
//! `update`s; once it has been gone for `resolve_after_s`, `resolved`. After that, the same
//! place stays quiet for `cooldown_s`, so a violation flickering at a threshold does not
//! become many incidents. Open incidents are reloaded from the outbox at start, so a restart
//! neither re-reports nor forgets them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use image::RgbImage;

use super::codes::codes_for;
use super::document::*;
use super::clip::write_clip;
use super::evidence::{Annotation, EvidenceFile, write_snapshot};
use crate::config::{Camera, CodeTable, Device, LifecycleParams, Site};
use crate::detect::FaceBlurrer;
use crate::geometry::{BBox, iou};
use crate::kind::ViolationKind;
use crate::outbox::{Outbox, OutboxError, StorageBudget, StoredEvidence};
use crate::rules::{Judgement, Violation};
use crate::source::ClipRing;
use crate::telemetry::{IncidentLabel, Telemetry};

/// Overlap above which a violation is the one an incident is about.
const SAME_PLACE_IOU: f32 = 0.3;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("cannot write evidence {path}: {source}")]
    Evidence { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Which rule of which zone a judgement comes from.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub camera: &'a str,
    pub zone: &'a str,
    pub kind: ViolationKind,
}

/// An open incident.
#[derive(Debug, Clone)]
pub struct OpenIncident {
    pub id: String,
    pub camera: String,
    pub zone: String,
    pub kind: ViolationKind,
    pub bbox: BBox,
    /// The last document sent for it (the next event builds on it).
    pub document: IncidentDocument,
    /// Media times of the last sighting and the last notification; `None` until first judged
    /// in this run (media time restarts with the process).
    presence: Option<(Duration, Duration)>,
}

impl OpenIncident {
    pub fn new(id: String, camera: String, zone: String, kind: ViolationKind, bbox: BBox, document: IncidentDocument) -> Self {
        OpenIncident { id, camera, zone, kind, bbox, document, presence: None }
    }
    fn in_scope(&self, scope: &Scope<'_>) -> bool {
        self.camera == scope.camera && self.zone == scope.zone && self.kind == scope.kind
    }
}

/// A place recently resolved, quiet until its cool-down ends.
#[derive(Debug, Clone)]
struct Cooling {
    camera: String,
    zone: String,
    kind: ViolationKind,
    bbox: BBox,
    until: Duration,
}

/// Fixed facts every document carries.
#[derive(Debug, Clone)]
pub struct IncidentContext {
    pub site: Site,
    pub device: Device,
    pub software: String,
    pub model_name: String,
    pub model_sha256: String,
    pub cameras: HashMap<String, Camera>,
    pub codes: CodeTable,
    pub evidence_dir: PathBuf,
}

pub struct IncidentManager {
    context: IncidentContext,
    /// Pixelates faces in evidence; `None` when the operator turned blurring off.
    faces: Option<FaceBlurrer>,
    open: Vec<OpenIncident>,
    cooling: Vec<Cooling>,
    telemetry: Telemetry,
    /// New pictures wait while the storage quota is full of undelivered data.
    storage: StorageBudget,
}

/// The frame a judgement was made on.
#[derive(Debug, Clone, Copy)]
pub struct Moment<'a> {
    pub media_time: Duration,
    pub wall_time: DateTime<Utc>,
    pub image: &'a RgbImage,
    /// The camera's recent encoded stream, when it keeps clips.
    pub clip: Option<&'a ClipRing>,
}

impl IncidentManager {
    pub fn new(context: IncidentContext, faces: Option<FaceBlurrer>, open: Vec<OpenIncident>, telemetry: Telemetry) -> Self {
        IncidentManager { context, faces, open, cooling: Vec::new(), telemetry, storage: StorageBudget::unlimited() }
    }

    /// Writes evidence only while `storage` has room for it.
    pub fn with_storage(mut self, storage: StorageBudget) -> Self {
        self.storage = storage;
        self
    }

    /// False (and counted, and logged) when the storage quota leaves no room for evidence.
    fn evidence_allowed(&self, camera: &str, zone: &str, incident: &str) -> bool {
        let allowed = self.storage.allows_evidence();
        if !allowed {
            self.telemetry.evidence_skipped.inc();
            tracing::warn!(camera, zone, incident, "storage quota full of undelivered data: this evidence is not written");
        }
        allowed
    }

    /// Takes a changed config's site, cameras and codes for the documents written from now on.
    pub fn update_context(&mut self, site: Site, cameras: HashMap<String, Camera>, codes: CodeTable) {
        self.context.site = site;
        self.context.cameras = cameras;
        self.context.codes = codes;
    }

    pub fn open_incidents(&self) -> &[OpenIncident] {
        &self.open
    }

    /// Applies one zone rule's judgement of one frame; returns how many events were written.
    pub fn reconcile(&mut self, scope: Scope<'_>, lifecycle: &LifecycleParams, judgement: &Judgement, moment: Moment<'_>, outbox: &mut Outbox) -> Result<usize, IncidentError> {
        if !judgement.judged {
            return Ok(0);
        }
        let now = moment.media_time;
        self.cooling.retain(|c| c.until > now);
        let mut written = 0;
        let mut seen: Vec<String> = Vec::new();
        for violation in &judgement.present {
            // Two reports of one violation in a frame (say, a stall seen both as a bicycle and
            // as a static object) are one violation: an incident already matched this frame
            // still counts as "open here".
            let matching = self
                .open
                .iter_mut()
                .filter(|o| o.in_scope(&scope))
                .map(|o| (iou(&o.bbox, &violation.bbox), o))
                .filter(|(overlap, _)| *overlap >= SAME_PLACE_IOU)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, o)| o);
            if let Some(open) = matching {
                if seen.contains(&open.id) {
                    continue;
                }
                seen.push(open.id.clone());
                open.bbox = violation.bbox;
                let (_, last_notified) = *open.presence.get_or_insert((now, now));
                open.presence = Some((now, last_notified));
                let renotify_due = lifecycle.renotify_s.is_some_and(|every| now.saturating_sub(last_notified).as_secs_f64() >= every);
                if renotify_due {
                    let id = open.id.clone();
                    self.follow_up(&id, IncidentEvent::Update, Some(violation), moment, outbox)?;
                    written += 1;
                }
                continue;
            }
            let cooling = self.cooling.iter().any(|c| c.camera == scope.camera && c.zone == scope.zone && c.kind == scope.kind && iou(&c.bbox, &violation.bbox) >= SAME_PLACE_IOU);
            if cooling {
                continue;
            }
            let id = self.open_incident(scope, violation, moment, outbox)?;
            seen.push(id);
            written += 1;
        }

        // Anything at an open incident's place keeps it alive, even before it dwells again.
        let mut sighted = Vec::new();
        for open in self.open.iter_mut().filter(|o| o.in_scope(&scope) && !seen.contains(&o.id)) {
            if judgement.sightings.iter().any(|b| iou(&open.bbox, b) >= SAME_PLACE_IOU) {
                sighted.push(open.id.clone());
                let last_notified = open.presence.map_or(now, |(_, notified)| notified);
                open.presence = Some((now, last_notified));
            }
        }
        seen.extend(sighted);

        let resolve_after = Duration::from_secs_f64(lifecycle.resolve_after_s);
        let mut gone = Vec::new();
        for open in self.open.iter_mut().filter(|o| o.in_scope(&scope) && !seen.contains(&o.id)) {
            match open.presence {
                // Not seen since this run started: give it the full grace from now.
                None => open.presence = Some((now, now)),
                Some((last_seen, _)) if now.saturating_sub(last_seen) >= resolve_after => gone.push(open.id.clone()),
                Some(_) => {}
            }
        }
        for id in gone {
            let incident = self.follow_up(&id, IncidentEvent::Resolved, None, moment, outbox)?;
            self.cooling.push(Cooling {
                camera: incident.camera,
                zone: incident.zone,
                kind: incident.kind,
                bbox: incident.bbox,
                until: now + Duration::from_secs_f64(lifecycle.cooldown_s),
            });
            written += 1;
        }
        Ok(written)
    }

    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.context.site.timezone).to_rfc3339_opts(SecondsFormat::Millis, false)
    }

    /// Writes one evidence picture: faces pixelated first (unless blurring is off), then the
    /// zone, boxes and caption drawn. `None` when faces could not be blurred (the incident then
    /// goes out without this picture rather than with a face in it) or the storage quota is full
    /// of undelivered data.
    fn snapshot(&mut self, id: &str, name: &str, image: &RgbImage, camera: &str, zone: &str, boxes: Vec<(BBox, String)>, caption: String, at: DateTime<Utc>) -> Result<Option<EvidenceFile>, IncidentError> {
        if !self.evidence_allowed(camera, zone, id) {
            return Ok(None);
        }
        let mut picture = image.clone();
        if let Some(faces) = self.faces.as_mut()
            && let Err(error) = faces.blur(&mut picture)
        {
            tracing::error!(camera, zone, incident = id, %error, "cannot blur faces; this evidence picture is left out");
            return Ok(None);
        }
        let polygon = self.context.cameras.get(camera).and_then(|c| c.zones.iter().find(|z| z.id == zone)).map(|z| z.polygon.vertices().to_vec());
        let annotation = Annotation { zone: polygon.unwrap_or_default(), boxes, caption: vec![format!("{camera} / {zone}"), self.local(at), caption] };
        let path = self.context.evidence_dir.join(id).join(format!("{name}.jpg"));
        write_snapshot(&picture, &annotation, &path).map(Some).map_err(|source| IncidentError::Evidence { path, source })
    }

    fn open_incident(&mut self, scope: Scope<'_>, violation: &Violation, moment: Moment<'_>, outbox: &mut Outbox) -> Result<String, IncidentError> {
        let id = uuid::Uuid::now_v7().to_string();
        let labels: Vec<(BBox, String)> = violation.objects.iter().map(|o| (o.bbox, format!("{} {:.2}", o.class, o.confidence))).collect();
        let what = scope.kind.as_str();
        let first = self.snapshot(&id, "1-first_sight", &violation.first_image, scope.camera, scope.zone, labels.clone(), format!("{what} first sight"), violation.first_seen)?;
        let confirmation = self.snapshot(&id, "1-confirmation", moment.image, scope.camera, scope.zone, labels, format!("{what} {:.0}s", violation.dwell.as_secs_f64()), moment.wall_time)?;
        let clip = moment.clip.filter(|_| self.evidence_allowed(scope.camera, scope.zone, &id)).and_then(ClipRing::snapshot).and_then(|clip| {
            let path = self.context.evidence_dir.join(&id).join("1-clip.mp4");
            write_clip(&clip, &path)
                .inspect_err(|error| tracing::error!(camera = scope.camera, zone = scope.zone, incident = %id, %error, "cannot write the evidence clip; the incident goes without it"))
                .ok()
        });
        let evidence: Vec<StoredEvidence> = [("first_sight", first), ("confirmation", confirmation), ("clip", clip)]
            .into_iter()
            .filter_map(|(role, file)| file.map(|file| StoredEvidence { role: role.into(), file }))
            .collect();

        let camera = self.context.cameras.get(scope.camera);
        let zone = camera.and_then(|c| c.zones.iter().find(|z| z.id == scope.zone));
        let defaults = codes_for(scope.kind);
        let city = self.context.codes.overrides.get(&scope.kind);
        let document = IncidentDocument {
            schema: SCHEMA.to_string(),
            id: id.clone(),
            event: IncidentEvent::Open,
            seq: 1,
            kind: what.to_string(),
            codes: Codes {
                gb47678: format!("{}{}", self.context.site.region_code, city.and_then(|c| c.gb47678.as_deref()).unwrap_or(defaults.gb47678_type)),
                cjt214: city.and_then(|c| c.cjt214.clone()).unwrap_or_else(|| defaults.cjt214.to_string()),
                city: city.and_then(|c| c.city.clone()),
            },
            title: defaults.title.to_string(),
            site: SiteRef { name: self.context.site.name.clone(), region_code: self.context.site.region_code.clone() },
            camera: CameraRef {
                id: scope.camera.to_string(),
                gb28181_id: camera.and_then(|c| c.gb28181_id.clone()),
                name: camera.map_or_else(|| scope.camera.to_string(), |c| c.name.clone()),
            },
            zone: ZoneRef { id: scope.zone.to_string(), name: zone.map_or_else(|| scope.zone.to_string(), |z| z.name.clone()) },
            location: camera.and_then(|c| c.location.as_ref()).map(|l| LocationRef {
                lon: l.lon,
                lat: l.lat,
                crs: l.crs.clone(),
                address: l.address.clone(),
                grid_code: l.grid_code.clone(),
            }),
            first_seen: self.local(violation.first_seen),
            confirmed_at: self.local(moment.wall_time),
            resolved_at: None,
            dwell_s: round1(violation.dwell.as_secs_f64()),
            objects: objects(violation),
            evidence: evidence_refs(&evidence),
            device: DeviceRef {
                id: self.context.device.id.clone(),
                software: self.context.software.clone(),
                model: ModelRefDoc { name: self.context.model_name.clone(), sha256: self.context.model_sha256.clone() },
            },
        };
        let mut incident = OpenIncident::new(id.clone(), scope.camera.to_string(), scope.zone.to_string(), scope.kind, violation.bbox, document);
        incident.presence = Some((moment.media_time, moment.media_time));
        outbox.record_open(&incident, &evidence)?;
        self.count(&incident, IncidentEvent::Open);
        tracing::info!(camera = scope.camera, zone = scope.zone, incident = %id, kind = what, dwell_s = violation.dwell.as_secs_f64(), "incident opened");
        self.open.push(incident);
        Ok(id)
    }

    /// Writes an `update` (violation still there) or a `resolved` (gone) for open incident `id`.
    /// A resolved incident leaves the open set and is returned.
    fn follow_up(&mut self, id: &str, event: IncidentEvent, violation: Option<&Violation>, moment: Moment<'_>, outbox: &mut Outbox) -> Result<OpenIncident, IncidentError> {
        let index = self.open.iter().position(|o| o.id == id).expect("follow-up of an open incident");
        let incident = self.open[index].clone();
        let mut document = incident.document.clone();
        document.event = event;
        document.seq += 1;
        let mut evidence = Vec::new();
        match (event, violation) {
            (IncidentEvent::Update, Some(violation)) => {
                document.dwell_s = round1(violation.dwell.as_secs_f64());
                document.objects = objects(violation);
            }
            _ => {
                document.resolved_at = Some(self.local(moment.wall_time));
                let name = format!("{}-resolution", document.seq);
                let file = self.snapshot(id, &name, moment.image, &incident.camera, &incident.zone, vec![(incident.bbox, "gone".into())], format!("{} resolved", incident.kind), moment.wall_time)?;
                evidence.extend(file.map(|file| StoredEvidence { role: "resolution".into(), file }));
            }
        }
        document.evidence = evidence_refs(&evidence);
        let resolved = event == IncidentEvent::Resolved;
        outbox.record_event(id, &document, &evidence, resolved, incident.bbox)?;
        self.count(&incident, event);
        tracing::info!(camera = %incident.camera, zone = %incident.zone, incident = %id, seq = document.seq, event = event.as_str(), "incident {}", if resolved { "resolved" } else { "updated" });
        if resolved {
            return Ok(self.open.remove(index));
        }
        let open = &mut self.open[index];
        open.document = document;
        if let Some((last_seen, _)) = open.presence {
            open.presence = Some((last_seen, moment.media_time));
        }
        Ok(open.clone())
    }

    fn count(&self, incident: &OpenIncident, event: IncidentEvent) {
        self.telemetry
            .incidents
            .get_or_create(&IncidentLabel { camera: incident.camera.clone(), zone: incident.zone.clone(), kind: incident.kind.as_str().into(), event: event.as_str().into() })
            .inc();
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn objects(violation: &Violation) -> Vec<ObjectRef> {
    violation
        .objects
        .iter()
        .map(|o| ObjectRef {
            role: o.role.as_deref().map(str::to_string),
            class: o.class.to_string(),
            confidence: (o.confidence * 1000.0).round() / 1000.0,
            bbox: [o.bbox.x1, o.bbox.y1, o.bbox.width(), o.bbox.height()].map(|v| (v * 10_000.0).round() / 10_000.0),
        })
        .collect()
}

fn evidence_refs(evidence: &[StoredEvidence]) -> Vec<EvidenceRef> {
    evidence
        .iter()
        .map(|e| EvidenceRef { role: e.role.clone(), media_type: e.file.media_type.into(), sha256: e.file.sha256.clone(), bytes: None, url: None })
        .collect()
}
