//! Issue 6 — trustworthy HTTP delivery, with real parts: the `steward` binary delivering from a
//! real SQLite outbox to a real `steward receive` process — over mutual TLS with certificates
//! made here, refused by a receiver told to fail, retried through a busy one — and
//! `steward incidents export` reading the outbox while `steward run` runs.
//!
//! The outbox is filled by the real incident stage (`IncidentManager`), so documents and
//! evidence files are exactly what a camera would produce; no camera or model run is needed.

mod common;

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use image::RgbImage;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use steward_edge::config::{CodeTable, LifecycleParams, load_str};
use steward_edge::geometry::BBox;
use steward_edge::incident::{IncidentContext, IncidentManager, Moment, Scope};
use steward_edge::kind::ViolationKind;
use steward_edge::outbox::Outbox;
use steward_edge::rules::{Judgement, Violation};
use steward_edge::telemetry::Telemetry;

/// Opens `count` illegal-parking incidents on camera `cam-1` in the outbox under `storage`,
/// queued for sink `http`, each with its first-sight and confirmation pictures on disk.
fn seed_incidents(storage: &Path, count: usize) {
    let mut outbox = Outbox::open(&storage.join("outbox.sqlite3"), vec!["http".into()]).unwrap();
    // The site and device as the test config gives them.
    let settings = load_str(&config(storage, 0, "http://127.0.0.1:9/incidents", ""), "seed.toml", storage).unwrap();
    let context = IncidentContext {
        site: settings.site,
        device: settings.device,
        software: "steward test".into(),
        model_name: "nanodet".into(),
        model_sha256: "0".repeat(64),
        cameras: HashMap::new(),
        codes: CodeTable::default(),
        evidence_dir: storage.join("evidence"),
    };
    let mut manager = IncidentManager::new(context, None, Vec::new(), Telemetry::new());
    let image = Arc::new(RgbImage::from_pixel(96, 64, image::Rgb([90, 90, 90])));
    let wall = chrono::Utc::now();
    let present = (0..count)
        .map(|i| {
            let x = 0.05 + 0.9 * i as f32 / count as f32;
            Violation { bbox: BBox { x1: x, y1: 0.4, x2: x + 0.05, y2: 0.5 }, objects: Vec::new(), first_seen: wall, first_image: image.clone(), dwell: Duration::from_secs(30) }
        })
        .collect::<Vec<_>>();
    let sightings = present.iter().map(|v| v.bbox).collect();
    let judgement = Judgement { judged: true, present, sightings };
    let scope = Scope { camera: "cam-1", zone: "kerb-east", kind: ViolationKind::IllegalParking };
    let moment = Moment { media_time: Duration::from_secs(30), wall_time: wall, image: &image, clip: None };
    let written = manager.reconcile(scope, &LifecycleParams::default(), &judgement, moment, &mut outbox).unwrap();
    assert_eq!(written, count, "one open event per violation");
}

/// The CA, the receiver's certificate for 127.0.0.1 and the box's client certificate, as PEM
/// files in `dir`: ca.crt, server.crt/.key, client.crt/.key.
fn make_certificates(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Test City Platform CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issue = |names: Vec<String>, common_name: &str, usage: ExtendedKeyUsagePurpose, file: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let certificate = params.signed_by(&key, &ca, &ca_key).unwrap();
        std::fs::write(dir.join(format!("{file}.crt")), certificate.pem()).unwrap();
        std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
    };
    issue(vec!["127.0.0.1".into()], "platform.test", ExtendedKeyUsagePurpose::ServerAuth, "server");
    issue(Vec::new(), "box-1", ExtendedKeyUsagePurpose::ClientAuth, "client");
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
}

/// A config with no camera, its outbox in `storage`, one HTTP sink to `url` with `sink_extra`
/// lines (paths relative to the config file, which is written into `storage`).
fn write_config(storage: &Path, control_port: u16, url: &str, sink_extra: &str) -> PathBuf {
    let path = storage.join("steward.toml");
    std::fs::write(&path, config(storage, control_port, url, "") + sink_extra).unwrap();
    path
}

/// Documents `steward receive` stored under `dir`: (incident id, seq) pairs.
fn stored(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for incident in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(incident.path()).into_iter().flatten().flatten() {
            let name = file.file_name().to_string_lossy().to_string();
            if let Some(seq) = name.strip_suffix(".json") {
                found.push((incident.file_name().to_string_lossy().to_string(), seq.to_string()));
            }
        }
    }
    found.sort();
    found
}

fn count(storage: &Path, sql: &str) -> i64 {
    outbox_count(storage, sql)
}

#[test]
fn delivers_over_mutual_tls_and_a_sink_without_the_client_certificate_is_refused() {
    let dir = scratch("delivery-mtls");
    make_certificates(&dir);
    let port = free_port();
    let received = dir.join("received");
    let cert = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (server_crt, server_key, ca) = (cert("server.crt"), cert("server.key"), cert("ca.crt"));
    let receiver = start_receiver(port, &received, &["--tls-cert", &server_crt, "--tls-key", &server_key, "--client-ca", &ca], &dir.join("receive.log"));
    let url = format!("https://127.0.0.1:{port}/incidents");

    // Trusting the platform's CA but showing no client certificate: refused at the handshake.
    let anonymous = dir.join("anonymous");
    std::fs::create_dir_all(&anonymous).unwrap();
    seed_incidents(&anonymous, 2);
    let trust_only = format!("ca_file = \"{ca}\"\n");
    let config_path = write_config(&anonymous, free_port(), &url, &trust_only);
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &anonymous.join("steward.log"));
    wait_until(Duration::from_secs(60), "failed attempts in the delivery log", || count(&anonymous, "SELECT COUNT(*) FROM delivery_attempts") >= 2);
    drop(steward);
    assert_eq!(count(&anonymous, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 2, "records stay pending");
    assert_eq!(count(&anonymous, "SELECT COUNT(*) FROM delivery_attempts WHERE status IS NOT NULL OR error IS NULL"), 0, "every attempt failed without an HTTP answer");
    assert_eq!(count(&anonymous, "SELECT COUNT(*) FROM deliveries WHERE last_error LIKE '%CertificateRequired%'"), 2, "the reason is kept: the platform wanted a client certificate");
    assert!(stored(&received).is_empty(), "nothing reached the platform");

    // With the client certificate: delivered, and `steward run --exit-when-done` ends cleanly.
    let mutual = dir.join("mutual");
    std::fs::create_dir_all(&mutual).unwrap();
    std::fs::copy(dir.join("client.crt"), mutual.join("client.crt")).unwrap();
    std::fs::copy(dir.join("client.key"), mutual.join("client.key")).unwrap();
    seed_incidents(&mutual, 2);
    let with_identity = format!("{trust_only}# Relative to this file.\nclient_cert = \"client.crt\"\nclient_key = \"client.key\"\n");
    let config_path = write_config(&mutual, free_port(), &url, &with_identity);
    let check = Command::new(env!("CARGO_BIN_EXE_steward")).args(["check-config", config_path.to_str().unwrap()]).output().unwrap();
    assert!(check.status.success(), "check-config: {}", String::from_utf8_lossy(&check.stderr));
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap(), "--exit-when-done", "--drain-timeout", "60"], &mutual.join("steward.log"));
    assert_eq!(steward.wait(Duration::from_secs(120)), 0, "log:\n{}", steward.log_text());
    assert_eq!(count(&mutual, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered' AND last_status = 200"), 2);
    assert_eq!(count(&mutual, "SELECT COUNT(*) FROM delivery_attempts WHERE status = 200 AND error IS NULL"), 2);
    let documents = stored(&received);
    assert_eq!(documents.len(), 2, "{documents:?}");
    assert!(documents.iter().all(|(_, seq)| seq == "1"));
    for (id, _) in &documents {
        let pictures = std::fs::read_dir(received.join(id)).unwrap().filter(|f| f.as_ref().unwrap().path().extension().is_some_and(|e| e == "jpg")).count();
        assert_eq!(pictures, 2, "both evidence pictures arrived and matched their sha256");
    }
    drop(receiver);

    // A broken client key is named by check-config, and refused before anything is sent.
    std::fs::write(mutual.join("client.key"), "not a key").unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_steward")).args(["check-config", config_path.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sink `http`: client_key") && stderr.contains("client.key: no private key"), "{stderr}");
    // `steward run` still starts; the sink says why it cannot deliver, and the new record waits.
    seed_incidents(&mutual, 1);
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap(), "--exit-when-done", "--drain-timeout", "2"], &mutual.join("steward-broken.log"));
    assert_eq!(steward.wait(Duration::from_secs(120)), 3, "undelivered after the drain timeout");
    let log = steward.log_text();
    assert!(log.contains("cannot set up this sink's HTTPS client") && log.contains("client.key: no private key"), "{log}");
    assert_eq!(count(&mutual, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 1);
}

#[test]
fn refused_records_are_parked_with_the_answer_and_a_resend_delivers_them_once_fixed() {
    let dir = scratch("delivery-rejected");
    let storage = dir.join("state");
    std::fs::create_dir_all(&storage).unwrap();
    seed_incidents(&storage, 2);
    let (port, control) = (free_port(), free_port());
    let received = dir.join("received");
    let refusing = start_receiver(port, &received, &["--fail", "400"], &dir.join("receive-1.log"));
    let config_path = write_config(&storage, control, &format!("http://127.0.0.1:{port}/incidents"), "");
    let config_arg = config_path.to_str().unwrap().to_string();
    let steward = Steward::start(&["run", "--config", &config_arg], &storage.join("steward.log"));
    wait_until(Duration::from_secs(60), "both records rejected", || count(&storage, "SELECT COUNT(*) FROM deliveries WHERE state = 'rejected'") == 2);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM deliveries WHERE last_status = 400 AND last_error LIKE '%simulated answer 400%'"), 2, "the platform's answer is the last error");
    drop(refusing);

    let ids: Vec<String> = {
        let conn = rusqlite::Connection::open(storage.join("outbox.sqlite3")).unwrap();
        let mut stmt = conn.prepare("SELECT id FROM incidents ORDER BY id").unwrap();
        stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let mut api = ApiClient::admin(control);
    let detail = api.get(&format!("/api/v1/incidents/{}", ids[0])).json();
    let event = &detail["events"][0];
    assert_eq!(event["deliveries"][0]["state"], "rejected", "{detail}");
    assert_eq!(event["attempts"].as_array().map(Vec::len), Some(1), "{detail}");
    assert_eq!(event["attempts"][0]["status"], 400);
    assert!(event["attempts"][0]["error"].as_str().unwrap().contains("simulated"), "{detail}");
    assert!(event["attempts"][0]["latency_ms"].is_u64());

    // The platform is fixed; the operator resends.
    let receiver = start_receiver(port, &received, &[], &dir.join("receive-2.log"));
    for id in &ids {
        let answer = api.send("POST", &format!("/api/v1/incidents/{id}/resend"), None);
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    wait_until(Duration::from_secs(60), "both records delivered", || count(&storage, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'") == 2);
    assert_eq!(stored(&received).iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), ids);
    let detail = api.get(&format!("/api/v1/incidents/{}", ids[0])).json();
    let statuses: Vec<&serde_json::Value> = detail["events"][0]["attempts"].as_array().unwrap().iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [400, 200], "the log keeps both attempts; the rejected record was not retried before the resend");

    // The export, read while `steward run` still runs.
    let export = |args: &[&str]| -> Vec<serde_json::Value> {
        let output = Command::new(env!("CARGO_BIN_EXE_steward")).args(["incidents", "export", "--config", &config_arg]).args(args).output().unwrap();
        assert!(output.status.success(), "export {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).expect("each line is JSON")).collect()
    };
    let lines = export(&[]);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["document"]["schema"], "steward.incident/v1");
        assert_eq!(line["document"]["id"], line["incident_id"]);
        assert_eq!((line["camera"].as_str(), line["kind"].as_str(), line["event"].as_str()), (Some("cam-1"), Some("illegal_parking"), Some("open")));
        assert_eq!(line["deliveries"]["http"]["state"], "delivered");
        assert_eq!(line["deliveries"]["http"]["attempts"], 2, "one refused, one delivered");
    }
    assert_eq!(export(&["--since", "1h", "--kind", "illegal_parking", "--camera", "cam-1"]).len(), 2);
    assert!(export(&["--camera", "cam-2"]).is_empty());
    assert!(export(&["--until", "2020-01-01T00:00:00+08:00"]).is_empty());
    let bad = Command::new(env!("CARGO_BIN_EXE_steward")).args(["incidents", "export", "--config", &config_arg, "--since", "yesterday"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    drop(steward);
    drop(receiver);
}

#[test]
fn a_busy_platform_is_retried_until_it_takes_the_records() {
    let dir = scratch("delivery-busy");
    let storage = dir.join("state");
    std::fs::create_dir_all(&storage).unwrap();
    seed_incidents(&storage, 2);
    let port = free_port();
    let received = dir.join("received");
    let _receiver = start_receiver(port, &received, &["--fail", "503:3"], &dir.join("receive.log"));
    let config_path = write_config(&storage, free_port(), &format!("http://127.0.0.1:{port}/incidents"), "");
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap(), "--exit-when-done", "--drain-timeout", "60"], &storage.join("steward.log"));
    assert_eq!(steward.wait(Duration::from_secs(120)), 0, "log:\n{}", steward.log_text());
    assert_eq!(stored(&received).len(), 2);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM delivery_attempts WHERE status = 503"), 3, "each 503 was logged");
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM delivery_attempts WHERE status = 200"), 2);
    assert_eq!(count(&storage, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'"), 2);
}

#[test]
fn the_sink_api_sets_the_tls_files_and_the_test_incident_goes_through_them() {
    let dir = scratch("delivery-sink-api");
    make_certificates(&dir);
    let port = free_port();
    let received = dir.join("received");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let _receiver = start_receiver(port, &received, &["--tls-cert", &path("server.crt"), "--tls-key", &path("server.key"), "--client-ca", &path("ca.crt")], &dir.join("receive.log"));
    let storage = dir.join("state");
    std::fs::create_dir_all(&storage).unwrap();
    let control = free_port();
    let config_path = write_config(&storage, control, &format!("http://127.0.0.1:{port}/incidents"), "");
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join("steward.log"));
    wait_until(Duration::from_secs(60), "the control plane", || TcpStream::connect(("127.0.0.1", control)).is_ok());
    let mut admin = ApiClient::admin(control);

    let url = format!("https://127.0.0.1:{port}/incidents");
    let tls = serde_json::json!({"url": url, "ca_file": path("ca.crt"), "client_cert": path("client.crt"), "client_key": path("client.key")});
    let saved = admin.send("PUT", "/api/v1/sinks/http", Some(&tls));
    assert_eq!(saved.status, 200, "{saved:?}");
    let view = saved.json();
    assert_eq!((view["ca_file"].as_str(), view["client_key"].as_str(), view["has_secret"].as_bool()), (Some(path("ca.crt").as_str()), Some(path("client.key").as_str()), Some(true)), "{view}");
    let listed = admin.get("/api/v1/sinks");
    assert_eq!(listed.json()[0]["client_cert"].as_str(), Some(path("client.crt").as_str()), "{listed:?}");
    let key_pem = std::fs::read_to_string(dir.join("client.key")).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    for body in [&saved.body, &listed.body] {
        assert!(!body.contains(SECRET) && !body.contains(key_body), "no secret or key material in answers: {body}");
    }

    // The test incident goes the way deliveries go: the sink's TLS files and timestamped signature.
    let tested = admin.send("POST", "/api/v1/sinks/http/test", None);
    assert_eq!(tested.json()["status"], 200, "{tested:?}");
    assert_eq!(stored(&received).len(), 1, "the receiver verified and stored the test incident");

    // Without the client certificate (empty values remove the keys) the platform refuses it.
    let without = serde_json::json!({"url": url, "client_cert": "", "client_key": ""});
    let saved = admin.send("PUT", "/api/v1/sinks/http", Some(&without));
    assert_eq!(saved.status, 200, "{saved:?}");
    assert!(saved.json()["client_cert"].is_null() && saved.json()["ca_file"].is_string(), "{saved:?}");
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(!text.contains("client_cert") && text.contains("ca_file"), "{text}");
    let refused = admin.send("POST", "/api/v1/sinks/http/test", None).json();
    assert_eq!(refused["status"], 0, "{refused}");
    assert!(refused["body"].as_str().unwrap().contains("CertificateRequired"), "{refused}");

    // Half a client identity is a config error naming the place.
    let half = admin.send("PUT", "/api/v1/sinks/http", Some(&serde_json::json!({"url": url, "client_cert": path("client.crt")})));
    assert_eq!(half.status, 422, "{half:?}");
    assert!(half.body.contains("client_key"), "{half:?}");
    drop(steward);
}
