//! MQTT topic templates such as `steward/{site}/{camera}/{kind}`: parsed once when the config is
//! validated (unknown placeholders refused), filled in for each record.

use std::fmt;

/// A placeholder a topic template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicField {
    /// The site's name.
    Site,
    /// The device id.
    Device,
    /// The camera id.
    Camera,
    /// The zone id.
    Zone,
    /// The violation kind (`illegal_parking`, …).
    Kind,
    /// The event (`open`, `update`, `resolved`).
    Event,
}

impl TopicField {
    pub const ALL: [TopicField; 6] = [TopicField::Site, TopicField::Device, TopicField::Camera, TopicField::Zone, TopicField::Kind, TopicField::Event];
    /// What the status topic knows: it is about the device, not about one incident.
    pub const STATUS: [TopicField; 2] = [TopicField::Site, TopicField::Device];

    pub fn name(&self) -> &'static str {
        match self {
            TopicField::Site => "site",
            TopicField::Device => "device",
            TopicField::Camera => "camera",
            TopicField::Zone => "zone",
            TopicField::Kind => "kind",
            TopicField::Event => "event",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(TopicField),
}

/// A parsed topic template. `Display` shows it as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    text: String,
    parts: Vec<Part>,
}

impl TopicTemplate {
    /// Parses `text`, allowing only the placeholders in `allowed`. Err says what is wrong, for
    /// the config error at the value.
    pub fn parse(text: &str, allowed: &[TopicField]) -> Result<TopicTemplate, String> {
        if text.is_empty() {
            return Err("the topic is empty".into());
        }
        if text.len() > 1024 {
            return Err("the topic is longer than 1024 bytes".into());
        }
        let names = || allowed.iter().map(|f| format!("{{{}}}", f.name())).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let Some(open) = rest.find(['{', '}']) else {
                parts.push(Part::Text(literal(rest)?));
                break;
            };
            if rest[open..].starts_with('}') {
                return Err(format!("`}}` without `{{` in topic `{text}`"));
            }
            if open > 0 {
                parts.push(Part::Text(literal(&rest[..open])?));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| format!("`{{` without `}}` in topic `{text}`"))?;
            let name = &after[..close];
            let field = TopicField::ALL.iter().find(|f| f.name() == name).filter(|f| allowed.contains(f));
            match field {
                Some(field) => parts.push(Part::Field(*field)),
                None if TopicField::ALL.iter().any(|f| f.name() == name) => {
                    return Err(format!("placeholder `{{{name}}}` cannot be used in this topic: it knows only {}", names()));
                }
                None => return Err(format!("unknown placeholder `{{{name}}}` in topic `{text}`: expected {}", names())),
            }
            rest = &after[close + 1..];
        }
        Ok(TopicTemplate { text: text.to_string(), parts })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The topic for these values. A value cannot add topic levels or wildcards: `/`, `+` and
    /// `#` in it become `_`, and an empty value is written `_`.
    pub fn render(&self, value: impl Fn(TopicField) -> String) -> String {
        let mut topic = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(text) => topic.push_str(text),
                Part::Field(field) => {
                    let value = value(*field);
                    if value.is_empty() {
                        topic.push('_');
                    }
                    topic.extend(value.chars().map(|c| if matches!(c, '/' | '+' | '#' | '\0') { '_' } else { c }));
                }
            }
        }
        topic
    }

    /// The topic for an incident document's fields (`site.name`, `device.id`, `camera.id`,
    /// `zone.id`, `kind`, `event`).
    pub fn render_document(&self, document: &serde_json::Value) -> String {
        self.render(|field| {
            let value = match field {
                TopicField::Site => &document["site"]["name"],
                TopicField::Device => &document["device"]["id"],
                TopicField::Camera => &document["camera"]["id"],
                TopicField::Zone => &document["zone"]["id"],
                TopicField::Kind => &document["kind"],
                TopicField::Event => &document["event"],
            };
            value.as_str().unwrap_or_default().to_string()
        })
    }
}

/// Literal topic text: no wildcards (a publish topic cannot hold them), no NUL.
fn literal(text: &str) -> Result<String, String> {
    if text.contains(['+', '#']) {
        return Err(format!("`{text}`: the MQTT wildcards `+` and `#` cannot be in a topic to publish to"));
    }
    if text.contains('\0') {
        return Err("the topic holds a NUL character".into());
    }
    Ok(text.to_string())
}

impl fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(field: TopicField) -> String {
        match field {
            TopicField::Site => "Xinbei Rd/Heping St".into(),
            TopicField::Device => "box-7".into(),
            TopicField::Camera => "cam+1".into(),
            TopicField::Zone => "kerb#east".into(),
            TopicField::Kind => "illegal_parking".into(),
            TopicField::Event => "".into(),
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_values_cannot_add_levels_or_wildcards() {
        let template = TopicTemplate::parse("city/{site}/{device}/{camera}/{zone}/{kind}/{event}", &TopicField::ALL).unwrap();
        assert_eq!(template.render(values), "city/Xinbei Rd_Heping St/box-7/cam_1/kerb_east/illegal_parking/_");
        assert_eq!(template.as_str(), "city/{site}/{device}/{camera}/{zone}/{kind}/{event}");
        let plain = TopicTemplate::parse("fixed/topic", &TopicField::ALL).unwrap();
        assert_eq!(plain.render(values), "fixed/topic");
        let adjacent = TopicTemplate::parse("{kind}{event}-x", &TopicField::ALL).unwrap();
        assert_eq!(adjacent.render(values), "illegal_parking_-x");
    }

    #[test]
    fn a_document_fills_the_default_topic() {
        let template = TopicTemplate::parse("steward/{site}/{camera}/{kind}", &TopicField::ALL).unwrap();
        let document = serde_json::json!({"site": {"name": "test-crossing"}, "camera": {"id": "cam-1"}, "kind": "illegal_parking", "event": "open"});
        assert_eq!(template.render_document(&document), "steward/test-crossing/cam-1/illegal_parking");
    }

    #[test]
    fn unknown_placeholders_and_wildcards_are_refused() {
        let unknown = TopicTemplate::parse("steward/{site}/{camra}", &TopicField::ALL).unwrap_err();
        assert!(unknown.contains("unknown placeholder `{camra}`") && unknown.contains("{site}, {device}, {camera}, {zone}, {kind}, {event}"), "{unknown}");
        let status = TopicTemplate::parse("steward/{camera}/status", &TopicField::STATUS).unwrap_err();
        assert!(status.contains("`{camera}` cannot be used") && status.contains("{site}, {device}"), "{status}");
        assert!(TopicTemplate::parse("steward/+/x", &TopicField::ALL).unwrap_err().contains("wildcards"));
        assert!(TopicTemplate::parse("steward/#", &TopicField::ALL).unwrap_err().contains("wildcards"));
        assert!(TopicTemplate::parse("steward/{site", &TopicField::ALL).unwrap_err().contains("without `}`"));
        assert!(TopicTemplate::parse("steward/site}", &TopicField::ALL).unwrap_err().contains("without `{`"));
        assert!(TopicTemplate::parse("", &TopicField::ALL).is_err());
    }
}
