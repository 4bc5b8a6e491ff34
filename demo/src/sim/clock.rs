//! Wall-clock helpers for the simulation: timestamps as the API server writes them (RFC 3339,
//! whole seconds, UTC) and conversions between timestamps and timer delays.
//!
//! Object timestamps always stay on the wall clock; only delays are scaled by `--speed`
//! (see [`super::Pace`]).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// The current wall-clock time.
#[must_use]
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// RFC 3339 with whole seconds, as `metav1.Time` serializes.
#[must_use]
pub fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 timestamp.
#[must_use]
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The timestamp at a JSON pointer, if present and valid.
#[must_use]
pub fn at(v: &Value, ptr: &str) -> Option<DateTime<Utc>> {
    v.pointer(ptr).and_then(Value::as_str).and_then(parse)
}

/// `t` plus a (possibly fractional) number of seconds.
#[must_use]
pub fn plus(t: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    t + chrono::Duration::milliseconds((secs * 1000.0) as i64)
}

/// `t` plus a real-time duration (as produced by `Pace`).
#[must_use]
pub fn plus_real(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::milliseconds(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
}

/// How long from now until `t` (zero when `t` has passed).
#[must_use]
pub fn until(t: DateTime<Utc>) -> Duration {
    (t - now()).to_std().unwrap_or(Duration::ZERO)
}

/// Seconds from `a` to `b` (negative when `b` is earlier).
#[must_use]
pub fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// Milliseconds since the Unix epoch, as the TSDB stores sample times.
#[must_use]
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time for a Unix timestamp in seconds (the epoch when out of range).
#[must_use]
pub fn from_unix(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// `t` with seconds and below cleared.
#[must_use]
pub fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    from_unix(t.timestamp() - t.timestamp().rem_euclid(60))
}

/// A Go-style duration (`24h0m0s`, `72h`, `10m`, `1m30s`) in seconds.
#[must_use]
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut num = String::new();
    let mut any = false;
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return None,
            }
        };
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_durations() {
        let t = from_unix(1_700_000_000);
        assert_eq!(fmt(t), "2023-11-14T22:13:20Z");
        assert_eq!(parse(&fmt(t)), Some(t));
        assert_eq!(parse_go_duration("24h0m0s"), Some(86_400.0));
        assert_eq!(parse_go_duration("1m30s"), Some(90.0));
        assert_eq!(parse_go_duration("720h"), Some(2_592_000.0));
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration("10"), None);
        assert!((secs_between(t, plus(t, 2.5)) - 2.5).abs() < 1e-9);
        assert_eq!(fmt(floor_minute(t)), "2023-11-14T22:13:00Z");
    }
}
