//! Raw config → [`Config`]: defaults filled in, every value checked, every problem collected.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diagnostic::{Aim, TreePath};
use super::raw::*;
use super::types::*;
use crate::geometry::Polygon;
use crate::kind::ViolationKind;
use crate::rules::schedule::Schedule;

mod http;
mod mqtt;

pub(crate) use mqtt::default_name as default_mqtt_name;

/// A problem found while validating, still located by its path in the tree.
#[derive(Debug, Clone)]
pub struct Problem {
    pub path: TreePath,
    pub aim: Aim,
    pub message: String,
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn value(&mut self, path: TreePath, message: impl Into<String>) {
        self.0.push(Problem { path, aim: Aim::Value, message: message.into() });
    }
    /// A required value: reports it missing when absent, at its own path (which places it in
    /// the file where `parent` is, and names the field for the API).
    fn required<T: Clone>(&mut self, value: &Option<T>, parent: &TreePath, key: &str) -> Option<T> {
        if value.is_none() {
            self.value(parent.key(key), format!("missing required key `{key}` in [{parent}]"));
        }
        value.clone()
    }
    /// One of the named `options`, the first being the default when `value` is absent; an
    /// unknown name is reported with the choices and gives the default.
    fn choice<T: Copy>(&mut self, value: Option<&str>, path: TreePath, key: &str, options: &[(&str, T)]) -> T {
        let default = options[0].1;
        let Some(name) = value else { return default };
        if let Some(&(_, chosen)) = options.iter().find(|(n, _)| *n == name) {
            return chosen;
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
        let expected = match names.as_slice() {
            [a, b] => format!("{a} or {b}"),
            _ => format!("one of {}", names.join(", ")),
        };
        self.value(path, format!("{key} `{name}`: expected {expected}"));
        default
    }
    /// A number that must lie in `range` (inclusive bounds as given by `check`).
    fn number(&mut self, value: Option<f64>, default: f64, path: TreePath, check: impl Fn(f64) -> bool, expect: &str) -> f64 {
        match value {
            None => default,
            Some(v) if check(v) && v.is_finite() => v,
            Some(v) => {
                self.value(path, format!("{v} is out of range: expected {expect}"));
                default
            }
        }
    }
}

/// Validates `raw`. `base_dir` resolves relative paths (the config file's folder).
pub fn validate(raw: RawConfig, base_dir: &Path) -> Result<Config, Vec<Problem>> {
    let mut problems = Problems::default();
    let root = TreePath::root();

    let site = {
        let path = root.key("site");
        match raw.site {
            None => {
                problems.value(root.clone(), "missing required table [site]");
                None
            }
            Some(site) => {
                let name = problems.required(&site.name, &path, "name");
                let region_code = problems.required(&site.region_code, &path, "region_code");
                if let Some(code) = &region_code
                    && (code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()))
                {
                    problems.value(path.key("region_code"), format!("region_code `{code}` must be 6 digits (GB/T 2260 行政区划代码)"));
                }
                let timezone = match site.timezone.as_deref().unwrap_or("Asia/Shanghai").parse::<chrono_tz::Tz>() {
                    Ok(tz) => tz,
                    Err(_) => {
                        problems.value(path.key("timezone"), "unknown timezone: expected an IANA name such as `Asia/Shanghai`");
                        chrono_tz::Asia::Shanghai
                    }
                };
                let position = match (site.lat, site.lon) {
                    (None, None) => None,
                    (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => Some((lat, lon)),
                    (Some(_), Some(_)) => {
                        problems.value(path.key("lat"), "site lat must be -90 to 90 and lon -180 to 180");
                        None
                    }
                    _ => {
                        problems.value(path.clone(), "give both `lat` and `lon` for the site, or neither");
                        None
                    }
                };
                match (name, region_code) {
                    (Some(name), Some(region_code)) => Some(Site { name, region_code, timezone, position }),
                    _ => None,
                }
            }
        }
    };

    let quota_mb = problems.number(
        raw.storage.as_ref().and_then(|s| s.quota_mb),
        DEFAULT_STORAGE_QUOTA_MB,
        root.key("storage").key("quota_mb"),
        |mb| mb > 0.0,
        "more than 0 megabytes",
    );
    let storage = Storage {
        dir: raw
            .storage
            .as_ref()
            .and_then(|s| s.dir.as_deref())
            .map(|dir| resolve(base_dir, dir))
            .unwrap_or_else(|| PathBuf::from("/var/lib/steward")),
        quota_bytes: (quota_mb * 1024.0 * 1024.0) as u64,
    };

    let control = {
        let path = root.key("control");
        let raw_control = raw.control.as_ref();
        let listen = match raw_control.and_then(|c| c.listen.as_deref()) {
            None => Control::default().listen,
            Some(listen) => listen.parse::<SocketAddr>().unwrap_or_else(|_| {
                problems.value(path.key("listen"), format!("`{listen}` is not an address: expected IP:PORT such as `0.0.0.0:8080`"));
                Control::default().listen
            }),
        };
        let tls = match (raw_control.and_then(|c| c.tls_cert.as_deref()), raw_control.and_then(|c| c.tls_key.as_deref())) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(ControlTls { cert: resolve(base_dir, cert), key: resolve(base_dir, key) }),
            (Some(_), None) => {
                problems.value(path.key("tls_cert"), "give `tls_key` (the private key's PEM file) with `tls_cert`, or neither");
                None
            }
            (None, Some(_)) => {
                problems.value(path.key("tls_key"), "give `tls_cert` (the certificate chain's PEM file) with `tls_key`, or neither");
                None
            }
        };
        Control { listen, tls }
    };

    let model = {
        let path = root.key("model");
        let manifest = raw.model.as_ref().and_then(|m| m.manifest.as_deref()).map(|m| resolve(base_dir, m));
        let mut whole = |key: &str, value: Option<i64>, default: i64, range: std::ops::RangeInclusive<i64>, unit: &str| match value {
            None => default as u64,
            Some(n) if range.contains(&n) => n as u64,
            Some(n) => {
                problems.value(path.key(key), format!("{key} = {n}: expected {} to {} {unit}", range.start(), range.end()));
                default as u64
            }
        };
        let model = raw.model.as_ref();
        let threads = whole("threads", model.and_then(|m| m.threads), DEFAULT_MODEL_THREADS as i64, 1..=64, "threads") as usize;
        let max_batch = whole("max_batch", model.and_then(|m| m.max_batch), 4, 1..=64, "frames") as usize;
        let max_wait = Duration::from_millis(whole("max_wait_ms", model.and_then(|m| m.max_wait_ms), 20, 0..=1000, "milliseconds"));
        ModelRef { manifest, threads, max_batch, max_wait }
    };

    let context = Context { base_dir, site_has_position: site.as_ref().is_some_and(|s| s.position.is_some()) };
    let mut cameras: Vec<Camera> = Vec::new();
    for (index, raw_camera) in raw.camera.into_iter().enumerate() {
        let path = root.key("camera").index(index);
        if let Some(camera) = validate_camera(raw_camera, &path, &context, &mut problems) {
            if cameras.iter().any(|c| c.id == camera.id) {
                problems.value(path.key("id"), format!("camera id `{}` is used twice", camera.id));
            }
            cameras.push(camera);
        }
    }

    let device = {
        let raw_device = raw.device.unwrap_or(RawDevice { id: None, platform: None });
        let platforms = Platform::ALL.map(|p| (p.as_str(), p));
        let platform = problems.choice(raw_device.platform.as_deref(), root.key("device").key("platform"), "platform", &platforms);
        Device {
            id: raw_device.id.unwrap_or_else(|| site.as_ref().map_or_else(|| "steward".to_string(), |s| s.name.clone())),
            platform,
        }
    };

    let mut sinks = Vec::new();
    let mut sink_names = HashSet::new();
    let sink_kinds: Vec<Option<String>> = raw.sink.iter().map(|s| s.kind.clone()).collect();
    let about = mqtt::SinkContext { site: site.as_ref().map_or("", |s| s.name.as_str()), id: &device.id, base_dir };
    for (index, raw_sink) in raw.sink.into_iter().enumerate() {
        let path = root.key("sink").index(index);
        let first_of_kind = !sink_kinds[..index].contains(&raw_sink.kind);
        if let Some(sink) = validate_sink(raw_sink, index, first_of_kind, &about, &path, &mut problems) {
            if !sink_names.insert(sink.name().to_string()) {
                problems.value(path, format!("sink name `{}` is used twice: give each sink its own `name`", sink.name()));
            }
            sinks.push(sink);
        }
    }

    let mut codes = CodeTable::default();
    for (kind_name, raw_codes) in raw.codes.into_iter().flatten() {
        let path = root.key("codes").key(&kind_name);
        let Some(kind) = ViolationKind::parse(&kind_name) else {
            problems.value(path, format!("unknown kind `{kind_name}` in [codes]: expected one of {}", kind_names()));
            continue;
        };
        let digits = |value: &Option<String>, len: usize, key: &str, problems: &mut Problems| {
            if let Some(v) = value
                && (v.len() != len || !v.bytes().all(|b| b.is_ascii_digit()))
            {
                problems.value(path.key(key), format!("`{v}` must be {len} digits"));
            }
        };
        digits(&raw_codes.gb47678, 5, "gb47678", &mut problems);
        digits(&raw_codes.cjt214, 4, "cjt214", &mut problems);
        codes.overrides.insert(kind, CodeOverride { gb47678: raw_codes.gb47678, cjt214: raw_codes.cjt214, city: raw_codes.city });
    }

    if !problems.0.is_empty() {
        return Err(problems.0);
    }
    let privacy = Privacy { blur_faces: raw.privacy.and_then(|p| p.blur_faces).unwrap_or(Privacy::default().blur_faces) };
    Ok(Config { site: site.expect("reported when missing"), storage, control, device, model, privacy, cameras, sinks, codes })
}

/// What rule validation needs to know about the rest of the file.
struct Context<'a> {
    /// The config file's folder: relative paths are relative to it.
    base_dir: &'a Path,
    site_has_position: bool,
}

fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() { path } else { base_dir.join(path) }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn validate_camera(raw: RawCamera, path: &TreePath, context: &Context<'_>, problems: &mut Problems) -> Option<Camera> {
    let id = problems.required(&raw.id, path, "id");
    if let Some(id) = &id
        && !valid_id(id)
    {
        problems.value(path.key("id"), format!("camera id `{id}`: use letters, digits, `-`, `_` or `.` (at most 64)"));
    }
    if let Some(gb) = &raw.gb28181_id
        && (gb.len() != 20 || !gb.bytes().all(|b| b.is_ascii_digit()))
    {
        problems.value(path.key("gb28181_id"), "gb28181_id must be 20 digits (GB/T 28181 device code)");
    }
    let url = problems.required(&raw.url, path, "url").and_then(|text| match parse_camera_url(&text) {
        Ok(url) => Some(url),
        Err(why) => {
            problems.value(path.key("url"), why);
            None
        }
    });
    let analysis_fps = problems.number(raw.analysis_fps, 1.0, path.key("analysis_fps"), |v| v > 0.0 && v <= 30.0, "more than 0 and at most 30 frames per second");
    let clip_s = raw.clip_s.map(|v| problems.number(Some(v), 0.0, path.key("clip_s"), |v| (2.0..=60.0).contains(&v), "2 to 60 seconds"));
    let decode = problems.choice(raw.decode.as_deref(), path.key("decode"), "decode", &[("all", DecodeMode::All), ("keyframes", DecodeMode::Keyframes)]);
    let transport = problems.choice(raw.transport.as_deref(), path.key("transport"), "transport", &[("tcp", Transport::Tcp), ("udp", Transport::Udp)]);
    let stall_s = problems.number(raw.stall_s, 20.0, path.key("stall_s"), |v| (2.0..=600.0).contains(&v), "2 to 600 seconds");
    let retry_max_s = problems.number(raw.retry_max_s, 4.0, path.key("retry_max_s"), |v| (1.0..=3600.0).contains(&v), "1 to 3600 seconds");
    let pace = problems.choice(raw.pace.as_deref(), path.key("pace"), "pace", &[("fast", Pace::Fast), ("realtime", Pace::Realtime)]);
    let location = raw.location.and_then(|loc| {
        let lpath = path.key("location");
        let lon = problems.required(&loc.lon, &lpath, "lon");
        let lat = problems.required(&loc.lat, &lpath, "lat");
        if let Some(lon) = lon
            && !(-180.0..=180.0).contains(&lon)
        {
            problems.value(lpath.key("lon"), format!("lon {lon}: expected -180 to 180"));
        }
        if let Some(lat) = lat
            && !(-90.0..=90.0).contains(&lat)
        {
            problems.value(lpath.key("lat"), format!("lat {lat}: expected -90 to 90"));
        }
        let crs = loc.crs.unwrap_or_else(|| "WGS84".to_string());
        if crs != "WGS84" && crs != "CGCS2000" {
            problems.value(lpath.key("crs"), format!("crs `{crs}`: expected `WGS84` or `CGCS2000`"));
        }
        Some(Location { lon: lon?, lat: lat?, crs, address: loc.address, grid_code: loc.grid_code })
    });

    let mut zones: Vec<Zone> = Vec::new();
    for (index, raw_zone) in raw.zone.into_iter().enumerate() {
        let zpath = path.key("zone").index(index);
        if let Some(zone) = validate_zone(raw_zone, &zpath, context, problems) {
            if zones.iter().any(|z| z.id == zone.id) {
                problems.value(zpath.key("id"), format!("zone id `{}` is used twice in this camera", zone.id));
            }
            zones.push(zone);
        }
    }
    let id = id?;
    Some(Camera {
        name: raw.name.unwrap_or_else(|| id.clone()),
        id,
        gb28181_id: raw.gb28181_id,
        url: url?,
        analysis_fps,
        decode,
        transport,
        stall_s,
        retry_max_s,
        pace,
        looping: raw.looping.unwrap_or(false),
        clip_s,
        location,
        zones,
    })
}

/// Checks a camera address: a URL with a scheme GStreamer can open here.
pub fn parse_camera_url(text: &str) -> Result<CameraUrl, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{}` is not a valid URL ({e}): expected `rtsp://user:pass@host:554/path` or `file:///absolute/path.mp4`", redact_text(text)))?;
    match url.scheme() {
        "rtsp" | "rtsps" | "rtspt" | "http" | "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("`{}` has no host", CameraUrl::new(url).redacted()));
            }
        }
        "file" => {
            if url.to_file_path().is_err() || url.path().len() <= 1 {
                return Err(format!("`{}` is not an absolute file path: expected `file:///absolute/path.mp4`", redact_text(text)));
            }
        }
        other => return Err(format!("unsupported camera URL scheme `{other}`: expected rtsp, rtsps, http(s) or file")),
    }
    Ok(CameraUrl::new(url))
}

/// Hides anything between `//` and `@` in text that failed to parse as a URL.
fn redact_text(text: &str) -> String {
    match (text.find("//"), text.rfind('@')) {
        (Some(start), Some(end)) if end > start + 2 => format!("{}***{}", &text[..start + 2], &text[end..]),
        _ => text.to_string(),
    }
}

fn validate_zone(raw: RawZone, path: &TreePath, context: &Context<'_>, problems: &mut Problems) -> Option<Zone> {
    let id = problems.required(&raw.id, path, "id");
    if let Some(id) = &id
        && !valid_id(id)
    {
        problems.value(path.key("id"), format!("zone id `{id}`: use letters, digits, `-`, `_` or `.` (at most 64)"));
    }
    let polygon = problems.required(&raw.polygon, path, "polygon").and_then(|points| {
        let ppath = path.key("polygon");
        if points.len() < 3 {
            problems.value(ppath, format!("a polygon needs at least 3 points, this one has {}", points.len()));
            return None;
        }
        let mut vertices = Vec::with_capacity(points.len());
        for (index, point) in points.iter().enumerate() {
            match point.as_slice() {
                [x, y] if (0.0..=1.0).contains(x) && (0.0..=1.0).contains(y) => vertices.push((*x, *y)),
                [_, _] => problems.value(ppath.index(index), "polygon points are normalised image coordinates: x and y from 0 to 1"),
                _ => problems.value(ppath.index(index), format!("a polygon point is [x, y]; this one has {} numbers", point.len())),
            }
        }
        (vertices.len() == points.len()).then(|| Polygon::new(vertices))
    });
    let mut rules: Vec<RuleConfig> = Vec::new();
    for (index, raw_rule) in raw.rules.into_iter().enumerate() {
        let rpath = path.key("rules").index(index);
        if let Some(rule) = validate_rule(raw_rule, &rpath, context, problems) {
            if rules.iter().any(|r| r.kind() == rule.kind()) {
                problems.value(rpath, format!("rule `{}` appears twice in this zone", rule.kind()));
            }
            rules.push(rule);
        }
    }
    let id = id?;
    Some(Zone { name: raw.name.unwrap_or_else(|| id.clone()), id, polygon: polygon?, rules })
}

fn kind_names() -> String {
    ViolationKind::ALL.iter().map(ViolationKind::as_str).collect::<Vec<_>>().join(", ")
}

fn validate_rule(raw: RawRule, path: &TreePath, context: &Context<'_>, problems: &mut Problems) -> Option<RuleConfig> {
    let name = problems.required(&raw.kind, path, "kind")?;
    let Some(kind) = ViolationKind::parse(&name) else {
        problems.value(path.key("kind"), format!("unknown rule kind `{name}`: expected one of {}", kind_names()));
        return None;
    };
    let seconds = |v: f64| v > 0.0 && v <= 86_400.0;
    const SECONDS: &str = "more than 0 and at most 86400 seconds";
    let dwell_s = problems.number(raw.dwell_s, kind.default_dwell_s(), path.key("dwell_s"), seconds, SECONDS);
    let schedule = match raw.schedule.as_ref().map(Schedule::from_spec) {
        None => Schedule::always(),
        Some(Ok(schedule)) => {
            if schedule.needs_sun() && !context.site_has_position {
                problems.value(path.key("schedule").key("windows"), "sunrise/sunset-relative windows need the site's position: set `lat` and `lon` in [site]");
            }
            schedule
        }
        Some(Err(errors)) => {
            for error in errors {
                problems.value(path.key("schedule").key(error.field).index(error.index), error.message);
            }
            Schedule::always()
        }
    };
    let defaults = LifecycleParams::default();
    let lifecycle = LifecycleParams {
        resolve_after_s: problems.number(raw.resolve_after_s, defaults.resolve_after_s, path.key("resolve_after_s"), seconds, SECONDS),
        renotify_s: raw.renotify_s.map(|v| problems.number(Some(v), 0.0, path.key("renotify_s"), |v| v >= 10.0 && v <= 86_400.0, "10 to 86400 seconds")),
        cooldown_s: problems.number(raw.cooldown_s, defaults.cooldown_s, path.key("cooldown_s"), |v| (0.0..=86_400.0).contains(&v), "0 to 86400 seconds"),
    };
    let not_for = |value: Option<f64>, key: &str, problems: &mut Problems| {
        if value.is_some() {
            problems.value(path.key(key), format!("`{key}` does not apply to `{name}`"));
        }
    };
    let params = match kind {
        ViolationKind::StreetVending => {
            not_for(raw.dark_ratio, "dark_ratio", problems);
            not_for(raw.lit_level, "lit_level", problems);
            let defaults = StreetVendingParams::default();
            let min_persons = match raw.min_persons {
                None => defaults.min_persons,
                Some(n) if (1..=20).contains(&n) => n as u32,
                Some(n) => {
                    problems.value(path.key("min_persons"), format!("{n} persons: expected 1 to 20"));
                    defaults.min_persons
                }
            };
            let tracking = tracking_params(&raw, path, (defaults.miss_tolerance_s, defaults.iou_threshold, defaults.min_confidence), problems);
            RuleParams::StreetVending(StreetVendingParams {
                min_persons,
                static_objects: raw.static_objects.unwrap_or(defaults.static_objects),
                reach: problems.number(raw.reach, defaults.reach, path.key("reach"), |v| v > 0.0 && v <= 0.5, "more than 0 and at most 0.5 (normalised image units)"),
                miss_tolerance_s: tracking.0,
                iou_threshold: tracking.1,
                min_confidence: tracking.2,
            })
        }
        ViolationKind::ExposedWaste => {
            not_for(raw.reach, "reach", problems);
            not_for(raw.dark_ratio, "dark_ratio", problems);
            not_for(raw.lit_level, "lit_level", problems);
            let defaults = ExposedWasteParams::default();
            let reference = raw.reference.as_deref().map(|r| resolve(context.base_dir, r));
            if let Some(reference) = &reference
                && let Err(error) = image::image_dimensions(reference)
            {
                problems.value(path.key("reference"), format!("cannot read the clean reference picture {}: {error}", reference.display()));
            }
            RuleParams::ExposedWaste(ExposedWasteParams {
                reference,
                learn_s: problems.number(raw.learn_s, defaults.learn_s, path.key("learn_s"), |v| v > 0.0 && v <= 3600.0, "more than 0 and at most 3600 seconds"),
                min_area: problems.number(raw.min_area, defaults.min_area, path.key("min_area"), |v| v > 0.0 && v < 1.0, "a share of the image area, more than 0 and less than 1"),
                threshold: problems.number(raw.threshold, defaults.threshold, path.key("threshold"), |v| v > 0.0 && v <= 255.0, "more than 0 and at most 255"),
            })
        }
        ViolationKind::UnlitSignage => {
            not_for(raw.reach, "reach", problems);
            not_for(raw.miss_tolerance_s, "miss_tolerance_s", problems);
            not_for(raw.iou_threshold, "iou_threshold", problems);
            not_for(raw.min_confidence, "min_confidence", problems);
            let defaults = UnlitSignageParams::default();
            RuleParams::UnlitSignage(UnlitSignageParams {
                dark_ratio: problems.number(raw.dark_ratio, defaults.dark_ratio, path.key("dark_ratio"), |v| v > 0.0 && v < 1.0, "more than 0 and less than 1"),
                lit_level: raw.lit_level.map(|v| problems.number(Some(v), 0.0, path.key("lit_level"), |v| v > 0.0 && v <= 255.0, "more than 0 and at most 255")),
            })
        }
        ViolationKind::IllegalParking => {
            not_for(raw.reach, "reach", problems);
            not_for(raw.dark_ratio, "dark_ratio", problems);
            not_for(raw.lit_level, "lit_level", problems);
            let defaults = IllegalParkingParams::default();
            let tracking = tracking_params(&raw, path, (defaults.miss_tolerance_s, defaults.iou_threshold, defaults.min_confidence), problems);
            RuleParams::IllegalParking(IllegalParkingParams {
                miss_tolerance_s: tracking.0,
                iou_threshold: tracking.1,
                min_confidence: tracking.2,
            })
        }
    };
    Some(RuleConfig { kind, dwell_s, schedule, lifecycle, params })
}

/// The parameters of rules that remember objects: (miss_tolerance_s, iou_threshold,
/// min_confidence), each checked, defaults in the same order.
fn tracking_params(raw: &RawRule, path: &TreePath, defaults: (f64, f64, f64), problems: &mut Problems) -> (f64, f64, f64) {
    (
        problems.number(raw.miss_tolerance_s, defaults.0, path.key("miss_tolerance_s"), |v| (0.0..=3600.0).contains(&v), "0 to 3600 seconds"),
        problems.number(raw.iou_threshold, defaults.1, path.key("iou_threshold"), |v| v > 0.0 && v <= 1.0, "more than 0 and at most 1"),
        problems.number(raw.min_confidence, defaults.2, path.key("min_confidence"), |v| (0.0..=1.0).contains(&v), "0 to 1"),
    )
}

fn validate_sink(raw: RawSink, index: usize, first_of_kind: bool, device: &mqtt::SinkContext<'_>, path: &TreePath, problems: &mut Problems) -> Option<Sink> {
    let kind = problems.required(&raw.kind, path, "kind")?;
    match kind.as_str() {
        "mqtt" => mqtt::validate_mqtt_sink(raw, index, first_of_kind, device, path, problems).map(Sink::Mqtt),
        "http" => http::validate_http_sink(raw, index, device.base_dir, path, problems).map(Sink::Http),
        other => {
            problems.value(path.key("kind"), format!("unknown sink kind `{other}`: expected `http` or `mqtt`"));
            None
        }
    }
}

/// An unknown key becomes a problem pointing at the key itself.
pub fn unknown_key(path: TreePath) -> Problem {
    let mut parent = path.clone();
    let key = match parent.0.pop() {
        Some(super::diagnostic::Segment::Key(key)) => key,
        _ => path.to_string(),
    };
    let place = if parent.0.is_empty() { "at the top level".to_string() } else { format!("in {parent}") };
    Problem { path, aim: Aim::Key, message: format!("unknown key `{key}` {place}") }
}
