//! One sink's delivery queue: what is due, in order, and what became of each attempt (the
//! delivery row's state, and one row per attempt in the delivery log).
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

/// How many attempts the delivery log keeps per event and sink (the latest).
pub const ATTEMPTS_KEPT: usize = 100;

/// One attempt, as the delivery log keeps it.
struct Attempt<'a> {
    status: Option<u16>,
    latency_ms: u64,
    error: Option<&'a str>,
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

    /// The platform has it (HTTP 2xx or 409, or an MQTT PUBACK: no status), after an attempt of
    /// `latency_ms`.
    pub fn mark_delivered(&self, event_id: i64, status: Option<u16>, latency_ms: u64) -> Result<(), OutboxError> {
        self.settle(
            event_id,
            "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_status = ?3, last_error = NULL, delivered_at = ?4 WHERE event_id = ?1 AND sink = ?2",
            &[&status, &Utc::now().to_rfc3339()],
            Attempt { status, latency_ms, error: None },
        )
    }

    /// The attempt failed in a way worth retrying: due again at `next_attempt_ms` (unix ms).
    pub fn mark_retry(&self, event_id: i64, next_attempt_ms: i64, status: Option<u16>, error: &str, latency_ms: u64) -> Result<(), OutboxError> {
        self.settle(
            event_id,
            "UPDATE deliveries SET attempts = attempts + 1, next_attempt_ms = ?3, last_status = ?4, last_error = ?5 WHERE event_id = ?1 AND sink = ?2",
            &[&next_attempt_ms, &status, &error],
            Attempt { status, latency_ms, error: Some(error) },
        )
    }

    /// The platform refused the record (a 4xx that retrying will not fix): parked, not lost,
    /// with the platform's answer as its last error.
    pub fn mark_rejected(&self, event_id: i64, status: u16, body: &str, latency_ms: u64) -> Result<(), OutboxError> {
        self.settle(
            event_id,
            "UPDATE deliveries SET state = 'rejected', attempts = attempts + 1, last_status = ?3, last_error = ?4 WHERE event_id = ?1 AND sink = ?2",
            &[&status, &body],
            Attempt { status: Some(status), latency_ms, error: Some(body) },
        )
    }

    /// Applies `update` (parameters ?1 event id, ?2 sink, then `extra`) to the delivery row and
    /// logs the attempt, in one transaction.
    fn settle(&self, event_id: i64, update: &str, extra: &[&dyn rusqlite::ToSql], attempt: Attempt<'_>) -> Result<(), OutboxError> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&event_id, &self.sink];
        values.extend_from_slice(extra);
        tx.execute(update, values.as_slice()).map_err(self.err())?;
        tx.execute(
            "INSERT INTO delivery_attempts (event_id, sink, attempted_at, status, latency_ms, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![event_id, self.sink, Utc::now().to_rfc3339(), attempt.status, attempt.latency_ms as i64, attempt.error],
        )
        .map_err(self.err())?;
        // Bounded: a record retried through a week-long outage keeps its latest attempts only.
        tx.execute(
            "DELETE FROM delivery_attempts WHERE event_id = ?1 AND sink = ?2 AND attempt_id <= (
                 SELECT attempt_id FROM delivery_attempts WHERE event_id = ?1 AND sink = ?2 ORDER BY attempt_id DESC LIMIT 1 OFFSET ?3)",
            params![event_id, self.sink, ATTEMPTS_KEPT as i64],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attempt_is_logged_and_the_log_keeps_the_latest_per_event_and_sink() {
        let dir = std::env::temp_dir().join(format!("steward-queue-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("outbox.sqlite3");
        let conn = connect(&db).unwrap();
        conn.execute_batch(
            "INSERT INTO incidents VALUES ('x', 'cam', 'z', 'illegal_parking', 'open', '[0,0,1,1]', '2026-03-01T08:00:00+00:00');
             INSERT INTO events VALUES (1, 'x', 1, 'open', '{}', '2026-03-01T08:00:00+00:00');
             INSERT INTO deliveries (event_id, sink, state) VALUES (1, 'a', 'pending'), (1, 'b', 'pending');",
        )
        .unwrap();
        let (a, b) = (DeliveryQueue::open(&db, "a").unwrap(), DeliveryQueue::open(&db, "b").unwrap());
        for n in 0..ATTEMPTS_KEPT + 5 {
            a.mark_retry(1, 0, Some(503), &format!("try {n}"), n as u64).unwrap();
        }
        a.mark_delivered(1, Some(200), 7).unwrap();
        b.mark_rejected(1, 422, "unknown code", 3).unwrap();
        let log = |sink: &str| -> Vec<(Option<u16>, i64, Option<String>)> {
            let mut stmt = conn.prepare("SELECT status, latency_ms, error FROM delivery_attempts WHERE sink = ?1 ORDER BY attempt_id").unwrap();
            stmt.query_map([sink], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
        };
        let kept = log("a");
        assert_eq!(kept.len(), ATTEMPTS_KEPT);
        assert_eq!(kept[0], (Some(503), 6, Some("try 6".into())), "the oldest went first");
        assert_eq!(kept.last().unwrap(), &(Some(200), 7, None));
        assert_eq!(log("b"), [(Some(422), 3, Some("unknown code".to_string()))], "another sink's log is its own");
        let attempts: i64 = conn.query_row("SELECT attempts FROM deliveries WHERE event_id = 1 AND sink = 'a'", [], |r| r.get(0)).unwrap();
        assert_eq!(attempts as usize, ATTEMPTS_KEPT + 6, "the delivery row still counts them all");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
