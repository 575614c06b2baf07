//! The operator's whole first visit, in a real headless Chromium driven through chromedriver:
//! first-run admin setup → sign in → add a file camera → its snapshot → draw a zone with mouse
//! clicks → `illegal_parking`, dwell 20 s → save → the zone is in the config file → the
//! incident shows in the list and its evidence picture on its page. Screenshots of each step go
//! to `target/ui-screenshots/`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// chromedriver as a child process, killed on drop.
struct ChromeDriver(Child);

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_chromedriver(port: u16) -> ChromeDriver {
    let child = Command::new("chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("chromedriver (Debian package chromium-driver) must be installed: make deps");
    let driver = ChromeDriver(child);
    wait_until(Duration::from_secs(20), "chromedriver to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    driver
}

async fn browser(driver_port: u16) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"]}),
    );
    // chromedriver listens on loopback over plain HTTP: no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new()).capabilities(capabilities).connect(&format!("http://127.0.0.1:{driver_port}")).await.expect("start a Chromium session")
}

struct Shots {
    dir: PathBuf,
    count: usize,
}

impl Shots {
    async fn take(&mut self, browser: &Client, name: &str) {
        self.count += 1;
        let png = browser.screenshot().await.expect("screenshot");
        std::fs::write(self.dir.join(format!("{:02}-{name}.png", self.count)), png).unwrap();
    }
}

async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("field {css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Clicks an element once it is shown (the page renders after each answer from the API).
async fn click(browser: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let element = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("element {css}: {e}"));
        if element.is_displayed().await.unwrap_or(false) {
            match element.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!("click {css}: {e}"),
                Err(_) => {}
            }
        }
        assert!(Instant::now() < deadline, "{css} was never shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls a JavaScript condition until it is true.
async fn wait_js(browser: &Client, timeout: Duration, what: &str, condition: &str) {
    let deadline = Instant::now() + timeout;
    loop {
        let value = browser.execute(&format!("return Boolean({condition});"), vec![]).await.unwrap_or(json!(false));
        if value == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what} ({condition})");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Clicks the canvas at normalised image coordinates, one click at a time (no double click).
async fn click_canvas(browser: &Client, points: &[(f64, f64)]) {
    let canvas = browser.find(Locator::Css("#zone-canvas")).await.unwrap();
    let size = browser.execute("const r = document.querySelector('#zone-canvas').getBoundingClientRect(); return [r.width, r.height];", vec![]).await.unwrap();
    let (width, height) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap());
    for (x, y) in points {
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element: canvas.clone(), duration: None, x: (x - 0.5) * width, y: (y - 0.5) * height })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        browser.perform_actions(mouse).await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sets_up_a_crossing_in_the_browser() {
    let storage = scratch("browser");
    let shots_dir = repo().join("target/ui-screenshots");
    let _ = std::fs::remove_dir_all(&shots_dir);
    std::fs::create_dir_all(&shots_dir).unwrap();
    let mut shots = Shots { dir: shots_dir, count: 0 };

    let receiver = Receiver::start(free_port());
    let control_port = free_port();
    let config_path = storage.join("steward.toml");
    let text = config(&storage, control_port, &receiver.url(), "# No camera yet: the operator adds it in the browser.\n");
    std::fs::write(&config_path, &text).unwrap();
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &storage.join("steward.log"));
    wait_until(Duration::from_secs(60), "the control plane", || reqwest::blocking::get(format!("http://127.0.0.1:{control_port}/health")).is_ok());

    let driver_port = free_port();
    let _driver = start_chromedriver(driver_port);
    let browser = browser(driver_port).await;
    let base = format!("http://127.0.0.1:{control_port}/");
    browser.goto(&base).await.unwrap();

    // First run: the admin account.
    fill(&browser, "#setup-username", "chief").await;
    fill(&browser, "#setup-password", "crossing-admin-7").await;
    fill(&browser, "#setup-password2", "crossing-admin-7").await;
    shots.take(&browser, "setup").await;
    click(&browser, "#setup-submit").await;
    click(&browser, "#logout").await;

    // Sign in.
    fill(&browser, "#login-username", "chief").await;
    fill(&browser, "#login-password", "crossing-admin-7").await;
    shots.take(&browser, "login").await;
    click(&browser, "#login-submit").await;
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("a[href='#/cameras']")).await.expect("signed in: the navigation shows");

    // Add the file camera, test it, save it.
    browser.goto(&format!("{base}#/cameras")).await.unwrap();
    click(&browser, "#camera-add").await;
    fill(&browser, "#camera-id", "kerb").await;
    fill(&browser, "#camera-name", "Campus road").await;
    fill(&browser, "#camera-url", &format!("file://{}", footage().display())).await;
    fill(&browser, "#camera-fps", "2").await;
    browser.find(Locator::Css("#camera-pace")).await.unwrap().select_by_value("realtime").await.unwrap();
    let looping = browser.find(Locator::Css("#camera-loop")).await.unwrap();
    if looping.prop("checked").await.unwrap().as_deref() != Some("true") {
        looping.click().await.unwrap();
    }
    click(&browser, "#camera-test").await;
    wait_js(&browser, Duration::from_secs(30), "the test snapshot", "document.querySelector('#camera-test-image') && document.querySelector('#camera-test-image').naturalWidth > 0").await;
    shots.take(&browser, "camera-tested").await;
    click(&browser, "#camera-save").await;
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("tr[data-camera='kerb']")).await.expect("the camera is listed");
    shots.take(&browser, "camera-list").await;

    // Its frame as the zone editor's background.
    browser.goto(&format!("{base}#/cameras/kerb")).await.unwrap();
    wait_js(&browser, Duration::from_secs(40), "the snapshot on the canvas", "document.querySelector('#zone-canvas') && document.querySelector('#zone-canvas').dataset.loaded === 'true'").await;
    shots.take(&browser, "snapshot").await;

    // Draw the kerb where the van and the car stand, with four clicks.
    click(&browser, "#zone-new").await;
    click_canvas(&browser, &[(0.80, 0.01), (0.99, 0.01), (0.99, 0.25), (0.80, 0.25)]).await;
    fill(&browser, "#zone-id", "kerb-east").await;
    fill(&browser, "#zone-name", "East kerb").await;
    let rule = browser.find(Locator::Css("#rule-illegal_parking")).await.unwrap();
    if rule.prop("checked").await.unwrap().as_deref() != Some("true") {
        rule.click().await.unwrap();
    }
    fill(&browser, "#illegal_parking-dwell_s", "20").await;
    shots.take(&browser, "zone-drawn").await;
    click(&browser, "#zone-save").await;
    wait_js(&browser, Duration::from_secs(20), "the zone saved", "document.querySelector('li[data-zone=\"kerb-east\"]') !== null").await;
    shots.take(&browser, "zone-saved").await;

    // The config file on disk has the zone, drawn where the clicks were.
    let written = std::fs::read_to_string(&config_path).unwrap();
    let parsed: toml::Value = toml::from_str(&written).unwrap();
    let camera = &parsed["camera"][0];
    assert_eq!(camera["id"].as_str(), Some("kerb"), "{written}");
    let zone = &camera["zone"][0];
    assert_eq!(zone["id"].as_str(), Some("kerb-east"), "{written}");
    assert_eq!(zone["rules"][0]["kind"].as_str(), Some("illegal_parking"), "{written}");
    assert_eq!(zone["rules"][0]["dwell_s"].as_float().or(zone["rules"][0]["dwell_s"].as_integer().map(|i| i as f64)), Some(20.0), "{written}");
    let polygon = zone["polygon"].as_array().unwrap();
    assert_eq!(polygon.len(), 4, "{written}");
    let first = (polygon[0][0].as_float().unwrap(), polygon[0][1].as_float().unwrap());
    assert!((first.0 - 0.80).abs() < 0.02 && (first.1 - 0.01).abs() < 0.02, "first vertex {first:?}");
    assert!(written.contains("# No camera yet: the operator adds it in the browser."), "the config file's comment was kept");

    // The parked van: an incident after 20 s of dwell, in the list, with its evidence.
    browser.goto(&format!("{base}#/incidents")).await.unwrap();
    browser.wait().at_most(Duration::from_secs(120)).for_element(Locator::Css("tr[data-incident]")).await.expect("an incident in the list");
    shots.take(&browser, "incident-list").await;
    wait_js(&browser, Duration::from_secs(30), "the incident delivered", "document.querySelector('tr[data-incident] .delivery-delivered') !== null").await;
    click(&browser, "tr[data-incident]").await;
    wait_js(&browser, Duration::from_secs(20), "the evidence picture", "Array.from(document.querySelectorAll('img.evidence')).some(i => i.naturalWidth > 0)").await;
    let shown = browser.find(Locator::Css("#incident-json")).await.expect("the document as sent").text().await.unwrap();
    assert!(shown.contains("illegal_parking") && shown.contains("kerb-east"), "{shown}");
    shots.take(&browser, "incident-detail").await;
    // The delivery log: the attempt that delivered it, with its status.
    wait_js(&browser, Duration::from_secs(20), "the delivery log", "Array.from(document.querySelectorAll('details.delivery-log table.attempt-table td')).some(td => td.textContent === '200')").await;

    // The sink form edits the TLS files; a CA for a plain-http URL is refused next to the field.
    browser.goto(&format!("{base}#/sinks")).await.unwrap();
    click(&browser, "tr[data-sink] .sink-edit").await;
    fill(&browser, "#sink-ca-file", "tls/city-ca.pem").await;
    shots.take(&browser, "sink-tls").await;
    click(&browser, "#sink-save").await;
    wait_js(&browser, Duration::from_secs(20), "the refusal at the field", "(document.querySelector('.field-error[data-for=\"sink-ca-file\"]') || {}).textContent?.includes('https') === true").await;
    assert!(!std::fs::read_to_string(&config_path).unwrap().contains("ca_file"), "a refused edit is not written");

    browser.close().await.unwrap();
    let log = steward.log_text();
    assert!(!log.contains("crossing-admin-7"), "the admin password is in the log");
    assert!(!log.contains(SECRET), "the sink secret is in the log");
    drop(steward);
    receiver.stop();
    assert!(shots.count >= 10);
}
