//! Reading a config file: TOML syntax, unknown keys and validation, all reported at once.

use std::path::Path;

use toml_edit::Document;

use super::diagnostic::{ConfigError, ConfigErrors, Segment, TreePath, line_col, path_at, span_of};
use super::raw::RawConfig;
use super::types::Config;
use super::validate::{Problem, unknown_key, validate};

/// Reads and validates the config at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: shown.clone(),
        errors: vec![ConfigError { line_col: None, path: None, message: format!("cannot read config file: {e}") }],
    })?;
    let base_dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    load_str(&text, &shown, base_dir)
}

/// Validates config `text`; `file` names it in messages, `base_dir` resolves relative paths.
pub fn load_str(text: &str, file: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let fail = |errors: Vec<ConfigError>| ConfigErrors { file: file.to_string(), errors };
    let doc = Document::parse(text).map_err(|e| {
        fail(vec![ConfigError {
            line_col: e.span().map(|span| line_col(text, span.start)),
            path: None,
            message: first_line(e.message()),
        }])
    })?;

    let mut unknown = Vec::new();
    let deserializer = toml::Deserializer::parse(text).map_err(|e| fail(vec![serde_error(text, &doc, &e)]))?;
    let raw: Result<RawConfig, _> = serde_ignored::deserialize(deserializer, |ignored| unknown.push(unknown_key(tree_path(&ignored))));
    let mut problems: Vec<Problem> = unknown;
    let raw = match raw {
        Ok(raw) => Some(raw),
        Err(e) => {
            let mut errors = locate(text, &doc, problems);
            errors.push(serde_error(text, &doc, &e));
            errors.sort_by_key(|e| e.line_col);
            return Err(fail(errors));
        }
    };
    match validate(raw.expect("checked above"), base_dir) {
        Ok(config) if problems.is_empty() => Ok(config),
        Ok(_) => Err(fail(locate(text, &doc, problems))),
        Err(found) => {
            problems.extend(found);
            Err(fail(locate(text, &doc, problems)))
        }
    }
}

fn locate(text: &str, doc: &Document<&str>, problems: Vec<Problem>) -> Vec<ConfigError> {
    let mut errors: Vec<ConfigError> = problems
        .into_iter()
        .map(|p| ConfigError {
            line_col: span_of(doc, &p.path, p.aim).map(|s| line_col(text, s.start)),
            path: shown_path(&p.path),
            message: p.message,
        })
        .collect();
    errors.sort_by_key(|e| e.line_col);
    errors
}

fn serde_error(text: &str, doc: &Document<&str>, e: &toml::de::Error) -> ConfigError {
    ConfigError {
        line_col: e.span().map(|span| line_col(text, span.start)),
        path: e.span().and_then(|span| path_at(doc, span.start)).and_then(|path| shown_path(&path)),
        message: first_line(e.message()),
    }
}

/// The tree path as shown to people and the API; the root has none.
fn shown_path(path: &TreePath) -> Option<String> {
    (!path.0.is_empty()).then(|| path.to_string())
}

fn first_line(message: &str) -> String {
    message.trim().lines().next().unwrap_or("invalid TOML").to_string()
}

fn tree_path(path: &serde_ignored::Path<'_>) -> TreePath {
    fn walk(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
        use serde_ignored::Path as P;
        match path {
            P::Root => {}
            P::Seq { parent, index } => {
                walk(parent, out);
                out.push(Segment::Index(*index));
            }
            P::Map { parent, key } => {
                walk(parent, out);
                out.push(Segment::Key(key.clone()));
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    let mut segments = Vec::new();
    walk(path, &mut segments);
    TreePath(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Platform;

    const GOOD: &str = r#"
[site]
name = "demo-crossing"
region_code = "320602"
timezone = "Asia/Shanghai"

[storage]
dir = "/tmp/steward-state"

[[camera]]
id = "cam-1"
url = "rtsp://admin:hunter2@10.0.0.5:554/Streaming/Channels/102"
analysis_fps = 2.0

[[camera.zone]]
id = "kerb-east"
polygon = [[0.80, 0.00], [1.00, 0.00], [1.00, 0.25], [0.80, 0.25]]
rules = [{ kind = "illegal_parking", dwell_s = 20 }]

[[sink]]
kind = "http"
url = "http://127.0.0.1:9000/incidents"
hmac_secret = "change-me"
"#;

    #[test]
    fn the_contract_document_is_accepted() {
        let config = load_str(GOOD, "good.toml", Path::new("/")).unwrap();
        assert_eq!(config.cameras[0].zones[0].rules[0].kind().as_str(), "illegal_parking");
        assert_eq!(config.control.listen.port(), 8080);
        assert_eq!(config.cameras[0].url.to_string(), "rtsp://***@10.0.0.5:554/Streaming/Channels/102");
    }

    #[test]
    fn control_tls_takes_a_certificate_and_its_key_relative_to_the_file() {
        let with_tls = GOOD.replace("dir = \"/tmp/steward-state\"", "dir = \"/tmp/steward-state\"\n\n[control]\ntls_cert = \"tls/box.crt\"\ntls_key = \"/etc/steward/box.key\"");
        let config = load_str(&with_tls, "tls.toml", Path::new("/etc/steward")).unwrap();
        let tls = config.control.tls.expect("TLS configured");
        assert_eq!(tls.cert, Path::new("/etc/steward/tls/box.crt"));
        assert_eq!(tls.key, Path::new("/etc/steward/box.key"));

        let half = with_tls.replace("tls_key = \"/etc/steward/box.key\"", "");
        let shown = load_str(&half, "half.toml", Path::new("/")).unwrap_err().to_string();
        assert!(shown.contains("half.toml:") && shown.contains("give `tls_key`"), "{shown}");
    }

    #[test]
    fn an_http_sink_takes_a_ca_and_a_client_certificate_with_its_key_relative_to_the_file() {
        let https = GOOD.replace("http://127.0.0.1:9000/incidents", "https://127.0.0.1:9000/incidents");
        let with_tls = format!("{https}ca_file = \"tls/city-ca.pem\"\nclient_cert = \"tls/box.crt\"\nclient_key = \"/etc/steward/box.key\"\n");
        let config = load_str(&with_tls, "tls.toml", Path::new("/etc/steward")).unwrap();
        let crate::config::Sink::Http(sink) = &config.sinks[0] else { panic!("an HTTP sink") };
        assert_eq!(sink.ca_file.as_deref(), Some(Path::new("/etc/steward/tls/city-ca.pem")));
        let client = sink.client_cert.as_ref().expect("client certificate configured");
        assert_eq!((client.cert.as_path(), client.key.as_path()), (Path::new("/etc/steward/tls/box.crt"), Path::new("/etc/steward/box.key")));

        let half = with_tls.replace("client_key = \"/etc/steward/box.key\"\n", "");
        let errors = load_str(&half, "half.toml", Path::new("/")).unwrap_err();
        assert_eq!(errors.errors.len(), 1, "{errors}");
        assert_eq!(errors.errors[0].path.as_deref(), Some("sink[0].client_cert"));
        assert!(errors.to_string().starts_with("half.toml:25:15: give `client_key`"), "{errors}");
        let other_half = with_tls.replace("client_cert = \"tls/box.crt\"\n", "");
        assert!(load_str(&other_half, "half.toml", Path::new("/")).unwrap_err().to_string().contains("half.toml:25:14: give `client_cert`"));

        let plain = format!("{GOOD}ca_file = \"ca.pem\"\n");
        let errors = load_str(&plain, "plain.toml", Path::new("/")).unwrap_err().to_string();
        assert!(errors.contains("plain.toml:24:11: `ca_file` applies to an https URL only"), "{errors}");
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let bad = GOOD
            .replace("analysis_fps = 2.0", "analysis_fsp = 2.0")
            .replace("[[0.80, 0.00], [1.00, 0.00], [1.00, 0.25], [0.80, 0.25]]", "[[0.8, 0.0], [1.0, 0.0]]")
            .replace("rtsp://admin:hunter2@10.0.0.5:554/Streaming/Channels/102", "rtsp//admin:hunter2@nowhere")
            .replace("dwell_s = 20", "dwel_s = 20");
        let errors = load_str(&bad, "bad.toml", Path::new("/")).unwrap_err();
        let shown = errors.to_string();
        assert_eq!(errors.errors.len(), 4, "{shown}");
        assert!(shown.contains("bad.toml:13:1: unknown key `analysis_fsp` in camera[0]"), "{shown}");
        assert!(shown.contains("bad.toml:12:7: `rtsp//***@nowhere` is not a valid URL"), "{shown}");
        assert!(shown.contains("bad.toml:17:11: a polygon needs at least 3 points, this one has 2"), "{shown}");
        assert!(shown.contains("bad.toml:18:38: unknown key `dwel_s`"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let paths: Vec<Option<&str>> = errors.errors.iter().map(|e| e.path.as_deref()).collect();
        assert_eq!(
            paths,
            [Some("camera[0].url"), Some("camera[0].analysis_fsp"), Some("camera[0].zone[0].polygon"), Some("camera[0].zone[0].rules[0].dwel_s")],
            "{shown}"
        );
    }

    #[test]
    fn schedule_problems_are_located_in_the_schedule() {
        let rule = |schedule: &str| GOOD.replace(r#"{ kind = "illegal_parking", dwell_s = 20 }"#, &format!(r#"{{ kind = "illegal_parking", dwell_s = 20, schedule = {schedule} }}"#));
        let bad = rule(r#"{ windows = ["07:00-25:00", "sunset-22:00"], weekdays = ["mon", "fir"] }"#);
        let errors = load_str(&bad, "bad.toml", Path::new("/")).unwrap_err();
        let shown = errors.to_string();
        assert_eq!(errors.errors.len(), 2, "{shown}");
        assert!(shown.contains("bad.toml:18:76: `25:00` is not a time"), "{shown}");
        assert!(shown.contains("bad.toml:18:127: unknown weekday `fir`"), "{shown}");

        let sun = rule(r#"{ windows = ["sunset+15m-22:00"] }"#);
        let errors = load_str(&sun, "sun.toml", Path::new("/")).unwrap_err();
        assert!(errors.to_string().contains("sun.toml:18:75: sunrise/sunset-relative windows need the site's position"), "{errors}");
        let placed = sun.replace("timezone = \"Asia/Shanghai\"", "timezone = \"Asia/Shanghai\"\nlat = 31.81\nlon = 119.97");
        let config = load_str(&placed, "sun.toml", Path::new("/")).unwrap();
        assert!(config.cameras[0].zones[0].rules[0].schedule.needs_sun());
    }

    #[test]
    fn the_platform_defaults_to_auto_and_a_bad_one_is_located_with_the_choices() {
        let config = load_str(GOOD, "good.toml", Path::new("/")).unwrap();
        assert_eq!(config.device.platform, Platform::Auto);
        let jetson = format!("{GOOD}\n[device]\nplatform = \"jetson\"\n");
        assert_eq!(load_str(&jetson, "jetson.toml", Path::new("/")).unwrap().device.platform, Platform::Jetson);
        let bogus = format!("{GOOD}\n[device]\nplatform = \"bogus\"\n");
        let errors = load_str(&bogus, "bad.toml", Path::new("/")).unwrap_err();
        assert_eq!(errors.errors.len(), 1, "{errors}");
        assert_eq!(errors.to_string(), "bad.toml:26:12: platform `bogus`: expected one of `auto`, `x86-cpu`, `intel-vaapi`, `jetson`");
    }

    #[test]
    fn batching_and_reconnect_settings_have_defaults_and_located_limits() {
        let config = load_str(GOOD, "good.toml", Path::new("/")).unwrap();
        assert_eq!((config.model.max_batch, config.model.max_wait), (4, std::time::Duration::from_millis(20)));
        assert_eq!(config.cameras[0].retry_max_s, 4.0);
        let bad = format!("{}\n[model]\nmax_batch = 0\nmax_wait_ms = 5000\n", GOOD.replace("analysis_fps = 2.0", "analysis_fps = 2.0\nretry_max_s = 0.5"));
        let errors = load_str(&bad, "bad.toml", Path::new("/")).unwrap_err().to_string();
        assert!(errors.contains("max_batch = 0: expected 1 to 64 frames"), "{errors}");
        assert!(errors.contains("max_wait_ms = 5000: expected 0 to 1000 milliseconds"), "{errors}");
        assert!(errors.contains("1 to 3600 seconds"), "{errors}");
        assert_eq!(errors.lines().filter(|l| l.starts_with("bad.toml:")).count(), 3, "{errors}");
    }

    #[test]
    fn an_unknown_choice_names_the_two_it_could_be() {
        let bad = GOOD.replace("analysis_fps = 2.0", "analysis_fps = 2.0\ndecode = \"some\"\ntransport = \"quic\"\npace = \"slow\"");
        let errors = load_str(&bad, "bad.toml", Path::new("/")).unwrap_err().to_string();
        for expected in ["decode `some`: expected `all` or `keyframes`", "transport `quic`: expected `tcp` or `udp`", "pace `slow`: expected `fast` or `realtime`"] {
            assert!(errors.contains(expected), "{errors}");
        }
    }

    #[test]
    fn a_bad_file_url_does_not_show_its_credentials() {
        for url in ["file://admin:hunter2@cam.local/clip.mp4", "file://admin:hunter2@/"] {
            let bad = GOOD.replace("rtsp://admin:hunter2@10.0.0.5:554/Streaming/Channels/102", url);
            let errors = load_str(&bad, "bad.toml", Path::new("/")).unwrap_err().to_string();
            assert!(errors.contains("bad.toml:12:7: ") && !errors.contains("hunter2"), "{errors}");
        }
    }

    #[test]
    fn a_wrong_type_names_its_place() {
        let bad = GOOD.replace("analysis_fps = 2.0", "analysis_fps = \"fast\"");
        let errors = load_str(&bad, "bad.toml", Path::new("/")).unwrap_err();
        assert_eq!(errors.errors[0].line_col, Some((13, 16)), "{errors}");
        assert_eq!(errors.errors[0].path.as_deref(), Some("camera[0].analysis_fps"), "{errors}");
    }

    #[test]
    fn a_syntax_error_names_its_place() {
        let errors = load_str("[site\nname = 1", "bad.toml", Path::new("/")).unwrap_err();
        assert_eq!(errors.errors[0].line_col.map(|(l, _)| l), Some(1), "{errors}");
    }
}
