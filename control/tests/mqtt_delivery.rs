//! Issue 6 — the MQTT sink end to end with real processes: `mosquitto` as the broker (stopped
//! and started again mid-stream on the same port and persistence), a persistent QoS 1
//! subscriber, and `steward run` on the vtest footage publishing from its outbox.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const STATUS_TOPIC: &str = "steward/test-crossing/test-crossing/status";
const INCIDENT_TOPIC: &str = "steward/test-crossing/cam-1/illegal_parking";

/// A real mosquitto on loopback, with persistence in `dir`.
struct Broker {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Broker {
    /// Starts it; `extra` is more of its config (say, `password_file`).
    fn start(dir: &Path, port: u16, extra: &str) -> Broker {
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).unwrap();
        // mosquitto started as root drops to its own user: let it write its persistence file.
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n{extra}", data.display())).unwrap();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("mosquitto.log")).unwrap();
        let child = Command::new(MOSQUITTO).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(log).spawn().expect("start mosquitto");
        wait_until(Duration::from_secs(10), "mosquitto to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Broker { child, port, dir: dir.to_path_buf() }
    }

    /// Stops it the ordinary way (SIGTERM), so that it saves what it holds, and waits.
    fn stop(mut self) -> (PathBuf, u16) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap();
        (self.dir.clone(), self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message the subscriber got.
#[derive(Debug, Clone)]
struct Message {
    topic: String,
    payload: Vec<u8>,
}

/// A subscriber on `filter` with a persistent session (QoS 1), reconnecting on its own.
struct Subscriber {
    messages: Arc<Mutex<Vec<Message>>>,
    subscribed: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Subscriber {
    fn start(port: u16, filter: &str, credentials: Option<(&str, &str)>) -> Subscriber {
        let mut options = MqttOptions::new("test-subscriber", "127.0.0.1", port);
        options.set_clean_session(false).set_keep_alive(Duration::from_secs(5)).set_max_packet_size(64 << 20, 64 << 20);
        if let Some((user, password)) = credentials {
            options.set_credentials(user, password);
        }
        let (client, mut connection) = Client::new(options, 16);
        let (messages, subscribed, done) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (got, acked, stop, filter) = (messages.clone(), subscribed.clone(), done.clone(), filter.to_string());
        let thread = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match connection.recv_timeout(Duration::from_millis(200)) {
                    Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => client.try_subscribe(filter.as_str(), QoS::AtLeastOnce).unwrap(),
                    Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => acked.store(true, Ordering::Relaxed),
                    Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => got.lock().unwrap().push(Message { topic: publish.topic.clone(), payload: publish.payload.to_vec() }),
                    Ok(Ok(_)) | Err(_) => {}
                    Ok(Err(_)) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        let subscriber = Subscriber { messages, subscribed, done, thread: Some(thread) };
        wait_until(Duration::from_secs(10), "the subscription", || subscriber.subscribed.load(Ordering::Relaxed));
        subscriber
    }

    fn all(&self) -> Vec<Message> {
        self.messages.lock().unwrap().clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        self.thread.take().map(|t| t.join());
    }
}

/// The retained message on `topic` as a new subscriber sees it (None if none comes).
fn retained(port: u16, topic: &str) -> Option<String> {
    retained_with(port, topic, None)
}

fn retained_with(port: u16, topic: &str, credentials: Option<(&str, &str)>) -> Option<String> {
    let mut options = MqttOptions::new(format!("test-peek-{}", rand::random::<u32>()), "127.0.0.1", port);
    options.set_clean_session(true);
    if let Some((user, password)) = credentials {
        options.set_credentials(user, password);
    }
    let (client, mut connection) = Client::new(options, 4);
    client.subscribe(topic, QoS::AtLeastOnce).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut found = None;
    while std::time::Instant::now() < deadline {
        match connection.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(Event::Incoming(Packet::Publish(publish)))) if publish.retain => {
                found = Some(String::from_utf8_lossy(&publish.payload).into_owned());
                break;
            }
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {}
            Ok(Err(_)) => break,
            _ => {}
        }
    }
    let _ = client.disconnect();
    found
}

/// Every event in the outbox: (incident id, seq) → event name.
fn outbox_events(storage: &Path) -> BTreeMap<(String, u64), String> {
    let conn = rusqlite::Connection::open_with_flags(storage.join("outbox.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn.prepare("SELECT incident_id, seq, event FROM events").unwrap();
    stmt.query_map([], |row| Ok(((row.get::<_, String>(0)?, row.get::<_, u64>(1)?), row.get::<_, String>(2)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn every_incident_event_reaches_a_persistent_subscriber_across_a_broker_restart() {
    let dir = scratch("mqtt-delivery");
    let storage = dir.join("state");
    let port = free_port();
    let broker = Broker::start(&dir, port, "");
    let subscriber = Subscriber::start(port, "steward/#", None);

    // Real-time playback, with an update every 10 s while the vehicles stay: events keep coming
    // while the broker is away.
    let camera = kerb_camera("cam-1", &format!("file://{}", footage().display()), 20)
        .replace("analysis_fps = 2.0\n", "analysis_fps = 2.0\npace = \"realtime\"\n")
        .replace("dwell_s = 20 }", "dwell_s = 20, renotify_s = 10 }");
    let control_port = free_port();
    let http = config(&storage, control_port, "http://127.0.0.1:9/unused", &camera);
    let sink = format!("[[sink]]\nkind = \"mqtt\"\nurl = \"mqtt://127.0.0.1:{port}\"\nkeep_alive_s = 5\n");
    let text = format!("{}{sink}", &http[..http.find("[[sink]]").unwrap()]);
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, text).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_steward")).args(["check-config", config_path.to_str().unwrap()]).output().unwrap();
    assert!(check.status.success(), "check-config: {}", String::from_utf8_lossy(&check.stderr));

    let mut steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &dir.join("steward.log"));
    let delivered = |storage: &Path| outbox_count(storage, "SELECT COUNT(*) FROM deliveries WHERE sink = 'mqtt' AND state = 'delivered'");
    wait_until(Duration::from_secs(120), "a first incident delivered over MQTT", || delivered(&storage) >= 1);
    assert_eq!(retained(port, STATUS_TOPIC).as_deref(), Some("online"), "retained `online` once connected");

    // The broker goes away mid-stream: a record must fail and stay pending, then arrive once
    // the broker (same port, same persistence) is back.
    let (dir_again, port_again) = broker.stop();
    wait_until(Duration::from_secs(60), "a delivery attempt to fail while the broker is down", || {
        outbox_count(&storage, "SELECT COUNT(*) FROM deliveries WHERE sink = 'mqtt' AND state = 'pending' AND attempts > 0") >= 1
    });
    let _broker = Broker::start(&dir_again, port_again, "");

    wait_until(Duration::from_secs(240), "the footage to end", || camera_health(control_port, "cam-1")["state"] == "ended");
    wait_until(Duration::from_secs(120), "nothing pending for the MQTT sink", || {
        outbox_count(&storage, "SELECT COUNT(*) FROM deliveries WHERE sink = 'mqtt' AND state <> 'delivered'") == 0
    });
    let events = outbox_events(&storage);
    assert!(events.len() >= 3, "an open and updates at least: {events:?}");
    assert_eq!(delivered(&storage), events.len() as i64, "every event delivered (PUBACK) for the mqtt sink");
    wait_until(Duration::from_secs(30), "every event at the subscriber", || {
        let got: Vec<_> = subscriber.all().iter().filter(|m| m.topic == INCIDENT_TOPIC).map(|m| key(&m.payload)).collect();
        events.keys().all(|k| got.contains(k))
    });

    // Each message is one outbox event, whole; a duplicate is the same event, byte for byte;
    // within an incident, events arrive in order.
    let messages: Vec<Message> = subscriber.all().into_iter().filter(|m| m.topic != STATUS_TOPIC).collect();
    let mut first_copy: BTreeMap<(String, u64), Vec<u8>> = BTreeMap::new();
    let mut arrival: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for message in &messages {
        assert_eq!(message.topic, INCIDENT_TOPIC);
        let document: serde_json::Value = serde_json::from_slice(&message.payload).expect("payload is the JSON document");
        let (id, seq) = key(&message.payload);
        assert_eq!(events.get(&(id.clone(), seq)).map(String::as_str), document["event"].as_str(), "an outbox event: {id}:{seq}");
        assert_eq!(document["schema"], "steward.incident/v1");
        if document["event"] == "open" {
            let evidence = document["evidence"].as_array().unwrap();
            assert!(!evidence.is_empty() && evidence.iter().all(|e| e["bytes"].is_string()), "evidence inline, as in the HTTP body");
        }
        match first_copy.get(&(id.clone(), seq)) {
            Some(copy) => assert_eq!(copy, &message.payload, "a duplicate carries the same idempotency key and body"),
            None => {
                first_copy.insert((id.clone(), seq), message.payload.clone());
                arrival.entry(id).or_default().push(seq);
            }
        }
    }
    for (id, seqs) in &arrival {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "incident {id}: events in order, got {seqs:?}");
    }

    // The box dies without a word: the broker tells the world with the last will.
    assert_eq!(retained(port, STATUS_TOPIC).as_deref(), Some("online"));
    steward.signal("KILL");
    steward.wait(Duration::from_secs(10));
    wait_until(Duration::from_secs(30), "the retained last will `offline`", || retained(port, STATUS_TOPIC).as_deref() == Some("offline"));
    let log = steward.log_text();
    assert!(log.contains("connected to the MQTT broker") && log.contains("MQTT broker unreachable"), "log:\n{log}");
}

/// The idempotency key of a published document: (`id`, `seq`).
fn key(payload: &[u8]) -> (String, u64) {
    let document: serde_json::Value = serde_json::from_slice(payload).expect("payload is JSON");
    (document["id"].as_str().expect("id").to_string(), document["seq"].as_u64().expect("seq"))
}

#[test]
fn the_api_shows_and_edits_an_mqtt_sink_and_never_its_password() {
    let dir = scratch("mqtt-api");
    let passwords = dir.join("passwords");
    let made = Command::new("mosquitto_passwd").args(["-b", "-c", passwords.to_str().unwrap(), "box", "s3cret-box"]).status().unwrap();
    assert!(made.success());
    let made = Command::new("mosquitto_passwd").args(["-b", passwords.to_str().unwrap(), "watcher", "s3cret-watcher"]).status().unwrap();
    assert!(made.success());
    std::fs::set_permissions(&passwords, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port();
    let broker = Broker::start(&dir, port, &format!("allow_anonymous false\npassword_file {}\n", passwords.display()));
    let subscriber = Subscriber::start(port, "#", Some(("watcher", "s3cret-watcher")));

    let control_port = free_port();
    let http = config(&dir.join("state"), control_port, "http://127.0.0.1:9/unused", "");
    let sink = format!("[[sink]]\nkind = \"mqtt\"\nurl = \"mqtt://127.0.0.1:{port}\"\nusername = \"box\"\npassword = \"s3cret-box\"\n");
    let config_path = dir.join("steward.toml");
    std::fs::write(&config_path, format!("{}{sink}", &http[..http.find("[[sink]]").unwrap()])).unwrap();
    let steward = Steward::start(&["run", "--config", config_path.to_str().unwrap()], &dir.join("steward.log"));
    wait_until(Duration::from_secs(60), "the control plane", || std::net::TcpStream::connect(("127.0.0.1", control_port)).is_ok());
    wait_until(Duration::from_secs(30), "steward's retained `online`", || retained_as(port, STATUS_TOPIC, ("watcher", "s3cret-watcher")).as_deref() == Some("online"));

    let mut admin = ApiClient::admin(control_port);
    let listed = admin.get("/api/v1/sinks");
    assert_eq!(listed.status, 200, "{listed:?}");
    let view = &listed.json()[0];
    assert_eq!((view["name"].as_str(), view["kind"].as_str(), view["url"].as_str()), (Some("mqtt"), Some("mqtt"), Some(format!("mqtt://127.0.0.1:{port}").as_str())));
    assert_eq!((view["username"].as_str(), view["has_password"].as_bool(), view["client_id"].as_str()), (Some("box"), Some(true), Some("steward-test-crossing")));
    assert_eq!((view["topic"].as_str(), view["status_topic"].as_str()), (Some("steward/{site}/{camera}/{kind}"), Some("steward/{site}/{device}/status")));
    assert!(!listed.body.contains("s3cret") && view.get("password").is_none(), "{}", listed.body);

    // The test incident reaches a subscriber through the authenticating broker.
    let tested = admin.send("POST", "/api/v1/sinks/mqtt/test", None);
    assert_eq!((tested.status, tested.json()["body"].as_str()), (200, Some("PUBACK")), "{tested:?}");
    wait_until(Duration::from_secs(10), "the test incident", || subscriber.all().iter().any(|m| m.topic == "steward/test-crossing/test/illegal_parking"));

    // A masked password keeps the stored one: the changed sink still gets in.
    let changed = admin.send("PUT", "/api/v1/sinks/mqtt", Some(&serde_json::json!({"kind": "mqtt", "url": format!("mqtt://127.0.0.1:{port}"), "password": "***", "topic": "city/{site}/{event}"})));
    assert_eq!(changed.status, 200, "{changed:?}");
    assert!(!changed.body.contains("s3cret") && changed.json()["topic"] == "city/{site}/{event}", "{}", changed.body);
    assert!(std::fs::read_to_string(&config_path).unwrap().contains("password = \"s3cret-box\""));
    let tested = admin.send("POST", "/api/v1/sinks/mqtt/test", None);
    assert_eq!(tested.json()["body"].as_str(), Some("PUBACK"), "{tested:?}");
    wait_until(Duration::from_secs(10), "the test incident on the new topic", || subscriber.all().iter().any(|m| m.topic == "city/test-crossing/open"));

    // Hot reload of this sink alone: the old session says `offline` on its way out, the new one
    // `online` on its own status topic.
    let moved = admin.send("PUT", "/api/v1/sinks/mqtt", Some(&serde_json::json!({"url": format!("mqtt://127.0.0.1:{port}"), "status_topic": "steward/{device}/state"})));
    assert_eq!(moved.status, 200, "{moved:?}");
    let watcher = ("watcher", "s3cret-watcher");
    wait_until(Duration::from_secs(30), "`online` on the new status topic", || retained_as(port, "steward/test-crossing/state", watcher).as_deref() == Some("online"));
    wait_until(Duration::from_secs(30), "`offline` on the old one", || retained_as(port, STATUS_TOPIC, watcher).as_deref() == Some("offline"));

    // An unknown placeholder is refused at its field; a wrong password is refused by the broker.
    let refused = admin.send("PUT", "/api/v1/sinks/mqtt", Some(&serde_json::json!({"url": format!("mqtt://127.0.0.1:{port}"), "topic": "city/{camra}"})));
    assert_eq!(refused.status, 422, "{refused:?}");
    assert!(refused.body.contains("topic") && refused.body.contains("unknown placeholder `{camra}`"), "{}", refused.body);
    let wrong = admin.send("PUT", "/api/v1/sinks/mqtt", Some(&serde_json::json!({"url": format!("mqtt://127.0.0.1:{port}"), "password": "wrong-pw"})));
    assert_eq!(wrong.status, 200, "{wrong:?}");
    let tested = admin.send("POST", "/api/v1/sinks/mqtt/test", None);
    assert!(tested.status == 200 && tested.json()["status"] == 0 && tested.json()["body"] != "PUBACK", "{tested:?}");

    let log = steward.log_text();
    assert!(!log.contains("s3cret-box") && !log.contains("wrong-pw"), "no password in the log:\n{log}");
    assert!(broker.log().contains("as steward-test-crossing"), "{}", broker.log());
}

/// [`retained`] for a broker that wants a user name and password.
fn retained_as(port: u16, topic: &str, (user, password): (&str, &str)) -> Option<String> {
    retained_with(port, topic, Some((user, password)))
}

#[test]
fn mqtts_trusts_the_ca_file_and_refuses_a_broker_it_does_not_name() {
    let dir = scratch("mqtts");
    let server = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (certificate, key, stranger) = (dir.join("broker.crt"), dir.join("broker.key"), dir.join("other-ca.crt"));
    std::fs::write(&certificate, server.cert.pem()).unwrap();
    std::fs::write(&key, server.key_pair.serialize_pem()).unwrap();
    std::fs::write(&stranger, other.cert.pem()).unwrap();
    for file in [&certificate, &key, &stranger] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // One broker, two listeners: TLS for Steward, plain for the test's own eyes.
    let (plain, tls) = (free_port(), free_port());
    let listener = format!("listener {tls} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n", certificate.display(), certificate.display(), key.display());
    let _broker = Broker::start(&dir, plain, &listener);
    wait_until(Duration::from_secs(10), "the TLS listener", || std::net::TcpStream::connect(("127.0.0.1", tls)).is_ok());

    let run = |name: &str, ca_file: &Path| {
        let control_port = free_port();
        let http = config(&dir.join(name), control_port, "http://127.0.0.1:9/unused", "");
        let sink = format!("[[sink]]\nkind = \"mqtt\"\nurl = \"mqtts://127.0.0.1:{tls}\"\nca_file = \"{}\"\nclient_id = \"{name}\"\nstatus_topic = \"tls-test/{name}/status\"\n", ca_file.display());
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, format!("{}{sink}", &http[..http.find("[[sink]]").unwrap()])).unwrap();
        Steward::start(&["run", "--config", path.to_str().unwrap()], &dir.join(format!("{name}.log")))
    };
    let trusted = run("trusted", &certificate);
    let untrusted = run("untrusted", &stranger);
    wait_until(Duration::from_secs(60), "`online` over TLS", || retained(plain, "tls-test/trusted/status").as_deref() == Some("online"));
    wait_until(Duration::from_secs(60), "the untrusted broker refused", || untrusted.log_text().contains("MQTT broker unreachable"));
    let log = untrusted.log_text();
    assert!(log.contains("certificate"), "a certificate error:\n{log}");
    assert_eq!(retained(plain, "tls-test/untrusted/status"), None, "no connection to a broker the CA file does not vouch for");
    assert!(trusted.log_text().contains("connected to the MQTT broker"));
}
