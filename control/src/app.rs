//! The control plane's HTTP face: `fn app(state) -> Router`, kept apart from `main` so tests
//! can drive it. For now: `/health` (JSON) and `/metrics` (Prometheus text).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde_json::json;
use steward_edge::runtime::EdgeHandle;

#[derive(Clone)]
pub struct AppState {
    pub edge: EdgeHandle,
}

pub fn app(state: AppState) -> Router {
    Router::new().route("/health", get(health)).route("/metrics", get(metrics)).with_state(state)
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let cameras = state.edge.health.snapshot();
    let live = cameras.values().filter(|c| matches!(c.state, steward_edge::source::CameraState::Live)).count();
    Json(json!({
        "status": "ok",
        "version": steward_edge::VERSION,
        "uptime_s": state.edge.started.elapsed().as_secs(),
        "model": state.edge.model_name,
        "cameras_live": live,
        "cameras": cameras,
    }))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.edge.telemetry.render())
}

/// Serves `router` on `listen` until `shutdown` resolves.
pub async fn serve(listen: std::net::SocketAddr, router: Router, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "HTTP server listening");
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
