//! Five-field cron schedules as Argo CD reads sync windows (robfig/cron v3 with the standard
//! minute, hour, day-of-month, month and day-of-week fields, no descriptors): parsing, and the
//! next start strictly after a given time (in UTC). Pure, so sync windows can be judged for
//! any clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// A field's allowed values as bits, and whether it was written as `*` (or `?`): the day
/// fields combine differently when one of them is a star.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    star: bool,
}

impl Field {
    fn has(self, v: u32) -> bool {
        self.bits & (1u64 << v) != 0
    }
}

/// A parsed schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(text: &str, names: &[&str], name_base: u32) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(name_base + u32::try_from(i).unwrap_or(0));
    }
    text.parse::<u32>()
        .map_err(|_| format!("failed to parse int from {text}"))
}

/// One comma-separated part: `*`, `?`, `a`, `a-b`, each optionally `/step`.
fn range(expr: &str, min: u32, max: u32, names: &[&str], base: u32) -> Result<Field, String> {
    let (span, step) = match expr.split_once('/') {
        Some((s, st)) => {
            if st.contains('/') {
                return Err(format!("too many slashes: {expr}"));
            }
            let st: u32 = st
                .parse()
                .map_err(|_| format!("failed to parse int from {st}"))?;
            (s, Some(st))
        }
        None => (expr, None),
    };
    let (mut start, mut end, mut star) = if span == "*" || span == "?" {
        (min, max, true)
    } else {
        let mut parts = span.split('-');
        let lo = value(parts.next().unwrap_or_default(), names, base)?;
        let hi = match parts.next() {
            Some(h) => value(h, names, base)?,
            None => lo,
        };
        if parts.next().is_some() {
            return Err(format!("too many hyphens: {expr}"));
        }
        (lo, hi, false)
    };
    let step = match step {
        None => 1,
        Some(s) => {
            // `N/step` means `N-max/step`.
            if !span.contains('-') && !star {
                end = max;
            }
            if s > 1 {
                star = false;
            }
            s
        }
    };
    if start < min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({min}): {expr}"
        ));
    }
    if end > max {
        return Err(format!(
            "end of range ({end}) above maximum ({max}): {expr}"
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = 0u64;
    while start <= end {
        bits |= 1 << start;
        start += step;
    }
    Ok(Field { bits, star })
}

fn field(text: &str, min: u32, max: u32, names: &[&str], base: u32) -> Result<Field, String> {
    let mut out = Field {
        bits: 0,
        star: false,
    };
    for part in text.split(',') {
        let f = range(part, min, max, names, base)?;
        out.bits |= f.bits;
        out.star |= f.star;
    }
    Ok(out)
}

impl Schedule {
    /// Parses `minute hour day-of-month month day-of-week`.
    ///
    /// # Errors
    /// Why the schedule cannot be read (as robfig/cron words it, roughly).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let f: Vec<&str> = spec.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                f.len()
            ));
        }
        Ok(Self {
            minute: field(f[0], 0, 59, &[], 0)?,
            hour: field(f[1], 0, 23, &[], 0)?,
            dom: field(f[2], 1, 31, &[], 0)?,
            month: field(f[3], 1, 12, MONTHS, 1)?,
            dow: field(f[4], 0, 6, DAYS, 0)?,
        })
    }

    /// Day-of-month and day-of-week: both must match when either is a star, else either.
    fn day_matches(&self, t: DateTime<Utc>) -> bool {
        let dom = self.dom.has(t.day());
        let dow = self.dow.has(t.weekday().num_days_from_sunday());
        if self.dom.star || self.dow.star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first start strictly after `after`, within five years.
    #[must_use]
    pub fn next(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The upcoming second; starts fall on whole minutes.
        let mut t = after.with_nanosecond(0)? + Duration::seconds(1);
        if t.second() != 0 {
            t = t.with_second(0)? + Duration::minutes(1);
        }
        let limit = t.year() + 5;
        'wrap: loop {
            if t.year() > limit {
                return None;
            }
            while !self.month.has(t.month()) {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?);
                if m == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(t) {
                t = Utc
                    .from_utc_datetime(&(t.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0)?);
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while !self.hour.has(t.hour()) {
                t = t.with_minute(0)? + Duration::hours(1);
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while !self.minute.has(t.minute()) {
                t += Duration::minutes(1);
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            return Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(spec: &str, after: &str) -> String {
        Schedule::parse(spec)
            .unwrap()
            .next(t(after))
            .unwrap()
            .to_rfc3339()
    }

    #[test]
    fn next_start_is_strictly_after() {
        // 2026-11-22 is a Sunday.
        assert_eq!(
            next("0 22 * * *", "2026-11-22T12:03:04Z"),
            "2026-11-22T22:00:00+00:00"
        );
        assert_eq!(
            next("0 22 * * *", "2026-11-22T22:00:00Z"),
            "2026-11-23T22:00:00+00:00"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-11-22T12:03:04Z"),
            "2026-11-22T12:15:00+00:00"
        );
        assert_eq!(
            next("30 8 * * MON-FRI", "2026-11-22T12:03:04Z"),
            "2026-11-23T08:30:00+00:00"
        );
        // Both day fields restricted: either matches (the 1st, or any Friday).
        assert_eq!(
            next("0 0 1 * 5", "2026-11-22T12:03:04Z"),
            "2026-11-27T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 1 JAN *", "2026-11-22T12:03:04Z"),
            "2027-01-01T00:00:00+00:00"
        );
        // `N/step` runs from N to the end of the range.
        assert_eq!(
            next("5/20 * * * *", "2026-11-22T12:46:00Z"),
            "2026-11-22T13:05:00+00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-11-22T12:03:04Z"),
            "2028-02-29T00:00:00+00:00"
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(Schedule::parse("* * * *").unwrap_err().contains("5 fields"));
        assert!(
            Schedule::parse("61 * * * *")
                .unwrap_err()
                .contains("above maximum")
        );
        assert!(
            Schedule::parse("5-1 * * * *")
                .unwrap_err()
                .contains("beyond end")
        );
        assert!(
            Schedule::parse("*/0 * * * *")
                .unwrap_err()
                .contains("positive")
        );
        assert!(Schedule::parse("@daily * * * *").is_err());
        assert!(
            Schedule::parse("0 0 0 * *")
                .unwrap_err()
                .contains("below minimum")
        );
    }
}
