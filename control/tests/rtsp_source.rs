//! Issue 2 — an `rtsp://` camera: a real RTSP server (gstreamer-rtsp-server, in this test
//! process) serves the vtest footage as H.264 over RTP; `steward` reads it like a street camera
//! and reports the two parked vehicles.

mod common;

use std::time::Duration;

use common::*;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer_rtsp_server::prelude::*;

/// Serves `testdata/vtest.mp4` at `rtsp://127.0.0.1:PORT/vtest` until the main loop quits.
fn start_rtsp_server(port: u16) -> glib::MainLoop {
    gst::init().unwrap();
    let context = glib::MainContext::new();
    let main_loop = glib::MainLoop::new(Some(&context), false);
    let server = gstreamer_rtsp_server::RTSPServer::new();
    server.set_address("127.0.0.1");
    server.set_service(&port.to_string());
    let factory = gstreamer_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(&format!("( filesrc location=\"{}\" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )", footage().display()));
    factory.set_shared(true);
    server.mount_points().unwrap().add_factory("/vtest", factory);
    let running = main_loop.clone();
    std::thread::spawn(move || {
        let _attached = server.attach(Some(&context)).expect("RTSP server attaches");
        running.run();
    });
    main_loop
}

#[test]
fn an_rtsp_camera_is_read_like_a_street_camera() {
    let dir = scratch("rtsp");
    let rtsp_port = free_port();
    let control_port = free_port();
    let server = start_rtsp_server(rtsp_port);
    let receiver = Receiver::start(0);
    let camera = kerb_camera("cam-live", &format!("rtsp://viewer:live-password@127.0.0.1:{rtsp_port}/vtest"), 10).replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\nclip_s = 4\n");
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&dir.join("state"), control_port, &receiver.url(), &camera)).unwrap();
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &dir.join("steward.log"));

    wait_until(Duration::from_secs(120), "two incidents from the RTSP camera", || receiver.all().len() >= 2);
    let health: serde_json::Value = reqwest::blocking::get(format!("http://127.0.0.1:{control_port}/health")).unwrap().json().unwrap();
    assert_eq!(health["cameras"]["cam-live"]["state"], "live", "{health:#}");
    assert_eq!(health["cameras"]["cam-live"]["url"], format!("rtsp://***@127.0.0.1:{rtsp_port}/vtest"));

    steward.signal("TERM");
    assert_eq!(steward.wait(Duration::from_secs(20)), 0);
    let received = receiver.all();
    assert_eq!(received.len(), 2, "{received:#?}");
    for r in &received {
        assert!(r.signature_valid);
        assert_eq!(r.document["camera"]["id"], "cam-live");
        assert_eq!(r.document["zone"]["id"], "kerb-east");
        let roles: Vec<&str> = r.document["evidence"].as_array().unwrap().iter().map(|e| e["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["first_sight", "confirmation", "clip"], "a clip cut from the RTP stream too");
    }
    assert!(!steward.log_text().contains("live-password"), "credentials stay out of the log");
    server.quit();
    receiver.stop();
}
