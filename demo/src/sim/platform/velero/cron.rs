//! Velero schedules' cron expressions as Velero's scheduler (robfig/cron `ParseStandard`)
//! accepts them: exactly five fields (minute, hour, day-of-month, month, day-of-week 0-6)
//! with `*`, `?`, `a`, `a-b`, `a-b/n`, `*/n`, `a/n`, comma lists and three-letter month and
//! weekday names, or the descriptors `@yearly` `@annually` `@monthly` `@weekly` `@daily`
//! `@midnight` `@hourly` and `@every <Go duration>`. The fields are checked here (what Velero
//! rejects becomes FailedValidation); matching and the next-time search are the `croner`
//! crate's, which follows the same rule for the two day fields (either one matches when both
//! are restricted). Times are UTC.

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};
use croner::parser::CronParser;

use crate::sim::clock;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Cron {
    Fields(Box<croner::Cron>),
    /// `@every <duration>`: a fixed period in whole seconds.
    Every(i64),
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// (lowest, highest, names from lowest on) of the five fields.
const FIELDS: [(u32, u32, &[&str]); 5] = [
    (0, 59, &[]),
    (0, 23, &[]),
    (1, 31, &[]),
    (1, 12, MONTHS),
    (0, 6, WEEKDAYS),
];

fn value(atom: &str, (lo, hi, names): (u32, u32, &[&str])) -> Result<u32, String> {
    let v = match names.iter().position(|n| n.eq_ignore_ascii_case(atom)) {
        Some(i) => lo + i as u32,
        None => atom
            .parse::<u32>()
            .map_err(|_| format!("failed to parse int from {atom}"))?,
    };
    if v < lo || v > hi {
        return Err(format!("{v} is outside {lo}-{hi}"));
    }
    Ok(v)
}

/// A field with `?` and `*/1` as `*`, names as numbers and `a/n` as `a-max/n`.
fn field(text: &str, spec: (u32, u32, &[&str])) -> Result<String, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                Some(
                    s.parse::<u32>()
                        .ok()
                        .filter(|s| *s > 0)
                        .ok_or_else(|| format!("bad step in {item:?}"))?,
                ),
            ),
            None => (item, None),
        };
        let body = match range {
            "*" | "?" => "*".to_string(),
            r => match r.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a, spec)?, value(b, spec)?);
                    if a > b {
                        return Err(format!("{item:?} runs backwards"));
                    }
                    format!("{a}-{b}")
                }
                None if step.is_some() => format!("{}-{}", value(r, spec)?, spec.1),
                None => value(r, spec)?.to_string(),
            },
        };
        out.push(match step {
            Some(s) if s > 1 => format!("{body}/{s}"),
            _ => body,
        });
    }
    Ok(out.join(","))
}

/// Parses a cron expression.
pub fn parse(expr: &str) -> Result<Cron, String> {
    let expr = expr.trim();
    if let Some(d) = expr.strip_prefix("@every ") {
        let secs = clock::parse_go_duration(d).ok_or_else(|| format!("invalid duration {d:?}"))?;
        // Whole seconds, at least one, as the Go library rounds it.
        return Ok(Cron::Every((secs as i64).max(1)));
    }
    let fields = match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        e if e.starts_with('@') => return Err(format!("unrecognized descriptor: {e}")),
        e => e,
    };
    let parts: Vec<&str> = fields.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: {expr:?}",
            parts.len()
        ));
    }
    let normal = parts
        .iter()
        .zip(FIELDS)
        .map(|(p, spec)| field(p, spec))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    CronParser::builder()
        .sloppy_ranges(true)
        .build()
        .parse(&normal)
        .map(|c| Cron::Fields(Box::new(c)))
        .map_err(|e| e.to_string())
}

impl Cron {
    /// The first activation strictly after `t`.
    #[must_use]
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(secs) => Some(
                t.duration_trunc(ChronoDuration::seconds(1)).unwrap_or(t)
                    + ChronoDuration::seconds(*secs),
            ),
            Self::Fields(c) => c.find_next_occurrence(&t, false).ok(),
        }
    }

    /// Activations in `(from, to]`, oldest first.
    #[must_use]
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = from;
        while let Some(n) = self.next_after(t) {
            if n > to {
                break;
            }
            out.push(n);
            t = n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        clock::parse(s).unwrap()
    }

    fn next(expr: &str, from: &str) -> String {
        clock::fmt(parse(expr).unwrap().next_after(at(from)).unwrap())
    }

    #[test]
    fn common_schedules() {
        assert_eq!(
            next("*/5 * * * *", "2025-03-01T10:02:30Z"),
            "2025-03-01T10:05:00Z"
        );
        assert_eq!(
            next("0 * * * *", "2025-03-01T10:00:00Z"),
            "2025-03-01T11:00:00Z"
        );
        assert_eq!(
            next("30 */6 * * *", "2025-03-01T07:00:00Z"),
            "2025-03-01T12:30:00Z"
        );
        assert_eq!(
            next("@midnight", "2025-12-31T23:59:00Z"),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@every 1h30m", "2025-03-01T10:00:00Z"),
            "2025-03-01T11:30:00Z"
        );
        assert_eq!(
            next("15,45 9-17 * * mon-fri", "2025-03-01T10:00:00Z"),
            "2025-03-03T09:15:00Z"
        );
        assert_eq!(
            next("10/20 * * * *", "2025-03-01T10:31:00Z"),
            "2025-03-01T10:50:00Z"
        );
        // Both day fields restricted: either matches (the 13th, or any Friday).
        assert_eq!(
            next("0 0 13 * 5", "2025-06-01T00:00:00Z"),
            "2025-06-06T00:00:00Z"
        );
    }

    #[test]
    fn rejects_what_velero_rejects() {
        for bad in [
            "* * * *",
            "0 * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "0 0 * * 7",
            "0 0 L * *",
            "@reboot",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn between_lists_fires_in_order() {
        let c = parse("*/5 * * * *").unwrap();
        let fires = c.between(at("2025-03-01T10:00:00Z"), at("2025-03-01T11:00:00Z"));
        assert_eq!(fires.len(), 12);
        assert_eq!(clock::fmt(fires[0]), "2025-03-01T10:05:00Z");
        assert_eq!(clock::fmt(fires[11]), "2025-03-01T11:00:00Z");
    }
}
