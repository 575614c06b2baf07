//! The outbox writer: one connection, owned by the incident stage.

use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{Connection, params};

use super::OutboxError;
use super::schema::connect;
use crate::geometry::BBox;
use crate::incident::{EvidenceFile, IncidentDocument, OpenIncident};
use crate::kind::ViolationKind;

/// An evidence file attached to an event, with its role in the document.
#[derive(Debug, Clone)]
pub struct StoredEvidence {
    pub role: String,
    pub file: EvidenceFile,
}

pub struct Outbox {
    conn: Connection,
    path: PathBuf,
    sinks: Vec<String>,
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path`; new events get a delivery row for each
    /// of `sinks`.
    pub fn open(path: &Path, sinks: Vec<String>) -> Result<Outbox, OutboxError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| OutboxError::Dir { path: dir.display().to_string(), source })?;
        }
        let conn = connect(path).map_err(|source| OutboxError::Sqlite { path: path.display().to_string(), source })?;
        Ok(Outbox { conn, path: path.to_path_buf(), sinks })
    }

    /// The sinks that new events are queued for (existing records keep theirs).
    pub fn set_sinks(&mut self, sinks: Vec<String>) {
        self.sinks = sinks;
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        move |source| OutboxError::Sqlite { path: self.path.display().to_string(), source }
    }

    /// Records a new incident and its `open` event in one transaction.
    pub fn record_open(&mut self, incident: &OpenIncident, evidence: &[StoredEvidence]) -> Result<i64, OutboxError> {
        let bbox = bbox_json(incident.bbox)?;
        let now = Utc::now().to_rfc3339();
        let path = self.path.display().to_string();
        let err = |source| OutboxError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO incidents (id, camera, zone, kind, state, bbox, opened_at) VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6)",
            params![incident.id, incident.camera, incident.zone, incident.kind.as_str(), bbox, now],
        )
        .map_err(err)?;
        let event_id = insert_event(&tx, &incident.id, &incident.document, evidence, &self.sinks).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(event_id)
    }

    /// Records a later event of incident `id` (`update` or `resolved`) in one transaction.
    pub fn record_event(&mut self, id: &str, document: &IncidentDocument, evidence: &[StoredEvidence], resolved: bool, bbox: BBox) -> Result<i64, OutboxError> {
        let bbox = bbox_json(bbox)?;
        let path = self.path.display().to_string();
        let err = |source| OutboxError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        let event_id = insert_event(&tx, id, document, evidence, &self.sinks).map_err(err)?;
        let state = if resolved { "resolved" } else { "open" };
        tx.execute("UPDATE incidents SET state = ?2, bbox = ?3 WHERE id = ?1", params![id, state, bbox]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(event_id)
    }

    /// Incidents still open, with their latest document, to carry on after a restart.
    pub fn open_incidents(&self) -> Result<Vec<OpenIncident>, OutboxError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.id, i.camera, i.zone, i.kind, i.bbox,
                        (SELECT e.document FROM events e WHERE e.incident_id = i.id ORDER BY e.seq DESC LIMIT 1)
                 FROM incidents i WHERE i.state = 'open'",
            )
            .map_err(self.sqlite())?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, String>(3)?, row.get::<_, String>(4)?, row.get::<_, Option<String>>(5)?))
            })
            .map_err(self.sqlite())?;
        let mut open = Vec::new();
        for row in rows {
            let (id, camera, zone, kind, bbox, document) = row.map_err(self.sqlite())?;
            let parsed = (
                ViolationKind::parse(&kind),
                serde_json::from_str::<[f32; 4]>(&bbox),
                document.as_deref().map(serde_json::from_str::<IncidentDocument>),
            );
            let (Some(kind), Ok([x1, y1, x2, y2]), Some(Ok(document))) = parsed else {
                tracing::warn!(incident = %id, "skipping unreadable open incident in the outbox");
                continue;
            };
            open.push(OpenIncident::new(id, camera, zone, kind, BBox::new(x1, y1, x2, y2), document));
        }
        Ok(open)
    }
}

fn bbox_json(bbox: BBox) -> Result<String, serde_json::Error> {
    serde_json::to_string(&[bbox.x1, bbox.y1, bbox.x2, bbox.y2])
}

/// Inserts one event with its evidence and a pending delivery per sink.
fn insert_event(tx: &rusqlite::Transaction<'_>, incident_id: &str, document: &IncidentDocument, evidence: &[StoredEvidence], sinks: &[String]) -> rusqlite::Result<i64> {
    let document_json = serde_json::to_string(document).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
        "INSERT INTO events (incident_id, seq, event, document, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![incident_id, document.seq, document.event.as_str(), document_json, Utc::now().to_rfc3339()],
    )?;
    let event_id = tx.last_insert_rowid();
    for (position, item) in evidence.iter().enumerate() {
        tx.execute(
            "INSERT INTO evidence (event_id, position, role, media_type, sha256, path, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![event_id, position as i64, item.role, item.file.media_type, item.file.sha256, item.file.path.display().to_string(), item.file.size as i64],
        )?;
    }
    for sink in sinks {
        tx.execute("INSERT INTO deliveries (event_id, sink, state) VALUES (?1, ?2, 'pending')", params![event_id, sink])?;
    }
    Ok(event_id)
}
