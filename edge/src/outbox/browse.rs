//! Reading the outbox for the control plane: incidents with their events, evidence and delivery
//! state, one evidence file, per-sink counts, and queueing an incident's events again.
//!
//! Each call opens its own connection (WAL: readers never block the incident stage's writer).
//! Times are stored by `store` as `chrono::DateTime<Utc>::to_rfc3339()` (`+00:00`, 0/3/6/9
//! fraction digits, the shortest exact one), so text order is time order and the `since`/`until`
//! bounds are written the same way before comparing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde::Serialize;
use utoipa::ToSchema;

use super::OutboxError;
use super::schema::connect;

/// Page size when none is asked for, and the most one page holds.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// Which incidents to list; `None` means no condition.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub kind: Option<String>,
    pub camera: Option<String>,
    /// `open` or `resolved`.
    pub state: Option<String>,
    /// Opened at or after.
    pub since: Option<DateTime<Utc>>,
    /// Opened before.
    pub until: Option<DateTime<Utc>>,
    /// Default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`].
    pub limit: Option<usize>,
    pub offset: usize,
}

/// One page of incidents, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentPage {
    pub incidents: Vec<IncidentSummary>,
    /// How many incidents match the filter, over all pages.
    pub total: u64,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentSummary {
    pub id: String,
    pub camera: String,
    pub zone: String,
    pub kind: String,
    /// `open` or `resolved`.
    pub state: String,
    pub opened_at: String,
    /// When the latest event was recorded.
    pub updated_at: String,
    /// How many events (open, updates, resolved) the incident has.
    pub events: u32,
    /// Per sink, the worst state over the incident's events: `rejected` > `failed` (pending,
    /// the last attempt failed) > `pending` > `delivered`.
    pub delivery: BTreeMap<String, String>,
}

/// An incident with every event as it was sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentDetail {
    pub id: String,
    pub camera: String,
    pub zone: String,
    pub kind: String,
    pub state: String,
    pub opened_at: String,
    /// In `seq` order.
    pub events: Vec<EventDetail>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventDetail {
    pub seq: u32,
    /// `open`, `update` or `resolved`.
    pub event: String,
    pub created_at: String,
    /// The incident document v1, evidence without bytes.
    pub document: serde_json::Value,
    pub evidence: Vec<EvidenceItem>,
    pub deliveries: Vec<DeliveryItem>,
    /// Every delivery attempt of this event, over all sinks, oldest first (the delivery log).
    pub attempts: Vec<AttemptItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EvidenceItem {
    /// Index in the document's `evidence` array.
    pub position: u32,
    pub role: String,
    pub media_type: String,
    pub sha256: String,
    pub size: u64,
    /// Deleted to keep the storage quota (after every sink had it); no longer served.
    pub evicted: bool,
    /// Where the control API serves the file; set by the API, absent in the outbox itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeliveryItem {
    pub sink: String,
    /// `pending`, `delivered` or `rejected`.
    pub state: String,
    pub attempts: u32,
    /// The platform's HTTP status on the last attempt (none for MQTT, whose PUBACK has none).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

/// One delivery attempt: when, the answer, how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AttemptItem {
    pub sink: String,
    /// When the answer (or the error) came, RFC 3339.
    pub attempted_at: String,
    /// The platform's HTTP status; absent when no answer came (network error, timeout).
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Why the attempt failed, or the platform's answer to a rejected one; absent when it
    /// was delivered.
    pub error: Option<String>,
}

/// Delivery rows of one sink, by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SinkCounts {
    pub pending: u64,
    pub delivered: u64,
    pub rejected: u64,
}

fn open(db: &Path) -> Result<(Connection, impl Fn(rusqlite::Error) -> OutboxError + Copy + '_), OutboxError> {
    let err = move |source| OutboxError::Sqlite { path: db.display().to_string(), source };
    Ok((connect(db).map_err(err)?, err))
}

/// A delivery row's state as the UI shows it, and its rank (higher is worse).
const DELIVERY_RANK: &str = "CASE WHEN d.state = 'rejected' THEN 3
     WHEN d.state = 'pending' AND d.attempts > 0 AND d.last_error IS NOT NULL THEN 2
     WHEN d.state = 'pending' THEN 1 ELSE 0 END";
const RANK_NAMES: [&str; 4] = ["delivered", "pending", "failed", "rejected"];

/// Incidents matching `filter`, newest first, one page.
pub fn list_incidents(db: &Path, filter: &IncidentFilter) -> Result<IncidentPage, OutboxError> {
    let (conn, err) = open(db)?;
    let mut conditions = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    for (column, value) in [("kind", &filter.kind), ("camera", &filter.camera), ("state", &filter.state)] {
        if let Some(value) = value {
            values.push(SqlValue::Text(value.clone()));
            conditions.push(format!("i.{column} = ?{}", values.len()));
        }
    }
    for (op, bound) in [(">=", filter.since), ("<", filter.until)] {
        if let Some(bound) = bound {
            values.push(SqlValue::Text(bound.to_rfc3339()));
            conditions.push(format!("i.opened_at {op} ?{}", values.len()));
        }
    }
    let wheres = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };

    let total: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM incidents i {wheres}"), params_from_iter(&values), |row| row.get(0)).map_err(err)?;

    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let mut page_values = values.clone();
    page_values.push(SqlValue::Integer(limit as i64));
    page_values.push(SqlValue::Integer(filter.offset as i64));
    let sql = format!(
        "SELECT i.id, i.camera, i.zone, i.kind, i.state, i.opened_at,
                (SELECT e.created_at FROM events e WHERE e.incident_id = i.id ORDER BY e.seq DESC LIMIT 1),
                (SELECT COUNT(*) FROM events e WHERE e.incident_id = i.id)
         FROM incidents i {wheres}
         ORDER BY i.opened_at DESC, i.id DESC LIMIT ?{} OFFSET ?{}",
        values.len() + 1,
        values.len() + 2
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let rows = stmt
        .query_map(params_from_iter(&page_values), |row| {
            let opened_at: String = row.get(5)?;
            Ok(IncidentSummary {
                id: row.get(0)?,
                camera: row.get(1)?,
                zone: row.get(2)?,
                kind: row.get(3)?,
                state: row.get(4)?,
                updated_at: row.get::<_, Option<String>>(6)?.unwrap_or_else(|| opened_at.clone()),
                opened_at,
                events: row.get(7)?,
                delivery: BTreeMap::new(),
            })
        })
        .map_err(err)?;
    let mut items = rows.collect::<Result<Vec<_>, _>>().map_err(err)?;

    let mut worst = conn
        .prepare(&format!(
            "SELECT d.sink, MAX({DELIVERY_RANK}) FROM deliveries d JOIN events e ON e.event_id = d.event_id
             WHERE e.incident_id = ?1 GROUP BY d.sink"
        ))
        .map_err(err)?;
    for item in &mut items {
        let rows = worst.query_map([&item.id], |row| Ok((row.get::<_, String>(0)?, row.get::<_, usize>(1)?))).map_err(err)?;
        for row in rows {
            let (sink, rank) = row.map_err(err)?;
            item.delivery.insert(sink, RANK_NAMES[rank.min(3)].to_string());
        }
    }
    Ok(IncidentPage { incidents: items, total: total.max(0) as u64, limit, offset: filter.offset })
}

/// Incident `id` with every event, its evidence and its deliveries; `None` when unknown.
pub fn incident_detail(db: &Path, id: &str) -> Result<Option<IncidentDetail>, OutboxError> {
    let (conn, err) = open(db)?;
    let Some(mut detail) = conn
        .query_row("SELECT id, camera, zone, kind, state, opened_at FROM incidents WHERE id = ?1", [id], |row| {
            Ok(IncidentDetail { id: row.get(0)?, camera: row.get(1)?, zone: row.get(2)?, kind: row.get(3)?, state: row.get(4)?, opened_at: row.get(5)?, events: Vec::new() })
        })
        .optional()
        .map_err(err)?
    else {
        return Ok(None);
    };

    let mut events = conn.prepare("SELECT event_id, seq, event, created_at, document FROM events WHERE incident_id = ?1 ORDER BY seq").map_err(err)?;
    let rows = events
        .query_map([id], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, u32>(1)?, row.get::<_, String>(2)?, row.get::<_, String>(3)?, row.get::<_, String>(4)?)))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let mut evidence = conn.prepare("SELECT position, role, media_type, sha256, size, evicted_at IS NOT NULL FROM evidence WHERE event_id = ?1 ORDER BY position").map_err(err)?;
    let mut deliveries = conn
        .prepare("SELECT sink, state, attempts, last_status, last_error, delivered_at FROM deliveries WHERE event_id = ?1 ORDER BY sink")
        .map_err(err)?;
    let mut attempts = conn
        .prepare("SELECT sink, attempted_at, status, latency_ms, error FROM delivery_attempts WHERE event_id = ?1 ORDER BY attempt_id")
        .map_err(err)?;
    for (event_id, seq, event, created_at, document) in rows {
        // Stored by `store` from a serialised document, so it parses; should a row ever not,
        // it is shown as the text it is rather than hiding the event.
        let document = serde_json::from_str(&document).unwrap_or(serde_json::Value::String(document));
        let evidence = evidence
            .query_map([event_id], |row| {
                Ok(EvidenceItem { position: row.get(0)?, role: row.get(1)?, media_type: row.get(2)?, sha256: row.get(3)?, size: row.get(4)?, evicted: row.get(5)?, url: None })
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let deliveries = deliveries
            .query_map([event_id], |row| {
                Ok(DeliveryItem { sink: row.get(0)?, state: row.get(1)?, attempts: row.get(2)?, last_status: row.get(3)?, last_error: row.get(4)?, delivered_at: row.get(5)? })
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let attempts = attempts
            .query_map([event_id], |row| {
                Ok(AttemptItem { sink: row.get(0)?, attempted_at: row.get(1)?, status: row.get(2)?, latency_ms: row.get::<_, i64>(3)?.max(0) as u64, error: row.get(4)? })
            })
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        detail.events.push(EventDetail { seq, event, created_at, document, evidence, deliveries, attempts });
    }
    Ok(Some(detail))
}

/// The file and media type of evidence `position` of event `seq` of incident `id`.
pub fn evidence_file(db: &Path, id: &str, seq: u32, position: u32) -> Result<Option<(PathBuf, String)>, OutboxError> {
    let (conn, err) = open(db)?;
    conn.query_row(
        "SELECT v.path, v.media_type FROM evidence v JOIN events e ON e.event_id = v.event_id
         WHERE e.incident_id = ?1 AND e.seq = ?2 AND v.position = ?3 AND v.evicted_at IS NULL",
        params![id, seq, position],
        |row| Ok((PathBuf::from(row.get::<_, String>(0)?), row.get::<_, String>(1)?)),
    )
    .optional()
    .map_err(err)
}

/// Queues every event of incident `id` again, for `sink` or for every sink: each delivery row
/// becomes pending, due now, with no attempts and no error. The queue sends an incident's events
/// in `seq` order, so the platform sees them in order again. Returns the rows changed, or `None`
/// when the incident is unknown.
pub fn resend(db: &Path, id: &str, sink: Option<&str>) -> Result<Option<usize>, OutboxError> {
    let (mut conn, err) = open(db)?;
    let tx = conn.transaction().map_err(err)?;
    let known = tx.query_row("SELECT 1 FROM incidents WHERE id = ?1", [id], |_| Ok(())).optional().map_err(err)?.is_some();
    if !known {
        return Ok(None);
    }
    let changed = tx
        .execute(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_ms = 0, last_status = NULL, last_error = NULL, delivered_at = NULL
             WHERE event_id IN (SELECT event_id FROM events WHERE incident_id = ?1) AND (?2 IS NULL OR sink = ?2)",
            params![id, sink],
        )
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(Some(changed))
}

/// Per sink, how many delivery rows are pending, delivered and rejected.
pub fn sink_counts(db: &Path) -> Result<BTreeMap<String, SinkCounts>, OutboxError> {
    let (conn, err) = open(db)?;
    let mut stmt = conn.prepare("SELECT sink, state, COUNT(*) FROM deliveries GROUP BY sink, state").map_err(err)?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))).map_err(err)?;
    let mut counts: BTreeMap<String, SinkCounts> = BTreeMap::new();
    for row in rows {
        let (sink, state, n) = row.map_err(err)?;
        let entry = counts.entry(sink).or_default();
        let n = n.max(0) as u64;
        match state.as_str() {
            "pending" => entry.pending += n,
            "delivered" => entry.delivered += n,
            "rejected" => entry.rejected += n,
            _ => {}
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::outbox::DeliveryQueue;

    /// A fresh outbox database named after the test.
    fn fixture(name: &str) -> (PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!("steward-browse-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("outbox.sqlite3");
        let conn = connect(&db).unwrap();
        (db, conn)
    }

    fn at(minute: u32, second: u32, nanos: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 8, minute, second).unwrap() + chrono::Duration::nanoseconds(nanos as i64)
    }

    /// An incident as `store` writes it.
    fn incident(conn: &Connection, id: &str, camera: &str, kind: &str, state: &str, opened_at: DateTime<Utc>) {
        conn.execute(
            "INSERT INTO incidents (id, camera, zone, kind, state, bbox, opened_at) VALUES (?1, ?2, 'z1', ?3, ?4, '[0,0,1,1]', ?5)",
            params![id, camera, kind, state, opened_at.to_rfc3339()],
        )
        .unwrap();
    }

    /// An event with a pending delivery to each of `sinks`; returns its event id.
    fn event(conn: &Connection, id: &str, seq: u32, created_at: DateTime<Utc>, sinks: &[&str]) -> i64 {
        let name = if seq == 1 { "open" } else { "update" };
        let document = serde_json::json!({"schema": "steward.incident/v1", "id": id, "seq": seq, "event": name});
        conn.execute(
            "INSERT INTO events (incident_id, seq, event, document, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, seq, name, document.to_string(), created_at.to_rfc3339()],
        )
        .unwrap();
        let event_id = conn.last_insert_rowid();
        for sink in sinks {
            conn.execute("INSERT INTO deliveries (event_id, sink, state) VALUES (?1, ?2, 'pending')", params![event_id, sink]).unwrap();
        }
        event_id
    }

    fn evidence(conn: &Connection, event_id: i64, position: u32, role: &str, path: &str, media_type: &str) {
        conn.execute(
            "INSERT INTO evidence (event_id, position, role, media_type, sha256, path, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 42)",
            params![event_id, position, role, media_type, format!("{role}-sha"), path],
        )
        .unwrap();
    }

    fn ids(page: &IncidentPage) -> Vec<&str> {
        page.incidents.iter().map(|item| item.id.as_str()).collect()
    }

    fn list(db: &Path, filter: IncidentFilter) -> IncidentPage {
        list_incidents(db, &filter).unwrap()
    }

    #[test]
    fn lists_newest_first_and_filters() {
        let (db, conn) = fixture("filters");
        incident(&conn, "a", "cam1", "illegal_parking", "resolved", at(0, 0, 0));
        incident(&conn, "b", "cam1", "exposed_waste", "open", at(10, 0, 500_000_000));
        incident(&conn, "c", "cam2", "illegal_parking", "open", at(20, 5, 0));
        incident(&conn, "d", "cam2", "illegal_parking", "open", at(20, 5, 123_000));
        for id in ["a", "b", "c", "d"] {
            event(&conn, id, 1, at(30, 0, 0), &["http"]);
        }
        event(&conn, "a", 2, at(40, 0, 0), &["http"]);

        let all = list(&db, IncidentFilter::default());
        assert_eq!(ids(&all), ["d", "c", "b", "a"], "newest first, also within one second");
        assert_eq!((all.total, all.limit, all.offset), (4, DEFAULT_LIMIT, 0));
        let a = &all.incidents[3];
        assert_eq!((a.events, a.updated_at.as_str(), a.opened_at.as_str()), (2, at(40, 0, 0).to_rfc3339().as_str(), at(0, 0, 0).to_rfc3339().as_str()));
        assert_eq!((a.camera.as_str(), a.zone.as_str(), a.kind.as_str(), a.state.as_str()), ("cam1", "z1", "illegal_parking", "resolved"));

        let by = |filter: IncidentFilter| ids(&list(&db, filter)).into_iter().map(String::from).collect::<Vec<_>>();
        assert_eq!(by(IncidentFilter { kind: Some("illegal_parking".into()), ..Default::default() }), ["d", "c", "a"]);
        assert_eq!(by(IncidentFilter { camera: Some("cam1".into()), ..Default::default() }), ["b", "a"]);
        assert_eq!(by(IncidentFilter { state: Some("open".into()), camera: Some("cam2".into()), ..Default::default() }), ["d", "c"]);
        assert_eq!(by(IncidentFilter { kind: Some("unlit_signage".into()), ..Default::default() }), Vec::<String>::new());
        // Bounds: since is inclusive, until exclusive, to the nanosecond, whole seconds included.
        assert_eq!(by(IncidentFilter { since: Some(at(20, 5, 0)), ..Default::default() }), ["d", "c"]);
        assert_eq!(by(IncidentFilter { since: Some(at(20, 5, 1)), ..Default::default() }), ["d"]);
        assert_eq!(by(IncidentFilter { until: Some(at(20, 5, 0)), ..Default::default() }), ["b", "a"]);
        assert_eq!(by(IncidentFilter { since: Some(at(10, 0, 500_000_000)), until: Some(at(20, 5, 123_000)), ..Default::default() }), ["c", "b"]);
    }

    #[test]
    fn pages_with_limit_and_offset() {
        let (db, conn) = fixture("pages");
        for minute in 0..7 {
            let id = format!("i{minute}");
            incident(&conn, &id, "cam1", "illegal_parking", "open", at(minute, 0, 0));
            event(&conn, &id, 1, at(minute, 0, 0), &["http"]);
        }
        let page = list(&db, IncidentFilter { limit: Some(3), offset: 2, ..Default::default() });
        assert_eq!(ids(&page), ["i4", "i3", "i2"]);
        assert_eq!((page.total, page.limit, page.offset), (7, 3, 2));
        let past = list(&db, IncidentFilter { offset: 10, ..Default::default() });
        assert!(past.incidents.is_empty());
        assert_eq!(past.total, 7);
        assert_eq!(list(&db, IncidentFilter { limit: Some(100_000), ..Default::default() }).limit, MAX_LIMIT);
    }

    #[test]
    fn delivery_is_the_worst_over_the_events() {
        let (db, conn) = fixture("worst");
        let sinks = ["a", "b", "c", "d"];
        incident(&conn, "x", "cam1", "illegal_parking", "open", at(0, 0, 0));
        let events: Vec<i64> = (1..=3).map(|seq| event(&conn, "x", seq, at(seq, 0, 0), &sinks)).collect();
        let queue = |sink: &str| DeliveryQueue::open(&db, sink).unwrap();
        // a: delivered, delivered, pending (never tried) → pending
        queue("a").mark_delivered(events[0], Some(200), 5).unwrap();
        queue("a").mark_delivered(events[1], Some(200), 5).unwrap();
        // b: delivered, retrying after an error, pending → failed
        queue("b").mark_delivered(events[0], Some(200), 5).unwrap();
        queue("b").mark_retry(events[1], 10_000, Some(503), "HTTP 503", 5).unwrap();
        // c: rejected, retrying → rejected
        queue("c").mark_rejected(events[0], 401, "bad signature", 5).unwrap();
        queue("c").mark_retry(events[1], 10_000, None, "connection refused", 5).unwrap();
        // d: all delivered
        for event_id in &events {
            queue("d").mark_delivered(*event_id, Some(200), 5).unwrap();
        }
        let page = list(&db, IncidentFilter::default());
        let delivery: Vec<(&str, &str)> = page.incidents[0].delivery.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(delivery, [("a", "pending"), ("b", "failed"), ("c", "rejected"), ("d", "delivered")]);
        assert_eq!(page.incidents[0].events, 3);
    }

    #[test]
    fn detail_has_documents_evidence_and_deliveries() {
        let (db, conn) = fixture("detail");
        incident(&conn, "x", "cam1", "illegal_parking", "resolved", at(0, 0, 0));
        let open = event(&conn, "x", 1, at(0, 0, 0), &["http", "backup"]);
        evidence(&conn, open, 1, "confirmation", "/ev/x-1-1.jpg", "image/jpeg");
        evidence(&conn, open, 0, "first_sight", "/ev/x-1-0.jpg", "image/jpeg");
        event(&conn, "x", 2, at(5, 0, 0), &["http", "backup"]);
        DeliveryQueue::open(&db, "http").unwrap().mark_delivered(open, Some(201), 5).unwrap();
        DeliveryQueue::open(&db, "backup").unwrap().mark_retry(open, 0, Some(500), "HTTP 500", 5).unwrap();

        let detail = incident_detail(&db, "x").unwrap().unwrap();
        assert_eq!((detail.id.as_str(), detail.camera.as_str(), detail.state.as_str()), ("x", "cam1", "resolved"));
        assert_eq!(detail.events.iter().map(|e| (e.seq, e.event.as_str())).collect::<Vec<_>>(), [(1, "open"), (2, "update")]);
        let first = &detail.events[0];
        assert_eq!(first.document["id"], "x");
        assert_eq!(first.document["seq"], 1);
        assert_eq!(first.created_at, at(0, 0, 0).to_rfc3339());
        assert_eq!(first.evidence.iter().map(|e| (e.position, e.role.as_str())).collect::<Vec<_>>(), [(0, "first_sight"), (1, "confirmation")]);
        assert_eq!((first.evidence[0].media_type.as_str(), first.evidence[0].sha256.as_str(), first.evidence[0].size), ("image/jpeg", "first_sight-sha", 42));
        let backup = &first.deliveries[0];
        assert_eq!((backup.sink.as_str(), backup.state.as_str(), backup.attempts, backup.last_status, backup.last_error.as_deref()), ("backup", "pending", 1, Some(500), Some("HTTP 500")));
        let http = &first.deliveries[1];
        assert_eq!((http.sink.as_str(), http.state.as_str(), http.last_status, http.last_error.as_deref()), ("http", "delivered", Some(201), None));
        assert!(http.delivered_at.is_some());
        assert!(detail.events[1].evidence.is_empty());
        assert_eq!(detail.events[1].deliveries.len(), 2);
        let attempts: Vec<(&str, Option<u16>, u64, Option<&str>)> = first.attempts.iter().map(|a| (a.sink.as_str(), a.status, a.latency_ms, a.error.as_deref())).collect();
        assert_eq!(attempts, [("http", Some(201), 5, None), ("backup", Some(500), 5, Some("HTTP 500"))], "one logged attempt each, in order");
        assert!(DateTime::parse_from_rfc3339(&first.attempts[0].attempted_at).is_ok());
        assert!(detail.events[1].attempts.is_empty(), "never tried");

        let json = serde_json::to_value(&detail).unwrap();
        assert_eq!(json["events"][0]["document"]["schema"], "steward.incident/v1");
        assert!(json["events"][0]["evidence"][0].get("url").is_none(), "no url until the API sets one");
        assert!(incident_detail(&db, "nope").unwrap().is_none());
    }

    #[test]
    fn evidence_file_by_incident_seq_and_position() {
        let (db, conn) = fixture("evidence");
        incident(&conn, "x", "cam1", "illegal_parking", "open", at(0, 0, 0));
        let open = event(&conn, "x", 1, at(0, 0, 0), &["http"]);
        evidence(&conn, open, 0, "first_sight", "/ev/x-1-0.jpg", "image/jpeg");
        evidence(&conn, open, 1, "clip", "/ev/x-1-1.mp4", "video/mp4");
        incident(&conn, "y", "cam1", "illegal_parking", "open", at(1, 0, 0));
        event(&conn, "y", 1, at(1, 0, 0), &["http"]);

        assert_eq!(evidence_file(&db, "x", 1, 1).unwrap(), Some((PathBuf::from("/ev/x-1-1.mp4"), "video/mp4".to_string())));
        assert_eq!(evidence_file(&db, "x", 1, 0).unwrap().unwrap().1, "image/jpeg");
        assert_eq!(evidence_file(&db, "x", 1, 2).unwrap(), None);
        assert_eq!(evidence_file(&db, "x", 2, 0).unwrap(), None);
        assert_eq!(evidence_file(&db, "y", 1, 0).unwrap(), None);
        assert_eq!(evidence_file(&db, "nope", 1, 0).unwrap(), None);
    }

    #[test]
    fn resend_queues_the_events_again() {
        let (db, conn) = fixture("resend");
        incident(&conn, "x", "cam1", "illegal_parking", "open", at(0, 0, 0));
        let first = event(&conn, "x", 1, at(0, 0, 0), &["a", "b"]);
        let second = event(&conn, "x", 2, at(1, 0, 0), &["a", "b"]);
        incident(&conn, "y", "cam1", "illegal_parking", "open", at(2, 0, 0));
        let other = event(&conn, "y", 1, at(2, 0, 0), &["a"]);
        let a = DeliveryQueue::open(&db, "a").unwrap();
        let b = DeliveryQueue::open(&db, "b").unwrap();
        a.mark_delivered(first, Some(200), 5).unwrap();
        a.mark_rejected(second, 422, "unknown code", 5).unwrap();
        a.mark_delivered(other, Some(200), 5).unwrap();
        b.mark_delivered(first, Some(200), 5).unwrap();
        b.mark_retry(second, i64::MAX, Some(503), "HTTP 503", 5).unwrap();

        assert_eq!(resend(&db, "x", Some("a")).unwrap(), Some(2));
        let due: Vec<(String, u32, u32)> = a.due(0, 10).unwrap().into_iter().map(|r| (r.incident_id, r.seq, r.attempts)).collect();
        assert_eq!(due, [("x".to_string(), 1, 0)], "seq 2 waits for seq 1; y stays delivered");
        let detail = incident_detail(&db, "x").unwrap().unwrap();
        for event in &detail.events {
            let a = event.deliveries.iter().find(|d| d.sink == "a").unwrap();
            assert_eq!((a.state.as_str(), a.attempts, a.last_status, a.last_error.as_deref(), a.delivered_at.as_deref()), ("pending", 0, None, None, None));
        }
        assert_eq!(detail.events[1].attempts.iter().map(|a| (a.sink.as_str(), a.status)).collect::<Vec<_>>(), [("a", Some(422)), ("b", Some(503))], "the log keeps the history");
        // b was left alone by the resend to a.
        let b_second = detail.events[1].deliveries.iter().find(|d| d.sink == "b").unwrap();
        assert_eq!((b_second.attempts, b_second.last_error.as_deref()), (1, Some("HTTP 503")));
        assert!(b.due(0, 10).unwrap().is_empty());

        assert_eq!(resend(&db, "x", None).unwrap(), Some(4));
        assert_eq!(b.due(0, 10).unwrap().len(), 1, "b's seq 1 is due now, seq 2 after it");
        assert_eq!(resend(&db, "x", Some("nope")).unwrap(), Some(0));
        assert_eq!(resend(&db, "nope", None).unwrap(), None);
        assert_eq!(list(&db, IncidentFilter::default()).incidents.iter().find(|i| i.id == "y").unwrap().delivery["a"], "delivered");
    }

    #[test]
    fn counts_per_sink() {
        let (db, conn) = fixture("counts");
        assert!(sink_counts(&db).unwrap().is_empty());
        incident(&conn, "x", "cam1", "illegal_parking", "open", at(0, 0, 0));
        let events: Vec<i64> = (1..=3).map(|seq| event(&conn, "x", seq, at(seq, 0, 0), &["a", "b"])).collect();
        let a = DeliveryQueue::open(&db, "a").unwrap();
        a.mark_delivered(events[0], Some(200), 5).unwrap();
        a.mark_rejected(events[1], 400, "bad", 5).unwrap();
        a.mark_retry(events[2], 0, None, "timeout", 5).unwrap();
        let counts = sink_counts(&db).unwrap();
        assert_eq!(counts["a"], SinkCounts { pending: 1, delivered: 1, rejected: 1 });
        assert_eq!(counts["b"], SinkCounts { pending: 3, delivered: 0, rejected: 0 });
        assert_eq!(counts.len(), 2);
    }
}
