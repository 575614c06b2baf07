//! Validation of `[[sink]] kind = "mqtt"`: broker address, topic templates, session and
//! credentials, each problem at its key.

use std::path::Path;

use super::{Problems, redact_text, resolve, valid_id};
use crate::config::diagnostic::TreePath;
use crate::config::raw::RawSink;
use crate::config::types::{MqttSinkConfig, Secret};
use crate::sink::{TopicField, TopicTemplate};

/// What an MQTT sink takes from the rest of the config.
pub(super) struct SinkContext<'a> {
    /// The site's name, for `{site}` in the status topic.
    pub site: &'a str,
    /// The device id: `{device}`, and the default client id.
    pub id: &'a str,
    /// The config file's folder: `ca_file` is relative to it.
    pub base_dir: &'a Path,
}

pub const DEFAULT_TOPIC: &str = "steward/{site}/{camera}/{kind}";
pub const DEFAULT_STATUS_TOPIC: &str = "steward/{site}/{device}/status";
const MQTT_KEYS: [&str; 6] = ["topic", "status_topic", "client_id", "username", "password", "keep_alive_s"];

/// Which of the keys only an MQTT sink has are written (in `MQTT_KEYS` order). (`ca_file` is
/// shared by both kinds.)
fn mqtt_keys(raw: &RawSink) -> [bool; 6] {
    [raw.topic.is_some(), raw.status_topic.is_some(), raw.client_id.is_some(), raw.username.is_some(), raw.password.is_some(), raw.keep_alive_s.is_some()]
}

/// An HTTP sink refuses the MQTT keys (a likely mix-up, not silently ignored).
pub(super) fn refuse_mqtt_keys(raw: &RawSink, path: &TreePath, problems: &mut Problems) {
    for (key, given) in MQTT_KEYS.iter().zip(mqtt_keys(raw)) {
        if given {
            problems.value(path.key(key), format!("`{key}` does not apply to an `http` sink"));
        }
    }
}

/// The name of an unnamed MQTT sink: `mqtt` for the first, `mqtt-<index>` for later ones.
pub(crate) fn default_name(index: usize, first_of_kind: bool) -> String {
    if first_of_kind { "mqtt".to_string() } else { format!("mqtt-{index}") }
}

pub(super) fn validate_mqtt_sink(raw: RawSink, index: usize, first_of_kind: bool, device: &SinkContext<'_>, path: &TreePath, problems: &mut Problems) -> Option<MqttSinkConfig> {
    let http_only = [
        ("hmac_secret", raw.hmac_secret.is_some()),
        ("timeout_s", raw.timeout_s.is_some()),
        ("client_cert", raw.client_cert.is_some()),
        ("client_key", raw.client_key.is_some()),
        ("evidence", raw.evidence.is_some()),
        ("evidence_base_url", raw.evidence_base_url.is_some()),
        ("evidence_url_ttl_s", raw.evidence_url_ttl_s.is_some()),
    ];
    for (key, given) in http_only {
        if given {
            problems.value(path.key(key), format!("`{key}` does not apply to an `mqtt` sink"));
        }
    }
    let url = problems.required(&raw.url, path, "url").and_then(|text| match url::Url::parse(&text) {
        Ok(url) if !matches!(url.scheme(), "mqtt" | "mqtts") => {
            problems.value(path.key("url"), format!("MQTT sink URL scheme `{}`: expected `mqtt://host:1883` or `mqtts://host:8883`", url.scheme()));
            None
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => {
            problems.value(path.key("url"), "the broker URL has no host");
            None
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            problems.value(path.key("url"), "put the broker's user name and password in `username` and `password`, not in the URL");
            None
        }
        Ok(url) if !matches!(url.path(), "" | "/") || url.query().is_some() => {
            problems.value(path.key("url"), "a broker URL is `mqtt://host:port` only: the topic goes in `topic`");
            None
        }
        Ok(url) => Some(url),
        Err(e) => {
            problems.value(path.key("url"), format!("`{}` is not a valid URL ({e})", redact_text(&text)));
            None
        }
    });
    let template = |key: &str, text: Option<String>, default: &str, allowed: &[TopicField], problems: &mut Problems| {
        TopicTemplate::parse(text.as_deref().unwrap_or(default), allowed).map_err(|why| problems.value(path.key(key), why)).ok()
    };
    let topic = template("topic", raw.topic, DEFAULT_TOPIC, &TopicField::ALL, problems);
    let status_topic = template("status_topic", raw.status_topic, DEFAULT_STATUS_TOPIC, &TopicField::STATUS, problems);
    let client_id = raw.client_id.unwrap_or_else(|| format!("steward-{}", device.id));
    if client_id.is_empty() || client_id.len() > 256 || client_id.contains('\0') {
        problems.value(path.key("client_id"), "client_id must be 1 to 256 bytes of text");
    }
    let username = raw.username.filter(|u| !u.is_empty());
    let password = raw.password.filter(|p| !p.is_empty()).map(Secret::new);
    if password.is_some() && username.is_none() {
        problems.value(path.key("password"), "a `password` needs a `username`");
    }
    let keep_alive_s = problems.number(raw.keep_alive_s, 30.0, path.key("keep_alive_s"), |v| (5.0..=3600.0).contains(&v) && v.fract() == 0.0, "a whole number of seconds from 5 to 3600") as u64;
    let ca_file = raw.ca_file.map(|file| resolve(device.base_dir, &file));
    if let Some(file) = &ca_file {
        if url.as_ref().is_some_and(|u| u.scheme() != "mqtts") {
            problems.value(path.key("ca_file"), "`ca_file` is for `mqtts://` brokers only");
        } else if let Err(why) = crate::sink::read_ca_file(file) {
            problems.value(path.key("ca_file"), why);
        }
    }
    let name = raw.name.unwrap_or_else(|| default_name(index, first_of_kind));
    if !valid_id(&name) {
        problems.value(path.key("name"), format!("sink name `{name}`: use letters, digits, `-`, `_` or `.`"));
    }
    let status_topic = status_topic?;
    let status = status_topic.render(|field| if field == TopicField::Site { device.site.to_string() } else { device.id.to_string() });
    Some(MqttSinkConfig { name, url: url?, topic: topic?, status_topic, status, client_id, username, password, ca_file, keep_alive_s })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Sink, load_str};

    const BASE: &str = r#"
[site]
name = "demo-crossing"
region_code = "320602"

[[sink]]
kind = "http"
url = "http://127.0.0.1:9000/incidents"
hmac_secret = "change-me"
"#;

    fn mqtt(sink: &str) -> String {
        format!("{BASE}\n[[sink]]\nkind = \"mqtt\"\n{sink}")
    }

    /// `file:line:col` of the value of `key` (its first occurrence after `after`) in `text`.
    fn place(text: &str, after: &str, key: &str) -> String {
        let start = text.find(after).unwrap();
        let at = start + text[start..].find(&format!("{key} = ")).unwrap() + key.len() + 3;
        let line = text[..at].matches('\n').count() + 1;
        let col = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
        format!("mqtt.toml:{line}:{col}: ")
    }

    #[test]
    fn an_mqtt_sink_gets_its_defaults_from_the_site_and_device() {
        let config = load_str(&mqtt("url = \"mqtt://broker.local\"\n"), "mqtt.toml", Path::new("/")).unwrap();
        let Sink::Mqtt(sink) = &config.sinks[1] else { panic!("an MQTT sink: {:?}", config.sinks) };
        assert_eq!((sink.name.as_str(), sink.host(), sink.port(), sink.tls()), ("mqtt", "broker.local", 1883, false));
        assert_eq!((sink.topic.as_str(), sink.status.as_str()), ("steward/{site}/{camera}/{kind}", "steward/demo-crossing/demo-crossing/status"));
        assert_eq!((sink.client_id.as_str(), sink.keep_alive_s, sink.username.as_deref()), ("steward-demo-crossing", 30, None));

        let two = format!("{}\n[[sink]]\nkind = \"mqtt\"\nurl = \"mqtts://other.example\"\n\n[device]\nid = \"box-7\"\n", mqtt("url = \"mqtt://broker.local\"\n"));
        let config = load_str(&two, "mqtt.toml", Path::new("/")).unwrap();
        let names: Vec<&str> = config.sinks.iter().map(Sink::name).collect();
        assert_eq!(names, ["http", "mqtt", "mqtt-2"]);
        let Sink::Mqtt(second) = &config.sinks[2] else { panic!() };
        assert_eq!((second.port(), second.tls(), second.client_id.as_str(), second.status.as_str()), (8883, true, "steward-box-7", "steward/demo-crossing/box-7/status"));
    }

    #[test]
    fn an_unknown_placeholder_is_reported_at_its_value() {
        let text = mqtt("url = \"mqtt://broker.local\"\ntopic = \"city/{site}/{camra}\"\nstatus_topic = \"city/{camera}/status\"\n");
        let errors = load_str(&text, "mqtt.toml", Path::new("/")).unwrap_err().to_string();
        let topic = format!("{}unknown placeholder `{{camra}}`", place(&text, "kind = \"mqtt\"", "topic"));
        assert!(errors.contains(&topic), "{topic} in:\n{errors}");
        let status = format!("{}placeholder `{{camera}}` cannot be used in this topic: it knows only {{site}}, {{device}}", place(&text, "kind = \"mqtt\"", "status_topic"));
        assert!(errors.contains(&status), "{status} in:\n{errors}");
    }

    #[test]
    fn wrong_keys_and_values_are_each_reported_without_secrets() {
        let text = mqtt("url = \"mqtt://bob:hunter2@broker.local\"\nhmac_secret = \"x\"\npassword = \"hunter2\"\nkeep_alive_s = 2\n")
            .replace("hmac_secret = \"change-me\"", "hmac_secret = \"change-me\"\ntopic = \"a/b\"");
        let errors = load_str(&text, "mqtt.toml", Path::new("/")).unwrap_err();
        let shown = errors.to_string();
        for expected in [
            "`topic` does not apply to an `http` sink",
            "put the broker's user name and password in `username` and `password`",
            "`hmac_secret` does not apply to an `mqtt` sink",
            "a `password` needs a `username`",
            "2 is out of range: expected a whole number of seconds from 5 to 3600",
        ] {
            assert!(shown.contains(expected), "{expected} in:\n{shown}");
        }
        assert_eq!(errors.errors.len(), 5, "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");

        let plain_ca = mqtt("url = \"mqtt://broker.local\"\nca_file = \"ca.pem\"\n");
        assert!(load_str(&plain_ca, "mqtt.toml", Path::new("/")).unwrap_err().to_string().contains("`ca_file` is for `mqtts://` brokers only"));
        let missing_ca = mqtt("url = \"mqtts://broker.local\"\nca_file = \"missing-ca.pem\"\n");
        let shown = load_str(&missing_ca, "mqtt.toml", Path::new("/nowhere")).unwrap_err().to_string();
        assert!(shown.contains("cannot read the CA certificates in /nowhere/missing-ca.pem"), "{shown}");
        let scheme = mqtt("url = \"tcp://broker.local:1883\"\n");
        assert!(load_str(&scheme, "mqtt.toml", Path::new("/")).unwrap_err().to_string().contains("expected `mqtt://host:1883` or `mqtts://host:8883`"));
    }
}
