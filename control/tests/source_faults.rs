//! Cameras that misbehave never take the daemon down: a server that accepts the connection
//! but never answers ends up `stalled` and is retried; a garbage file and a truncated file are
//! reported; a good camera next to them delivers its incidents throughout.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use common::*;

/// Accepts connections and never says a word, until the test ends.
fn silent_server() -> (u16, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while stopped.try_recv().is_err() {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (port, stop)
}

#[test]
fn silent_garbage_and_truncated_cameras_are_reported_and_retried_while_the_others_run() {
    let dir = scratch("faults");
    let (silent_port, stop_silent) = silent_server();
    let garbage = dir.join("garbage.mp4");
    let mut noise = std::fs::File::create(&garbage).unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..50_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        noise.write_all(&(state as u32).to_le_bytes()).unwrap();
    }
    let truncated = dir.join("truncated.mp4");
    let clip = std::fs::read(footage()).unwrap();
    std::fs::write(&truncated, &clip[..clip.len() / 2]).unwrap();

    let receiver = Receiver::start(0);
    let control_port = free_port();
    let cameras = format!(
        "{}\n[[camera]]\nid = \"cam-silent\"\nurl = \"rtsp://127.0.0.1:{silent_port}/stream\"\nstall_s = 3\n\n[[camera]]\nid = \"cam-garbage\"\nurl = \"file://{}\"\n\n[[camera]]\nid = \"cam-truncated\"\nurl = \"file://{}\"\n",
        vtest_camera("cam-1"),
        garbage.display(),
        truncated.display()
    );
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, config(&dir.join("state"), control_port, &receiver.url(), &cameras)).unwrap();
    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &dir.join("steward.log"));

    let health = || -> serde_json::Value {
        reqwest::blocking::get(format!("http://127.0.0.1:{control_port}/health")).and_then(|r| r.json()).unwrap_or_default()
    };
    wait_until(Duration::from_secs(180), "the good camera's two incidents", || receiver.all().len() == 2);
    wait_until(Duration::from_secs(60), "the silent camera stalled twice and the garbage file failed twice", || {
        let h = health();
        let silent = &h["cameras"]["cam-silent"];
        silent["restarts"].as_u64().unwrap_or(0) >= 2
            && silent["last_error"].as_str().is_some_and(|e| e.starts_with("no frame for"))
            && h["cameras"]["cam-garbage"]["restarts"].as_u64().unwrap_or(0) >= 2
    });
    let h = health();
    assert_eq!(h["cameras"]["cam-garbage"]["state"], "failed", "{h:#}");
    assert!(h["cameras"]["cam-garbage"]["last_error"].as_str().unwrap().len() > 5, "{h:#}");
    let truncated_state = h["cameras"]["cam-truncated"]["state"].as_str().unwrap().to_string();
    assert!(["ended", "failed", "live", "connecting"].contains(&truncated_state.as_str()), "{h:#}");
    assert!(h["cameras"]["cam-truncated"]["frames"].as_u64().unwrap() > 0, "the readable half was played: {h:#}");
    let metrics = metrics_text(control_port);
    assert!(metrics.contains("steward_source_restarts_total{camera=\"cam-silent\",reason=\"stalled\"}"), "{metrics}");
    assert!(steward.child.try_wait().unwrap().is_none(), "the daemon keeps running");
    steward.signal("TERM");
    assert_eq!(steward.wait(Duration::from_secs(30)), 0, "clean shutdown:\n{}", steward.log_text());
    let _ = stop_silent.send(());
    receiver.stop();
}
