//! The control API's doors, against a running `steward`: every route in the OpenAPI document
//! exists and refuses anonymous callers (401), every write refuses a viewer (403), cookie
//! requests without the CSRF token are refused, wrong passwords get throttled, the document
//! validates, and no response or log line carries a camera password or the sink secret.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const CAMERA_PASSWORD: &str = "cam-pass-3141";
const VIEWER: (&str, &str) = ("watcher", "watcher-password-2");

/// Routes anyone may call.
fn is_open(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        ("get", "/health") | ("get", "/api/v1/session") | ("post", "/api/v1/session") | ("post", "/api/v1/setup") | ("get", "/api/v1/evidence-links/{id}/{seq}/{position}")
    )
}

/// A concrete path for a templated one.
fn concrete(path: &str) -> String {
    path.replace("{id}", "cam-1").replace("{zone}", "kerb-east").replace("{name}", "admin").replace("{seq}", "1").replace("{position}", "0")
}

#[test]
fn the_api_admits_only_whom_it_should() {
    let storage = scratch("control-api");
    let receiver = Receiver::start(free_port());
    let port = free_port();
    let url = format!("file://{}", footage().display());
    let file_camera = kerb_camera("cam-1", &url, 5).replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\npace = \"realtime\"\nloop = true\n");
    let rtsp_camera = format!("[[camera]]\nid = \"gate\"\nurl = \"rtsp://operator:{CAMERA_PASSWORD}@127.0.0.1:9/stream\"\n");
    let config_path = storage.join("steward.toml");
    std::fs::write(&config_path, config(&storage, port, &receiver.url(), &format!("{file_camera}\n{rtsp_camera}"))).unwrap();
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join("steward.log"));
    wait_until(Duration::from_secs(60), "the control plane", || reqwest::blocking::get(format!("http://127.0.0.1:{port}/health")).is_ok());
    let mut seen: Vec<String> = Vec::new();

    // Before setup: nothing but setup and the open routes.
    let mut anonymous = ApiClient::new(port);
    let session = anonymous.session();
    assert_eq!(session["setup_required"], json!(true), "{session}");
    assert_eq!(anonymous.get("/api/v1/cameras").status, 401);

    let mut admin = ApiClient::admin(port);
    let again = ApiClient::new(port).setup("intruder", "intruder-password");
    assert_eq!(again.status, 409, "setup runs once: {again:?}");
    let created = admin.send("POST", "/api/v1/users", Some(&json!({"username": VIEWER.0, "password": VIEWER.1, "role": "viewer"})));
    assert_eq!(created.status, 201, "{created:?}");
    let mut viewer = ApiClient::new(port);
    assert_eq!(viewer.login(VIEWER.0, VIEWER.1).status, 200);

    // The OpenAPI document validates.
    let document = admin.get("/api/v1/openapi.json");
    assert_eq!(document.status, 200);
    let spec_path = storage.join("openapi.json");
    std::fs::write(&spec_path, &document.body).unwrap();
    let python = repo().join("vendor/test-venv/bin/python");
    assert!(python.exists(), "{} is missing: run `make test-venv`", python.display());
    let validated = std::process::Command::new(&python).args(["-m", "openapi_spec_validator"]).arg(&spec_path).output().unwrap();
    assert!(validated.status.success(), "openapi-spec-validator: {}{}", String::from_utf8_lossy(&validated.stdout), String::from_utf8_lossy(&validated.stderr));
    let spec = document.json();
    assert_eq!(spec["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));

    // Every documented route exists and is guarded.
    let paths = spec["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap().iter().filter(|(m, _)| ["get", "post", "put", "delete", "patch"].contains(&m.as_str())) {
            operations += 1;
            let target = concrete(path);
            let upper = method.to_uppercase();
            let answer = ApiClient::new(port).send(&upper, &target, Some(&json!({})));
            assert_ne!(answer.status, 404, "{upper} {path} is documented but not routed: {answer:?}");
            assert_ne!(answer.status, 405, "{upper} {path} is documented but not routed: {answer:?}");
            if !is_open(method, path) {
                assert_eq!(answer.status, 401, "{upper} {path} without a session: {answer:?}");
            }
            let writes = method != "get";
            let viewer_may = matches!((method.as_str(), path.as_str()), ("delete", "/api/v1/session"));
            if writes && !is_open(method, path) && !viewer_may {
                let answer = viewer.send(&upper, &target, Some(&json!({})));
                assert_eq!(answer.status, 403, "{upper} {path} as a viewer: {answer:?}");
                seen.push(answer.body);
            }
        }
    }
    assert!(operations >= 30, "only {operations} operations documented");
    for route in ["/api/v1/cameras", "/api/v1/cameras/{id}/zones/{zone}", "/api/v1/incidents", "/api/v1/incidents/{id}/resend", "/api/v1/sinks/{name}/test", "/api/v1/users", "/api/v1/tokens", "/api/v1/system", "/api/v1/logs", "/metrics", "/health", "/api/v1/openapi.json"] {
        assert!(paths.contains_key(route), "{route} is not in the OpenAPI document");
    }
    // Every API route is registered through utoipa-axum's `routes!`, so none escapes the document.
    for file in ["control/src/app.rs", "control/src/api/mod.rs", "control/src/api/cameras.rs", "control/src/api/zones.rs", "control/src/api/sinks.rs", "control/src/api/system.rs", "control/src/api/incidents.rs", "control/src/logtail.rs"] {
        let source = std::fs::read_to_string(repo().join(file)).unwrap();
        assert!(!source.contains(".route("), "{file} registers a route outside the OpenAPI router");
    }

    // CSRF: the session cookie alone does not make a write.
    let mut forgetful = ApiClient::new(port);
    assert_eq!(forgetful.login(ADMIN.0, ADMIN.1).status, 200);
    forgetful.csrf = None;
    let forged = forgetful.send("POST", "/api/v1/cameras", Some(&json!({"id": "forged", "url": url})));
    assert_eq!(forged.status, 403, "a JSON write without X-CSRF-Token: {forged:?}");
    let form = forgetful.send_raw("PUT", "/api/v1/cameras/cam-1", "application/x-www-form-urlencoded", "name=forged");
    assert_eq!(form.status, 403, "a form post without the token: {form:?}");
    let mut stranger = ApiClient::new(port);
    stranger.session();
    let login_form = stranger.send_raw("POST", "/api/v1/session", "application/x-www-form-urlencoded", &format!("username={}&password={}", ADMIN.0, ADMIN.1));
    assert_eq!(login_form.status, 403, "a sign-in form without the CSRF token: {login_form:?}");

    // Credentials: accepted, used, never shown.
    let added = admin.send("POST", "/api/v1/cameras", Some(&json!({"id": "lane-2", "url": "rtsp://127.0.0.1:9/lane2", "username": "operator", "password": CAMERA_PASSWORD})));
    assert_eq!(added.status, 201, "{added:?}");
    assert_eq!(added.json()["has_credentials"], json!(true));
    assert!(std::fs::read_to_string(&config_path).unwrap().contains(CAMERA_PASSWORD), "the password is stored in the config file");
    let renamed = admin.send("PUT", "/api/v1/cameras/lane-2", Some(&json!({"url": "rtsp://***@127.0.0.1:9/lane2", "name": "Lane 2"})));
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert!(std::fs::read_to_string(&config_path).unwrap().contains(&format!("operator:{CAMERA_PASSWORD}@127.0.0.1:9/lane2")), "an edit without the password keeps it");
    let sink = admin.send("PUT", "/api/v1/sinks/city", Some(&json!({"url": receiver.url(), "hmac_secret": "sink-secret-2718"})));
    assert_eq!(sink.status, 200, "{sink:?}");
    let invalid = admin.send("PUT", "/api/v1/cameras/cam-1/zones/bad", Some(&json!({"polygon": [[0.1, 0.1], [0.2, 0.2]], "rules": [{"kind": "illegal_parking", "dwell_s": -1}]})));
    assert_eq!(invalid.status, 422, "{invalid:?}");
    let fields: Vec<String> = invalid.json()["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
    assert!(fields.iter().any(|f| f == "polygon") && fields.iter().any(|f| f == "rules[0].dwell_s"), "field errors relative to the zone: {fields:?}");
    for path in ["/api/v1/cameras", "/api/v1/cameras/gate", "/api/v1/cameras/lane-2", "/api/v1/sinks", "/api/v1/system", "/api/v1/logs?lines=2000", "/health", "/api/v1/openapi.json", "/api/v1/users", "/api/v1/tokens", "/metrics"] {
        let answer = admin.get(path);
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        seen.push(answer.body);
    }
    seen.push(added.body);
    seen.push(renamed.body);
    seen.push(sink.body);
    let cameras = admin.get("/api/v1/cameras").json();
    let gate = cameras.as_array().unwrap().iter().find(|c| c["id"] == "gate").unwrap();
    assert_eq!(gate["url"], json!("rtsp://***@127.0.0.1:9/stream"), "{gate}");

    // Throttling: five wrong passwords, then even the right one waits.
    let mut guesser = ApiClient::new(port);
    for attempt in 1..=5 {
        let answer = guesser.login(VIEWER.0, "not-the-password");
        assert_eq!(answer.status, 401, "wrong password #{attempt}: {answer:?}");
    }
    let sixth = guesser.login(VIEWER.0, "not-the-password");
    assert_eq!(sixth.status, 429, "the 6th wrong password: {sixth:?}");
    assert!(sixth.headers.get("retry-after").is_some(), "429 says when to retry");
    let right = guesser.login(VIEWER.0, VIEWER.1);
    assert_eq!(right.status, 429, "while throttled, the right password waits too: {right:?}");

    std::thread::sleep(Duration::from_millis(500));
    let log = steward.log_text();
    assert!(log.contains("sign-in failed"), "failed sign-ins are logged");
    for secret in [CAMERA_PASSWORD, "sink-secret-2718", SECRET, ADMIN.1, VIEWER.1] {
        assert!(!log.contains(secret), "the log contains `{secret}`");
        for body in &seen {
            assert!(!body.contains(secret), "a response contains `{secret}`: {body}");
        }
    }
    assert!(!log.contains("$argon2"), "a password hash is in the log");
    drop(steward);
    receiver.stop();
}

/// `[control] tls_cert` / `tls_key`: the same control plane over HTTPS, with `Secure` cookies;
/// plain HTTP on that port gets no answer.
#[test]
fn the_control_plane_serves_https_with_a_configured_certificate() {
    let storage = scratch("control-tls");
    let receiver = Receiver::start(free_port());
    let port = free_port();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    std::fs::write(storage.join("control.crt"), certified.cert.pem()).unwrap();
    std::fs::write(storage.join("control.key"), certified.key_pair.serialize_pem()).unwrap();
    let text = config(&storage, port, &receiver.url(), "").replace(
        &format!("listen = \"127.0.0.1:{port}\"\n"),
        &format!("listen = \"127.0.0.1:{port}\"\n# Relative to this file.\ntls_cert = \"control.crt\"\ntls_key = \"control.key\"\n"),
    );
    assert!(text.contains("tls_key"), "{text}");
    let config_path = storage.join("steward.toml");
    std::fs::write(&config_path, text).unwrap();
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join("steward.log"));

    let trusted = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    wait_until(Duration::from_secs(60), "the control plane over HTTPS", || trusted.get(format!("{base}/health")).send().is_ok_and(|r| r.status().is_success()));
    let mut browser = ApiClient::over(&base, trusted.clone());
    let setup = browser.setup(ADMIN.0, ADMIN.1);
    assert_eq!(setup.status, 201, "setup over HTTPS: {setup:?}");
    let cookies: Vec<String> = setup.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(!cookies.is_empty() && cookies.iter().all(|c| c.contains("Secure") && c.contains("HttpOnly")), "cookies over HTTPS are Secure: {cookies:?}");
    assert_eq!(browser.get("/api/v1/system").status, 200, "the session works over HTTPS");
    let anonymous = trusted.get(format!("{base}/api/v1/cameras")).send().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401, "the same doors over HTTPS");

    let plain = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap().get(format!("http://127.0.0.1:{port}/health")).send();
    assert!(plain.as_ref().map_or(true, |r| !r.status().is_success()), "plain HTTP must not be served on the HTTPS port: {plain:?}");
    let untrusted = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap().get(format!("{base}/health")).send();
    assert!(untrusted.is_err(), "a client that does not trust the certificate refuses it");
    let log = steward.log_text();
    assert!(log.contains("HTTPS server listening"), "{log}");
    drop(steward);
    receiver.stop();
}

/// `evidence = "url"`: the platform gets signed, expiring links instead of the bytes, and fetches
/// the pictures from the box without a session; an altered link is refused.
#[test]
fn evidence_links_serve_the_pictures_to_the_platform_and_nothing_else() {
    let storage = scratch("evidence-links");
    let receiver = Receiver::start(free_port());
    let port = free_port();
    let url = format!("file://{}", footage().display());
    let camera = kerb_camera("cam-1", &url, 5).replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\npace = \"realtime\"\n");
    let text = config(&storage, port, &receiver.url(), &camera).replace(
        &format!("hmac_secret = \"{SECRET}\"\n"),
        &format!("hmac_secret = \"{SECRET}\"\nevidence = \"url\"\nevidence_base_url = \"http://127.0.0.1:{port}\"\nevidence_url_ttl_s = 3600\n"),
    );
    assert!(text.contains("evidence = \"url\""), "{text}");
    let config_path = storage.join("steward.toml");
    std::fs::write(&config_path, text).unwrap();
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join("steward.log"));
    wait_until(Duration::from_secs(90), "an incident with evidence links", || receiver.all().iter().any(|r| r.document["evidence"].as_array().is_some_and(|e| !e.is_empty())));

    let document = receiver.all().into_iter().find(|r| r.document["evidence"].as_array().is_some_and(|e| !e.is_empty())).unwrap().document;
    let item = &document["evidence"][0];
    assert!(item.get("bytes").is_none(), "a link, not the bytes: {item}");
    let link = item["url"].as_str().expect("the evidence link");
    assert!(link.starts_with(&format!("http://127.0.0.1:{port}/api/v1/evidence-links/")), "{link}");
    let fetched = reqwest::blocking::get(link).unwrap();
    assert_eq!(fetched.status().as_u16(), 200, "the platform fetches it without a session");
    let bytes = fetched.bytes().unwrap();
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), item["sha256"].as_str().unwrap(), "the picture the document describes");

    let altered_position = link.replacen("/0?sink=", "/1?sink=", 1);
    let longer_life = {
        let expires = link.split("expires=").nth(1).unwrap().split('&').next().unwrap();
        link.replace(&format!("expires={expires}"), &format!("expires={}", expires.parse::<i64>().unwrap() + 86400))
    };
    let no_signature = link.split("&sig=").next().unwrap().to_string() + "&sig=00";
    for altered in [altered_position, longer_life, no_signature] {
        assert_eq!(reqwest::blocking::get(&altered).unwrap().status().as_u16(), 403, "{altered}");
    }
    let log = steward.log_text();
    assert!(log.contains("evidence link refused"), "refusals are logged");
    drop(steward);
    receiver.stop();
}
