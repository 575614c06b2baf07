//! The incident routes: list and read incidents from the outbox, serve their evidence files, and
//! queue an incident's events again. Each handler is a thin wrapper (role check, extraction) over
//! a plain function that takes [`IncidentsState`]; SQLite runs on the blocking pool.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use steward_edge::kind::ViolationKind;
use steward_edge::outbox::{self, IncidentDetail, IncidentFilter, IncidentPage, OutboxError};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::auth::{AuthStore, RequireOperator, RequireViewer};

/// What the incident routes need: the outbox database, and a way to tell the sinks that records
/// became due (so a resend goes out now, not at the next poll).
#[derive(Clone)]
pub struct IncidentsState {
    pub database: PathBuf,
    pub wake_sinks: Arc<dyn Fn() + Send + Sync>,
}

/// `GET /incidents` filters; times are RFC 3339 and bound `opened_at`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// `illegal_parking`, `street_vending`, `exposed_waste` or `unlit_signage`.
    pub kind: Option<String>,
    /// A camera id.
    pub camera: Option<String>,
    /// `open` or `resolved`.
    pub state: Option<String>,
    /// Opened at or after (RFC 3339).
    pub since: Option<String>,
    /// Opened before (RFC 3339).
    pub until: Option<String>,
    /// Page size: default 50, at most 500.
    pub limit: Option<usize>,
    /// Incidents to skip (default 0).
    pub offset: Option<usize>,
}

impl IncidentQuery {
    /// The outbox filter, or 422 naming every field that is wrong.
    pub fn filter(&self) -> ApiResult<IncidentFilter> {
        let mut fields = Vec::new();
        let mut problem = |field: &str, message: String| fields.push(FieldError { field: field.into(), message, line: None, column: None });
        if let Some(kind) = &self.kind
            && ViolationKind::parse(kind).is_none()
        {
            let known: Vec<&str> = ViolationKind::ALL.iter().map(ViolationKind::as_str).collect();
            problem("kind", format!("unknown kind `{kind}`; one of {}", known.join(", ")));
        }
        if let Some(state) = &self.state
            && state != "open"
            && state != "resolved"
        {
            problem("state", format!("unknown state `{state}`; `open` or `resolved`"));
        }
        let mut time = |field: &str, text: &Option<String>| match text.as_deref().map(DateTime::parse_from_rfc3339) {
            None => None,
            Some(Ok(time)) => Some(time.with_timezone(&Utc)),
            Some(Err(e)) => {
                problem(field, format!("not an RFC 3339 time (e.g. 2026-03-01T08:00:00+08:00): {e}"));
                None
            }
        };
        let since = time("since", &self.since);
        let until = time("until", &self.until);
        if !fields.is_empty() {
            return Err(ApiError::invalid("invalid incident filter", fields));
        }
        Ok(IncidentFilter { kind: self.kind.clone(), camera: self.camera.clone(), state: self.state.clone(), since, until, limit: self.limit, offset: self.offset.unwrap_or(0) })
    }
}

/// `POST /incidents/{id}/resend` body; without one, every sink.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ResendRequest {
    /// Only this sink's deliveries.
    pub sink: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResendResponse {
    /// Delivery rows queued again.
    pub requeued: usize,
}

/// Runs an outbox call on the blocking pool; failures are logged and answered 500.
async fn blocking<T: Send + 'static>(call: impl FnOnce() -> Result<T, OutboxError> + Send + 'static) -> ApiResult<T> {
    match tokio::task::spawn_blocking(call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "outbox read failed");
            Err(ApiError::internal(e.to_string()))
        }
        Err(e) => {
            tracing::error!(error = %e, "outbox task failed");
            Err(ApiError::internal("the outbox task failed"))
        }
    }
}

fn unknown_incident(id: &str) -> ApiError {
    ApiError::not_found(format!("no incident `{id}`"))
}

/// `id` as one URL path segment (incident ids are UUIDs, but the URL must hold whatever is stored).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Where the API serves evidence `position` of event `seq` of incident `id`.
pub fn evidence_url(id: &str, seq: u32, position: u32) -> String {
    format!("/api/v1/incidents/{}/evidence/{seq}/{position}", path_segment(id))
}

pub async fn list(state: &IncidentsState, query: &IncidentQuery) -> ApiResult<IncidentPage> {
    let filter = query.filter()?;
    let database = state.database.clone();
    blocking(move || outbox::list_incidents(&database, &filter)).await
}

/// The incident with every evidence item's `url` set.
pub async fn detail(state: &IncidentsState, id: &str) -> ApiResult<IncidentDetail> {
    let (database, key) = (state.database.clone(), id.to_string());
    let mut detail = blocking(move || outbox::incident_detail(&database, &key)).await?.ok_or_else(|| unknown_incident(id))?;
    for event in &mut detail.events {
        for item in event.evidence.iter_mut().filter(|item| !item.evicted) {
            item.url = Some(evidence_url(&detail.id, event.seq, item.position));
        }
    }
    Ok(detail)
}

/// The evidence file's bytes with its media type; 404 when unknown or no longer on disk.
pub async fn evidence(state: &IncidentsState, id: &str, seq: u32, position: u32) -> ApiResult<Response> {
    let (database, key) = (state.database.clone(), id.to_string());
    let missing = || ApiError::not_found(format!("no evidence {seq}/{position} for incident `{id}`"));
    let found = blocking(move || Ok(outbox::evidence_file(&database, &key, seq, position)?.map(|(path, media_type)| (std::fs::read(&path), path, media_type)))).await?;
    let (read, path, media_type) = found.ok_or_else(missing)?;
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::not_found(format!("evidence {seq}/{position} of incident `{id}` is no longer on disk"))),
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot read evidence");
            return Err(ApiError::internal(format!("cannot read evidence {seq}/{position} of incident `{id}`")));
        }
    };
    let content_type = HeaderValue::from_str(&media_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    Ok((headers, bytes).into_response())
}

/// Reads the optional resend body: empty means every sink.
pub fn resend_request(body: &[u8]) -> ApiResult<ResendRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ResendRequest::default());
    }
    let request: ResendRequest = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    if request.sink.as_deref().is_some_and(|sink| sink.trim().is_empty()) {
        let field = FieldError { field: "sink".into(), message: "empty; leave it out for every sink".into(), line: None, column: None };
        return Err(ApiError::invalid("invalid resend request", vec![field]));
    }
    Ok(request)
}

/// Queues the incident's events again and wakes the sinks; 404 for an unknown incident, 422
/// for a sink the incident has no deliveries to.
pub async fn requeue(state: &IncidentsState, id: &str, request: ResendRequest) -> ApiResult<ResendResponse> {
    let (database, key, sink) = (state.database.clone(), id.to_string(), request.sink.clone());
    let requeued = blocking(move || outbox::resend(&database, &key, sink.as_deref())).await?.ok_or_else(|| unknown_incident(id))?;
    if requeued == 0
        && let Some(sink) = request.sink
    {
        let field = FieldError { field: "sink".into(), message: format!("incident `{id}` has no deliveries to sink `{sink}`"), line: None, column: None };
        return Err(ApiError::invalid("unknown sink", vec![field]));
    }
    if requeued > 0 {
        (state.wake_sinks)();
    }
    tracing::info!(incident = %id, requeued, "incident queued again");
    Ok(ResendResponse { requeued })
}

fn bad_path(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text())
}

/// List incidents, newest first.
#[utoipa::path(get, path = "/incidents", tag = "incidents", params(IncidentQuery),
    responses(
        (status = 200, description = "one page of incidents", body = IncidentPage),
        (status = 400, description = "unreadable query", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 422, description = "invalid filter", body = ErrorBody),
    ))]
async fn list_incidents(_viewer: RequireViewer, State(state): State<IncidentsState>, query: Result<Query<IncidentQuery>, QueryRejection>) -> ApiResult<Json<IncidentPage>> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    list(&state, &query).await.map(Json)
}

/// One incident: every event with its document as sent, evidence links and delivery per sink.
#[utoipa::path(get, path = "/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "incident id")),
    responses(
        (status = 200, description = "the incident", body = IncidentDetail),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 404, description = "unknown incident", body = ErrorBody),
    ))]
async fn incident_detail(_viewer: RequireViewer, State(state): State<IncidentsState>, id: Result<Path<String>, PathRejection>) -> ApiResult<Json<IncidentDetail>> {
    let Path(id) = id.map_err(bad_path)?;
    detail(&state, &id).await.map(Json)
}

/// One evidence file (JPEG picture or MP4 clip).
#[utoipa::path(get, path = "/incidents/{id}/evidence/{seq}/{position}", tag = "incidents",
    params(
        ("id" = String, Path, description = "incident id"),
        ("seq" = u32, Path, description = "the event's seq"),
        ("position" = u32, Path, description = "index in the event document's evidence array"),
    ),
    responses(
        (status = 200, description = "the file, with its media type", content(("image/jpeg"), ("video/mp4"))),
        (status = 400, description = "unreadable path", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 404, description = "unknown evidence, or no longer on disk", body = ErrorBody),
    ))]
async fn evidence_file(_viewer: RequireViewer, State(state): State<IncidentsState>, path: Result<Path<(String, u32, u32)>, PathRejection>) -> ApiResult<Response> {
    let Path((id, seq, position)) = path.map_err(bad_path)?;
    evidence(&state, &id, seq, position).await
}

/// Queue every event of the incident again, for every sink or one; the sinks are woken at once.
#[utoipa::path(post, path = "/incidents/{id}/resend", tag = "incidents",
    params(("id" = String, Path, description = "incident id")),
    request_body = Option<ResendRequest>,
    responses(
        (status = 202, description = "queued", body = ResendResponse),
        (status = 400, description = "unreadable body", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "not an operator", body = ErrorBody),
        (status = 404, description = "unknown incident", body = ErrorBody),
        (status = 422, description = "the incident has no deliveries to that sink", body = ErrorBody),
    ))]
async fn resend(_operator: RequireOperator, State(state): State<IncidentsState>, id: Result<Path<String>, PathRejection>, body: Bytes) -> ApiResult<(StatusCode, Json<ResendResponse>)> {
    let Path(id) = id.map_err(bad_path)?;
    let request = resend_request(&body)?;
    requeue(&state, &id, request).await.map(|response| (StatusCode::ACCEPTED, Json(response)))
}

/// The incident routes, to be nested under `/api/v1`.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    IncidentsState: FromRef<S>,
    AuthStore: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list_incidents))
        .routes(routes!(incident_detail))
        .routes(routes!(evidence_file))
        .routes(routes!(resend))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use rusqlite::{Connection, params};
    use steward_edge::outbox::DeliveryQueue;
    use tower::ServiceExt;

    use super::*;

    struct Fixture {
        dir: PathBuf,
        state: IncidentsState,
        wakes: Arc<AtomicUsize>,
    }

    /// An outbox with incident `x` (two events to sinks `a` and `b`; the first with a picture
    /// on disk and a clip that is gone) and incident `y` (resolved, one event to `a`).
    fn fixture(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("steward-api-incidents-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("outbox.sqlite3");
        drop(DeliveryQueue::open(&database, "a").unwrap());
        let conn = Connection::open(&database).unwrap();
        let picture = dir.join("x-1-0.jpg");
        std::fs::write(&picture, b"\xff\xd8jpeg").unwrap();
        conn.execute_batch(
            "INSERT INTO incidents VALUES ('x', 'cam1', 'z1', 'illegal_parking', 'open', '[0,0,1,1]', '2026-03-01T08:00:00+00:00');
             INSERT INTO incidents VALUES ('y', 'cam2', 'z1', 'street_vending', 'resolved', '[0,0,1,1]', '2026-03-01T09:00:00.500+00:00');
             INSERT INTO events VALUES (1, 'x', 1, 'open', '{\"id\":\"x\",\"seq\":1}', '2026-03-01T08:00:00+00:00');
             INSERT INTO events VALUES (2, 'x', 2, 'update', '{\"id\":\"x\",\"seq\":2}', '2026-03-01T08:05:00+00:00');
             INSERT INTO events VALUES (3, 'y', 1, 'open', '{\"id\":\"y\",\"seq\":1}', '2026-03-01T09:00:00.500+00:00');
             INSERT INTO deliveries (event_id, sink, state) VALUES (1, 'a', 'delivered'), (1, 'b', 'rejected'), (2, 'a', 'pending'), (2, 'b', 'pending'), (3, 'a', 'delivered');",
        )
        .unwrap();
        let insert = "INSERT INTO evidence (event_id, position, role, media_type, sha256, path, size) VALUES (1, ?1, ?2, ?3, 'h', ?4, 10)";
        conn.execute(insert, params![0, "first_sight", "image/jpeg", picture.display().to_string()]).unwrap();
        conn.execute(insert, params![1, "clip", "video/mp4", dir.join("gone.mp4").display().to_string()]).unwrap();
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let state = IncidentsState {
            database,
            wake_sinks: Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        };
        Fixture { dir, state, wakes }
    }

    fn query(text: &str) -> IncidentQuery {
        Query::<IncidentQuery>::try_from_uri(&format!("/incidents?{text}").parse().unwrap()).unwrap().0
    }

    fn fields(error: &ApiError) -> Vec<&str> {
        error.body.fields.iter().map(|f| f.field.as_str()).collect()
    }

    #[tokio::test]
    async fn lists_with_filters() {
        let f = fixture("list");
        let page = list(&f.state, &query("")).await.unwrap();
        assert_eq!(page.incidents.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["y", "x"]);
        assert_eq!(page.total, 2);
        let x = &page.incidents[1];
        assert_eq!((x.events, x.updated_at.as_str()), (2, "2026-03-01T08:05:00+00:00"));
        assert_eq!(x.delivery.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(), [("a", "pending"), ("b", "rejected")]);

        let ids = |page: IncidentPage| page.incidents.into_iter().map(|i| i.id).collect::<Vec<_>>();
        assert_eq!(ids(list(&f.state, &query("kind=street_vending")).await.unwrap()), ["y"]);
        assert_eq!(ids(list(&f.state, &query("camera=cam1&state=open")).await.unwrap()), ["x"]);
        // Local times with an offset: 17:00+08:00 is 09:00 UTC.
        assert_eq!(ids(list(&f.state, &query("since=2026-03-01T17:00:00%2B08:00")).await.unwrap()), ["y"]);
        assert_eq!(ids(list(&f.state, &query("until=2026-03-01T09:00:00.5Z")).await.unwrap()), ["x"]);
        let page = list(&f.state, &query("limit=1&offset=1")).await.unwrap();
        assert_eq!((ids(page.clone()), page.total, page.limit, page.offset), (vec!["x".to_string()], 2, 1, 1));
        assert_eq!(list(&f.state, &query("limit=9999")).await.unwrap().limit, 500);
    }

    #[tokio::test]
    async fn rejects_a_bad_filter_field_by_field() {
        let f = fixture("bad-filter");
        let error = list(&f.state, &query("kind=parking&state=closed&since=yesterday&until=2026-03-01")).await.unwrap_err();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&error), ["kind", "state", "since", "until"]);
        assert!(error.body.fields[0].message.contains("illegal_parking"));
    }

    #[tokio::test]
    async fn detail_links_evidence() {
        let f = fixture("detail");
        let detail = detail(&f.state, "x").await.unwrap();
        assert_eq!(detail.events.len(), 2);
        let urls: Vec<_> = detail.events[0].evidence.iter().map(|e| e.url.clone().unwrap()).collect();
        assert_eq!(urls, ["/api/v1/incidents/x/evidence/1/0", "/api/v1/incidents/x/evidence/1/1"]);
        let json = serde_json::to_value(&detail).unwrap();
        assert_eq!(json["events"][0]["document"], serde_json::json!({"id": "x", "seq": 1}));
        assert_eq!(json["events"][0]["deliveries"][1]["state"], "rejected");
        assert_eq!(json["events"][0]["evidence"][0]["url"], "/api/v1/incidents/x/evidence/1/0");
        let error = super::detail(&f.state, "nope").await.unwrap_err();
        assert_eq!(error.status, StatusCode::NOT_FOUND);
        assert_eq!(evidence_url("a b/c", 2, 3), "/api/v1/incidents/a%20b%2Fc/evidence/2/3");
    }

    #[tokio::test]
    async fn serves_evidence_files() {
        let f = fixture("evidence");
        let response = evidence(&f.state, "x", 1, 0).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/jpeg");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "private, max-age=3600");
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes().as_ref(), b"\xff\xd8jpeg");
        for (id, seq, position) in [("x", 1, 1), ("x", 1, 2), ("x", 2, 0), ("nope", 1, 0)] {
            let error = evidence(&f.state, id, seq, position).await.unwrap_err();
            assert_eq!(error.status, StatusCode::NOT_FOUND, "{id} {seq}/{position}");
        }
        assert!(f.dir.exists());
    }

    #[tokio::test]
    async fn resend_requeues_and_wakes_the_sinks() {
        let f = fixture("resend");
        let a = DeliveryQueue::open(&f.state.database, "a").unwrap();
        assert_eq!(requeue(&f.state, "x", resend_request(br#"{"sink": "b"}"#).unwrap()).await.unwrap().requeued, 2);
        assert_eq!(f.wakes.load(Ordering::SeqCst), 1);
        assert!(a.due(0, 10).unwrap().iter().all(|r| r.incident_id == "x" && r.seq == 2), "a untouched");
        assert_eq!(requeue(&f.state, "x", resend_request(b"").unwrap()).await.unwrap().requeued, 4);
        assert_eq!(a.due(0, 10).unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), [1], "seq 1 again first");
        assert_eq!(f.wakes.load(Ordering::SeqCst), 2);

        let error = requeue(&f.state, "nope", ResendRequest::default()).await.unwrap_err();
        assert_eq!(error.status, StatusCode::NOT_FOUND);
        let error = requeue(&f.state, "y", ResendRequest { sink: Some("b".into()) }).await.unwrap_err();
        assert_eq!((error.status, fields(&error)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["sink"]));
        assert_eq!(f.wakes.load(Ordering::SeqCst), 2, "nothing queued, nobody woken");
    }

    #[test]
    fn resend_body_is_optional() {
        assert!(resend_request(b"").unwrap().sink.is_none());
        assert!(resend_request(b" \n").unwrap().sink.is_none());
        assert!(resend_request(b"{}").unwrap().sink.is_none());
        assert_eq!(resend_request(br#"{"sink":"a"}"#).unwrap().sink.as_deref(), Some("a"));
        assert_eq!(resend_request(b"{sink").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(resend_request(br#"{"sink":""}"#).unwrap_err().status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[derive(Clone)]
    struct TestState {
        incidents: IncidentsState,
        auth: AuthStore,
    }
    impl FromRef<TestState> for IncidentsState {
        fn from_ref(state: &TestState) -> Self {
            state.incidents.clone()
        }
    }
    impl FromRef<TestState> for AuthStore {
        fn from_ref(state: &TestState) -> Self {
            state.auth.clone()
        }
    }

    #[tokio::test]
    async fn routes_are_documented_and_need_a_role() {
        let f = fixture("routes");
        let auth = AuthStore::open(&f.dir.join("control.db")).unwrap();
        let (router, api) = routes::<TestState>().split_for_parts();
        let paths: Vec<&str> = api.paths.paths.keys().map(String::as_str).collect();
        assert_eq!(paths, ["/incidents", "/incidents/{id}", "/incidents/{id}/evidence/{seq}/{position}", "/incidents/{id}/resend"]);
        let json = serde_json::to_value(&api).unwrap();
        assert_eq!(json["paths"]["/incidents"]["get"]["tags"][0], "incidents");
        assert!(json["paths"]["/incidents/{id}/resend"]["post"]["responses"]["202"].is_object());
        for schema in ["IncidentPage", "IncidentSummary", "IncidentDetail", "EventDetail", "EvidenceItem", "DeliveryItem", "AttemptItem", "ResendRequest", "ResendResponse", "ErrorBody"] {
            assert!(json["components"]["schemas"][schema].is_object(), "schema {schema}");
        }
        let app = router.with_state(TestState { incidents: f.state.clone(), auth });
        for (method, uri) in [("GET", "/incidents"), ("GET", "/incidents/x"), ("GET", "/incidents/x/evidence/1/0"), ("POST", "/incidents/x/resend")] {
            let response = app.clone().oneshot(Request::builder().method(method).uri(uri).body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {uri}");
            let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
            assert!(body["error"].is_string());
        }
        assert_eq!(f.wakes.load(Ordering::SeqCst), 0);
    }
}
