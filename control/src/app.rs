//! The control plane's HTTP face: `fn app(state) -> Router`, kept apart from `main` so tests
//! can drive it: the web UI, the REST API under `/api/v1` (with its OpenAPI document),
//! `/health` (JSON, open) and `/metrics` (Prometheus text).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::serve::ListenerExt;
use axum::http::header;
use axum::response::{IntoResponse, Json};
use serde_json::json;
use steward_edge::config::ConfigStore;
use steward_edge::runtime::EdgeHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::incidents::IncidentsState;
use crate::auth::{AuthStore, RequireViewer};
use crate::logtail::LogTail;

/// Everything the handlers read: the running edge, the config store they change it through,
/// users and sessions, the log tail.
#[derive(Clone)]
pub struct AppState {
    pub edge: EdgeHandle,
    pub config: ConfigStore,
    pub auth: AuthStore,
    pub logs: LogTail,
}

impl FromRef<AppState> for AuthStore {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for LogTail {
    fn from_ref(state: &AppState) -> Self {
        state.logs.clone()
    }
}

impl FromRef<AppState> for IncidentsState {
    fn from_ref(state: &AppState) -> Self {
        let sinks = state.edge.sinks.clone();
        IncidentsState { database: state.edge.database.clone(), wake_sinks: std::sync::Arc::new(move || sinks.wake_all()) }
    }
}

pub fn app(state: AppState) -> Router {
    let (api, _) = api_router();
    api.merge(crate::ui::routes()).with_state(state)
}

/// Every documented route (the API, `/health`, `/metrics`) and the OpenAPI document.
pub fn api_router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, openapi) = crate::api::router();
    let (base, base_doc) = OpenApiRouter::new().routes(routes!(health)).routes(routes!(metrics)).routes(routes!(openapi_json)).split_for_parts();
    let mut openapi = openapi;
    openapi.merge(base_doc);
    crate::api::describe_responses(&mut openapi);
    (api.merge(base), openapi)
}

/// The OpenAPI 3.1 document of every route, built once from the router itself.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", responses((status = 200, body = Object), (status = 401, body = crate::api::ErrorBody)))]
async fn openapi_json(_: RequireViewer) -> Json<utoipa::openapi::OpenApi> {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    Json(DOCUMENT.get_or_init(|| api_router().1).clone())
}

/// Liveness and per-camera health; open to everyone (for monitoring).
#[utoipa::path(get, path = "/health", tag = "system", security(()), responses((status = 200, description = "status, version, uptime, model, cameras", body = Object)))]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let cameras = state.edge.health.snapshot();
    let live = cameras.values().filter(|c| matches!(c.state, steward_edge::source::CameraState::Live)).count();
    let storage = state.edge.storage.status();
    let mut problems = Vec::new();
    if storage.evidence_paused {
        problems.push("storage quota full of undelivered data: new incidents go out without evidence pictures");
    }
    Json(json!({
        "status": if problems.is_empty() { "ok" } else { "degraded" },
        "problems": problems,
        "storage": storage,
        "version": steward_edge::VERSION,
        "uptime_s": state.edge.started.elapsed().as_secs(),
        "model": state.edge.model_name,
        "cameras_live": live,
        "cameras": cameras,
    }))
}

/// Prometheus metrics (text format 0.0.4); scrape with a viewer API token.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, content_type = "text/plain", body = String), (status = 401, body = crate::api::ErrorBody)))]
async fn metrics(_: RequireViewer, State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.edge.telemetry.render())
}

/// Serves `router` on `listen` until `shutdown` resolves (client addresses reach the handlers,
/// for login throttling).
pub async fn serve(listen: SocketAddr, router: Router, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    serve_on(listener, None, router, shutdown).await
}

/// Serves `router` on a bound `listener`, over TLS when `tls` is given, until `shutdown` resolves.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listen = listener.local_addr()?;
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            tracing::info!(%listen, "HTTP server listening");
            axum::serve(listener, service).with_graceful_shutdown(shutdown).await
        }
        Some(config) => {
            tracing::info!(%listen, "HTTPS server listening");
            // `tap_io` keeps axum's connect-info support (the peer address) for a custom listener.
            let listener = crate::tls::TlsListener::new(listener, config)?.tap_io(|_| {});
            axum::serve(listener, service).with_graceful_shutdown(shutdown).await
        }
    }
}
