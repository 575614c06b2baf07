//! The MQTT sink's transport: publishes each outbox record (the HTTP body, evidence inline) at
//! QoS 1 on its topic, and counts it delivered only when the broker's PUBACK arrives. One
//! persistent session (clean_session false) with a retained `online` on every connect and a
//! retained `offline` last will on the status topic.
//!
//! Each connection is a fresh rumqttc client and event loop, driven by its own task; a lost
//! connection is dropped whole, so nothing queued on it is resent behind the outbox's back and
//! every PUBACK seen belongs to the publish just made.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::delivery::{SinkHandle, Transport, run_delivery};
use super::envelope::compose;
use super::retry::Outcome;
use crate::config::MqttSinkConfig;
use crate::outbox::PendingRecord;
use crate::telemetry::Telemetry;

/// The longest wait for a CONNACK, or for the PUBACK of one publish.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a stopping sink spends saying `offline` and disconnecting.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnect backoff: doubles from the first to the last.
const RECONNECT_FIRST: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// The largest packet MQTT can carry (its remaining length field's limit).
const MAX_PACKET: usize = 268_435_455;

/// Runs the sink until `stop` turns true.
pub async fn run_mqtt_sink(config: MqttSinkConfig, database: PathBuf, telemetry: Telemetry, handle: SinkHandle, stop: watch::Receiver<bool>) {
    let sink = config.name.clone();
    let options = match options(&config, false) {
        Ok(options) => options,
        Err(error) => {
            tracing::error!(sink = %sink, %error, "cannot set up the MQTT connection; this sink will not deliver");
            return;
        }
    };
    let transport = MqttTransport { sink: sink.clone(), config, options, link: Link::Down { retry_at: Instant::now(), error: "not connected yet".into() }, backoff: RECONNECT_FIRST };
    run_delivery(sink, transport, database, telemetry, handle, stop).await;
}

/// Publishes `document` once (the control plane's test incident) on the sink's topic and waits
/// for the PUBACK. It connects as `<client_id>-test` with a clean session and no will, so the
/// running sink's session and status stay untouched. Err says what went wrong.
pub async fn publish_test(config: &MqttSinkConfig, document: &serde_json::Value) -> Result<(), String> {
    let options = options(config, true)?;
    let body = serde_json::to_vec(document).map_err(|e| e.to_string())?;
    let topic = config.topic.render_document(document);
    let mut connection = connect(options, None).await?;
    let result = connection.publish(topic, body, false).await;
    connection.close(None).await;
    result
}

/// The rumqttc options for this sink: session, will, credentials, TLS. A `test` connection is
/// `<client_id>-test` with a clean session and no will.
fn options(config: &MqttSinkConfig, test: bool) -> Result<MqttOptions, String> {
    let client_id = if test { format!("{}-test", config.client_id) } else { config.client_id.clone() };
    let mut options = MqttOptions::new(client_id, config.host(), config.port());
    options.set_clean_session(test).set_keep_alive(Duration::from_secs(config.keep_alive_s)).set_max_packet_size(MAX_PACKET, MAX_PACKET);
    if !test {
        options.set_last_will(LastWill::new(config.status.clone(), "offline", QoS::AtLeastOnce, true));
    }
    if let Some(username) = &config.username {
        options.set_credentials(username.clone(), config.password.as_ref().map_or("", |p| p.expose()));
    }
    if config.tls() {
        options.set_transport(rumqttc::Transport::Tls(TlsConfiguration::Rustls(Arc::new(tls_config(config.ca_file.as_deref())?))));
    }
    Ok(options)
}

/// A TLS client config on the ring provider (the one the rest of Steward uses), trusting the
/// certificates in `ca_file`, or the system's when absent.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            for certificate in read_ca_file(file)? {
                roots.add(certificate).map_err(|e| format!("{}: {e}", file.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("no system CA certificates found: set `ca_file`".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The certificates in a PEM file; Err says why there are none to use.
pub fn read_ca_file(file: &Path) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certificates = rustls_pki_types::CertificateDer::pem_file_iter(file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the CA certificates in {}: {e}", file.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM certificate", file.display()));
    }
    Ok(certificates)
}

/// What the connection task reports.
enum Signal {
    Connected,
    /// A publish left with this packet id.
    Sent(u16),
    /// The broker acknowledged this packet id.
    Acked(u16),
    Lost(String),
}

/// One live connection: the client, and what its event loop task reports.
struct Connection {
    client: AsyncClient,
    signals: mpsc::UnboundedReceiver<Signal>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    /// Publishes at QoS 1 and waits for its PUBACK. Must be the only publish in flight.
    async fn publish(&mut self, topic: String, payload: Vec<u8>, retain: bool) -> Result<(), String> {
        self.client.publish(topic, QoS::AtLeastOnce, retain, payload).await.map_err(|e| format!("cannot queue the publish: {e}"))?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut sent = None;
        loop {
            let signal = tokio::time::timeout_at(deadline, self.signals.recv()).await.map_err(|_| format!("no PUBACK within {} s", ANSWER_TIMEOUT.as_secs()))?;
            match signal {
                Some(Signal::Sent(pkid)) if sent.is_none() => sent = Some(pkid),
                Some(Signal::Acked(pkid)) if sent == Some(pkid) => return Ok(()),
                Some(Signal::Lost(error)) => return Err(format!("connection lost before the PUBACK: {error}")),
                None => return Err("connection lost before the PUBACK".into()),
                Some(_) => {}
            }
        }
    }

    /// Says `offline` (retained) on `status` and disconnects cleanly, so the broker drops the will.
    async fn close(&mut self, status: Option<&str>) {
        if let Some(status) = status {
            let _ = self.publish(status.to_string(), b"offline".to_vec(), true).await;
        }
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async { while !matches!(self.signals.recv().await, Some(Signal::Lost(_)) | None) {} }).await;
    }
}

/// Opens a connection (fresh client and event loop), waits for the CONNACK, and publishes the
/// retained `online` on `status`.
async fn connect(options: MqttOptions, status: Option<String>) -> Result<Connection, String> {
    let (client, eventloop) = AsyncClient::new(options, 16);
    let (tx, signals) = mpsc::unbounded_channel();
    let task = tokio::spawn(drive(eventloop, tx));
    let mut connection = Connection { client, signals, task };
    let connected = tokio::time::timeout(ANSWER_TIMEOUT, async {
        match connection.signals.recv().await {
            Some(Signal::Connected) => Ok(()),
            Some(Signal::Lost(error)) => Err(error),
            _ => Err("the connection closed".to_string()),
        }
    });
    connected.await.map_err(|_| format!("no CONNACK within {} s", ANSWER_TIMEOUT.as_secs()))??;
    if let Some(status) = status {
        connection.publish(status, b"online".to_vec(), true).await.map_err(|e| format!("cannot publish `online`: {e}"))?;
    }
    Ok(connection)
}

/// Polls one connection's event loop until it fails, reporting what the sink needs.
async fn drive(mut eventloop: EventLoop, signals: mpsc::UnboundedSender<Signal>) {
    loop {
        let signal = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Signal::Connected,
            Ok(Event::Incoming(Packet::PubAck(ack))) => Signal::Acked(ack.pkid),
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Signal::Sent(pkid),
            Ok(_) => continue,
            Err(error) => {
                let _ = signals.send(Signal::Lost(describe(&error)));
                return;
            }
        };
        if signals.send(signal).is_err() {
            return;
        }
    }
}

/// A connection error with its causes.
fn describe(error: &ConnectionError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

type Connecting = Pin<Box<dyn Future<Output = Result<Connection, String>> + Send>>;

/// Where the sink stands with its broker. A connection attempt in progress lives here, so that
/// it carries on when the delivery loop stops waiting on it.
enum Link {
    Down { retry_at: Instant, error: String },
    Connecting(Connecting),
    Up(Connection),
}

struct MqttTransport {
    sink: String,
    config: MqttSinkConfig,
    options: MqttOptions,
    link: Link,
    backoff: Duration,
}

impl MqttTransport {
    /// Advances the link by one step: waits for the retry time, for the attempt to finish, or
    /// (when up) for the connection to be lost. Returns whether it just came up.
    async fn step(&mut self) -> bool {
        match &mut self.link {
            Link::Down { retry_at, .. } => {
                tokio::time::sleep_until(*retry_at).await;
                self.start_connecting();
                false
            }
            Link::Connecting(attempt) => {
                let result = attempt.await;
                self.finish_connecting(result)
            }
            Link::Up(connection) => {
                let error = loop {
                    match connection.signals.recv().await {
                        Some(Signal::Lost(error)) => break error,
                        None => break "the connection task ended".to_string(),
                        Some(_) => {}
                    }
                };
                self.lost(error);
                false
            }
        }
    }

    fn start_connecting(&mut self) {
        tracing::debug!(sink = %self.sink, broker = %self.config.url, "connecting to the MQTT broker");
        self.link = Link::Connecting(Box::pin(connect(self.options.clone(), Some(self.config.status.clone()))));
    }

    fn finish_connecting(&mut self, result: Result<Connection, String>) -> bool {
        match result {
            Ok(connection) => {
                tracing::info!(sink = %self.sink, broker = %self.config.url, status_topic = %self.config.status, "connected to the MQTT broker");
                self.link = Link::Up(connection);
                self.backoff = RECONNECT_FIRST;
                true
            }
            Err(error) => {
                self.lost(error);
                false
            }
        }
    }

    fn lost(&mut self, error: String) {
        tracing::warn!(sink = %self.sink, broker = %self.config.url, error = %error, retry_in_s = self.backoff.as_secs(), "MQTT broker unreachable; reconnecting");
        self.link = Link::Down { retry_at: Instant::now() + self.backoff, error };
        self.backoff = (self.backoff * 2).min(RECONNECT_MAX);
    }

    /// The live connection, connecting first when the backoff allows; Err says why there is none.
    async fn connection(&mut self) -> Result<&mut Connection, String> {
        if let Link::Down { retry_at, error } = &self.link {
            if *retry_at > Instant::now() {
                return Err(format!("not connected to the broker: {error}"));
            }
            self.start_connecting();
        }
        if let Link::Connecting(attempt) = &mut self.link {
            let result = attempt.await;
            self.finish_connecting(result);
        }
        match &mut self.link {
            Link::Up(connection) => Ok(connection),
            Link::Down { error, .. } => Err(format!("not connected to the broker: {error}")),
            Link::Connecting(_) => unreachable!("the attempt was awaited"),
        }
    }
}

impl Transport for MqttTransport {
    async fn send(&mut self, record: &PendingRecord) -> Outcome {
        let retry = |error: String| Outcome::Retry { status: None, error, retry_after: None };
        let envelope = match compose(&record.document, &record.evidence, &record.incident_id, record.seq, None) {
            Ok(envelope) => envelope,
            Err(error) => return Outcome::Rejected { status: 0, body: format!("stored document unreadable: {error}") },
        };
        let topic = match serde_json::from_slice::<serde_json::Value>(&envelope.body) {
            Ok(document) => self.config.topic.render_document(&document),
            Err(error) => return Outcome::Rejected { status: 0, body: format!("stored document unreadable: {error}") },
        };
        tracing::debug!(sink = %self.sink, incident = %record.incident_id, seq = record.seq, topic = %topic, bytes = envelope.body.len(), "publishing");
        let connection = match self.connection().await {
            Ok(connection) => connection,
            Err(error) => return retry(error),
        };
        match connection.publish(topic, envelope.body, false).await {
            Ok(()) => Outcome::Acknowledged,
            Err(error) => {
                // A publish whose fate is unknown poisons the packet-id pairing: start afresh.
                self.lost(error.clone());
                retry(error)
            }
        }
    }

    async fn idle(&mut self) {
        while !self.step().await {}
    }

    async fn close(&mut self) {
        if let Link::Up(connection) = &mut self.link {
            // A broker that stopped answering must not hold up a reload or shutdown.
            let said = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(Some(&self.config.status))).await;
            tracing::info!(sink = %self.sink, status_topic = %self.config.status, in_time = said.is_ok(), "disconnected from the MQTT broker");
        }
    }
}
