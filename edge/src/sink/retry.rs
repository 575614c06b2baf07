//! What a delivery answer means, and when to try again.

use std::time::Duration;

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
        408 | 429 | 500..=599 => Outcome::Retry { status: Some(status), error: format!("HTTP {status}: {}", truncate(body, 200)), retry_after },
        _ => Outcome::Rejected { status, body: truncate(body, 2000).to_string() },
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
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
        }
    }
}
