//! The log tail: the last formatted log lines kept in memory (a tracing writer beside stderr),
//! served at `GET /logs` so the UI can show what the appliance said without a shell.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Query, State};
use axum::response::Json;
use serde::{Deserialize, Serialize};
use tracing_subscriber::fmt::MakeWriter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiError, ApiResult, ErrorBody};
use crate::auth::{AuthStore, RequireViewer};

/// Lines kept by [`LogTail::new`], and the most `GET /logs` returns.
pub const CAPACITY: usize = 2000;
/// Lines `GET /logs` returns when not told.
pub const DEFAULT_LINES: usize = 200;

/// A ring of the last log lines, without ANSI colour. Cheap to clone (shared). Use it as a
/// tracing writer: `.with_writer(std::io::stderr.and(tail.clone()))`.
#[derive(Clone)]
pub struct LogTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    capacity: usize,
}

impl Default for LogTail {
    fn default() -> Self {
        LogTail::new()
    }
}

impl LogTail {
    /// Keeps the last [`CAPACITY`] lines.
    pub fn new() -> LogTail {
        LogTail::with_capacity(CAPACITY)
    }

    pub fn with_capacity(capacity: usize) -> LogTail {
        LogTail { lines: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(CAPACITY)))), capacity: capacity.max(1) }
    }

    /// Logging must never panic: a poisoned lock still holds good lines.
    fn ring(&self) -> MutexGuard<'_, VecDeque<String>> {
        self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The last `n` lines, oldest first.
    pub fn lines(&self, n: usize) -> Vec<String> {
        let ring = self.ring();
        ring.iter().skip(ring.len().saturating_sub(n)).cloned().collect()
    }

    fn push<'l>(&self, lines: impl IntoIterator<Item = &'l [u8]>) {
        let mut ring = self.ring();
        for line in lines {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(strip_ansi(&String::from_utf8_lossy(line)));
        }
    }
}

/// Removes ANSI escape sequences (colours, styles) from `text`.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // CSI: parameters and intermediates up to a final byte in @..~; any other escape is
        // two characters, both dropped.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// One writer per log event: collects bytes, hands each complete line to the tail, and keeps a
/// partial line until its `\n` arrives (or the writer is dropped).
pub struct TailWriter {
    tail: LogTail,
    partial: Vec<u8>,
}

impl Write for TailWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        if let Some(last) = self.partial.iter().rposition(|&b| b == b'\n') {
            let rest = self.partial.split_off(last + 1);
            let complete = std::mem::replace(&mut self.partial, rest);
            self.tail.push(complete[..last].split(|&b| b == b'\n'));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for TailWriter {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            self.tail.push([self.partial.as_slice()]);
        }
    }
}

impl<'a> MakeWriter<'a> for LogTail {
    type Writer = TailWriter;

    fn make_writer(&'a self) -> TailWriter {
        TailWriter { tail: self.clone(), partial: Vec::new() }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// How many of the last lines: default 200, at most 2000.
    pub lines: Option<usize>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogLines {
    /// Oldest first.
    pub lines: Vec<String>,
}

/// The lines `query` asks for.
pub fn recent(tail: &LogTail, query: &LogQuery) -> LogLines {
    LogLines { lines: tail.lines(query.lines.unwrap_or(DEFAULT_LINES).min(CAPACITY)) }
}

/// The last log lines.
#[utoipa::path(get, path = "/logs", tag = "system", params(LogQuery),
    responses(
        (status = 200, description = "the last log lines, oldest first", body = LogLines),
        (status = 400, description = "unreadable query", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
    ))]
async fn logs(_viewer: RequireViewer, State(tail): State<LogTail>, query: Result<Query<LogQuery>, QueryRejection>) -> ApiResult<Json<LogLines>> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    Ok(Json(recent(&tail, &query)))
}

/// `GET /logs`, to be nested under `/api/v1`.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    LogTail: FromRef<S>,
    AuthStore: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(logs))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;
    use tracing_subscriber::fmt::writer::MakeWriterExt;

    use super::*;

    #[test]
    fn lines_are_split_across_partial_writes() {
        let tail = LogTail::new();
        let mut writer = tail.make_writer();
        writer.write_all(b"first ").unwrap();
        assert!(tail.lines(10).is_empty(), "no line until its newline");
        writer.write_all(b"line\nsecond line\nthi").unwrap();
        assert_eq!(tail.lines(10), ["first line", "second line"]);
        writer.write_all(b"rd \xe5\x9f").unwrap();
        writer.write_all(b"\x8e\r\n\n").unwrap();
        assert_eq!(tail.lines(10), ["first line", "second line", "third 城", ""]);
        writer.write_all(b"no newline").unwrap();
        drop(writer);
        assert_eq!(tail.lines(1), ["no newline"], "a partial line is kept when the writer goes");
    }

    #[test]
    fn the_ring_keeps_the_last_lines() {
        let tail = LogTail::with_capacity(3);
        let mut writer = tail.make_writer();
        for i in 0..5 {
            writeln!(writer, "line {i}").unwrap();
        }
        assert_eq!(tail.lines(10), ["line 2", "line 3", "line 4"]);
        assert_eq!(tail.lines(2), ["line 3", "line 4"]);
        assert!(tail.lines(0).is_empty());
        let full = LogTail::new();
        let mut writer = full.make_writer();
        for i in 0..CAPACITY + 5 {
            writeln!(writer, "{i}").unwrap();
        }
        let lines = full.lines(usize::MAX);
        assert_eq!((lines.len(), lines[0].as_str()), (CAPACITY, "5"));
    }

    #[test]
    fn colours_are_stripped() {
        assert_eq!(strip_ansi("\x1b[2m2026-03-01\x1b[0m \x1b[32m INFO\x1b[0m \x1b[1mrun\x1b[0m: ok"), "2026-03-01  INFO run: ok");
        assert_eq!(strip_ansi("plain 城市 text"), "plain 城市 text");
        assert_eq!(strip_ansi("a\x1b7b"), "ab");
    }

    #[test]
    fn works_as_a_tracing_writer_beside_stderr() {
        let tail = LogTail::new();
        let subscriber = tracing_subscriber::fmt().with_ansi(true).with_writer(std::io::sink.and(tail.clone())).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(camera = "cam1", "camera is live");
            tracing::warn!("second\nline");
        });
        let lines = tail.lines(10);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("INFO") && lines[0].contains("camera is live") && lines[0].contains("camera=\"cam1\""), "{}", lines[0]);
        assert!(lines.iter().all(|line| !line.contains('\x1b')), "{lines:?}");
        assert_eq!(lines[2], "line");
    }

    #[test]
    fn recent_defaults_and_caps() {
        let tail = LogTail::new();
        let mut writer = tail.make_writer();
        for i in 0..CAPACITY {
            writeln!(writer, "{i}").unwrap();
        }
        assert_eq!(recent(&tail, &LogQuery::default()).lines.len(), DEFAULT_LINES);
        assert_eq!(recent(&tail, &LogQuery { lines: Some(5) }).lines, ["1995", "1996", "1997", "1998", "1999"]);
        assert_eq!(recent(&tail, &LogQuery { lines: Some(1_000_000) }).lines.len(), CAPACITY);
    }

    #[derive(Clone)]
    struct TestState {
        tail: LogTail,
        auth: AuthStore,
    }
    impl FromRef<TestState> for LogTail {
        fn from_ref(state: &TestState) -> Self {
            state.tail.clone()
        }
    }
    impl FromRef<TestState> for AuthStore {
        fn from_ref(state: &TestState) -> Self {
            state.auth.clone()
        }
    }

    #[tokio::test]
    async fn route_is_documented_and_needs_a_role() {
        let dir = std::env::temp_dir().join(format!("steward-logtail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let auth = AuthStore::open(&dir.join("control.db")).unwrap();
        let (router, api) = routes::<TestState>().split_for_parts();
        let json = serde_json::to_value(&api).unwrap();
        assert_eq!(json["paths"]["/logs"]["get"]["tags"][0], "system");
        assert_eq!(json["paths"]["/logs"]["get"]["parameters"][0]["name"], "lines");
        assert!(json["components"]["schemas"]["LogLines"].is_object());
        let app = router.with_state(TestState { tail: LogTail::new(), auth });
        let response = app.oneshot(Request::builder().uri("/logs?lines=5").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
