//! Issue 4 — a live camera that goes away and comes back: a real RTSP server (`steward
//! serve-rtsp`, its own process) is SIGKILLed and restarted five times. Steward reads the
//! camera again within 5 s of each return, keeps its two incidents (no `resolved`, no
//! duplicate), and its memory after the last reconnect is within 10 % of after the first.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_camera_server_killed_five_times_is_read_again_within_five_seconds() {
    let dir = scratch("rtsp-reconnect");
    let (rtsp_port, control_port) = (free_port(), free_port());
    let receiver = Receiver::start(0);
    let mut server = serve_vtest_rtsp(rtsp_port, &dir.join("server-0.log"));
    let camera = kerb_camera("cam-live", &format!("rtsp://viewer:live-password@127.0.0.1:{rtsp_port}/vtest"), 10);
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&dir.join("state"), control_port, &receiver.url(), &camera)).unwrap();
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &dir.join("steward.log"));

    wait_until(Duration::from_secs(120), "the two parked vehicles reported", || receiver.all().len() >= 2);
    let mut rss_after_each = Vec::new();
    let mut back_within = Vec::new();
    for round in 1..=5 {
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        wait_until(Duration::from_secs(30), "steward to notice the server is gone", || camera_health(control_port, "cam-live")["state"] != "live");
        let frames_while_away = camera_health(control_port, "cam-live")["frames"].as_u64().unwrap();
        std::thread::sleep(Duration::from_secs(2));

        server = serve_vtest_rtsp(rtsp_port, &dir.join(format!("server-{round}.log")));
        let returned = Instant::now();
        wait_until(Duration::from_secs(30), "frames again after the server returned", || {
            let health = camera_health(control_port, "cam-live");
            health["state"] == "live" && health["frames"].as_u64().unwrap() > frames_while_away
        });
        back_within.push(returned.elapsed());
        // Let the reconnected pipeline settle before reading memory.
        std::thread::sleep(Duration::from_secs(3));
        rss_after_each.push(rss_bytes(steward.child.id()));
    }
    let (rss_after_first, rss_after_last) = (rss_after_each[0], rss_after_each[4]);
    let health = camera_health(control_port, "cam-live");
    eprintln!("reconnected within {back_within:?}; RSS after each reconnect {rss_after_each:?} B; {health}");

    for (round, took) in back_within.iter().enumerate() {
        assert!(*took <= Duration::from_secs(5), "round {}: frames again {took:?} after the server returned", round + 1);
    }
    let growth = rss_after_last as f64 / rss_after_first as f64 - 1.0;
    assert!(growth.abs() <= 0.10, "RSS {rss_after_first} → {rss_after_last} B ({:+.1} %)", growth * 100.0);
    assert!(health["restarts"].as_u64().unwrap() >= 5, "{health}");
    assert!(metric(control_port, "steward_source_restarts_total", r#"camera="cam-live",reason="error""#) >= 5.0);

    // The parked vehicles stayed the same two incidents throughout.
    wait_until(Duration::from_secs(10), "delivery", || outbox_count(&dir.join("state"), "SELECT count(*) FROM deliveries WHERE state != 'delivered'") == 0);
    let events: Vec<String> = receiver.all().iter().map(|r| r.document["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(events, ["open", "open"], "no resolved and no duplicate across five reconnects");
    assert_eq!(outbox_count(&dir.join("state"), "SELECT count(*) FROM incidents"), 2);

    steward.signal("TERM");
    assert_eq!(steward.wait(Duration::from_secs(20)), 0);
    assert!(!steward.log_text().contains("live-password"), "credentials stay out of the log");
    receiver.stop();
}
