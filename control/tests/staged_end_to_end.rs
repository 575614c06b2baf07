//! Issue 3 — behaviour over minutes on staged real footage (`testdata/staged/`, composites of
//! the vtest clip described in testdata/README.md), all cameras in one `steward` run:
//! - an occlusion of 30 s keeps one incident; a −40 % brightness change resolves nothing;
//! - the van leaves → one `resolved` with the same id; it returns after the cool-down → a new one;
//! - a sign going dark in its lighting hours → one `unlit_signage`; the untouched control sign
//!   and a zone outside its schedule → none;
//! - a stall (a bicycle) with its vendor staying on the walkway → one `street_vending`; the busy
//!   walkway next to it and a zone outside its schedule → none;
//! - litter appearing on the grass against the clean reference → one `exposed_waste`; a clean
//!   patch of grass and a zone outside its schedule → none.
//! Every delivered document validates against the published JSON Schema.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use common::*;
use sha2::Digest;

const KERB: &str = "[[0.80, 0.00], [1.00, 0.00], [1.00, 0.25], [0.80, 0.25]]";
const SIGN: &str = "[[0.5378, 0.3524], [0.5794, 0.3524], [0.5794, 0.4236], [0.5378, 0.4236]]";
const LITTER: &str = "[[0.06, 0.82], [0.24, 0.82], [0.24, 0.96], [0.06, 0.96]]";
const CLEAN_GRASS: &str = "[[0.26, 0.86], [0.38, 0.86], [0.38, 0.98], [0.26, 0.98]]";
const STALL_SPOT: &str = "[[0.60, 0.46], [0.82, 0.46], [0.82, 0.62], [0.60, 0.62]]";
const BUSY_WALKWAY: &str = "[[0.30, 0.37], [0.50, 0.37], [0.50, 0.55], [0.30, 0.47]]";
const CONTROL_SIGN: &str = "[[0.7643, 0.0799], [0.7826, 0.0747], [0.7891, 0.1007], [0.7695, 0.1059]]";

fn staged(clip: &str) -> String {
    format!("file://{}", repo().join("testdata/staged").join(clip).display())
}

fn camera(id: &str, clip: &str, zones: &[(&str, &str, &str)]) -> String {
    let mut text = format!("[[camera]]\nid = \"{id}\"\nurl = \"{}\"\nanalysis_fps = 2.0\n", staged(clip));
    for (zone, polygon, rule) in zones {
        text += &format!("\n[[camera.zone]]\nid = \"{zone}\"\npolygon = {polygon}\nrules = [{rule}]\n");
    }
    text + "\n"
}

#[test]
fn staged_scenes_give_one_incident_per_violation_for_its_whole_life() {
    let dir = scratch("staged");
    let receiver = Receiver::start(0);
    let parking = |resolve: u32, cooldown: u32| format!("{{ kind = \"illegal_parking\", dwell_s = 10, resolve_after_s = {resolve}, cooldown_s = {cooldown} }}");
    let signage = "{ kind = \"unlit_signage\", dwell_s = 10, resolve_after_s = 15 }";
    let vending = "{ kind = \"street_vending\", dwell_s = 10 }";
    let reference = repo().join("testdata/staged/waste-clean-reference.png");
    let waste = format!("{{ kind = \"exposed_waste\", dwell_s = 10, reference = \"{}\" }}", reference.display());
    let cameras = [
        camera("cam-occlusion", "occlusion.mp4", &[("kerb", KERB, &parking(40, 30))]),
        camera("cam-dimmed", "dimmed.mp4", &[("kerb", KERB, &parking(15, 30))]),
        camera("cam-leaves", "van-leaves.mp4", &[("kerb", KERB, &parking(15, 20))]),
        camera(
            "cam-sign",
            "sign-dark.mp4",
            &[
                ("sign", SIGN, signage),
                ("control-sign", CONTROL_SIGN, signage),
                ("sign-off-hours", SIGN, "{ kind = \"unlit_signage\", dwell_s = 10, schedule = { dates = [\"2001-01-01\"] } }"),
            ],
        ),
    ]
    .concat()
        + &camera(
            "cam-vending",
            "vending.mp4",
            &[
                ("stall-spot", STALL_SPOT, vending),
                ("busy-walkway", BUSY_WALKWAY, vending),
                ("stall-spot-off-hours", STALL_SPOT, &vending.replace("dwell_s = 10", "dwell_s = 10, schedule = { dates = [\"2001-01-03\"] }")),
            ],
        )
        + &camera(
            "cam-waste",
            "waste-appears.mp4",
            &[
                ("litter", LITTER, &waste),
                ("clean-grass", CLEAN_GRASS, &waste),
                ("litter-off-hours", LITTER, &waste.replace("dwell_s = 10", "dwell_s = 10, schedule = { weekdays = [\"mon\"], dates = [\"2001-01-02\"] }")),
            ],
        );
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&dir.join("state"), free_port(), &receiver.url(), &cameras)).unwrap();
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap(), "--exit-when-done", "--drain-timeout", "60"], &dir.join("steward.log"));
    assert_eq!(steward.wait(Duration::from_secs(480)), 0, "log:\n{}", steward.log_text());

    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(repo().join("docs/incident.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    // camera → [(incident id, seq, event, kind, zone, bbox x)]
    let mut by_camera: BTreeMap<String, Vec<(String, u64, String, String, String, f64)>> = BTreeMap::new();
    for r in receiver.all() {
        let doc = &r.document;
        assert!(r.signature_valid);
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "schema errors {errors:?} in {doc:#}");
        for item in doc["evidence"].as_array().unwrap() {
            let bytes = base64::engine::general_purpose::STANDARD.decode(item["bytes"].as_str().unwrap()).unwrap();
            assert_eq!(item["sha256"].as_str().unwrap(), hex::encode(sha2::Sha256::digest(&bytes)), "evidence matches its sha256");
            image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("every evidence picture decodes");
        }
        by_camera.entry(doc["camera"]["id"].as_str().unwrap().into()).or_default().push((
            doc["id"].as_str().unwrap().into(),
            doc["seq"].as_u64().unwrap(),
            doc["event"].as_str().unwrap().into(),
            doc["kind"].as_str().unwrap().into(),
            doc["zone"]["id"].as_str().unwrap().into(),
            doc["objects"].get(0).map_or(0.0, |o| o["bbox"][0].as_f64().unwrap()),
        ));
    }
    let events = |camera: &str| -> Vec<(u64, String)> { by_camera.get(camera).into_iter().flatten().map(|e| (e.1, e.2.clone())).collect() };
    let summary = format!("{by_camera:#?}");

    // Occlusion and dimming: the van and the car, one `open` each, nothing resolved or reopened.
    for camera in ["cam-occlusion", "cam-dimmed"] {
        assert_eq!(events(camera), [(1, "open".to_string()), (1, "open".to_string())], "{camera}: {summary}");
    }

    // The van leaves and comes back; the car stays.
    let leaves = &by_camera["cam-leaves"];
    let van: Vec<_> = leaves.iter().filter(|e| e.5 < 0.9 || e.2 == "resolved").collect();
    let van_events: Vec<(u64, &str)> = van.iter().map(|e| (e.1, e.2.as_str())).collect();
    assert_eq!(van_events, [(1, "open"), (2, "resolved"), (1, "open")], "{summary}");
    assert_eq!(van[0].0, van[1].0, "resolved carries the open incident's id");
    assert_ne!(van[0].0, van[2].0, "back after the cool-down: a new incident");
    assert_eq!(leaves.len(), 4, "van ×3 and the car once: {summary}");

    // The sign goes dark; the control sign and the off-hours zone stay silent.
    let sign = &by_camera["cam-sign"];
    assert_eq!(sign.len(), 1, "{summary}");
    assert_eq!((sign[0].2.as_str(), sign[0].3.as_str(), sign[0].4.as_str()), ("open", "unlit_signage", "sign"));

    // A stall with its vendor on the walkway; people merely passing (the control) are not vending.
    let vending: Vec<(String, String, String)> = by_camera.get("cam-vending").into_iter().flatten().map(|e| (e.2.clone(), e.3.clone(), e.4.clone())).collect();
    assert_eq!(vending, [("open".to_string(), "street_vending".to_string(), "stall-spot".to_string())], "{summary}");

    // The litter appears against the clean reference; the clean grass and the off-hours zone stay silent.
    let waste: Vec<(String, String, String)> = by_camera.get("cam-waste").into_iter().flatten().map(|e| (e.2.clone(), e.3.clone(), e.4.clone())).collect();
    assert_eq!(waste, [("open".to_string(), "exposed_waste".to_string(), "litter".to_string())], "{summary}");
    receiver.stop();
}
