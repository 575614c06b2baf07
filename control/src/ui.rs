//! The operator's web UI: a few static files (plain HTML, CSS and ES2020 JavaScript, no build
//! step) embedded in the binary and served at `GET /` and `GET /ui/{file}`. The page talks to
//! the control API (`/api/v1`) like any other client; see `docs/control-api.md`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// What the page may load and run: only its own files (no inline scripts, no inline style
/// attributes from markup); pictures also as `data:`/`blob:` URLs (snapshots, test frames).
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/// Every file under `/ui/`, with its content type.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("../ui/index.html")),
    ("app.css", CSS, include_str!("../ui/app.css")),
    ("i18n.js", JS, include_str!("../ui/i18n.js")),
    ("api.js", JS, include_str!("../ui/api.js")),
    ("cameras.js", JS, include_str!("../ui/cameras.js")),
    ("zone-editor.js", JS, include_str!("../ui/zone-editor.js")),
    ("zone-form.js", JS, include_str!("../ui/zone-form.js")),
    ("incidents.js", JS, include_str!("../ui/incidents.js")),
    ("admin.js", JS, include_str!("../ui/admin.js")),
    ("app.js", JS, include_str!("../ui/app.js")),
];

/// `GET /` and `GET /ui/{file}`; merge into the app's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/ui/{file}", get(asset))
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(file): Path<String>) -> Response {
    serve(&file)
}

fn serve(file: &str) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => {
            let mut response = (StatusCode::OK, *body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
            response
        }
        None => {
            let mut response = (StatusCode::NOT_FOUND, "not found\n").into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_path(path: &str) -> Response {
        routes::<()>().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }

    fn header<'a>(response: &'a Response, name: header::HeaderName) -> &'a str {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    #[tokio::test]
    async fn ui_serves_every_asset_with_its_content_type() {
        let mut paths: Vec<(String, &str, &str)> = vec![("/".to_string(), HTML, ASSETS[0].2)];
        paths.extend(ASSETS.iter().map(|(name, ty, body)| (format!("/ui/{name}"), *ty, *body)));
        for (path, content_type, expected) in paths {
            let response = get_path(&path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&response, header::CONTENT_TYPE), content_type, "{path}");
            assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache", "{path}");
            assert_eq!(header(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{path}");
            assert_eq!(header(&response, header::CONTENT_SECURITY_POLICY), CONTENT_SECURITY_POLICY, "{path}");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], expected.as_bytes(), "{path}");
        }
    }

    #[tokio::test]
    async fn ui_unknown_file_is_404() {
        for path in ["/ui/nope.js", "/ui/..%2Fmain.rs", "/ui/"] {
            let response = get_path(path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn ui_index_references_only_served_scripts_and_no_inline_code() {
        let index = ASSETS[0].2;
        for (name, ty, _) in ASSETS.iter().filter(|(_, ty, _)| *ty != HTML) {
            let tag = if *ty == JS { format!("<script src=\"/ui/{name}\"") } else { format!("href=\"/ui/{name}\"") };
            assert!(index.contains(&tag), "index.html does not load {name}");
        }
        assert!(!index.contains("style=\""), "inline style attribute (blocked by the CSP)");
        assert!(!index.contains("<script>"), "inline script (blocked by the CSP)");
        for handler in ["onclick=", "onload=", "onsubmit=", "onchange=", "oninput=", "onerror="] {
            assert!(!index.contains(handler), "inline event handler {handler} (blocked by the CSP)");
        }
    }
}
