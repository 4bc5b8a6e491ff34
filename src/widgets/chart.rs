//! Small charts for detail views: sparklines scaled to a shared range (so two series compare
//! at a glance), with a limit drawn into the scale and breaches marked, and the last-good /
//! stale marking of series kept from an earlier fetch.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

use crate::clock::Clock;
use crate::theme::{Role, Theme};

/// Block characters for sparklines, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of the last `width` points, scaled to [lo, hi]. Gaps (NaN) are spaces; fewer
/// points than `width` are padded on the left, so the newest point is always at the right.
#[must_use]
pub fn sparkline(points: &[(f64, f64)], lo: f64, hi: f64, width: usize) -> String {
    let start = points.len().saturating_sub(width);
    let span = (hi - lo).max(f64::EPSILON);
    let mut out: String = " ".repeat(width.saturating_sub(points.len() - start));
    out.extend(points[start..].iter().map(|(_, v)| {
        if v.is_finite() {
            let idx = (((v - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize;
            BARS[idx]
        } else {
            ' '
        }
    }));
    out
}

/// The range the finite values of every series span, plus `extra` (a limit, so it is on the
/// scale); (0, 1) when there is nothing.
#[must_use]
pub fn shared_range<'a>(
    series: impl IntoIterator<Item = &'a [(f64, f64)]>,
    extra: Option<f64>,
) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in series
        .into_iter()
        .flat_map(|s| s.iter().map(|(_, v)| *v))
        .chain(extra)
        .filter(|v| v.is_finite())
    {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
}

/// The newest finite value.
#[must_use]
pub fn latest(points: &[(f64, f64)]) -> Option<f64> {
    points.iter().rev().map(|(_, v)| *v).find(|v| v.is_finite())
}

/// One series to draw.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Short label (`canary`), padded to a column.
    pub label: &'a str,
    /// What it measures (a service name), shown with errors.
    pub subject: &'a str,
    pub points: &'a [(f64, f64)],
    /// Why there are no points; shown only when there are none.
    pub error: Option<&'a str>,
    /// Points kept from an earlier fetch: when that fetch was.
    pub stale_since: Option<DateTime<Utc>>,
}

/// A limit: its value (drawn into the scale) and when a value breaches it.
#[derive(Clone, Copy)]
pub struct Limit<'a> {
    pub value: f64,
    pub breached: &'a dyn Fn(f64) -> bool,
}

/// A header line, then one sparkline line per series with its newest value (`✖` when it
/// breaches `limit`) and a stale marker; a series without points shows why.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn series_lines(
    head: String,
    series: &[Series<'_>],
    limit: Option<Limit<'_>>,
    fmt: fn(f64) -> String,
    width: usize,
    theme: &Theme,
    clock: Clock,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(head, theme.style(Role::Header)))];
    let (lo, hi) = shared_range(series.iter().map(|s| s.points), limit.map(|l| l.value));
    let spark_width = width.saturating_sub(26).clamp(8, 60);
    for s in series {
        let label = format!(" {:<7}", s.label);
        if s.points.is_empty() {
            let why = s.error.unwrap_or("no data");
            lines.push(Line::from(vec![
                Span::styled(label, theme.style(Role::Muted)),
                Span::styled(format!("{}: {why}", s.subject), theme.style(Role::Muted)),
            ]));
            continue;
        }
        let value = latest(s.points);
        let breached = match (limit, value) {
            (Some(l), Some(v)) => (l.breached)(v),
            _ => false,
        };
        let text = value.map_or_else(|| "n/a".to_string(), fmt);
        lines.push(Line::from(vec![
            Span::styled(label, theme.style(Role::Muted)),
            Span::styled(
                sparkline(s.points, lo, hi, spark_width),
                theme.style(if breached { Role::Crit } else { Role::Accent }),
            ),
            Span::styled(
                format!(" {text}{}", if breached { " ✖" } else { "" }),
                theme.style(if breached { Role::Crit } else { Role::Text }),
            ),
            Span::styled(
                s.stale_since.map_or_else(String::new, |t| {
                    format!(" ◐ stale since {}", clock.time_of_day(t))
                }),
                theme.style(Role::Warn),
            ),
        ]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_pads() {
        let pts: Vec<(f64, f64)> = [0.0, 0.5, 1.0].iter().map(|v| (0.0, *v)).collect();
        assert_eq!(sparkline(&pts, 0.0, 1.0, 3), "▁▅█");
        assert_eq!(sparkline(&pts, 0.0, 1.0, 5), "  ▁▅█");
        assert_eq!(sparkline(&pts, 0.0, 1.0, 2), "▅█");
        let gap = vec![(0.0, f64::NAN), (1.0, 1.0)];
        assert_eq!(sparkline(&gap, 0.0, 1.0, 2), " █");
    }

    #[test]
    fn range_spans_every_series_and_the_limit() {
        let a = [(0.0, 2.0), (1.0, f64::NAN)];
        let b = [(0.0, 5.0)];
        assert_eq!(shared_range([&a[..], &b[..]], Some(1.0)), (1.0, 5.0));
        assert_eq!(shared_range([&[][..]], None), (0.0, 1.0));
    }

    #[test]
    fn kept_points_are_marked_stale_and_breaches_crossed() {
        let clock = Clock::Fixed(DateTime::from_timestamp(3_600, 0).unwrap());
        let theme = Theme::no_color();
        let pts = [(0.0, 0.9), (1.0, 0.8)];
        let breach = |v: f64| v < 0.95;
        let lines = series_lines(
            "success".into(),
            &[
                Series {
                    label: "canary",
                    subject: "web-canary",
                    points: &pts,
                    error: None,
                    stale_since: DateTime::from_timestamp(3_000, 0),
                },
                Series {
                    label: "stable",
                    subject: "web",
                    points: &[],
                    error: Some("no data"),
                    stale_since: None,
                },
            ],
            Some(Limit {
                value: 0.95,
                breached: &breach,
            }),
            |v| format!("{v:.2}"),
            60,
            &theme,
            clock,
        );
        let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert!(
            text[1].ends_with(" 0.80 ✖ ◐ stale since 00:50:00"),
            "{}",
            text[1]
        );
        assert_eq!(text[2], " stable web: no data");
    }
}
