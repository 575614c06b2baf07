//! One sink's delivery queue: what is due, in order, and what became of each attempt.
//! Events of one incident go out in `seq` order: a later event waits while an earlier one of
//! the same incident is still pending for this sink.

use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};

use super::OutboxError;
use super::schema::connect;

/// A record waiting for this sink.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    pub event_id: i64,
    pub incident_id: String,
    pub seq: u32,
    pub document: String,
    pub attempts: u32,
    /// (position in the document's evidence array, file path)
    pub evidence: Vec<(usize, PathBuf)>,
}

pub struct DeliveryQueue {
    conn: Connection,
    path: PathBuf,
    sink: String,
}

impl DeliveryQueue {
    pub fn open(path: &Path, sink: &str) -> Result<DeliveryQueue, OutboxError> {
        let conn = connect(path).map_err(|source| OutboxError::Sqlite { path: path.display().to_string(), source })?;
        Ok(DeliveryQueue { conn, path: path.to_path_buf(), sink: sink.to_string() })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        move |source| OutboxError::Sqlite { path: self.path.display().to_string(), source }
    }

    /// Records due at `now_ms` (unix milliseconds), oldest first, at most `limit`.
    pub fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<PendingRecord>, OutboxError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.event_id, e.incident_id, e.seq, e.document, d.attempts
                 FROM deliveries d JOIN events e ON e.event_id = d.event_id
                 WHERE d.sink = ?1 AND d.state = 'pending' AND d.next_attempt_ms <= ?2
                   AND NOT EXISTS (
                       SELECT 1 FROM deliveries d2 JOIN events e2 ON e2.event_id = d2.event_id
                       WHERE d2.sink = d.sink AND d2.state = 'pending'
                         AND e2.incident_id = e.incident_id AND e2.seq < e.seq)
                 ORDER BY e.event_id LIMIT ?3",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![self.sink, now_ms, limit as i64], |row| {
                Ok(PendingRecord { event_id: row.get(0)?, incident_id: row.get(1)?, seq: row.get(2)?, document: row.get(3)?, attempts: row.get(4)?, evidence: Vec::new() })
            })
            .map_err(self.err())?;
        let mut records = rows.collect::<Result<Vec<_>, _>>().map_err(self.err())?;
        let mut evidence = self.conn.prepare_cached("SELECT position, path FROM evidence WHERE event_id = ?1 ORDER BY position").map_err(self.err())?;
        for record in &mut records {
            record.evidence = evidence
                .query_map([record.event_id], |row| Ok((row.get::<_, i64>(0)? as usize, PathBuf::from(row.get::<_, String>(1)?))))
                .map_err(self.err())?
                .collect::<Result<_, _>>()
                .map_err(self.err())?;
        }
        Ok(records)
    }

    /// Delivered; `status` is the platform's HTTP status where the transport has one.
    pub fn mark_delivered(&self, event_id: i64, status: Option<u16>) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = ?3, last_error = NULL, delivered_at = ?4 WHERE event_id = ?1 AND sink = ?2",
                params![event_id, self.sink, status, Utc::now().to_rfc3339()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub fn mark_retry(&self, event_id: i64, next_attempt_ms: i64, status: Option<u16>, error: &str) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_ms = ?3, last_status = ?4, last_error = ?5 WHERE event_id = ?1 AND sink = ?2",
                params![event_id, self.sink, next_attempt_ms, status, error],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The platform refused the record (a 4xx that retrying will not fix): parked, not lost.
    pub fn mark_rejected(&self, event_id: i64, status: u16, body: &str) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'rejected', attempts = attempts + 1, last_status = ?3, last_error = ?4 WHERE event_id = ?1 AND sink = ?2",
                params![event_id, self.sink, status, body],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records this sink still has to deliver.
    pub fn pending_count(&self) -> Result<u64, OutboxError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM deliveries WHERE sink = ?1 AND state = 'pending'", [&self.sink], |row| row.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// When the next pending record becomes due (unix ms), if any.
    pub fn next_due_ms(&self) -> Result<Option<i64>, OutboxError> {
        self.conn
            .query_row("SELECT MIN(next_attempt_ms) FROM deliveries WHERE sink = ?1 AND state = 'pending'", [&self.sink], |row| row.get::<_, Option<i64>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(self.err())
    }
}

impl DeliveryQueue {
    /// Makes every pending record due now: after a restart, the platform may well be back.
    pub fn retry_now(&self) -> Result<(), OutboxError> {
        self.conn
            .execute("UPDATE deliveries SET next_attempt_ms = 0 WHERE sink = ?1 AND state = 'pending'", [&self.sink])
            .map_err(self.err())?;
        Ok(())
    }
}

/// Records still to be delivered, over all sinks.
pub fn pending_total(path: &Path) -> Result<u64, OutboxError> {
    let conn = connect(path).map_err(|source| OutboxError::Sqlite { path: path.display().to_string(), source })?;
    conn.query_row("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'", [], |row| row.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(|source| OutboxError::Sqlite { path: path.display().to_string(), source })
}
