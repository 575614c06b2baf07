//! A client of the control API for the tests: first-run setup, sign-in with the session cookie
//! and CSRF token, API tokens — the way the web UI and an integrator talk to `steward`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client, Response};

/// The admin every test box is set up with (through `POST /api/v1/setup`).
pub const ADMIN: (&str, &str) = ("admin", "admin-password-1");

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
    fn read(response: Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Answer { status, headers, body: response.text().unwrap_or_default() }
    }
}

/// One browser-like client: cookies it was given, the CSRF token, or an API token.
pub struct ApiClient {
    pub base: String,
    client: Client,
    cookies: HashMap<String, String>,
    pub csrf: Option<String>,
    pub token: Option<String>,
}

impl ApiClient {
    pub fn new(port: u16) -> ApiClient {
        let client = Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        ApiClient { base: format!("http://127.0.0.1:{port}"), client, cookies: HashMap::new(), csrf: None, token: None }
    }

    /// A client of `base` (`https://…`) through `client` (one that trusts a test certificate).
    pub fn over(base: &str, client: Client) -> ApiClient {
        ApiClient { base: base.to_string(), client, cookies: HashMap::new(), csrf: None, token: None }
    }

    pub fn with_token(port: u16, token: &str) -> ApiClient {
        ApiClient { token: Some(token.to_string()), ..ApiClient::new(port) }
    }

    /// Sends a request with the cookies, the CSRF token (on non-GET) and the API token held.
    pub fn send(&mut self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            request = request.header("Cookie", cookie);
        }
        if method != Method::GET {
            if let Some(csrf) = &self.csrf {
                request = request.header("X-CSRF-Token", csrf);
            }
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = Answer::read(request.send().unwrap());
        self.keep_cookies(&answer);
        answer
    }

    /// Sends a raw body with a content type (for form posts), cookies included, no CSRF header.
    pub fn send_raw(&mut self, method: &str, path: &str, content_type: &str, body: &str) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base)).header("Content-Type", content_type).body(body.to_string());
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            request = request.header("Cookie", cookie);
        }
        let answer = Answer::read(request.send().unwrap());
        self.keep_cookies(&answer);
        answer
    }

    pub fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None)
    }

    fn keep_cookies(&mut self, answer: &Answer) {
        for value in answer.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies.insert(name.trim().to_string(), value.trim().to_string());
                }
            }
        }
    }

    /// `GET /api/v1/session`: picks up the pre-session CSRF token; returns the body.
    pub fn session(&mut self) -> serde_json::Value {
        let answer = self.get("/api/v1/session");
        let body = answer.json();
        if let Some(csrf) = body["csrf_token"].as_str() {
            self.csrf = Some(csrf.to_string());
        }
        body
    }

    /// Creates the first admin (when setup is still open) and signs in as it.
    pub fn setup(&mut self, user: &str, password: &str) -> Answer {
        self.session();
        let answer = self.send("POST", "/api/v1/setup", Some(&serde_json::json!({"username": user, "password": password})));
        if let Some(csrf) = answer.json()["csrf_token"].as_str() {
            self.csrf = Some(csrf.to_string());
        }
        answer
    }

    pub fn login(&mut self, user: &str, password: &str) -> Answer {
        self.session();
        let answer = self.send("POST", "/api/v1/session", Some(&serde_json::json!({"username": user, "password": password})));
        if let Some(csrf) = answer.json()["csrf_token"].as_str() {
            self.csrf = Some(csrf.to_string());
        }
        answer
    }

    /// Signed in as the test admin: sets the box up on first use.
    pub fn admin(port: u16) -> ApiClient {
        let mut client = ApiClient::new(port);
        if client.session()["setup_required"] == serde_json::Value::Bool(true) {
            let answer = client.setup(ADMIN.0, ADMIN.1);
            assert!(answer.status == 201 || answer.status == 409, "setup: {answer:?}");
        }
        if client.session()["user"].is_null() {
            let answer = client.login(ADMIN.0, ADMIN.1);
            assert_eq!(answer.status, 200, "admin sign-in: {answer:?}");
        }
        client
    }

    /// A new API token with `role`, created by this (admin) client.
    pub fn create_token(&mut self, name: &str, role: &str) -> String {
        let answer = self.send("POST", "/api/v1/tokens", Some(&serde_json::json!({"name": name, "role": role})));
        assert_eq!(answer.status, 201, "create token: {answer:?}");
        answer.json()["token"].as_str().unwrap().to_string()
    }
}

/// A viewer token for the box on `port` (setting it up first), made once per port: what a
/// Prometheus scraper would use for `/metrics`.
pub fn viewer_token(port: u16) -> String {
    static TOKENS: Mutex<Option<HashMap<u16, String>>> = Mutex::new(None);
    let mut tokens = TOKENS.lock().unwrap();
    let tokens = tokens.get_or_insert_with(HashMap::new);
    tokens.entry(port).or_insert_with(|| ApiClient::admin(port).create_token("scraper", "viewer")).clone()
}
