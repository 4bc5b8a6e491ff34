//! Prometheus HTTP API (see http.rs): request parameters as Prometheus reads them, from the
//! form body and the query string, and its time and duration syntaxes.

use crate::prom::eval::QueryError;

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub(super) fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Request parameters: the form body first, then the query string (as Go's `r.Form`).
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn parse(query: &str, body: &[u8]) -> Self {
        let mut out = Vec::new();
        let body = String::from_utf8_lossy(body);
        for part in body.split('&').chain(query.split('&')) {
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            out.push((url_decode(k), url_decode(v)));
        }
        Self(out)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A time parameter: Unix seconds (fractions rounded to the millisecond) or RFC 3339.
pub(super) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || f.abs() > 9.2e15 {
            return None;
        }
        let secs = f.trunc();
        #[allow(clippy::cast_possible_truncation)]
        let ms = (secs as i64) * 1000 + ((f - secs) * 1000.0).round() as i64;
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// A duration parameter: seconds as a float, or Prometheus' `1h30m`/`15s`/`500ms` syntax.
pub(super) fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        let ns = f * 1e9;
        if !ns.is_finite() || ns.abs() > 9.2e18 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        return Some((ns as i64) / 1_000_000);
    }
    parse_prom_duration(s)
}

/// `[0-9]+(y|w|d|h|m|s|ms)` terms, largest unit first, each at most once.
pub fn parse_prom_duration(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(0);
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let pos = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        total = total.checked_add(n.checked_mul(UNITS[pos].1)?)?;
        next_unit = pos + 1;
    }
    Some(total)
}

pub(super) fn param_error(name: &str, msg: &str) -> QueryError {
    QueryError::bad_data(format!("invalid parameter \"{name}\": {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("15s"), Some(15_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("1h"), Some(3_600_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("0.5"), Some(500));
        assert_eq!(parse_duration("30s1m"), None);
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_time("1435781451.781"), Some(1_435_781_451_781));
        assert_eq!(parse_time("100"), Some(100_000));
        assert_eq!(
            parse_time("2026-01-01T00:00:00.5Z"),
            Some(1_767_225_600_500)
        );
        assert_eq!(parse_time("abc"), None);
        assert_eq!(parse_time("NaN"), None);
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a%3D%22b%22+c"), "a=\"b\" c");
        assert_eq!(url_decode("%"), "%");
        assert_eq!(url_decode("%zz"), "%zz");
        let p = Params::parse("match[]=a&match%5B%5D=b", b"query=up");
        assert_eq!(p.all("match[]"), vec!["a", "b"]);
        assert_eq!(p.get("query"), Some("up"));
    }
}
