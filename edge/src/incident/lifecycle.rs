//! Incident lifecycle: a confirmed finding opens an incident unless the same violation is
//! already open (same camera, zone and kind, overlapping place) — which also holds across
//! restarts, because open incidents are reloaded from the outbox.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use image::RgbImage;

use super::codes::codes_for;
use super::document::*;
use super::evidence::{Annotation, EvidenceFile, write_snapshot};
use crate::config::{Camera, Device, Site};
use crate::geometry::{BBox, iou};
use crate::outbox::{Outbox, OutboxError, StoredEvidence};
use crate::rules::{Finding, ViolationKind};
use crate::telemetry::{IncidentLabel, Telemetry};

/// Overlap above which a finding is the violation of an incident already open.
const SAME_PLACE_IOU: f32 = 0.3;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("cannot write evidence {path}: {source}")]
    Evidence { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// An incident that is open, as far as deciding "new or the same" needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenIncident {
    pub id: String,
    pub camera: String,
    pub zone: String,
    pub kind: ViolationKind,
    pub bbox: BBox,
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
    pub evidence_dir: PathBuf,
}

pub struct IncidentManager {
    context: IncidentContext,
    open: Vec<OpenIncident>,
    telemetry: Telemetry,
}

impl IncidentManager {
    pub fn new(context: IncidentContext, open: Vec<OpenIncident>, telemetry: Telemetry) -> Self {
        IncidentManager { context, open, telemetry }
    }

    pub fn open_incidents(&self) -> &[OpenIncident] {
        &self.open
    }

    /// Handles a confirmed finding seen on `image`. Returns the new incident's id, or `None`
    /// when the violation is already open.
    pub fn on_finding(&mut self, finding: &Finding, image: &RgbImage, outbox: &mut Outbox) -> Result<Option<String>, IncidentError> {
        if let Some(open) = self.open.iter().find(|o| {
            o.camera == finding.camera && o.zone == finding.zone_id && o.kind == finding.kind && iou(&o.bbox, &finding.bbox) >= SAME_PLACE_IOU
        }) {
            tracing::info!(camera = %finding.camera, zone = %finding.zone_id, incident = %open.id, "violation already has an open incident");
            return Ok(None);
        }
        let id = uuid::Uuid::now_v7().to_string();
        let seq = 1;
        let camera = self.context.cameras.get(&finding.camera);
        let zone = camera.and_then(|c| c.zones.iter().find(|z| z.id == finding.zone_id));
        let tz = self.context.site.timezone;
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Millis, false);

        let annotation = Annotation {
            zone: zone.map(|z| z.polygon.vertices().to_vec()).unwrap_or_default(),
            boxes: finding.objects.iter().map(|o| (o.bbox, format!("{} {:.2}", o.class, o.confidence))).collect(),
            caption: vec![
                format!("{} / {}", finding.camera, finding.zone_id),
                local(finding.confirmed_at),
                format!("{} {:.0}s", finding.kind.as_str(), finding.dwell.as_secs_f64()),
            ],
        };
        let path = self.context.evidence_dir.join(&id).join(format!("{seq}-confirmation.jpg"));
        let file: EvidenceFile = write_snapshot(image, &annotation, &path).map_err(|source| IncidentError::Evidence { path: path.clone(), source })?;

        let codes = codes_for(finding.kind);
        let document = IncidentDocument {
            schema: SCHEMA.to_string(),
            id: id.clone(),
            event: IncidentEvent::Open,
            seq,
            kind: finding.kind.as_str().to_string(),
            codes: Codes {
                gb47678: format!("{}{}", self.context.site.region_code, codes.gb47678_type),
                cjt214: codes.cjt214.to_string(),
                city: None,
            },
            title: codes.title.to_string(),
            site: SiteRef { name: self.context.site.name.clone(), region_code: self.context.site.region_code.clone() },
            camera: CameraRef {
                id: finding.camera.clone(),
                gb28181_id: camera.and_then(|c| c.gb28181_id.clone()),
                name: camera.map_or_else(|| finding.camera.clone(), |c| c.name.clone()),
            },
            zone: ZoneRef { id: finding.zone_id.clone(), name: zone.map_or_else(|| finding.zone_id.clone(), |z| z.name.clone()) },
            location: camera.and_then(|c| c.location.as_ref()).map(|l| LocationRef {
                lon: l.lon,
                lat: l.lat,
                crs: l.crs.clone(),
                address: l.address.clone(),
                grid_code: l.grid_code.clone(),
            }),
            first_seen: local(finding.first_seen),
            confirmed_at: local(finding.confirmed_at),
            resolved_at: None,
            dwell_s: (finding.dwell.as_secs_f64() * 10.0).round() / 10.0,
            objects: finding
                .objects
                .iter()
                .map(|o| ObjectRef {
                    role: o.role.as_deref().map(str::to_string),
                    class: o.class.to_string(),
                    confidence: (o.confidence * 1000.0).round() / 1000.0,
                    bbox: [o.bbox.x1, o.bbox.y1, o.bbox.width(), o.bbox.height()].map(|v| (v * 10_000.0).round() / 10_000.0),
                })
                .collect(),
            evidence: vec![EvidenceRef { role: "confirmation".into(), media_type: file.media_type.into(), sha256: file.sha256.clone(), bytes: None, url: None }],
            device: DeviceRef {
                id: self.context.device.id.clone(),
                software: self.context.software.clone(),
                model: ModelRefDoc { name: self.context.model_name.clone(), sha256: self.context.model_sha256.clone() },
            },
        };
        let open = OpenIncident { id: id.clone(), camera: finding.camera.clone(), zone: finding.zone_id.clone(), kind: finding.kind, bbox: finding.bbox };
        outbox.record_open(&open, &document, &[StoredEvidence { role: "confirmation".into(), file }])?;
        self.telemetry
            .incidents
            .get_or_create(&IncidentLabel { camera: open.camera.clone(), zone: open.zone.clone(), kind: finding.kind.as_str().into(), event: "open".into() })
            .inc();
        tracing::info!(camera = %open.camera, zone = %open.zone, incident = %id, kind = finding.kind.as_str(), "incident opened");
        self.open.push(open);
        Ok(Some(id))
    }
}
