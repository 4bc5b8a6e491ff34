//! Drawing the Circuit-breakers detail view: the limits and outlier detection in force for
//! each scope of the rule (`∞ (default)` where unset), the routes' retries, then half-hour
//! sparklines per calling workload and per subset, and per Envoy cluster of the callers the
//! hosts ejected and the load next to the limit it runs into — or, where the proxies do not
//! export those stats, the one mesh-config line that makes them.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::detail::{BreakerDetail, DetailMetrics, EnvoyGroup, Group, Points, STATS_MATCHER};
use super::model::RowKind;
use super::policy::{Effective, limit_long, setting};
use super::view::{duration_ms, percent};
use crate::clock::Clock;
use crate::panes::kit::{EventLine, event_lines};
use crate::theme::{Role, Theme};
use crate::widgets::chart::{latest, shared_range, sparkline};
use crate::widgets::text::{pad, sanitize};

/// What the view draws with, besides the detail.
pub struct ViewInputs<'a> {
    pub metrics: Option<&'a DetailMetrics>,
    /// Why there are no (or only old) series.
    pub note: Option<&'a str>,
    pub events: &'a [EventLine],
    pub scroll: u16,
    pub theme: &'a Theme,
    pub clock: Clock,
}

fn clean(s: &str) -> String {
    sanitize(s).into_owned()
}

fn head(text: &str, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(text.to_string(), theme.style(Role::Header)))
}

fn muted(text: String, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(text, theme.style(Role::Muted)))
}

const CELL_W: usize = 13;

/// How a settings table fits the width: the scope column's width and how many value columns
/// (the most telling first) are shown.
#[derive(Clone, Copy)]
struct Grid {
    scope_w: usize,
    cols: usize,
}

impl Grid {
    fn new(width: usize) -> Self {
        let scope_w = (width / 4).clamp(14, 26);
        Self {
            scope_w,
            cols: (width.saturating_sub(1 + scope_w) / (CELL_W + 1)).clamp(2, 6),
        }
    }
}

fn table_line(cells: &[String], grid: Grid, theme: &Theme, role: Role) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, c) in cells.iter().take(grid.cols + 1).enumerate() {
        let w = if i == 0 { grid.scope_w } else { CELL_W };
        spans.push(Span::styled(
            format!(" {}", pad(c, w)),
            theme.style(if i == 0 { Role::Text } else { role }),
        ));
    }
    Line::from(spans)
}

fn config_lines(d: &BreakerDetail, grid: Grid, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if d.scopes.is_empty() {
        out.push(muted(
            " no DestinationRule: Istio's defaults apply (no limits, no outlier detection)".into(),
            theme,
        ));
        return out;
    }
    out.push(head("Limits in force (connectionPool)", theme));
    out.push(table_line(
        &[
            "scope", "max conn", "pending", "requests", "retries", "req/conn", "connect",
        ]
        .map(String::from),
        grid,
        theme,
        Role::Muted,
    ));
    for (scope, e) in &d.scopes {
        let p = &e.pool;
        out.push(table_line(
            &[
                clean(&scope.label()),
                limit_long(p.max_connections),
                limit_long(p.http1_max_pending_requests),
                limit_long(p.http2_max_requests),
                limit_long(p.max_retries),
                limit_long(p.max_requests_per_connection),
                setting(&p.connect_timeout),
            ],
            grid,
            theme,
            Role::Text,
        ));
    }
    if d.scopes.iter().any(|(s, _)| s.port.is_some()) {
        out.push(muted(
            " a port's settings replace the pool and outlier detection for that port: \
             what they leave out takes Istio's default, not the host's"
                .into(),
            theme,
        ));
    }
    out.push(head("Outlier detection", theme));
    out.push(table_line(
        &[
            "scope",
            "5xx",
            "gateway",
            "ejection",
            "max ejected",
            "interval",
            "min health",
        ]
        .map(String::from),
        grid,
        theme,
        Role::Muted,
    ));
    for (scope, e) in &d.scopes {
        out.push(outlier_line(&scope.label(), e, grid, theme));
    }
    if let Some((_, e)) = d.scopes.iter().find(|(_, e)| {
        e.outlier
            .as_ref()
            .is_some_and(|o| o.ignored_consecutive_errors.is_some())
    }) && let Some(n) = e
        .outlier
        .as_ref()
        .and_then(|o| o.ignored_consecutive_errors)
    {
        out.push(muted(
            format!(
                " consecutiveErrors: {n} is deprecated and ignored by istiod; \
                 set consecutive5xxErrors or consecutiveGatewayErrors"
            ),
            theme,
        ));
    }
    out
}

fn outlier_line(scope: &str, e: &Effective, grid: Grid, theme: &Theme) -> Line<'static> {
    let Some(o) = &e.outlier else {
        return table_line(&[clean(scope), "off".into()], grid, theme, Role::Muted);
    };
    let five = if o.consecutive_5xx.value == 0 {
        "off".to_string()
    } else {
        setting(&o.consecutive_5xx)
    };
    table_line(
        &[
            clean(scope),
            five,
            o.consecutive_gateway
                .map_or_else(|| "off (default)".into(), |g| g.to_string()),
            setting(&o.base_ejection_time),
            format!(
                "{}%{}",
                o.max_ejection_percent.value,
                if o.max_ejection_percent.default {
                    " (default)"
                } else {
                    ""
                }
            ),
            setting(&o.interval),
            format!("{}%", o.min_health_percent),
        ],
        grid,
        theme,
        Role::Text,
    )
}

fn retry_lines(d: &BreakerDetail, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![head("Retries and timeouts (routes to this host)", theme)];
    for r in &d.retries {
        let source = r
            .source
            .as_deref()
            .map_or_else(|| "no route sets retries: Istio's default".into(), clean);
        let attempts = if r.attempts == 0 {
            "retries off".to_string()
        } else {
            format!(
                "{} attempts{} on {}",
                r.attempts,
                r.per_try_timeout
                    .as_ref()
                    .map_or_else(String::new, |t| format!(" × {}", clean(t))),
                clean(&r.retry_on)
            )
        };
        let timeout = r
            .timeout
            .as_ref()
            .map_or_else(|| "no timeout".into(), |t| format!("timeout {}", clean(t)));
        out.push(Line::from(vec![
            Span::styled(format!(" {source}: "), theme.style(Role::Muted)),
            Span::styled(format!("{attempts} · {timeout}"), theme.style(Role::Text)),
        ]));
    }
    out
}

/// One sparkline row: `label`, the line scaled to `range`, and the newest value.
fn spark(
    label: &str,
    pts: &Points,
    range: (f64, f64),
    value: String,
    role: Role,
    width: usize,
    theme: &Theme,
) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("   {}", pad(label, 12)), theme.style(Role::Muted)),
        Span::styled(sparkline(pts, range.0, range.1, width), theme.style(role)),
        Span::styled(format!(" {value}"), theme.style(role)),
    ])
}

fn rate(v: f64) -> String {
    format!("{v:.2}/s")
}

/// One section of groups (callers or subsets): trips by flag, success and p99 of each.
/// `say_no_trips`: whether a group without trips says so (requests refused before a host is
/// chosen are a caller's, never a subset's).
fn group_lines(
    title: &str,
    groups: &[Group],
    empty: &str,
    say_no_trips: bool,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut out = vec![head(title, theme)];
    if groups.is_empty() {
        out.push(muted(format!(" {empty}"), theme));
        return out;
    }
    let trips = shared_range(
        groups
            .iter()
            .flat_map(|g| g.trips.iter().map(|t| t.1.as_slice())),
        Some(0.0),
    );
    // Success between 90% (or the lowest seen) and 100%, so a dip of a few points shows.
    let success = shared_range(groups.iter().map(|g| g.success.as_slice()), Some(1.0));
    let success = (success.0.min(0.9), 1.0);
    let p99 = shared_range(groups.iter().map(|g| g.p99.as_slice()), Some(0.0));
    for g in groups {
        out.push(Line::from(Span::styled(
            format!(" {}", clean(&g.label)),
            theme.style(Role::Title),
        )));
        for (flag, pts) in &g.trips {
            let v = latest(pts).unwrap_or(0.0);
            out.push(spark(
                &format!("trips {flag}"),
                pts,
                trips,
                rate(v),
                Role::Crit,
                width,
                theme,
            ));
        }
        if g.trips.is_empty() && say_no_trips {
            out.push(muted(
                "   trips       none in the last 30 min".into(),
                theme,
            ));
        }
        let s = latest(&g.success);
        out.push(spark(
            "success",
            &g.success,
            success,
            s.map_or_else(|| "—".into(), percent),
            match s {
                Some(v) if v < 0.95 => Role::Crit,
                Some(v) if v < 0.99 => Role::Warn,
                _ => Role::Accent,
            },
            width,
            theme,
        ));
        out.push(spark(
            "p99",
            &g.p99,
            p99,
            latest(&g.p99).map_or_else(|| "—".into(), duration_ms),
            Role::Accent,
            width,
            theme,
        ));
    }
    out
}

/// A gauge next to the limit it runs into: `pending ▁▃█ 32 / 32 http1MaxPendingRequests ✖`.
fn load_line(
    label: &str,
    pts: &Points,
    limit: Option<u64>,
    limit_name: &str,
    width: usize,
    theme: &Theme,
) -> Line<'static> {
    let cap = limit.map(|l| l as f64);
    // From zero to the limit (or the highest seen), so "at the limit" reads as full.
    let range = (0.0, shared_range([pts.as_slice()], cap).1);
    let v = latest(pts);
    let at_limit = matches!((v, cap), (Some(v), Some(c)) if v >= c);
    let value = format!(
        "{} / {} {limit_name}{}",
        v.map_or_else(|| "—".into(), |v| format!("{v:.0}")),
        limit.map_or_else(|| "∞ (default)".into(), |l| l.to_string()),
        if at_limit { " ✖ at the limit" } else { "" }
    );
    spark(
        label,
        pts,
        range,
        value,
        if at_limit { Role::Crit } else { Role::Accent },
        width,
        theme,
    )
}

fn envoy_lines(
    d: &BreakerDetail,
    groups: &[EnvoyGroup],
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut out = vec![head(
        "Envoy, as the calling proxies see it (worst caller)",
        theme,
    )];
    if groups.is_empty() {
        out.push(muted(
            " Envoy's outlier-detection and pool stats are not exported by the calling \
             proxies; to chart hosts ejected and load against the limits, set:"
                .into(),
            theme,
        ));
        out.push(Line::from(Span::styled(
            format!("   {STATS_MATCHER}"),
            theme.style(Role::Accent),
        )));
        return out;
    }
    for g in groups {
        let name = g.cluster.as_ref().map_or_else(
            || "?".to_string(),
            |c| {
                let port = c.port.map_or_else(String::new, |p| format!("port {p}"));
                if c.subset.is_empty() {
                    port
                } else {
                    format!("subset {} · {port}", c.subset)
                }
            },
        );
        out.push(Line::from(Span::styled(
            format!(" {}", clean(&name)),
            theme.style(Role::Title),
        )));
        let policy = g.cluster.as_ref().and_then(|c| d.policy_for(c));
        let pool = policy.as_ref().map(|p| &p.pool);
        let ejected = latest(&g.ejected);
        let hosts = g.hosts;
        let range = (0.0, shared_range([g.ejected.as_slice()], hosts).1.max(1.0));
        let all = matches!((ejected, hosts), (Some(e), Some(h)) if h > 0.0 && e >= h);
        out.push(spark(
            "ejected",
            &g.ejected,
            range,
            format!(
                "{} of {} hosts{}",
                ejected.map_or_else(|| "—".into(), |v| format!("{v:.0}")),
                hosts.map_or_else(|| "?".into(), |h| format!("{h:.0}")),
                if all { " ✖ all ejected" } else { "" }
            ),
            if all {
                Role::Crit
            } else if ejected.is_some_and(|e| e > 0.0) {
                Role::Warn
            } else {
                Role::Accent
            },
            width,
            theme,
        ));
        for (label, pts, limit, limit_name) in [
            (
                "pending",
                &g.pending,
                pool.and_then(|p| p.http1_max_pending_requests),
                "http1MaxPendingRequests",
            ),
            (
                "active req",
                &g.active,
                pool.and_then(|p| p.http2_max_requests),
                "http2MaxRequests",
            ),
            (
                "connections",
                &g.connections,
                pool.and_then(|p| p.max_connections),
                "maxConnections",
            ),
        ] {
            if !pts.is_empty() {
                out.push(load_line(label, pts, limit, limit_name, width, theme));
            }
        }
        for (label, pts) in [
            ("overflow UO", &g.overflow),
            ("retry ovf URX", &g.retry_overflow),
        ] {
            if pts.iter().any(|p| p.1 > 0.0) {
                let r = (0.0, shared_range([pts.as_slice()], None).1);
                out.push(spark(
                    label,
                    pts,
                    r,
                    rate(latest(pts).unwrap_or(0.0)),
                    Role::Crit,
                    width,
                    theme,
                ));
            }
        }
    }
    out
}

/// Draws the detail of `d` into `area`.
pub fn render(frame: &mut Frame, area: Rect, d: &BreakerDetail, v: &ViewInputs<'_>) {
    let theme = v.theme;
    let width = usize::from(area.width).saturating_sub(40).clamp(8, 48);
    let mut lines = Vec::new();
    let what = match d.kind {
        RowKind::Rule => format!("DestinationRule {}/{}", d.namespace, d.name),
        RowKind::Service => format!("Service {}/{} (seen in traffic)", d.namespace, d.name),
    };
    lines.push(Line::from(vec![
        Span::styled(
            format!(" host {} ", clean(&d.host)),
            theme.style(Role::Title),
        ),
        Span::styled(format!("· {}", clean(&what)), theme.style(Role::Muted)),
    ]));
    if let Some(via) = &d.via {
        lines.push(muted(
            format!(" falls under the wildcard rule {}", clean(via)),
            theme,
        ));
    }
    if let Some(why) = &d.malformed {
        lines.push(Line::from(Span::styled(
            format!(" ✖ the rule could not be read in full: {}", clean(why)),
            theme.style(Role::Crit),
        )));
    }
    lines.extend(config_lines(d, Grid::new(usize::from(area.width)), theme));
    lines.extend(retry_lines(d, theme));
    if let Some(note) = &v.note {
        lines.push(Line::from(Span::styled(
            format!(" {}", clean(note)),
            theme.style(Role::Warn),
        )));
    }
    if let Some(m) = v.metrics {
        if let Some(e) = &m.error {
            lines.push(Line::from(Span::styled(
                format!(" ✖ {}", clean(e)),
                theme.style(Role::Crit),
            )));
        }
        lines.extend(group_lines(
            "Callers (source_workload · last 30 min · reporter=source)",
            &m.callers,
            "no requests in the last 30 min",
            true,
            width,
            theme,
        ));
        let mut subsets = group_lines(
            "Subsets (by destination_version)",
            &m.subsets,
            "no requests in the last 30 min",
            false,
            width,
            theme,
        );
        if d.subsets.iter().any(|(_, v)| v.is_none()) {
            subsets.push(muted(
                " subsets without a `version` label are charted only through Envoy's stats".into(),
                theme,
            ));
        }
        lines.extend(subsets);
        lines.extend(envoy_lines(d, &m.envoy, width, theme));
    }
    lines.extend(event_lines(v.events, 8, theme, v.clock));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((v.scroll, 0)),
        area,
    );
}
