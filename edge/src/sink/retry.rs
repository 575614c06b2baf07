//! What a delivery answer means, and when to try again.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

/// The most of a platform's answer kept with a rejected record (bytes, cut at a character).
pub const REJECTED_BODY_MAX: usize = 2048;
/// The most of an answer kept in a retry's error text.
const RETRY_BODY_MAX: usize = 200;

/// The fate of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx, or 409 (the platform already has it).
    Delivered(u16),
    /// Acknowledged by a transport without statuses (an MQTT broker's PUBACK).
    Acknowledged,
    /// Worth retrying: a network error, 408, 429 or 5xx. `retry_after` from the response.
    Retry { status: Option<u16>, error: String, retry_after: Option<Duration> },
    /// Refused in a way retrying will not fix (other 4xx): parked with the answer.
    Rejected { status: u16, body: String },
}

/// Classifies an HTTP status.
pub fn classify_status(status: u16, body: &str, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 | 409 => Outcome::Delivered(status),
        408 | 429 | 500..=599 => Outcome::Retry { status: Some(status), error: format!("HTTP {status}: {}", truncate(body, RETRY_BODY_MAX)), retry_after },
        _ => Outcome::Rejected { status, body: truncate(body, REJECTED_BODY_MAX).to_string() },
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    &text[..at]
}

/// A `Retry-After` value as a wait from `now`: delay-seconds, or an HTTP-date (IMF-fixdate,
/// or the obsolete RFC 850 and asctime forms). A date in the past means "now" (zero); anything
/// else unreadable is `None`. The caller caps it.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT").ok().map(|d| d.and_utc()))
        .or_else(|| NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y").ok().map(|d| d.and_utc()))?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { first: Duration::from_secs(1), max: Duration::from_secs(300) }
    }
}

impl RetryPolicy {
    /// Delay before the next try after `attempts` failed ones: `first · 2^(attempts−1)`,
    /// capped, then scaled by a random factor in [0.5, 1) so retries of many records spread out.
    /// A server's `Retry-After` wins when it asks for longer (still capped).
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.first.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let base = exp.min(self.max).mul_f64(rand::random_range(0.5..1.0));
        match retry_after {
            Some(asked) if asked > base => asked.min(self.max),
            _ => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_like_a_platform_expects() {
        assert_eq!(classify_status(200, "", None), Outcome::Delivered(200));
        assert_eq!(classify_status(409, "dup", None), Outcome::Delivered(409));
        assert!(matches!(classify_status(503, "", None), Outcome::Retry { status: Some(503), .. }));
        assert!(matches!(classify_status(429, "", None), Outcome::Retry { .. }));
        assert!(matches!(classify_status(408, "", None), Outcome::Retry { .. }));
        assert_eq!(classify_status(400, "bad field", None), Outcome::Rejected { status: 400, body: "bad field".into() });
        for status in [401, 403, 404, 413, 422] {
            assert!(matches!(classify_status(status, "", None), Outcome::Rejected { .. }), "{status}");
        }
        assert!(matches!(classify_status(500, "", None), Outcome::Retry { status: Some(500), .. }));
        assert!(matches!(classify_status(599, "", None), Outcome::Retry { .. }));
        let asked = Some(Duration::from_secs(7));
        assert_eq!(classify_status(429, "slow down", asked), Outcome::Retry { status: Some(429), error: "HTTP 429: slow down".into(), retry_after: asked });
    }

    #[test]
    fn a_rejection_keeps_about_two_kib_of_the_answer_cut_at_a_character() {
        let long = "码".repeat(1000); // 3 bytes each
        let Outcome::Rejected { body, .. } = classify_status(422, &long, None) else { panic!("422 is a rejection") };
        assert_eq!(body.len(), 2046, "682 whole characters, not a broken one");
        assert!(long.starts_with(&body));
        let Outcome::Retry { error, .. } = classify_status(503, &"x".repeat(5000), None) else { panic!("503 is retried") };
        assert_eq!(error.len(), "HTTP 503: ".len() + 200);
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 01 Mar 2026 08:01:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Sunday, 01-Mar-26 08:00:10 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun Mar  1 08:00:05 2026", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Sun, 01 Mar 2026 07:00:00 GMT", now), Some(Duration::ZERO), "a past date means now");
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::from_secs(u64::MAX)), "huge, and capped by the policy");
        for bad in ["", "-5", "1.5", "soon", "2026-03-01T08:01:00Z"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy { first: Duration::from_secs(1), max: Duration::from_secs(60) };
        for _ in 0..50 {
            let d1 = policy.delay(1, None);
            assert!(d1 >= Duration::from_millis(500) && d1 < Duration::from_secs(1));
            let d4 = policy.delay(4, None);
            assert!(d4 >= Duration::from_secs(4) && d4 < Duration::from_secs(8));
            assert!(policy.delay(30, None) <= Duration::from_secs(60));
            assert_eq!(policy.delay(1, Some(Duration::from_secs(30))), Duration::from_secs(30));
            assert_eq!(policy.delay(1, Some(Duration::from_secs(u64::MAX))), Duration::from_secs(60), "Retry-After is capped too");
            assert!(policy.delay(4, Some(Duration::from_secs(1))) >= Duration::from_secs(4), "a shorter Retry-After does not shorten the backoff");
        }
    }
}
