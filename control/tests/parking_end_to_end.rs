//! Issue 2 — the spine, end to end with real parts: the `steward` binary, GStreamer on the
//! vtest footage, ONNX Runtime with the bundled NanoDet, SQLite, and a real HTTP receiver.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};

#[test]
fn parked_van_and_car_give_exactly_two_incidents_and_the_walkway_none() {
    let dir = scratch("two-incidents");
    let receiver = Receiver::start(0);
    let config_path = dir.join("steward.toml");
    // A second camera on the same footage whose rule is never in force: it must stay silent.
    let off_schedule = kerb_camera("cam-off-schedule", &format!("file://{}", footage().display()), 20)
        .replace("dwell_s = 20 }", r#"dwell_s = 20, schedule = { dates = ["2001-01-01"] } }"#);
    let cameras = vtest_camera("cam-1") + &off_schedule;
    std::fs::write(&config_path, config(&dir.join("state"), free_port(), &receiver.url(), &cameras)).unwrap();

    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap(), "--exit-when-done", "--drain-timeout", "30"], &dir.join("steward.log"));
    let code = steward.wait(Duration::from_secs(240));
    assert_eq!(code, 0, "log:\n{}", steward.log_text());

    let received = receiver.all();
    assert_eq!(received.len(), 2, "exactly two deliveries: {received:#?}");
    let mut boxes = Vec::new();
    for r in &received {
        let doc = &r.document;
        assert!(r.signature_valid, "valid X-Steward-Signature");
        assert_eq!(doc["schema"], "steward.incident/v1");
        assert_eq!(doc["event"], "open");
        assert_eq!(doc["kind"], "illegal_parking");
        assert_eq!(doc["zone"]["id"], "kerb-east", "nothing from the walkway");
        assert_eq!(doc["camera"]["id"], "cam-1", "nothing outside the schedule");
        assert_eq!(doc["codes"]["gb47678"], "32060209009");
        assert_eq!(doc["codes"]["cjt214"], "0505");
        assert_eq!(doc["title"], "机动车乱停放");
        assert_eq!(r.idempotency_key, format!("{}:{}", doc["id"].as_str().unwrap(), doc["seq"]));
        assert!(doc["dwell_s"].as_f64().unwrap() >= 20.0);
        assert_eq!(doc["objects"][0]["role"], "vehicle");
        let evidence = doc["evidence"].as_array().unwrap();
        let roles: Vec<&str> = evidence.iter().map(|e| e["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["first_sight", "confirmation", "clip"]);
        for item in evidence {
            let bytes = base64::engine::general_purpose::STANDARD.decode(item["bytes"].as_str().unwrap()).unwrap();
            assert_eq!(item["sha256"].as_str().unwrap(), hex::encode(Sha256::digest(&bytes)));
            if item["role"] == "clip" {
                assert_eq!(item["media_type"], "video/mp4");
                assert_clip_decodes(&bytes, &dir);
            } else {
                let picture = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("evidence JPEG decodes");
                assert_eq!((picture.width(), picture.height()), (768, 576), "full-resolution evidence");
            }
        }
        let bbox: Vec<f64> = doc["objects"][0]["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        boxes.push(bbox);
    }
    // One per vehicle: the van (x ≈ 0.85) and the car (x ≈ 0.96), not one of them twice.
    boxes.sort_by(|a, b| a[0].total_cmp(&b[0]));
    assert!((boxes[0][0] - 0.845).abs() < 0.03, "van box {:?}", boxes[0]);
    assert!((boxes[1][0] - 0.956).abs() < 0.03, "car box {:?}", boxes[1]);
    let ids: BTreeSet<_> = received.iter().map(|r| r.document["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(outbox_count(&dir.join("state"), "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 0);
    receiver.stop();
}

/// The clip is an MP4 that GStreamer demuxes and decodes from start to end, at least 5 s long.
fn assert_clip_decodes(bytes: &[u8], dir: &std::path::Path) {
    assert_eq!(&bytes[4..8], b"ftyp", "an MP4");
    let path = dir.join(format!("clip-{}.mp4", hex::encode(&Sha256::digest(bytes)[..4])));
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("gst-launch-1.0")
        .args(["-v", "filesrc", &format!("location={}", path.display()), "!", "qtdemux", "!", "h264parse", "!", "avdec_h264", "!", "fakesink", "sync=false", "silent=false"])
        .output()
        .unwrap();
    assert!(out.status.success(), "clip decodes: {}", String::from_utf8_lossy(&out.stderr));
    let frames = String::from_utf8_lossy(&out.stdout).matches("chain   ******* (fakesink").count();
    assert!(frames >= 50, "a clip of ≥ 5 s at 10 fps, decoded {frames} frames");
}

#[test]
fn delivery_survives_a_dead_receiver_and_a_sigkill() {
    let dir = scratch("sigkill");
    let state = dir.join("state");
    let port = free_port();
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&state, free_port(), &format!("http://127.0.0.1:{port}/incidents"), &vtest_camera("cam-1"))).unwrap();

    // Receiver down: incidents are confirmed and stored, delivery keeps failing.
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &dir.join("first.log"));
    wait_until(Duration::from_secs(180), "two incidents in the outbox with failed attempts", || {
        outbox_count(&state, "SELECT COUNT(*) FROM events") == 2 && outbox_count(&state, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts > 0") == 2
    });
    steward.signal("KILL");
    drop(steward);
    assert_eq!(outbox_count(&state, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 2);

    // Receiver up, steward restarted on the same footage and state.
    let receiver = Receiver::start(port);
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap(), "--exit-when-done", "--drain-timeout", "30"], &dir.join("second.log"));
    let code = steward.wait(Duration::from_secs(240));
    assert_eq!(code, 0, "log:\n{}", steward.log_text());

    let received = receiver.all();
    let mut by_key: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for r in &received {
        assert!(r.signature_valid);
        by_key.entry(r.idempotency_key.clone()).or_default().push(r.document.clone());
    }
    let ids: BTreeSet<_> = received.iter().map(|r| r.document["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2, "the two incidents, and no new ones for the same parked vehicles: {by_key:#?}");
    for (key, copies) in &by_key {
        let id = copies[0]["id"].as_str().unwrap();
        assert_eq!(key, &format!("{id}:1"));
        assert!(copies.iter().all(|c| c == &copies[0]), "a repeat is the same document");
    }
    assert_eq!(outbox_count(&state, "SELECT COUNT(*) FROM events"), 2);
    assert_eq!(outbox_count(&state, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 0);
    receiver.stop();
}

#[test]
fn check_config_names_every_problem_with_file_line_col() {
    let dir = scratch("check-config");
    let path = dir.join("broken.toml");
    let camera = r#"[[camera]]
id = "cam-1"
url = "htp//admin:secret-pw@cam.local/stream"
analysis_fsp = 2.0

[[camera.zone]]
id = "kerb"
polygon = [[0.1, 0.1], [0.2, 0.2]]
rules = [{ kind = "illegal_parking", dwell_s = 20 }]
"#;
    std::fs::write(&path, config(&dir, 8080, "http://127.0.0.1:9/incidents", camera)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_steward")).args(["check-config", path.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    let shown = path.display().to_string();
    assert!(stderr.contains(&format!("{shown}:14:7: ")) && stderr.contains("is not a valid URL"), "bad URL located:\n{stderr}");
    assert!(stderr.contains(&format!("{shown}:15:1: unknown key `analysis_fsp`")), "typo located:\n{stderr}");
    assert!(stderr.contains(&format!("{shown}:19:11: a polygon needs at least 3 points")), "polygon located:\n{stderr}");
    assert!(!stderr.contains("secret-pw"), "the camera password is never shown:\n{stderr}");

    let example = repo().join("steward.example.toml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_steward")).args(["check-config", example.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "the documented example is valid: {}", String::from_utf8_lossy(&output.stderr));

    let good = dir.join("good.toml");
    std::fs::write(&good, config(&dir, 8080, "http://127.0.0.1:9/incidents", &vtest_camera("cam-1"))).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_steward")).args(["check-config", good.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_dead_camera_is_reported_and_retried_while_the_others_run() {
    let dir = scratch("dead-camera");
    let receiver = Receiver::start(0);
    let control_port = free_port();
    let dead_rtsp = free_port();
    let cameras = format!(
        "{}\n[[camera]]\nid = \"cam-missing\"\nurl = \"file:///nonexistent/steward/clip.mp4\"\n\n[[camera]]\nid = \"cam-rtsp\"\nurl = \"rtsp://operator:cam-password@127.0.0.1:{dead_rtsp}/Streaming/Channels/102\"\n",
        vtest_camera("cam-1")
    );
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&dir.join("state"), control_port, &receiver.url(), &cameras)).unwrap();
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &dir.join("steward.log"));

    wait_until(Duration::from_secs(180), "the working camera's two incidents", || receiver.all().len() == 2);
    wait_until(Duration::from_secs(30), "both dead cameras retried", || {
        let log = steward.log_text();
        let retries = |camera: &str| log.lines().filter(|l| l.contains("camera failed; retrying") && l.contains(&format!("camera={camera}"))).count();
        retries("cam-missing") >= 2 && retries("cam-rtsp") >= 2
    });
    assert!(steward.child.try_wait().unwrap().is_none(), "the daemon keeps running");

    let health: serde_json::Value = reqwest::blocking::get(format!("http://127.0.0.1:{control_port}/health")).unwrap().json().unwrap();
    assert_eq!(health["cameras"]["cam-missing"]["state"], "failed", "{health:#}");
    assert!(health["cameras"]["cam-missing"]["last_error"].as_str().unwrap().len() > 5);
    assert!(health["cameras"]["cam-rtsp"]["restarts"].as_u64().unwrap() >= 1, "{health:#}");
    let metrics = metrics_text(control_port);
    assert!(metrics.contains("steward_source_restarts_total{camera=\"cam-missing\",reason=\"error\"}"), "{metrics}");

    let log = steward.log_text();
    assert!(!log.contains("cam-password") && !health.to_string().contains("cam-password"), "camera credentials never appear");
    steward.signal("TERM");
    assert_eq!(steward.wait(Duration::from_secs(20)), 0, "clean shutdown on SIGTERM:\n{}", steward.log_text());
    receiver.stop();
}

#[test]
fn snapshot_saves_a_still_to_draw_zones_on_and_reads_each_zones_luminance() {
    let dir = scratch("snapshot");
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&dir.join("state"), free_port(), "http://127.0.0.1:9/incidents", &vtest_camera("cam-1"))).unwrap();
    let still = dir.join("still.png");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["snapshot", "--config", config_path.to_str().unwrap(), "--camera", "cam-1", "--out", still.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let picture = image::open(&still).unwrap();
    assert_eq!((picture.width(), picture.height()), (768, 576));
    let luma = |zone: &str| -> f64 {
        let line = stdout.lines().find(|l| l.starts_with(&format!("zone {zone}: mean luminance"))).unwrap_or_else(|| panic!("{stdout}"));
        line.split_whitespace().nth(4).unwrap().parse().unwrap()
    };
    // Plausible daylight levels for road and walkway.
    assert!((20.0..240.0).contains(&luma("kerb-east")) && (20.0..240.0).contains(&luma("walkway")), "{stdout}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["snapshot", "--config", config_path.to_str().unwrap(), "--camera", "cam-9", "--out", still.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no camera `cam-9`"));
}

#[test]
fn keyframe_decoding_analyses_a_fraction_of_the_frames_and_finds_the_same_two_vehicles() {
    let dir = scratch("keyframes");
    let receiver = Receiver::start(0);
    let camera = kerb_camera("cam-kf", &format!("file://{}", footage().display()), 20).replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\ndecode = \"keyframes\"\n");
    // A second camera analysing one frame every 4 s: every other key frame never reaches the
    // decoder. No zones: it only shows the decode count.
    let camera = format!("{camera}\n[[camera]]\nid = \"cam-slow\"\nurl = \"file://{}\"\nanalysis_fps = 0.25\ndecode = \"keyframes\"\n", footage().display());
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&dir.join("state"), free_port(), &receiver.url(), &camera)).unwrap();
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap(), "--exit-when-done", "--drain-timeout", "30"], &dir.join("steward.log"));
    assert_eq!(steward.wait(Duration::from_secs(240)), 0, "log:\n{}", steward.log_text());
    assert_eq!(receiver.all().len(), 2, "{:#?}", receiver.all());
    // vtest has a key frame every 20 frames (2 s): 40 of its 795 frames are decoded and analysed
    // at 2 fps; at 0.25 fps only every other key frame is decoded.
    let log = steward.log_text();
    let ended = |camera: &str, field: &str| -> u64 {
        let line = log.lines().find(|l| l.contains("file source ended") && l.contains(camera)).unwrap_or_else(|| panic!("{log}"));
        line.split(&format!(" {field}=")).nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!((35..=45).contains(&ended("cam-kf", "frames")), "{log}");
    assert!((35..=45).contains(&ended("cam-kf", "keyframes_decoded")), "{log}");
    assert!((17..=23).contains(&ended("cam-slow", "keyframes_decoded")), "{log}");
    assert!((17..=23).contains(&ended("cam-slow", "frames")), "{log}");
    receiver.stop();
}
