//! The outbox as an audit trail: every event that matches a filter, with its document as stored
//! and each sink's delivery state, read through a read-only connection in one snapshot (WAL: it
//! neither blocks nor is blocked by a running `steward run`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, params_from_iter};
use serde::Serialize;

use super::OutboxError;

/// Which events to export; `None` means no condition.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Events recorded at or after.
    pub since: Option<DateTime<Utc>>,
    /// Events recorded before.
    pub until: Option<DateTime<Utc>>,
    pub camera: Option<String>,
    pub kind: Option<String>,
}

/// One event, as one line of the export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEvent {
    pub incident_id: String,
    pub seq: u32,
    pub event: String,
    pub camera: String,
    pub zone: String,
    pub kind: String,
    /// When the event was recorded in the outbox.
    pub created_at: String,
    /// The incident document v1 as sent, evidence without its bytes (each item's `sha256`
    /// identifies the file that was inlined).
    pub document: serde_json::Value,
    /// Per sink.
    pub deliveries: BTreeMap<String, ExportedDelivery>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedDelivery {
    /// `pending`, `delivered` or `rejected`.
    pub state: String,
    /// Attempts in the delivery log (a resend does not reset it; the log keeps the latest
    /// [`ATTEMPTS_KEPT`](super::ATTEMPTS_KEPT) per event and sink).
    pub attempts: u64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

/// Calls `each` for every event matching `filter`, oldest first; returns how many there were.
/// Opens `db` read-only: it must exist, and have been opened by this version of `steward run`
/// (which adds the delivery log).
pub fn export_events(db: &Path, filter: &ExportFilter, mut each: impl FnMut(ExportedEvent) -> std::io::Result<()>) -> Result<u64, ExportError> {
    let sqlite = |source| OutboxError::Sqlite { path: db.display().to_string(), source };
    if !db.is_file() {
        return Err(ExportError::Missing(db.display().to_string()));
    }
    let mut conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(sqlite)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite)?;
    // One read transaction: the whole export is one consistent snapshot.
    let tx = conn.transaction().map_err(sqlite)?;

    let mut conditions = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    for (column, value) in [("i.camera", &filter.camera), ("i.kind", &filter.kind)] {
        if let Some(value) = value {
            values.push(SqlValue::Text(value.clone()));
            conditions.push(format!("{column} = ?{}", values.len()));
        }
    }
    // Stored as `to_rfc3339()` of UTC times, so text order is time order (see `browse`).
    for (op, bound) in [(">=", filter.since), ("<", filter.until)] {
        if let Some(bound) = bound {
            values.push(SqlValue::Text(bound.to_rfc3339()));
            conditions.push(format!("e.created_at {op} ?{}", values.len()));
        }
    }
    let wheres = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let mut events = tx
        .prepare(&format!(
            "SELECT e.event_id, e.incident_id, e.seq, e.event, e.created_at, e.document, i.camera, i.zone, i.kind
             FROM events e JOIN incidents i ON i.id = e.incident_id {wheres} ORDER BY e.event_id"
        ))
        .map_err(sqlite)?;
    let mut deliveries = tx
        .prepare(
            "SELECT d.sink, d.state, d.last_status, d.last_error, d.delivered_at,
                    (SELECT COUNT(*) FROM delivery_attempts a WHERE a.event_id = d.event_id AND a.sink = d.sink)
             FROM deliveries d WHERE d.event_id = ?1 ORDER BY d.sink",
        )
        .map_err(|source| match source.to_string().contains("no such table") {
            true => ExportError::OldOutbox(db.display().to_string()),
            false => sqlite(source).into(),
        })?;
    let mut rows = events.query(params_from_iter(&values)).map_err(sqlite)?;
    let mut count = 0;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let event_id: i64 = row.get(0).map_err(sqlite)?;
        let document: String = row.get(5).map_err(sqlite)?;
        let mut exported = ExportedEvent {
            incident_id: row.get(1).map_err(sqlite)?,
            seq: row.get(2).map_err(sqlite)?,
            event: row.get(3).map_err(sqlite)?,
            created_at: row.get(4).map_err(sqlite)?,
            // Written by `store` from a serialised document; shown as text should one not parse.
            document: serde_json::from_str(&document).unwrap_or(serde_json::Value::String(document)),
            camera: row.get(6).map_err(sqlite)?,
            zone: row.get(7).map_err(sqlite)?,
            kind: row.get(8).map_err(sqlite)?,
            deliveries: BTreeMap::new(),
        };
        let sinks = deliveries
            .query_map([event_id], |row| {
                let delivery = ExportedDelivery {
                    state: row.get(1)?,
                    last_status: row.get(2)?,
                    last_error: row.get(3)?,
                    delivered_at: row.get(4)?,
                    attempts: row.get::<_, i64>(5)?.max(0) as u64,
                };
                Ok((row.get::<_, String>(0)?, delivery))
            })
            .map_err(sqlite)?;
        for sink in sinks {
            let (name, delivery) = sink.map_err(sqlite)?;
            exported.deliveries.insert(name, delivery);
        }
        each(exported).map_err(ExportError::Write)?;
        count += 1;
    }
    Ok(count)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no outbox at {0} (is [storage] dir right? the outbox is created by `steward run`)")]
    Missing(String),
    #[error("the outbox {0} has no delivery log yet: start this version of `steward run` on it once")]
    OldOutbox(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rusqlite::params;

    use super::*;
    use crate::outbox::DeliveryQueue;
    use crate::outbox::schema::connect;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0).unwrap()
    }

    #[test]
    fn exports_matching_events_with_their_delivery_state_read_only() {
        let dir = std::env::temp_dir().join(format!("steward-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("outbox.sqlite3");
        assert!(matches!(export_events(&db, &ExportFilter::default(), |_| Ok(())), Err(ExportError::Missing(_))));
        let conn = connect(&db).unwrap();
        for (id, camera, kind, hour) in [("x", "cam1", "illegal_parking", 8), ("y", "cam2", "street_vending", 10)] {
            conn.execute(
                "INSERT INTO incidents (id, camera, zone, kind, state, bbox, opened_at) VALUES (?1, ?2, 'z1', ?3, 'open', '[0,0,1,1]', ?4)",
                params![id, camera, kind, at(hour).to_rfc3339()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO events (incident_id, seq, event, document, created_at) VALUES (?1, 1, 'open', ?2, ?3)",
                params![id, serde_json::json!({"id": id, "seq": 1}).to_string(), at(hour).to_rfc3339()],
            )
            .unwrap();
            conn.execute("INSERT INTO deliveries (event_id, sink, state) VALUES (?1, 'a', 'pending'), (?1, 'b', 'pending')", [conn.last_insert_rowid()]).unwrap();
        }
        let a = DeliveryQueue::open(&db, "a").unwrap();
        a.mark_retry(1, 0, Some(503), "HTTP 503", 7).unwrap();
        a.mark_delivered(1, Some(200), 9).unwrap();
        a.mark_rejected(2, 422, "unknown code", 3).unwrap();

        let export = |filter: ExportFilter| {
            let mut lines = Vec::new();
            let count = export_events(&db, &filter, |e| {
                lines.push(e);
                Ok(())
            })
            .unwrap();
            assert_eq!(count as usize, lines.len());
            lines
        };
        let all = export(ExportFilter::default());
        assert_eq!(all.iter().map(|e| (e.incident_id.as_str(), e.seq, e.camera.as_str())).collect::<Vec<_>>(), [("x", 1, "cam1"), ("y", 1, "cam2")]);
        assert_eq!(all[0].document["id"], "x");
        assert_eq!(all[0].deliveries["a"], ExportedDelivery { state: "delivered".into(), attempts: 2, last_status: Some(200), last_error: None, delivered_at: all[0].deliveries["a"].delivered_at.clone() });
        assert!(all[0].deliveries["a"].delivered_at.is_some());
        assert_eq!((all[0].deliveries["b"].state.as_str(), all[0].deliveries["b"].attempts), ("pending", 0));
        assert_eq!((all[1].deliveries["a"].state.as_str(), all[1].deliveries["a"].last_error.as_deref()), ("rejected", Some("unknown code")));

        let ids = |filter| export(filter).into_iter().map(|e| e.incident_id).collect::<Vec<_>>();
        assert_eq!(ids(ExportFilter { camera: Some("cam2".into()), ..Default::default() }), ["y"]);
        assert_eq!(ids(ExportFilter { kind: Some("illegal_parking".into()), ..Default::default() }), ["x"]);
        assert_eq!(ids(ExportFilter { since: Some(at(9)), ..Default::default() }), ["y"]);
        assert_eq!(ids(ExportFilter { until: Some(at(10)), ..Default::default() }), ["x"], "until is exclusive");
        assert!(ids(ExportFilter { since: Some(at(8)), until: Some(at(8)), ..Default::default() }).is_empty());

        // Read-only: an export while the writer holds a write transaction still answers.
        conn.execute_batch("BEGIN IMMEDIATE; UPDATE deliveries SET state = 'pending';").unwrap();
        assert_eq!(export(ExportFilter::default())[0].deliveries["a"].state, "delivered", "the last committed state");
        conn.execute_batch("ROLLBACK").unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
