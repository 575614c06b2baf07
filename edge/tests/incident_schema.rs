//! The published contract of `steward.incident/v1`: `docs/incident.schema.json` accepts what the
//! appliance actually delivers and every example in `docs/incident.md`, and refuses what a
//! platform must never receive.

use std::path::{Path, PathBuf};

use base64::Engine;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use steward_edge::incident::{
    CameraRef, Codes, DeviceRef, EvidenceRef, IncidentDocument, IncidentEvent, LocationRef, ModelRefDoc, ObjectRef, SCHEMA, SiteRef, ZoneRef,
};
use steward_edge::sink::{compose, sign, verify};

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

fn schema() -> Value {
    let path = docs_dir().join("incident.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("the schema compiles as draft 2020-12")
}

fn markdown() -> String {
    let path = docs_dir().join("incident.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every error as `instance path: message`, empty when `instance` is valid.
fn errors(instance: &Value) -> Vec<String> {
    let validator = validator();
    validator.iter_errors(instance).map(|e| format!("{}: {e}", e.instance_path)).collect()
}

fn assert_valid(instance: &Value, what: &str) {
    let errors = errors(instance);
    assert!(errors.is_empty(), "{what} should be valid, but:\n{}", errors.join("\n"));
}

/// Asserts `instance` is invalid, and that an error is reported at or under `at` (a JSON
/// pointer), so the case fails for the reason it is meant to.
fn assert_invalid_at(instance: &Value, at: &str) {
    let errors = errors(instance);
    assert!(!errors.is_empty(), "should be invalid (at `{at}`), but the schema accepted:\n{instance:#}");
    assert!(
        errors.iter().any(|e| e.starts_with(&format!("{at}:")) || (!at.is_empty() && e.starts_with(&format!("{at}/")))),
        "expected an error at `{at}`, got:\n{}",
        errors.join("\n")
    );
}

/// The contents of every ```json fenced block in the markdown.
fn json_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_end() == "```json" => current = Some((number + 1, Vec::new())),
            None => {}
            Some((start, lines)) => {
                if line.trim_end() == "```" {
                    blocks.push((*start, lines.join("\n")));
                    current = None;
                } else {
                    lines.push(line);
                }
            }
        }
    }
    assert!(current.is_none(), "a ```json block is not closed");
    blocks
}

fn first_example() -> Value {
    let (_, text) = json_blocks(&markdown()).into_iter().next().expect("docs/incident.md has a json example");
    serde_json::from_str(&text).expect("the first example is JSON")
}

fn shanghai(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// A document as `IncidentManager` fills it, from the public types.
fn rust_document(location: bool, gb28181: bool) -> IncidentDocument {
    let first_seen = Utc.with_ymd_and_hms(2026, 3, 14, 0, 15, 2).unwrap() + chrono::Duration::milliseconds(310);
    let confirmed_at = first_seen + chrono::Duration::milliseconds(122_345);
    let dwell = (confirmed_at - first_seen).num_milliseconds() as f64 / 1000.0;
    IncidentDocument {
        schema: SCHEMA.to_string(),
        id: uuid::Uuid::now_v7().to_string(),
        event: IncidentEvent::Open,
        seq: 1,
        kind: "illegal_parking".into(),
        codes: Codes { gb47678: format!("{}{}", "320602", "09009"), cjt214: "0505".into(), city: None },
        title: "机动车乱停放".into(),
        site: SiteRef { name: "崇川路工农路口".into(), region_code: "320602".into() },
        camera: CameraRef { id: "cam-east".into(), gb28181_id: gb28181.then(|| "32060200081320000101".into()), name: "工农路东向".into() },
        zone: ZoneRef { id: "kerb-east".into(), name: "东侧人行道禁停区".into() },
        location: location.then(|| LocationRef { lon: 120.863513, lat: 32.010217, crs: "WGS84".into(), address: None, grid_code: None }),
        first_seen: shanghai(first_seen),
        confirmed_at: shanghai(confirmed_at),
        resolved_at: None,
        dwell_s: (dwell * 10.0).round() / 10.0,
        objects: vec![ObjectRef {
            role: Some("vehicle".into()),
            class: "car".into(),
            confidence: (0.87312_f32 * 1000.0).round() / 1000.0,
            bbox: [0.8125, 0.04166, 0.140625, 0.1875].map(|v: f32| (v * 10_000.0).round() / 10_000.0),
        }],
        evidence: vec![EvidenceRef { role: "confirmation".into(), media_type: "image/jpeg".into(), sha256: hex::encode(Sha256::digest(b"")), bytes: None, url: None }],
        device: DeviceRef {
            id: "steward-nt-0042".into(),
            software: format!("steward {}", steward_edge::VERSION),
            model: ModelRefDoc { name: "nanodet-m-416-coco".into(), sha256: "aa804b6a7f90d97bc7f3b50e6e50f6aadf7b8c65bdca7d769c136f6d279213ba".into() },
        },
    }
}

/// Stores `document` the way the outbox does and composes the body the HTTP sink sends, with
/// an evidence file of `size` bytes inlined as base64.
fn delivered_body(mut document: IncidentDocument, size: usize, tag: &str) -> Value {
    let jpeg: Vec<u8> = [&[0xff, 0xd8, 0xff, 0xe0][..], &(0..size).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>(), &[0xff, 0xd9]].concat();
    document.evidence[0].sha256 = hex::encode(Sha256::digest(&jpeg));
    let dir = std::env::temp_dir().join(format!("steward-incident-schema-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("1-confirmation.jpg");
    std::fs::write(&file, &jpeg).unwrap();
    let stored = serde_json::to_string(&document).unwrap();
    let envelope = compose(&stored, &[(0, file)], &document.id, document.seq, None).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(envelope.idempotency_key, format!("{}:1", document.id));
    let body: Value = serde_json::from_slice(&envelope.body).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD.decode(body["evidence"][0]["bytes"].as_str().expect("bytes inlined")).unwrap();
    assert_eq!(bytes, jpeg);
    body
}

// ---- the schema itself ----

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    if let Err(error) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("docs/incident.schema.json is not a valid draft 2020-12 schema: {error}");
    }
    assert_eq!(schema["properties"]["schema"]["const"], SCHEMA);
}

#[test]
fn schema_is_closed_and_titled_everywhere() {
    // Every object schema forbids unknown members, and every property has a title and a description.
    fn walk(node: &Value, at: &str, problems: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if map.get("type").is_some_and(|t| t == "object") && map.get("additionalProperties") != Some(&Value::Bool(false)) {
                    problems.push(format!("{at}: object without additionalProperties: false"));
                }
                if let Some(Value::Object(properties)) = map.get("properties") {
                    for (name, property) in properties {
                        // Properties inside if/then/else only narrow a declared one.
                        if !at.contains("/allOf/") && (property.get("title").is_none() || property.get("description").is_none()) {
                            problems.push(format!("{at}/properties/{name}: missing title or description"));
                        }
                    }
                }
                for (key, child) in map {
                    walk(child, &format!("{at}/{key}"), problems);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{at}/{i}"), problems);
                }
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    walk(&schema(), "#", &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- (a) the documentation ----

#[test]
fn every_json_example_in_incident_md_validates() {
    let markdown = markdown();
    let blocks = json_blocks(&markdown);
    assert!(blocks.len() >= 6, "docs/incident.md should have at least 6 ```json examples, has {}", blocks.len());
    let mut failures = Vec::new();
    for (line, text) in &blocks {
        let first = text.lines().next().unwrap_or_default().trim_start();
        assert!(!first.starts_with("//") && !first.starts_with('#'), "the ```json block at line {line} starts with a comment");
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("the ```json block at line {line} is not JSON: {e}"));
        let errors = errors(&value);
        if !errors.is_empty() {
            failures.push(format!("block at line {line}:\n  {}", errors.join("\n  ")));
        }
        // The examples are internally consistent: each sha256 is the digest of its bytes.
        for item in value["evidence"].as_array().into_iter().flatten() {
            if let Some(bytes) = item["bytes"].as_str() {
                let decoded = base64::engine::general_purpose::STANDARD.decode(bytes).unwrap_or_else(|e| panic!("block at line {line}: bad base64: {e}"));
                assert_eq!(item["sha256"].as_str().unwrap(), hex::encode(Sha256::digest(&decoded)), "block at line {line}: sha256 is not the digest of bytes");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn incident_md_examples_cover_every_kind_and_event() {
    let values: Vec<Value> = json_blocks(&markdown()).iter().map(|(_, text)| serde_json::from_str(text).unwrap()).collect();
    for kind in ["illegal_parking", "street_vending", "exposed_waste", "unlit_signage"] {
        assert!(values.iter().any(|v| v["kind"] == kind), "no example of kind {kind}");
    }
    for event in ["open", "update", "resolved"] {
        assert!(values.iter().any(|v| v["kind"] == "illegal_parking" && v["event"] == event), "no illegal_parking example of event {event}");
    }
    let parking: Vec<&Value> = values.iter().filter(|v| v["kind"] == "illegal_parking").collect();
    assert!(parking.iter().all(|v| v["id"] == parking[0]["id"]), "the illegal_parking events should share one incident id");
}

#[test]
fn signature_worked_example_in_incident_md_matches_the_sink() {
    const SECRET: &str = "change-me-9f4c";
    const BODY: &str = r#"{"event":"open","id":"019ce9b4-2a8f-7a5e-8f3c-2d41b6e09a17","schema":"steward.incident/v1","seq":1}"#;
    const TIMESTAMP: i64 = 1_772_352_000;
    const HEX: &str = "7f1d360f70a93b054c36dc87aba557be0f8160c150fb282df03c54f1f5e4c939";
    assert_eq!(sign(SECRET, TIMESTAMP, BODY.as_bytes()), format!("sha256={HEX}"));
    assert_eq!(verify(SECRET, Some("1772352000"), Some(&format!("sha256={HEX}")), BODY.as_bytes(), TIMESTAMP + 60, 300), Ok(()));
    let markdown = markdown();
    for needle in [SECRET, BODY, &format!("X-Steward-Timestamp: {TIMESTAMP}"), &format!("X-Steward-Signature: sha256={HEX}"), &format!("'{TIMESTAMP}.{BODY}'")] {
        assert!(markdown.contains(needle), "docs/incident.md no longer shows `{needle}`");
    }
}

// ---- (b) what the appliance delivers ----

#[test]
fn delivered_rust_document_with_base64_evidence_validates() {
    let body = delivered_body(rust_document(true, true), 4096, "full");
    assert_valid(&body, "the delivered open document");
    assert!(body["location"].is_object());
    assert!(body["resolved_at"].is_null() && body["codes"]["city"].is_null());
}

#[test]
fn delivered_rust_document_without_location_or_gb28181_id_validates() {
    let body = delivered_body(rust_document(false, false), 16, "bare");
    assert!(body.get("location").is_none(), "location is left out, not null");
    assert!(body["camera"]["gb28181_id"].is_null(), "gb28181_id is null, not left out");
    assert_valid(&body, "the delivered document without location");
}

#[test]
fn delivered_rust_document_with_large_evidence_validates() {
    // A realistic snapshot size: the base64 pattern must stay linear.
    let body = delivered_body(rust_document(true, false), 300 * 1024, "large");
    assert_valid(&body, "a document with 300 KiB of evidence");
}

#[test]
fn stored_document_without_bytes_is_not_deliverable() {
    // The outbox stores evidence without bytes; only the composed body is a v1 document.
    let stored = serde_json::to_value(rust_document(true, true)).unwrap();
    assert_invalid_at(&stored, "/evidence/0");
}

// ---- (c) what a platform must never receive ----

#[test]
fn rejects_wrong_schema_string() {
    let mut doc = first_example();
    doc["schema"] = json!("steward.incident/v2");
    assert_invalid_at(&doc, "/schema");
}

#[test]
fn rejects_ten_digit_gb47678_code() {
    let mut doc = first_example();
    doc["codes"]["gb47678"] = json!("3206020900");
    assert_invalid_at(&doc, "/codes/gb47678");
}

#[test]
fn rejects_gb47678_code_of_another_kind() {
    let mut doc = first_example();
    doc["codes"]["gb47678"] = json!("32060206010");
    assert_invalid_at(&doc, "/codes/gb47678");
}

#[test]
fn rejects_bbox_value_above_one() {
    let mut doc = first_example();
    doc["objects"][0]["bbox"][2] = json!(1.5);
    assert_invalid_at(&doc, "/objects/0/bbox/2");
}

#[test]
fn rejects_unknown_extra_field_at_top_level_and_nested() {
    let mut doc = first_example();
    doc["priority"] = json!("high");
    assert_invalid_at(&doc, "");
    let mut doc = first_example();
    doc["camera"]["ptz"] = json!(true);
    assert_invalid_at(&doc, "/camera");
}

#[test]
fn rejects_resolved_event_with_null_resolved_at() {
    let mut doc = first_example();
    doc["event"] = json!("resolved");
    doc["seq"] = json!(3);
    doc["resolved_at"] = Value::Null;
    assert_invalid_at(&doc, "/resolved_at");
}

#[test]
fn rejects_open_event_with_resolved_at_set() {
    let mut doc = first_example();
    doc["resolved_at"] = json!("2026-03-14T08:41:19.020+08:00");
    assert_invalid_at(&doc, "/resolved_at");
}

#[test]
fn rejects_evidence_without_bytes_or_url() {
    let mut doc = first_example();
    doc["evidence"][0].as_object_mut().unwrap().remove("bytes");
    assert_invalid_at(&doc, "/evidence/0");
}

#[test]
fn rejects_evidence_with_both_bytes_and_url() {
    let mut doc = first_example();
    doc["evidence"][0]["url"] = json!("https://example.org/evidence/1-confirmation.jpg");
    assert_invalid_at(&doc, "/evidence/0");
}

#[test]
fn rejects_timestamp_without_offset() {
    let mut doc = first_example();
    doc["confirmed_at"] = json!("2026-03-14T08:17:04.655");
    assert_invalid_at(&doc, "/confirmed_at");
}

#[test]
fn rejects_id_that_is_not_uuid_v7() {
    let mut doc = first_example();
    doc["id"] = json!("6f1c2a7e-3b4d-4c5e-9f60-718293a4b5c6"); // a v4
    assert_invalid_at(&doc, "/id");
}

#[test]
fn rejects_uppercase_evidence_sha256() {
    let mut doc = first_example();
    let upper = doc["evidence"][0]["sha256"].as_str().unwrap().to_uppercase();
    doc["evidence"][0]["sha256"] = json!(upper);
    assert_invalid_at(&doc, "/evidence/0/sha256");
}
