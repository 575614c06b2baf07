//! `steward incidents export`: prints the outbox's events as JSON lines (document, delivery state
//! per sink, attempt count), read-only, with the time bounds given as RFC 3339 or as a duration ago.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use steward_edge::config::load_file;
use steward_edge::outbox::{ExportFilter, database_path, export_events};

const EXIT_FAILED: u8 = 1;
const EXIT_BAD_ARGUMENTS: u8 = 2;

pub fn export(config_path: &Path, since: Option<&str>, until: Option<&str>, camera: Option<String>, kind: Option<String>) -> u8 {
    let now = Utc::now();
    let bound = |text: Option<&str>, flag: &str| match text.map(|t| parse_time(t, now)).transpose() {
        Ok(bound) => Ok(bound),
        Err(message) => {
            eprintln!("steward incidents export: {flag}: {message}");
            Err(EXIT_BAD_ARGUMENTS)
        }
    };
    let (since, until) = match (bound(since, "--since"), bound(until, "--until")) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let config = match load_file(config_path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return EXIT_BAD_ARGUMENTS;
        }
    };
    let database = database_path(&config.storage.dir);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let filter = ExportFilter { since, until, camera, kind };
    let written = export_events(&database, &filter, |event| {
        serde_json::to_writer(&mut out, &event)?;
        out.write_all(b"\n")
    });
    match written.map_err(|e| e.to_string()).and_then(|count| out.flush().map(|()| count).map_err(|e| e.to_string())) {
        Ok(count) => {
            eprintln!("steward incidents export: {count} event(s) from {}", database.display());
            0
        }
        Err(error) => {
            eprintln!("steward incidents export: {error}");
            EXIT_FAILED
        }
    }
}

/// RFC 3339, or a duration before `now`: a whole number with `s`, `m`, `h`, `d` or `w`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(n) if seconds > 0 && !number.is_empty() => {
            let ago = n.checked_mul(seconds).and_then(chrono::Duration::try_seconds).ok_or_else(|| format!("`{text}` is too long ago"))?;
            now.checked_sub_signed(ago).ok_or_else(|| format!("`{text}` is too long ago"))
        }
        _ => Err(format!("`{text}` is neither an RFC 3339 time (2026-03-01T08:00:00+08:00) nor a duration ago (90s, 30m, 24h, 7d, 2w)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_a_duration_ago() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z").unwrap().with_timezone(&Utc);
        let at = |text: &str| parse_time(text, now).map(|t| t.to_rfc3339());
        assert_eq!(at("2026-03-01T16:00:00+08:00"), Ok("2026-03-01T08:00:00+00:00".into()));
        assert_eq!(at("24h"), Ok("2026-02-28T08:00:00+00:00".into()));
        assert_eq!(at("90s"), Ok("2026-03-01T07:58:30+00:00".into()));
        assert_eq!(at("30m"), Ok("2026-03-01T07:30:00+00:00".into()));
        assert_eq!(at("7d"), Ok("2026-02-22T08:00:00+00:00".into()));
        assert_eq!(at("1w"), at("7d"));
        for bad in ["", "h", "24", "24x", "-5h", "yesterday", "2026-03-01", "99999999999999999w"] {
            assert!(at(bad).is_err(), "{bad:?}");
        }
    }
}
