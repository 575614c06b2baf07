//! The outbox tables, created on first open.

use rusqlite::Connection;

pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS incidents (
    id          TEXT PRIMARY KEY,
    camera      TEXT NOT NULL,
    zone        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,            -- open | resolved
    bbox        TEXT NOT NULL,            -- JSON [x1, y1, x2, y2], normalised
    opened_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    event_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    seq         INTEGER NOT NULL,
    event       TEXT NOT NULL,
    document    TEXT NOT NULL,            -- the v1 document, evidence without bytes
    created_at  TEXT NOT NULL,
    UNIQUE (incident_id, seq)
);
CREATE TABLE IF NOT EXISTS evidence (
    event_id    INTEGER NOT NULL REFERENCES events(event_id),
    position    INTEGER NOT NULL,         -- index in the document's evidence array
    role        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    evicted_at  TEXT,                     -- deleted to keep the storage quota (delivered everywhere)
    PRIMARY KEY (event_id, position)
);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id        INTEGER NOT NULL REFERENCES events(event_id),
    sink            TEXT NOT NULL,
    state           TEXT NOT NULL,        -- pending | delivered | rejected
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TEXT,
    PRIMARY KEY (event_id, sink)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (sink, state, next_attempt_ms);
CREATE TABLE IF NOT EXISTS delivery_attempts (   -- the latest 100 per event and sink (queue::ATTEMPTS_KEPT)
    attempt_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL REFERENCES events(event_id),
    sink            TEXT NOT NULL,
    attempted_at    TEXT NOT NULL,        -- RFC 3339, UTC, when the answer (or error) came
    status          INTEGER,              -- the platform's HTTP status; NULL: no answer
    latency_ms      INTEGER NOT NULL,
    error           TEXT                  -- NULL when delivered; else why (or the answer body)
);
CREATE INDEX IF NOT EXISTS delivery_attempts_event ON delivery_attempts (event_id, sink);
"#;

/// Opens `path` for the outbox: WAL (readers never block the writer), full sync (a committed
/// record survives power loss), a busy timeout for the other connections.
pub fn connect(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    add_column_if_missing(&conn, "evidence", "evicted_at", "TEXT")?;
    Ok(conn)
}

/// Upgrades an outbox made by an earlier version in place (SQLite has no `ADD COLUMN IF NOT EXISTS`).
fn add_column_if_missing(conn: &Connection, table: &str, column: &str, kind: &str) -> rusqlite::Result<()> {
    let present: bool = conn.query_row(&format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"), [column], |row| row.get(0))?;
    if !present {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
    }
    Ok(())
}
