//! Router-level tests of the auth module: a temporary SQLite file, `routes()` under `/api/v1`
//! plus a probe route per extractor, driven with `oneshot` the way a browser or an integrator
//! would (cookies kept between requests).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::password::sha256_hex;
use super::{AuthStore, RequireAdmin, RequireOperator, RequireViewer, routes};

const ADMIN_PASSWORD: &str = "first-admin-pw";
const VIEWER_PASSWORD: &str = "viewer-pw-123";

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn viewer_probe(RequireViewer(principal): RequireViewer) -> String {
    principal.name
}

async fn operator_probe(RequireOperator(principal): RequireOperator) -> String {
    principal.name
}

async fn admin_probe(RequireAdmin(principal): RequireAdmin) -> String {
    principal.name
}

struct Fixture {
    dir: TempDir,
    app: Router,
    /// Every response body any browser saw.
    seen: Arc<Mutex<Vec<String>>>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_secure_cookies(false)
    }

    fn with_secure_cookies(secure: bool) -> Fixture {
        let dir = TempDir(std::env::temp_dir().join(format!("steward-auth-test-{}", uuid::Uuid::now_v7())));
        let mut store = AuthStore::open(&dir.0.join("control.db")).unwrap();
        store.set_secure_cookies(secure);
        let (api, _) = routes::<AuthStore>().split_for_parts();
        let app = Router::new()
            .nest("/api/v1", api)
            .route("/probe/viewer", get(viewer_probe).post(viewer_probe))
            .route("/probe/operator", post(operator_probe))
            .route("/probe/admin", post(admin_probe))
            .with_state(store);
        Fixture { dir, app, seen: Arc::default() }
    }

    fn browser(&self, address: &str) -> Browser {
        Browser { app: self.app.clone(), address: address.parse().unwrap(), cookies: BTreeMap::new(), csrf: None, seen: self.seen.clone() }
    }

    /// A second connection to the file, to look at (or age) what the store wrote.
    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.0.join("control.db")).unwrap()
    }

    /// A browser signed in as the first admin (created through setup).
    async fn admin(&self) -> Browser {
        let mut admin = self.browser("192.0.2.1:50000");
        let token = admin.pre_session().await;
        let reply = admin.send(Method::POST, "/api/v1/setup", Some(json!({"username": "root", "password": ADMIN_PASSWORD})), &[("x-csrf-token", &token)]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        admin.csrf = Some(reply.json()["csrf_token"].as_str().unwrap().to_owned());
        admin
    }

    /// Creates a user through the admin and returns a browser signed in as them.
    async fn user(&self, admin: &mut Browser, name: &str, role: &str) -> Browser {
        let reply = admin.write(Method::POST, "/api/v1/users", json!({"username": name, "password": VIEWER_PASSWORD, "role": role})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let mut browser = self.browser("192.0.2.2:50000");
        assert_eq!(browser.sign_in(name, VIEWER_PASSWORD).await.status, StatusCode::OK);
        browser
    }

    fn assert_no_secret_seen(&self, secrets: &[&str]) {
        for body in self.seen.lock().unwrap().iter() {
            assert!(!body.contains("$argon2"), "a hash in {body}");
            for secret in secrets {
                assert!(!body.contains(secret), "{secret:?} in {body}");
            }
        }
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }

    /// The `Set-Cookie` header for `name`.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|value| value.to_str().unwrap().to_owned()).find(|value| value.starts_with(&format!("{name}=")))
    }
}

/// Keeps cookies like a browser; `csrf` is the session's CSRF token once signed in.
struct Browser {
    app: Router,
    address: SocketAddr,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    async fn raw(&mut self, method: Method, uri: &str, content_type: Option<&str>, body: String, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect();
            request = request.header(header::COOKIE, cookies.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Body::from(body)).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.address));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        for value in headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (name, rest) = value.split_once('=').unwrap();
            let cookie_value = rest.split(';').next().unwrap();
            if value.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), cookie_value.to_owned());
            }
        }
        self.seen.lock().unwrap().push(body.clone());
        Reply { status, headers, body }
    }

    async fn send(&mut self, method: Method, uri: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        match body {
            Some(body) => self.raw(method, uri, Some("application/json"), body.to_string(), headers).await,
            None => self.raw(method, uri, None, String::new(), headers).await,
        }
    }

    async fn get(&mut self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, &[]).await
    }

    /// A write with the session's CSRF token.
    async fn write(&mut self, method: Method, uri: &str, body: Value) -> Reply {
        let csrf = self.csrf.clone().expect("signed in");
        let body = (!body.is_null()).then_some(body);
        self.send(method, uri, body, &[("x-csrf-token", &csrf)]).await
    }

    async fn form(&mut self, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.raw(Method::POST, uri, Some("application/x-www-form-urlencoded"), body, &[]).await
    }

    /// `GET /session`: the CSRF token for sign-in (the pre-session one while signed out).
    async fn pre_session(&mut self) -> String {
        let reply = self.get("/api/v1/session").await;
        assert_eq!(reply.status, StatusCode::OK);
        let token = reply.json()["csrf_token"].as_str().unwrap().to_owned();
        if reply.json()["user"].is_null() {
            assert_eq!(self.cookies.get("steward_csrf"), Some(&token));
        }
        token
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> Reply {
        let token = self.pre_session().await;
        let reply = self.send(Method::POST, "/api/v1/session", Some(json!({"username": username, "password": password})), &[("x-csrf-token", &token)]).await;
        if reply.status == StatusCode::OK {
            self.csrf = Some(reply.json()["csrf_token"].as_str().unwrap().to_owned());
        }
        reply
    }
}

#[tokio::test]
async fn auth_setup_creates_the_first_admin_once() {
    let fixture = Fixture::new();
    let mut browser = fixture.browser("192.0.2.1:40000");
    let reply = browser.get("/api/v1/session").await;
    assert_eq!(reply.json()["setup_required"], true);
    assert_eq!(reply.json()["user"], Value::Null);
    let pre_cookie = reply.set_cookie("steward_csrf").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(pre_cookie.contains(attribute), "{pre_cookie}");
    }
    // The same pre-session token while the cookie lasts (several tabs).
    let token = reply.json()["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(browser.pre_session().await, token);

    let mut admin = fixture.admin().await;
    let reply = admin.get("/api/v1/session").await;
    assert_eq!(reply.json()["user"], json!({"name": "root", "role": "admin"}));
    assert_eq!(reply.json()["setup_required"], false);
    assert_eq!(reply.json()["csrf_token"].as_str(), admin.csrf.as_deref());

    let again = browser.send(Method::POST, "/api/v1/setup", Some(json!({"username": "mallory", "password": "mallory-pw"})), &[("x-csrf-token", &token)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(browser.sign_in("mallory", "mallory-pw").await.status, StatusCode::UNAUTHORIZED);
    fixture.assert_no_secret_seen(&[ADMIN_PASSWORD]);
}

#[tokio::test]
async fn auth_setup_and_sign_in_need_the_pre_session_token() {
    let fixture = Fixture::new();
    let mut browser = fixture.browser("192.0.2.1:40000");
    let credentials = json!({"username": "root", "password": ADMIN_PASSWORD});
    let token = browser.pre_session().await;
    assert_eq!(browser.send(Method::POST, "/api/v1/setup", Some(credentials.clone()), &[]).await.status, StatusCode::FORBIDDEN);
    let wrong = browser.send(Method::POST, "/api/v1/setup", Some(credentials.clone()), &[("x-csrf-token", "guess")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.json()["error"], "missing or wrong CSRF token");
    // A header without the cookie (another site's page cannot read or set it) is refused too.
    let mut stranger = fixture.browser("198.51.100.1:40000");
    assert_eq!(stranger.send(Method::POST, "/api/v1/setup", Some(credentials.clone()), &[("x-csrf-token", &token)]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/api/v1/session").await.json()["setup_required"], true);

    fixture.admin().await;
    let mut other = fixture.browser("192.0.2.3:40000");
    other.pre_session().await;
    assert_eq!(other.send(Method::POST, "/api/v1/session", Some(credentials), &[]).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn auth_session_cookie_attributes() {
    let fixture = Fixture::new();
    fixture.admin().await;
    let mut browser = fixture.browser("192.0.2.1:40000");
    let reply = browser.sign_in("root", ADMIN_PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["user"], json!({"name": "root", "role": "admin"}));
    let cookie = reply.set_cookie("steward_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    // Only the token's digest is stored.
    let token = browser.cookies["steward_session"].clone();
    let stored: Vec<String> =
        fixture.db().prepare("SELECT token_sha256 FROM sessions").unwrap().query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
    assert!(stored.contains(&sha256_hex(&token)) && !stored.contains(&token));

    let tls = Fixture::with_secure_cookies(true);
    let reply = tls.admin().await.get("/api/v1/session").await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut browser = tls.browser("192.0.2.1:40000");
    let reply = browser.sign_in("root", ADMIN_PASSWORD).await;
    assert!(reply.set_cookie("steward_session").unwrap().contains("Secure"));
}

#[tokio::test]
async fn auth_session_writes_need_the_csrf_header() {
    let fixture = Fixture::new();
    let mut admin = fixture.admin().await;
    assert_eq!(admin.get("/probe/viewer").await.status, StatusCode::OK);
    let missing = admin.send(Method::POST, "/probe/viewer", None, &[]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.json()["error"], "missing or wrong CSRF token");
    assert_eq!(admin.send(Method::POST, "/probe/admin", None, &[("x-csrf-token", "wrong")]).await.status, StatusCode::FORBIDDEN);
    let with_token = admin.write(Method::POST, "/probe/admin", Value::Null).await;
    assert_eq!((with_token.status, with_token.body.as_str()), (StatusCode::OK, "root"));
    // The pre-session token is no session token.
    let pre = admin.cookies["steward_csrf"].clone();
    assert_eq!(admin.send(Method::POST, "/probe/admin", None, &[("x-csrf-token", &pre)]).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn auth_form_sign_in_needs_the_csrf_field() {
    let fixture = Fixture::new();
    fixture.admin().await;
    let mut browser = fixture.browser("192.0.2.1:40000");
    let token = browser.pre_session().await;
    let without = browser.form("/api/v1/session", &[("username", "root"), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("steward_session"));
    let with = browser.form("/api/v1/session", &[("username", "root"), ("password", ADMIN_PASSWORD), ("csrf_token", &token)]).await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.body);
    assert!(browser.cookies.contains_key("steward_session"));
    fixture.assert_no_secret_seen(&[ADMIN_PASSWORD]);
}

#[tokio::test]
async fn auth_without_credentials_is_401() {
    let fixture = Fixture::new();
    fixture.admin().await;
    let mut anonymous = fixture.browser("192.0.2.9:40000");
    for (method, uri) in
        [(Method::GET, "/probe/viewer"), (Method::POST, "/probe/operator"), (Method::GET, "/api/v1/users"), (Method::DELETE, "/api/v1/session")]
    {
        let reply = anonymous.send(method, uri, None, &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert!(reply.json()["error"].as_str().unwrap().contains("sign in"));
    }
    anonymous.cookies.insert("steward_session".into(), "made-up".into());
    assert_eq!(anonymous.get("/probe/viewer").await.status, StatusCode::UNAUTHORIZED);
    // A stale session cookie is cleared when the session is read.
    anonymous.get("/api/v1/session").await;
    assert!(!anonymous.cookies.contains_key("steward_session"));
    for authorization in ["Bearer stw_made-up", "Basic cm9vdDpwdw==", "Bearer "] {
        assert_eq!(anonymous.send(Method::GET, "/probe/viewer", None, &[("authorization", authorization)]).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn auth_roles_are_enforced() {
    let fixture = Fixture::new();
    let mut admin = fixture.admin().await;
    let mut viewer = fixture.user(&mut admin, "vera", "viewer").await;
    let mut operator = fixture.user(&mut admin, "otto", "operator").await;

    assert_eq!(viewer.get("/probe/viewer").await.body, "vera");
    assert_eq!(viewer.write(Method::POST, "/probe/viewer", Value::Null).await.status, StatusCode::OK);
    for uri in ["/probe/operator", "/probe/admin"] {
        let reply = viewer.write(Method::POST, uri, Value::Null).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(viewer.get("/api/v1/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(viewer.get("/api/v1/tokens").await.status, StatusCode::FORBIDDEN);
    assert_eq!(operator.write(Method::POST, "/probe/operator", Value::Null).await.body, "otto");
    assert_eq!(operator.write(Method::POST, "/probe/admin", Value::Null).await.status, StatusCode::FORBIDDEN);
    assert_eq!(operator.write(Method::POST, "/api/v1/tokens", json!({"name": "x", "role": "admin"})).await.status, StatusCode::FORBIDDEN);

    let users = admin.get("/api/v1/users").await.json();
    let names: Vec<(&str, &str)> = users.as_array().unwrap().iter().map(|user| (user["name"].as_str().unwrap(), user["role"].as_str().unwrap())).collect();
    assert_eq!(names, [("otto", "operator"), ("root", "admin"), ("vera", "viewer")]);
    assert!(users[0]["created_at"].as_str().unwrap().ends_with('Z'));
    fixture.assert_no_secret_seen(&[ADMIN_PASSWORD, VIEWER_PASSWORD]);
}

#[tokio::test]
async fn auth_bearer_tokens_need_no_csrf_and_stop_when_deleted() {
    let fixture = Fixture::new();
    let mut admin = fixture.admin().await;
    let created = admin.write(Method::POST, "/api/v1/tokens", json!({"name": "city-platform", "role": "operator"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let created = created.json();
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("stw_") && token.len() == 4 + 43, "{token}");
    assert_eq!(created["role"], "operator");

    let listed = admin.get("/api/v1/tokens").await.json();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    assert!(listed[0].get("token").is_none());
    let stored: String = fixture.db().query_row("SELECT token_sha256 FROM api_tokens", [], |row| row.get(0)).unwrap();
    assert_eq!(stored, sha256_hex(&token));

    let bearer = format!("Bearer {token}");
    let mut integrator = fixture.browser("203.0.113.5:40000");
    let reply = integrator.send(Method::POST, "/probe/operator", None, &[("authorization", &bearer)]).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "token:city-platform"));
    assert_eq!(integrator.send(Method::POST, "/probe/admin", None, &[("authorization", &bearer)]).await.status, StatusCode::FORBIDDEN);
    // A token name is no user name: it cannot set the password of a user called the same.
    admin.write(Method::POST, "/api/v1/users", json!({"username": "city-platform", "password": VIEWER_PASSWORD, "role": "viewer"})).await;
    let reply =
        integrator.send(Method::PUT, "/api/v1/users/city-platform/password", Some(json!({"password": "taken-over!"})), &[("authorization", &bearer)]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(admin.get("/api/v1/tokens").await.json()[0]["last_used_at"].is_string());

    assert_eq!(admin.write(Method::DELETE, &format!("/api/v1/tokens/{id}"), Value::Null).await.status, StatusCode::NO_CONTENT);
    assert_eq!(integrator.send(Method::POST, "/probe/operator", None, &[("authorization", &bearer)]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(admin.write(Method::DELETE, &format!("/api/v1/tokens/{id}"), Value::Null).await.status, StatusCode::NOT_FOUND);
    assert_eq!(admin.write(Method::POST, "/api/v1/tokens", json!({"name": " ", "role": "viewer"})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Listing never shows a secret again.
    let later = admin.get("/api/v1/tokens").await;
    assert!(!later.body.contains(&token));
}

#[tokio::test]
async fn auth_sign_in_is_throttled_after_five_failures() {
    let fixture = Fixture::new();
    fixture.admin().await;
    let mut attacker = fixture.browser("198.51.100.66:40000");
    for attempt in 1..=5 {
        let reply = attacker.sign_in("root", "wrong-password").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(reply.json()["error"], "wrong user name or password");
    }
    // Unknown user: the same answer.
    let mut other = fixture.browser("192.0.2.44:40000");
    let unknown = other.sign_in("nobody", "wrong-password").await;
    assert_eq!((unknown.status, unknown.json()["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("wrong user name or password")));

    // The 6th attempt is refused before the password is checked, even the right one, by name…
    let refused = attacker.sign_in("root", ADMIN_PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.body);
    let retry_after: u64 = refused.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let mut elsewhere = fixture.browser("192.0.2.77:40000");
    assert_eq!(elsewhere.sign_in("root", ADMIN_PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    // …and by address, for any name.
    assert_eq!(attacker.sign_in("nobody", "wrong-password").await.status, StatusCode::TOO_MANY_REQUESTS);

    // After the delay the right password works and clears the name's count.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(elsewhere.sign_in("root", ADMIN_PASSWORD).await.status, StatusCode::OK);
    // Signed in, the session's token serves for signing in again.
    assert_eq!(elsewhere.sign_in("root", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(elsewhere.sign_in("root", ADMIN_PASSWORD).await.status, StatusCode::OK);
    fixture.assert_no_secret_seen(&[ADMIN_PASSWORD, "wrong-password"]);
}

#[tokio::test]
async fn auth_expired_session_is_401_and_deleted() {
    let fixture = Fixture::new();
    let mut admin = fixture.admin().await;
    assert_eq!(admin.get("/probe/viewer").await.status, StatusCode::OK);
    fixture.db().execute("UPDATE sessions SET expires_at = 0", []).unwrap();
    assert_eq!(admin.get("/probe/viewer").await.status, StatusCode::UNAUTHORIZED);
    let left: i64 = fixture.db().query_row("SELECT COUNT(*) FROM sessions", [], |row| row.get(0)).unwrap();
    assert_eq!(left, 0);
    let reply = admin.get("/api/v1/session").await;
    assert_eq!(reply.json()["user"], Value::Null);
}

#[tokio::test]
async fn auth_sign_out_ends_the_session() {
    let fixture = Fixture::new();
    let mut admin = fixture.admin().await;
    let token = admin.cookies["steward_session"].clone();
    assert_eq!(admin.send(Method::DELETE, "/api/v1/session", None, &[]).await.status, StatusCode::FORBIDDEN);
    let reply = admin.write(Method::DELETE, "/api/v1/session", Value::Null).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.set_cookie("steward_session").unwrap().contains("Max-Age=0"));
    assert!(!admin.cookies.contains_key("steward_session"));
    admin.cookies.insert("steward_session".into(), token);
    assert_eq!(admin.get("/probe/viewer").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn auth_user_management() {
    let fixture = Fixture::new();
    let mut admin = fixture.admin().await;
    let mut vera = fixture.user(&mut admin, "vera", "viewer").await;

    let duplicate = admin.write(Method::POST, "/api/v1/users", json!({"username": "vera", "password": VIEWER_PASSWORD, "role": "admin"})).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let invalid = admin.write(Method::POST, "/api/v1/users", json!({"username": "no spaces", "password": "short", "role": "viewer"})).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let invalid = invalid.json();
    let fields: Vec<&str> = invalid["fields"].as_array().unwrap().iter().map(|field| field["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["username", "password"]);
    let bad_role = admin.write(Method::POST, "/api/v1/users", json!({"username": "x", "password": VIEWER_PASSWORD, "role": "root"})).await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The last admin stays.
    let last = admin.write(Method::DELETE, "/api/v1/users/root", Value::Null).await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    assert_eq!(admin.write(Method::DELETE, "/api/v1/users/ghost", Value::Null).await.status, StatusCode::NOT_FOUND);

    // A viewer may set only their own password; that ends their other sessions, not this one.
    let mut vera_elsewhere = fixture.browser("192.0.2.5:40000");
    assert_eq!(vera_elsewhere.sign_in("vera", VIEWER_PASSWORD).await.status, StatusCode::OK);
    assert_eq!(vera.write(Method::PUT, "/api/v1/users/root/password", json!({"password": "hijacked-pw"})).await.status, StatusCode::FORBIDDEN);
    let short = vera.write(Method::PUT, "/api/v1/users/vera/password", json!({"password": "1234567"})).await;
    assert_eq!((short.status, short.json()["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    assert_eq!(vera.write(Method::PUT, "/api/v1/users/vera/password", json!({"password": "new-vera-pw"})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(vera.get("/probe/viewer").await.status, StatusCode::OK);
    assert_eq!(vera_elsewhere.get("/probe/viewer").await.status, StatusCode::UNAUTHORIZED);
    let mut fresh = fixture.browser("192.0.2.6:40000");
    assert_eq!(fresh.sign_in("vera", VIEWER_PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fresh.sign_in("vera", "new-vera-pw").await.status, StatusCode::OK);

    // An admin sets anyone's password (ending all their sessions) and deletes users.
    assert_eq!(admin.write(Method::PUT, "/api/v1/users/vera/password", json!({"password": "reset-by-admin"})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(vera.get("/probe/viewer").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(admin.write(Method::PUT, "/api/v1/users/ghost/password", json!({"password": "whatever-pw"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(fresh.get("/probe/viewer").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fresh.sign_in("vera", "reset-by-admin").await.status, StatusCode::OK);
    assert_eq!(admin.write(Method::DELETE, "/api/v1/users/vera", Value::Null).await.status, StatusCode::NO_CONTENT);
    assert_eq!(fresh.get("/probe/viewer").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(admin.get("/api/v1/users").await.json().as_array().unwrap().len(), 1);
    fixture.assert_no_secret_seen(&[ADMIN_PASSWORD, VIEWER_PASSWORD, "new-vera-pw", "reset-by-admin", "hijacked-pw"]);
}

#[test]
fn auth_routes_are_described_for_openapi() {
    let (_, api) = routes::<AuthStore>().split_for_parts();
    let paths: Vec<&str> = api.paths.paths.keys().map(String::as_str).collect();
    for path in ["/session", "/setup", "/users", "/users/{name}", "/users/{name}/password", "/tokens", "/tokens/{id}"] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    let document = serde_json::to_value(&api).unwrap();
    let sign_in = &document["paths"]["/session"]["post"];
    assert_eq!(sign_in["tags"], json!(["auth"]));
    for status in ["200", "401", "403", "422", "429"] {
        assert!(sign_in["responses"].get(status).is_some(), "POST /session lacks {status}");
    }
    assert!(sign_in["requestBody"]["content"].get("application/x-www-form-urlencoded").is_some());
    for schema in ["SessionState", "Credentials", "CredentialsForm", "SignedIn", "Principal", "Role", "User", "NewUser", "ApiToken", "CreatedApiToken", "ErrorBody"] {
        assert!(document["components"]["schemas"].get(schema).is_some(), "schema {schema} missing");
    }
}
