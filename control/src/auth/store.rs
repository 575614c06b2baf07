//! `AuthStore`: the SQLite file with users (argon2id hashes), sessions and API tokens (both kept
//! only as the SHA-256 of the secret), plus the in-memory sign-in throttle.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use chrono::{SecondsFormat, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::password::{random_token, sha256_hex};
use super::throttle::Throttle;
use super::{Principal, Role};

/// How long a session lasts from sign-in (12 h; also the cookie's Max-Age).
pub(super) const SESSION_SECONDS: i64 = 12 * 60 * 60;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user);
CREATE TABLE IF NOT EXISTS api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);
";

/// Users, sessions and tokens, kept in `control.db` in the storage folder. Cheap to clone.
#[derive(Clone)]
pub struct AuthStore {
    inner: Arc<Inner>,
    secure_cookies: bool,
}

struct Inner {
    db: Mutex<Connection>,
    throttle: Throttle,
}

/// A user as listed (never with the hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct User {
    pub name: String,
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
}

/// An API token as listed (never with the token).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct ApiToken {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; null until first used.
    pub last_used_at: Option<String>,
}

/// A token just created: the only time `token` is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiToken {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// `stw_` and 43 URL-safe base64 characters; send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// A valid session, found by its cookie.
pub(super) struct Session {
    pub principal: Principal,
    pub csrf_token: String,
}

/// A session just started: `token` goes into the cookie, and only its SHA-256 into the file.
pub(super) struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

pub(super) enum UserRemoval {
    Removed,
    NotFound,
    LastAdmin,
}

impl ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Role {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Role::parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown role {text:?}").into()))
    }
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn now_unix() -> i64 {
    Utc::now().timestamp()
}

impl AuthStore {
    /// Opens (creating if needed) the SQLite file at `path`: WAL journal, 5 s busy timeout.
    pub fn open(path: &Path) -> anyhow::Result<AuthStore> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let db = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        db.busy_timeout(Duration::from_secs(5))?;
        let mode: String = db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "{}: SQLite refused the WAL journal (got {mode})", path.display());
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(SCHEMA).with_context(|| format!("creating the tables in {}", path.display()))?;
        Ok(AuthStore { inner: Arc::new(Inner { db: Mutex::new(db), throttle: Throttle::default() }), secure_cookies: false })
    }

    /// Marks the cookies `Secure` (set this when the control plane is served over TLS).
    pub fn set_secure_cookies(&mut self, secure: bool) {
        self.secure_cookies = secure;
    }

    pub(super) fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    pub(super) fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.inner.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether any user exists (false: first run, `POST /setup` is open).
    pub fn has_users(&self) -> anyhow::Result<bool> {
        Ok(self.db().query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |row| row.get(0))?)
    }

    /// Creates `name` as admin only if there is no user at all; false when there was one.
    pub(super) fn create_first_admin(&self, name: &str, password_hash: &str) -> anyhow::Result<bool> {
        let inserted = self.db().execute(
            "INSERT INTO users (name, role, password_hash, created_at) SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM users)",
            params![name, Role::Admin, password_hash, now_rfc3339()],
        )?;
        Ok(inserted == 1)
    }

    /// Creates a user; `None` when the name is taken.
    pub(super) fn create_user(&self, name: &str, role: Role, password_hash: &str) -> anyhow::Result<Option<User>> {
        let created_at = now_rfc3339();
        let inserted = self.db().execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
            params![name, role, password_hash, created_at],
        )?;
        Ok((inserted == 1).then(|| User { name: name.to_owned(), role, created_at }))
    }

    /// The user and their password hash, for checking a sign-in.
    pub(super) fn credentials(&self, name: &str) -> anyhow::Result<Option<(Principal, String)>> {
        let found = self
            .db()
            .query_row("SELECT name, role, password_hash FROM users WHERE name = ?1", [name], |row| {
                Ok((Principal { name: row.get(0)?, role: row.get(1)? }, row.get(2)?))
            })
            .optional()?;
        Ok(found)
    }

    pub(super) fn users(&self) -> anyhow::Result<Vec<User>> {
        let db = self.db();
        let mut statement = db.prepare("SELECT name, role, created_at FROM users ORDER BY name")?;
        let users = statement.query_map([], |row| Ok(User { name: row.get(0)?, role: row.get(1)?, created_at: row.get(2)? }))?;
        Ok(users.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes a user and their sessions, unless they are the last admin.
    pub(super) fn remove_user(&self, name: &str) -> anyhow::Result<UserRemoval> {
        let mut db = self.db();
        let transaction = db.transaction()?;
        let role: Option<Role> = transaction.query_row("SELECT role FROM users WHERE name = ?1", [name], |row| row.get(0)).optional()?;
        let outcome = match role {
            None => UserRemoval::NotFound,
            Some(Role::Admin) if transaction.query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], |row| row.get::<_, i64>(0))? <= 1 => {
                UserRemoval::LastAdmin
            }
            Some(_) => {
                transaction.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
                transaction.execute("DELETE FROM users WHERE name = ?1", [name])?;
                UserRemoval::Removed
            }
        };
        transaction.commit()?;
        Ok(outcome)
    }

    /// Replaces a user's password hash and ends their sessions except `keep` (a session token);
    /// false when there is no such user.
    pub(super) fn set_password(&self, name: &str, password_hash: &str, keep: Option<&str>) -> anyhow::Result<bool> {
        let mut db = self.db();
        let transaction = db.transaction()?;
        let updated = transaction.execute("UPDATE users SET password_hash = ?2 WHERE name = ?1", params![name, password_hash])?;
        if updated == 1 {
            transaction.execute("DELETE FROM sessions WHERE user = ?1 AND token_sha256 IS NOT ?2", params![name, keep.map(sha256_hex)])?;
        }
        transaction.commit()?;
        Ok(updated == 1)
    }

    /// Starts a 12 h session for `user` (and deletes every expired one).
    pub(super) fn start_session(&self, user: &str) -> anyhow::Result<NewSession> {
        let session = NewSession { token: random_token(), csrf_token: random_token() };
        let now = now_unix();
        let db = self.db();
        db.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        db.execute(
            "INSERT INTO sessions (token_sha256, user, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![sha256_hex(&session.token), user, session.csrf_token, now, now + SESSION_SECONDS],
        )?;
        Ok(session)
    }

    /// The session whose cookie holds `token`; an expired one is deleted and not found.
    pub(super) fn session(&self, token: &str) -> anyhow::Result<Option<Session>> {
        let key = sha256_hex(token);
        let db = self.db();
        db.execute("DELETE FROM sessions WHERE token_sha256 = ?1 AND expires_at <= ?2", params![key, now_unix()])?;
        let session = db
            .query_row(
                "SELECT users.name, users.role, sessions.csrf_token FROM sessions JOIN users ON users.name = sessions.user WHERE sessions.token_sha256 = ?1",
                [key],
                |row| Ok(Session { principal: Principal { name: row.get(0)?, role: row.get(1)? }, csrf_token: row.get(2)? }),
            )
            .optional()?;
        Ok(session)
    }

    pub(super) fn end_session(&self, token: &str) -> anyhow::Result<()> {
        self.db().execute("DELETE FROM sessions WHERE token_sha256 = ?1", [sha256_hex(token)])?;
        Ok(())
    }

    pub(super) fn tokens(&self) -> anyhow::Result<Vec<ApiToken>> {
        let db = self.db();
        let mut statement = db.prepare("SELECT id, name, role, created_at, last_used_at FROM api_tokens ORDER BY created_at, id")?;
        let tokens = statement
            .query_map([], |row| Ok(ApiToken { id: row.get(0)?, name: row.get(1)?, role: row.get(2)?, created_at: row.get(3)?, last_used_at: row.get(4)? }))?;
        Ok(tokens.collect::<rusqlite::Result<_>>()?)
    }

    /// Creates an API token; the returned value is the only copy of the secret. (Also used by
    /// `steward bench` to scrape the `/metrics` of the boxes it starts.)
    pub fn create_token(&self, name: &str, role: Role) -> anyhow::Result<CreatedApiToken> {
        let created = CreatedApiToken { id: uuid::Uuid::now_v7().to_string(), name: name.to_owned(), role, token: format!("stw_{}", random_token()) };
        self.db().execute(
            "INSERT INTO api_tokens (id, name, role, token_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![created.id, name, role, sha256_hex(&created.token), now_rfc3339()],
        )?;
        Ok(created)
    }

    /// False when there is no token with this id.
    pub(super) fn delete_token(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.db().execute("DELETE FROM api_tokens WHERE id = ?1", [id])? == 1)
    }

    /// The principal of a bearer token (named `token:<name>`, which no user name can be), and
    /// notes its use.
    pub(super) fn token_principal(&self, token: &str) -> anyhow::Result<Option<Principal>> {
        let key = sha256_hex(token);
        let db = self.db();
        let found: Option<(String, Role)> =
            db.query_row("SELECT name, role FROM api_tokens WHERE token_sha256 = ?1", [&key], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
        let Some((name, role)) = found else { return Ok(None) };
        db.execute("UPDATE api_tokens SET last_used_at = ?2 WHERE token_sha256 = ?1", params![key, now_rfc3339()])?;
        Ok(Some(Principal { name: format!("token:{name}"), role }))
    }
}
