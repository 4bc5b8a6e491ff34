//! Number, time and string formatting exactly as Prometheus' Go code writes them, so the
//! demo's JSON bodies are byte-compatible with a real server's.

use chrono::{DateTime, Utc};

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest digits, exponent with a sign and at
/// least two digits (`1e+00`, `1.5e-07`).
#[must_use]
pub fn go_e(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    // Rust's `{:e}` gives the same shortest digits, with a bare exponent (`1.5e-7`).
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.unsigned_abs())
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
#[must_use]
pub fn go_f(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    // Rust's `Display` for floats is the shortest round-trip form without an exponent.
    format!("{v}")
}

/// A sample value as Prometheus' API writes it (inside quotes): positional notation, but an
/// exponent below 1e-6 and from 1e21 on.
#[must_use]
pub fn sample_value(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        go_e(v)
    } else {
        go_f(v)
    }
}

/// Go's `%v` for a float64 (what alert templates print for `$value`).
#[must_use]
pub fn go_g(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return go_f(v);
    }
    // The decimal exponent of the shortest representation decides, as in Go.
    let e = format!("{v:e}");
    let exp: i32 = e
        .split_once('e')
        .and_then(|(_, x)| x.parse().ok())
        .unwrap_or(0);
    if !(-4..21).contains(&exp) {
        go_e(v)
    } else {
        go_f(v)
    }
}

/// A float as Go's `encoding/json` writes it (no quotes): positional, exponent below 1e-6
/// and from 1e21 on, with a one-digit negative exponent written without padding.
#[must_use]
pub fn json_number(v: f64) -> String {
    if !v.is_finite() {
        // JSON has no NaN or infinities; Prometheus never writes them unquoted.
        return "0".to_string();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = go_e(v);
        // encoding/json turns "e-07" into "e-7".
        if let Some(i) = s.find("e-0") {
            return format!("{}e-{}", &s[..i], &s[i + 3..]);
        }
        s
    } else {
        go_f(v)
    }
}

/// A millisecond timestamp as Prometheus writes sample times: seconds, with the
/// milliseconds as a three-digit fraction only when non-zero (`1435781451.781`, `1767436620`).
#[must_use]
pub fn timestamp(ms: i64) -> String {
    let (sign, ms) = if ms < 0 { ("-", -ms) } else { ("", ms) };
    let secs = ms / 1000;
    let frac = ms % 1000;
    if frac == 0 {
        format!("{sign}{secs}")
    } else {
        format!("{sign}{secs}.{frac:03}")
    }
}

/// RFC 3339 in UTC with the fraction trimmed of trailing zeros, as Go's `time.Time` JSON.
#[must_use]
pub fn rfc3339(ms: i64) -> String {
    let Some(dt) = DateTime::<Utc>::from_timestamp_millis(ms) else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let base = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        format!("{base}Z")
    } else {
        let f = format!("{frac:03}");
        format!("{base}.{}Z", f.trim_end_matches('0'))
    }
}

/// A JSON string literal, escaped as Go's `encoding/json` does (including `<`, `>`, `&`).
#[must_use]
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_prometheus() {
        // Each pair was read from a real Prometheus 2.42 response.
        assert_eq!(sample_value(1e-10), "1e-10");
        assert_eq!(sample_value(1e21), "1e+21");
        assert_eq!(sample_value(1.5e-7), "1.5e-07");
        assert_eq!(sample_value(1e20), "100000000000000000000");
        assert_eq!(
            sample_value(123_456_789_012_345_680.0),
            "123456789012345680"
        );
        assert_eq!(sample_value(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(sample_value(-0.0), "-0");
        assert_eq!(sample_value(f64::NAN), "NaN");
        assert_eq!(sample_value(f64::INFINITY), "+Inf");
        assert_eq!(sample_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(sample_value(0.6), "0.6");
        assert_eq!(go_e(1.0), "1e+00");
        assert_eq!(go_e(2.0), "2e+00");
        assert_eq!(go_e(1234.5), "1.2345e+03");
        assert_eq!(go_e(1e-100), "1e-100");
    }

    #[test]
    fn times_match_prometheus() {
        assert_eq!(timestamp(1_435_781_451_781), "1435781451.781");
        assert_eq!(timestamp(1_795_347_144_500), "1795347144.500");
        assert_eq!(timestamp(1_767_436_620_000), "1767436620");
        assert_eq!(timestamp(5), "0.005");
        assert_eq!(json_number(1_795_347_144.5), "1795347144.5");
        assert_eq!(json_number(100.0), "100");
        assert_eq!(json_number(1.5e-7), "1.5e-7");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
    }

    #[test]
    fn go_f_formatting() {
        // As Argo Rollouts prints measurement values.
        assert_eq!(go_f(0.9723), "0.9723");
        assert_eq!(go_f(1.0), "1");
        assert_eq!(go_f(f64::NAN), "NaN");
        assert_eq!(go_f(f64::INFINITY), "+Inf");
    }

    #[test]
    fn go_v_formatting() {
        assert_eq!(go_g(1.0), "1");
        assert_eq!(go_g(1_000_000.0), "1000000");
        assert_eq!(go_g(0.00001), "1e-05");
        assert_eq!(go_g(0.5), "0.5");
    }

    #[test]
    fn strings_are_escaped_like_go() {
        assert_eq!(json_string("a>b\"\n"), "\"a\\u003eb\\\"\\n\"");
        assert_eq!(json_string("\u{1}"), "\"\\u0001\"");
    }
}
