//! The validated configuration: every value present, checked and ready to use.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::geometry::Polygon;
use crate::kind::ViolationKind;
use crate::rules::schedule::Schedule;
use crate::sink::TopicTemplate;

/// The whole appliance configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub site: Site,
    pub storage: Storage,
    pub control: Control,
    pub device: Device,
    pub model: ModelRef,
    pub privacy: Privacy,
    pub cameras: Vec<Camera>,
    pub sinks: Vec<Sink>,
    pub codes: CodeTable,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub name: String,
    /// 6-digit 行政区划 code (GB/T 2260).
    pub region_code: String,
    pub timezone: chrono_tz::Tz,
    /// Where the site is, for sunrise/sunset-relative schedules.
    pub position: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    /// Holds the SQLite outbox and the evidence files.
    pub dir: PathBuf,
    /// The most the outbox and evidence may take (`quota_mb`); delivered evidence is deleted,
    /// oldest first, to stay under it.
    pub quota_bytes: u64,
}

/// `[storage] quota_mb` when not given: 10 GiB.
pub const DEFAULT_STORAGE_QUOTA_MB: f64 = 10240.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub listen: SocketAddr,
    /// HTTPS instead of HTTP when set (`[control] tls_cert` and `tls_key`, PEM files).
    pub tls: Option<ControlTls>,
}

/// The control plane's certificate chain and private key, both PEM files.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for Control {
    fn default() -> Self {
        Control { listen: SocketAddr::from(([0, 0, 0, 0], 8080)), tls: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: String,
    /// Which pipeline template the cameras run (`[device] platform`).
    pub platform: Platform,
}

/// The hardware the camera pipelines are built for: each has its template in `pipelines/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Platform {
    /// Chosen at start by which GStreamer elements are installed (the default).
    #[default]
    Auto,
    /// Software decoding (`pipelines/x86-cpu.gst`).
    X86Cpu,
    /// Intel GPU decoding through VA-API (`pipelines/intel-vaapi.gst`).
    IntelVaapi,
    /// NVIDIA Jetson decoding through L4T's `nvv4l2decoder` (`pipelines/jetson.gst`).
    Jetson,
}

impl Platform {
    pub const ALL: [Platform; 4] = [Platform::Auto, Platform::X86Cpu, Platform::IntelVaapi, Platform::Jetson];

    /// The name used in the config file and in `pipelines/NAME.gst`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Platform::Auto => "auto",
            Platform::X86Cpu => "x86-cpu",
            Platform::IntelVaapi => "intel-vaapi",
            Platform::Jetson => "jetson",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What evidence may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privacy {
    /// Pixelate faces in every evidence picture (vehicle plates stay readable).
    pub blur_faces: bool,
}

impl Default for Privacy {
    fn default() -> Self {
        Privacy { blur_faces: true }
    }
}

/// ONNX Runtime threads for one inference unless `[model] threads` says otherwise.
pub const DEFAULT_MODEL_THREADS: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRef {
    /// The model manifest (`models/NAME.toml`); `None` means the bundled default, found at start.
    pub manifest: Option<PathBuf>,
    /// Threads ONNX Runtime may use for one inference.
    pub threads: usize,
    /// Most frames (from any cameras) in one inference run.
    pub max_batch: usize,
    /// Longest wait for a batch to fill once its first frame is queued.
    pub max_wait: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub id: String,
    pub name: String,
    pub gb28181_id: Option<String>,
    pub url: CameraUrl,
    pub analysis_fps: f64,
    pub decode: DecodeMode,
    /// RTSP lower transport.
    pub transport: Transport,
    /// No frame for this long → the camera counts as stalled and is reconnected.
    pub stall_s: f64,
    /// Longest wait between reconnect attempts (the backoff doubles from 1 s up to this).
    pub retry_max_s: f64,
    pub pace: Pace,
    pub looping: bool,
    /// Seconds of encoded video kept for an evidence clip with each new incident (`None`: no
    /// clips). Clips are not re-encoded, so faces in them are not blurred.
    pub clip_s: Option<f64>,
    pub location: Option<Location>,
    pub zones: Vec<Zone>,
}

/// A camera address. Its `Display` never shows the password: log and show it freely.
#[derive(Clone, PartialEq)]
pub struct CameraUrl(url::Url);

impl CameraUrl {
    pub fn new(url: url::Url) -> Self {
        CameraUrl(url)
    }
    /// The full address, credentials included: only for handing to GStreamer.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }
    pub fn is_file(&self) -> bool {
        self.0.scheme() == "file"
    }
    pub fn to_file_path(&self) -> Option<PathBuf> {
        self.0.to_file_path().ok()
    }
    /// The address with user and password replaced by `***`.
    pub fn redacted(&self) -> String {
        let mut shown = self.0.clone();
        if !shown.username().is_empty() || shown.password().is_some() {
            let _ = shown.set_username("***");
            let _ = shown.set_password(None);
        }
        shown.to_string()
    }
}

impl fmt::Display for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CameraUrl({})", self.redacted())
    }
}

/// Which frames a camera decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeMode {
    /// Every frame (then thinned to the analysis rate).
    All,
    /// Key frames only: decode cost follows the key-frame interval, not the camera's frame rate.
    Keyframes,
}

/// How RTSP media travels from the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection: survives NAT and lossy links (the default).
    Tcp,
    /// RTP over UDP: lower latency on a clean LAN.
    Udp,
}

impl Transport {
    /// The value of `rtspsrc`'s `protocols` property.
    pub fn rtsp_protocols(&self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// How fast a file source plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as decoding and analysis allow (media time still drives the rules).
    Fast,
    /// At the clip's own rate, like a live camera.
    Realtime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
    pub crs: String,
    pub address: Option<String>,
    pub grid_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub polygon: Polygon,
    pub rules: Vec<RuleConfig>,
}

/// One rule attached to a zone: what it judges, how long a violation must last, when it
/// applies, and how its incidents live.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    pub kind: ViolationKind,
    /// Seconds of media time a violation must last before an incident opens.
    pub dwell_s: f64,
    /// When the rule is in force (site local time); outside it nothing is judged.
    pub schedule: Schedule,
    pub lifecycle: LifecycleParams,
    pub params: RuleParams,
}

impl RuleConfig {
    pub fn kind(&self) -> ViolationKind {
        self.kind
    }
}

/// How an incident lives once open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifecycleParams {
    /// The violation has been gone this long → `resolved`.
    pub resolve_after_s: f64,
    /// While open and still present, send an `update` this often (`None`: never).
    pub renotify_s: Option<f64>,
    /// After `resolved`, the same violation at the same place opens no new incident for this long.
    pub cooldown_s: f64,
}

impl Default for LifecycleParams {
    fn default() -> Self {
        LifecycleParams { resolve_after_s: 60.0, renotify_s: None, cooldown_s: 120.0 }
    }
}

/// What each kind of rule needs beyond dwell and lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleParams {
    IllegalParking(IllegalParkingParams),
    UnlitSignage(UnlitSignageParams),
    StreetVending(StreetVendingParams),
    ExposedWaste(ExposedWasteParams),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreetVendingParams {
    /// People needed at the stall.
    pub min_persons: u32,
    /// How far (normalised image units, centre to box) a person may stand from the stall.
    pub reach: f64,
    /// Seconds the stall may go unseen and keep its dwell.
    pub miss_tolerance_s: f64,
    pub iou_threshold: f64,
    pub min_confidence: f64,
    /// Also count as a stall any static foreground object — a persistent change against the
    /// zone's learned empty picture that no person or vehicle explains — for stalls the model
    /// has no class for.
    pub static_objects: bool,
}

impl Default for StreetVendingParams {
    fn default() -> Self {
        StreetVendingParams { min_persons: 1, reach: 0.08, miss_tolerance_s: 30.0, iou_threshold: 0.4, min_confidence: 0.35, static_objects: true }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExposedWasteParams {
    /// The zone's clean reference picture (full frame); `None`: learned from the first
    /// `learn_s` seconds, during which the operator vouches that the zone is clean.
    pub reference: Option<PathBuf>,
    pub learn_s: f64,
    /// Smallest change blob that counts, as a share of the image area.
    pub min_area: f64,
    /// Luminance difference (0–255) that counts as changed.
    pub threshold: f64,
}

impl Default for ExposedWasteParams {
    fn default() -> Self {
        ExposedWasteParams { reference: None, learn_s: 30.0, min_area: 0.0005, threshold: 35.0 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnlitSignageParams {
    /// The sign is dark when its luminance falls below this share of its lit level.
    pub dark_ratio: f64,
    /// The sign's luminance when lit (0–255, mean over the zone), as recorded by the operator;
    /// `None`: learned as the brightest level seen while the schedule is in force.
    pub lit_level: Option<f64>,
}

impl Default for UnlitSignageParams {
    fn default() -> Self {
        UnlitSignageParams { dark_ratio: 0.35, lit_level: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IllegalParkingParams {
    /// Seconds a remembered vehicle may go unseen (occlusion, missed detection) and keep its dwell.
    pub miss_tolerance_s: f64,
    /// Minimum overlap between a detection and the remembered box to count as "the same, still there".
    pub iou_threshold: f64,
    /// Detections below this confidence are ignored by the rule.
    pub min_confidence: f64,
}

impl Default for IllegalParkingParams {
    fn default() -> Self {
        IllegalParkingParams { miss_tolerance_s: 30.0, iou_threshold: 0.5, min_confidence: 0.35 }
    }
}

/// Per-city event codes: what this platform wants for each kind, where it differs from the
/// national defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeTable {
    pub overrides: std::collections::BTreeMap<ViolationKind, CodeOverride>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeOverride {
    /// 5-digit GB/T 47678.5 type code (the region code is prefixed).
    pub gb47678: Option<String>,
    /// CJ/T 214 code.
    pub cjt214: Option<String>,
    /// The city platform's own code.
    pub city: Option<String>,
}

/// Where incidents go.
#[derive(Debug, Clone, PartialEq)]
pub enum Sink {
    Http(HttpSinkConfig),
    Mqtt(MqttSinkConfig),
}

impl Sink {
    pub fn name(&self) -> &str {
        match self {
            Sink::Http(http) => &http.name,
            Sink::Mqtt(mqtt) => &mqtt.name,
        }
    }

    /// `http` or `mqtt`, as written in `[[sink]] kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Sink::Http(_) => "http",
            Sink::Mqtt(_) => "mqtt",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpSinkConfig {
    /// Stable name of this sink: its delivery cursor in the outbox is keyed by it.
    pub name: String,
    pub url: url::Url,
    pub hmac_secret: Secret,
    pub timeout_s: f64,
    /// How evidence travels: inside the body, or as signed links the platform fetches.
    pub evidence: EvidenceMode,
    /// PEM bundle of CA certificates trusted for this sink's server, besides the default roots
    /// (`ca_file`).
    pub ca_file: Option<PathBuf>,
    /// The certificate this sink shows when the platform asks for one (mutual TLS:
    /// `client_cert` and `client_key`).
    pub client_cert: Option<ClientCert>,
}

/// `[[sink]] evidence`: `inline` (base64 in the body, the default) or `url` (signed, expiring
/// links to the box's API: `evidence_base_url`, `evidence_url_ttl_s`).
#[derive(Debug, Clone, PartialEq)]
pub enum EvidenceMode {
    Inline,
    Url { base_url: url::Url, ttl_s: f64 },
}

/// A client certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// An MQTT broker to publish incidents to (QoS 1, persistent session).
#[derive(Debug, Clone, PartialEq)]
pub struct MqttSinkConfig {
    /// Stable name of this sink: its delivery cursor in the outbox is keyed by it.
    pub name: String,
    /// `mqtt://host[:1883]` or `mqtts://host[:8883]`, without credentials.
    pub url: url::Url,
    /// Where each incident event is published.
    pub topic: TopicTemplate,
    /// Where `online` / `offline` (retained; `offline` also as the last will) is published.
    pub status_topic: TopicTemplate,
    /// `status_topic` filled in for this site and device.
    pub status: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// CA certificates (PEM) that the broker's certificate must chain to; the system's when absent.
    pub ca_file: Option<PathBuf>,
    pub keep_alive_s: u64,
}

impl MqttSinkConfig {
    pub fn tls(&self) -> bool {
        self.url.scheme() == "mqtts"
    }
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }
    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(if self.tls() { 8883 } else { 1883 })
    }
}

/// A secret string. Never printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
