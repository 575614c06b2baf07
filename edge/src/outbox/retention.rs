//! The storage quota (`[storage] quota_mb`): keeps the outbox database and the evidence files
//! under it by deleting the evidence of fully delivered events, oldest first — never anything a
//! sink still has to deliver. When only undelivered data is left over the quota, new evidence
//! pictures are paused (incidents are still recorded, without pictures) until room returns,
//! and health and metrics say so.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::Utc;
use rusqlite::params;
use serde::Serialize;

use super::OutboxError;
use super::schema::connect;

/// After evicting, usage goes down to this share of the quota, so that eviction runs in
/// batches rather than on every new picture.
const LOW_WATER: f64 = 0.9;

/// How the storage folder stands against its quota; shared between the keeper, the incident
/// stage (may it write evidence?) and the control plane (health).
#[derive(Clone, Debug)]
pub struct StorageBudget(Arc<BudgetState>);

#[derive(Debug)]
struct BudgetState {
    quota_bytes: u64,
    used_bytes: AtomicU64,
    evidence_paused: AtomicBool,
    evicted_files: AtomicU64,
}

/// A snapshot of the budget, as health shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageStatus {
    pub quota_bytes: u64,
    /// The outbox database file and every evidence file not yet evicted.
    pub used_bytes: u64,
    /// True while the quota is full of undelivered data: incidents go out without pictures.
    pub evidence_paused: bool,
    /// Evidence files of delivered events deleted to keep the quota, since the start.
    pub evicted_files: u64,
}

impl StorageBudget {
    pub fn new(quota_bytes: u64) -> StorageBudget {
        StorageBudget(Arc::new(BudgetState { quota_bytes, used_bytes: AtomicU64::new(0), evidence_paused: AtomicBool::new(false), evicted_files: AtomicU64::new(0) }))
    }

    /// No quota (tests and tools that never fill a disk).
    pub fn unlimited() -> StorageBudget {
        StorageBudget::new(u64::MAX)
    }

    /// False while the quota is full of undelivered data.
    pub fn allows_evidence(&self) -> bool {
        !self.0.evidence_paused.load(Ordering::Relaxed)
    }

    pub fn status(&self) -> StorageStatus {
        StorageStatus {
            quota_bytes: self.0.quota_bytes,
            used_bytes: self.0.used_bytes.load(Ordering::Relaxed),
            evidence_paused: self.0.evidence_paused.load(Ordering::Relaxed),
            evicted_files: self.0.evicted_files.load(Ordering::Relaxed),
        }
    }
}

/// What one round of [`enforce`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Enforced {
    pub evicted_files: u64,
    pub evicted_bytes: u64,
}

/// Measures the storage of the outbox at `db`; when over the quota, deletes the evidence files
/// of events every sink has delivered, oldest first, until usage is back under 90 % of the quota
/// or nothing delivered is left; then pauses or resumes new evidence. Blocking (SQLite, files).
pub fn enforce(db: &Path, budget: &StorageBudget) -> Result<Enforced, OutboxError> {
    let err = |source| OutboxError::Sqlite { path: db.display().to_string(), source };
    let conn = connect(db).map_err(err)?;
    let state = &budget.0;
    let mut used = database_bytes(db) + conn.query_row("SELECT COALESCE(SUM(size), 0) FROM evidence WHERE evicted_at IS NULL", [], |row| row.get::<_, i64>(0)).map_err(err)? as u64;
    let mut done = Enforced::default();
    if used > state.quota_bytes {
        let target = (state.quota_bytes as f64 * LOW_WATER) as u64;
        let mut evictable = conn
            .prepare(
                "SELECT v.event_id, v.position, v.path, v.size, e.incident_id FROM evidence v JOIN events e ON e.event_id = v.event_id
                 WHERE v.evicted_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = v.event_id AND d.state != 'delivered')
                 ORDER BY v.event_id, v.position LIMIT 64",
            )
            .map_err(err)?;
        'evicting: while used > target {
            let batch: Vec<(i64, i64, String, i64, String)> = evictable
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
                .map_err(err)?
                .collect::<Result<_, _>>()
                .map_err(err)?;
            if batch.is_empty() {
                break;
            }
            for (event_id, position, path, size, incident) in batch {
                let path = Path::new(&path);
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => {
                        // Counted as used still; try again next round rather than lie about it.
                        tracing::error!(incident = %incident, path = %path.display(), %error, "cannot delete delivered evidence to keep the storage quota");
                        break 'evicting;
                    }
                }
                if let Some(folder) = path.parent() {
                    let _ = std::fs::remove_dir(folder); // only succeeds once the incident's folder is empty
                }
                conn.execute("UPDATE evidence SET evicted_at = ?3 WHERE event_id = ?1 AND position = ?2", params![event_id, position, Utc::now().to_rfc3339()]).map_err(err)?;
                used = used.saturating_sub(size as u64);
                done.evicted_files += 1;
                done.evicted_bytes += size as u64;
                if used <= target {
                    break 'evicting;
                }
            }
        }
    }
    if done.evicted_files > 0 {
        state.evicted_files.fetch_add(done.evicted_files, Ordering::Relaxed);
        tracing::info!(files = done.evicted_files, bytes = done.evicted_bytes, used_bytes = used, quota_bytes = state.quota_bytes, "deleted delivered evidence, oldest first, to keep the storage quota");
    }
    state.used_bytes.store(used, Ordering::Relaxed);
    let full = used > state.quota_bytes;
    let was_paused = state.evidence_paused.swap(full, Ordering::Relaxed);
    match (was_paused, full) {
        (false, true) => tracing::error!(
            used_bytes = used,
            quota_bytes = state.quota_bytes,
            "storage quota full of undelivered data: new incidents are recorded WITHOUT evidence pictures until the platform takes what is queued or the quota grows"
        ),
        (true, false) => tracing::info!(used_bytes = used, quota_bytes = state.quota_bytes, "storage back under its quota: evidence pictures resume"),
        _ => {}
    }
    Ok(done)
}

/// The database file. (Its write-ahead log is transient: SQLite folds it back at checkpoints,
/// and counting it would make the figure jump with every write.)
fn database_bytes(db: &Path) -> u64 {
    std::fs::metadata(db).map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outbox with `events` events of one 100 kB evidence file each; the first `delivered`
    /// are delivered, the rest pending.
    fn outbox(name: &str, events: usize, delivered: usize) -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
        let dir = std::env::temp_dir().join(format!("steward-retention-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("outbox.sqlite3");
        let conn = connect(&db).unwrap();
        let mut files = Vec::new();
        for n in 0..events {
            let id = format!("inc-{n}");
            conn.execute("INSERT INTO incidents (id, camera, zone, kind, state, bbox, opened_at) VALUES (?1, 'c', 'z', 'illegal_parking', 'open', '[0,0,1,1]', 't')", [&id]).unwrap();
            conn.execute("INSERT INTO events (incident_id, seq, event, document, created_at) VALUES (?1, 1, 'open', '{}', 't')", [&id]).unwrap();
            let event_id = conn.last_insert_rowid();
            let file = dir.join("evidence").join(&id).join("1-confirmation.jpg");
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, vec![7u8; 100_000]).unwrap();
            conn.execute(
                "INSERT INTO evidence (event_id, position, role, media_type, sha256, path, size) VALUES (?1, 0, 'confirmation', 'image/jpeg', 'x', ?2, 100000)",
                params![event_id, file.display().to_string()],
            )
            .unwrap();
            let state = if n < delivered { "delivered" } else { "pending" };
            conn.execute("INSERT INTO deliveries (event_id, sink, state) VALUES (?1, 'http', ?2)", params![event_id, state]).unwrap();
            files.push(file);
        }
        (db, files)
    }

    #[test]
    fn under_the_quota_nothing_is_touched() {
        let (db, files) = outbox("under", 5, 5);
        let budget = StorageBudget::new(10_000_000);
        assert_eq!(enforce(&db, &budget).unwrap(), Enforced::default());
        assert!(files.iter().all(|f| f.exists()));
        let status = budget.status();
        assert!(status.used_bytes >= 500_000 && !status.evidence_paused, "{status:?}");
    }

    #[test]
    fn delivered_evidence_goes_oldest_first_and_undelivered_never() {
        let (db, files) = outbox("evict", 10, 6);
        let database = database_bytes(&db);
        // Room for the database and about six pictures: the oldest delivered ones go first.
        let budget = StorageBudget::new(database + 650_000);
        let done = enforce(&db, &budget).unwrap();
        assert!(done.evicted_files >= 4, "{done:?}");
        let evicted = done.evicted_files as usize;
        assert!(files[..evicted].iter().all(|f| !f.exists()), "the oldest delivered are deleted");
        assert!(files[evicted..].iter().all(|f| f.exists()), "the rest stay");
        assert!(!files[0].parent().unwrap().exists(), "an emptied incident folder goes too");
        assert!(!budget.status().evidence_paused);

        // Now a quota below what the undelivered four alone need: every delivered picture goes,
        // no pending one, and new evidence is paused.
        let tight = StorageBudget::new(database + 200_000);
        enforce(&db, &tight).unwrap();
        assert!(files[..6].iter().all(|f| !f.exists()));
        assert!(files[6..].iter().all(|f| f.exists()), "undelivered evidence is never deleted");
        assert!(tight.status().evidence_paused && !tight.allows_evidence());
        let conn = connect(&db).unwrap();
        let evicted: i64 = conn.query_row("SELECT COUNT(*) FROM evidence WHERE evicted_at IS NOT NULL", [], |r| r.get(0)).unwrap();
        assert_eq!(evicted, 6);

        // Delivered at last: the next round makes room and resumes evidence.
        conn.execute("UPDATE deliveries SET state = 'delivered'", []).unwrap();
        enforce(&db, &tight).unwrap();
        assert!(tight.allows_evidence(), "{:?}", tight.status());
    }
}
