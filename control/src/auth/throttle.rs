//! Sign-in throttling: failures counted per user name and per client address; after 5 within
//! 15 minutes each further attempt waits 2 s, 4 s, 8 s … (at most 5 min) after the last failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed without delay.
const FREE_FAILURES: u32 = 5;
/// Failures older than this (counted from the latest one) are forgotten.
const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_DELAY_S: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

struct Entry {
    failures: u32,
    last: Instant,
}

#[derive(Default)]
pub(super) struct Throttle {
    entries: Mutex<HashMap<Key, Entry>>,
}

/// The wait after the last of `failures` failures: none for the first 5, then 2^(failures-4) s
/// (2 s after the 5th), capped at 5 minutes.
fn delay(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exponent = failures - (FREE_FAILURES - 1);
    Duration::from_secs(if exponent >= 9 { MAX_DELAY_S } else { (1u64 << exponent).min(MAX_DELAY_S) })
}

fn keys(user: &str, address: Option<IpAddr>) -> impl Iterator<Item = Key> {
    std::iter::once(Key::User(user.to_owned())).chain(address.map(Key::Address))
}

impl Throttle {
    /// Starts a sign-in attempt for `user` from `address` (unknown: counted by name only).
    /// Refuses with the seconds to wait while the name or the address is in its delay;
    /// otherwise counts the attempt as a failure right away (so that parallel guesses are
    /// counted too) until `succeeded` takes it back, and returns the failures now counted
    /// (the larger of the name's and the address's).
    pub(super) fn begin(&self, user: &str, address: Option<IpAddr>, now: Instant) -> Result<u32, u64> {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, entry| now.saturating_duration_since(entry.last) < WINDOW);
        let wait = keys(user, address)
            .filter_map(|key| entries.get(&key))
            .map(|entry| delay(entry.failures).saturating_sub(now.saturating_duration_since(entry.last)))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        let mut failures = 0;
        for key in keys(user, address) {
            let entry = entries.entry(key).or_insert(Entry { failures: 0, last: now });
            entry.failures += 1;
            entry.last = now;
            failures = failures.max(entry.failures);
        }
        Ok(failures)
    }

    /// The attempt begun for `user` from `address` succeeded: the name's failures are cleared and
    /// the address's count forgets this attempt.
    pub(super) fn succeeded(&self, user: &str, address: Option<IpAddr>) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.remove(&Key::User(user.to_owned()));
        if let Some(address) = address
            && let Some(entry) = entries.get_mut(&Key::Address(address))
        {
            entry.failures = entry.failures.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7)));
    const AWAY: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 9)));

    #[test]
    fn delays_double_after_five_and_are_capped() {
        let seconds: Vec<u64> = (1..=14).map(|n| delay(n).as_secs()).collect();
        assert_eq!(seconds, [0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(delay(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn five_failures_then_waits_by_name_and_by_address() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for n in 1..=5 {
            assert_eq!(throttle.begin("admin", HOME, start), Ok(n));
        }
        assert_eq!(throttle.begin("admin", HOME, start), Err(2));
        // The name is throttled from anywhere, the address for any name.
        assert_eq!(throttle.begin("admin", AWAY, start + Duration::from_millis(500)), Err(2));
        assert_eq!(throttle.begin("someone", HOME, start), Err(2));
        assert_eq!(throttle.begin("someone", None, start), Ok(1));
        // After the delay one more try; failing it doubles the wait.
        assert_eq!(throttle.begin("admin", HOME, start + Duration::from_secs(2)), Ok(6));
        assert_eq!(throttle.begin("admin", HOME, start + Duration::from_secs(3)), Err(3));
        // Fifteen quiet minutes forget everything.
        assert_eq!(throttle.begin("admin", HOME, start + Duration::from_secs(2) + WINDOW), Ok(1));
    }

    #[test]
    fn success_clears_the_name() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..4 {
            throttle.begin("admin", HOME, now).unwrap();
        }
        throttle.succeeded("admin", HOME);
        assert_eq!(throttle.begin("admin", AWAY, now), Ok(1));
        // The address keeps its other failures (4 - 1 taken back, + this one).
        assert_eq!(throttle.begin("other", HOME, now), Ok(4));
    }
}
