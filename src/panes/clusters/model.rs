//! The Clusters pane's rows, computed from each cluster's info and stores: reachability and
//! latency, version, nodes ready/total, pods not ready, namespaces, which add-on APIs are
//! served, and a roll-up of problems (its own node and pod findings plus what other panes
//! report).

use chrono::{DateTime, Utc};

use crate::clock::{Clock, short_duration};
use crate::cluster::{ClusterInfo, Discovery, PromReach, Reach};
use crate::panes::{AddonSpec, Problem};
use crate::source::SourceState;
use crate::source::fleet::{FleetCluster, FleetSnapshot};
use crate::theme::Role;

/// Pod health, counted once per update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodCounts {
    pub total: usize,
    pub not_ready: usize,
    /// (namespace/name, reason) of the worst pods, for problems.
    pub failing: Vec<(String, String)>,
}

/// One cluster's inputs.
#[derive(Debug, Clone)]
pub struct ClusterInput {
    pub context: String,
    pub info: ClusterInfo,
    pub discovery: Discovery,
    /// (ready, total) and any node problems, or `None` before the first list.
    pub nodes: Option<(usize, usize, Vec<String>)>,
    pub nodes_state: SourceState,
    pub pods: Option<PodCounts>,
    pub pods_state: SourceState,
    pub namespaces: Option<usize>,
    pub other_problems: Vec<Problem>,
    /// Every started watch of this cluster: (kind, state).
    pub sources: Vec<(String, SourceState)>,
    /// TLS verification is off for it.
    pub insecure: bool,
    /// What the fleet metrics endpoint says about it (its firing alerts are problems).
    pub fleet: Option<FleetCluster>,
}

/// An add-on API and whether the cluster serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addon {
    pub short: &'static str,
    pub name: &'static str,
    pub present: Option<bool>,
}

/// One row of the Clusters pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRow {
    pub context: String,
    pub focused: bool,
    pub status: String,
    pub status_role: Role,
    pub version: String,
    pub nodes: String,
    pub nodes_role: Role,
    pub pods_not_ready: String,
    pub pods_role: Role,
    pub namespaces: String,
    pub addons: Vec<Addon>,
    pub problems: Vec<Problem>,
    /// For the details below the table.
    pub info: ClusterInfo,
    pub sources: Vec<(String, SourceState)>,
    /// Known only from the fleet metrics endpoint: kdeck does not watch this context.
    pub metrics_only: Option<MetricsOnly>,
}

/// Where a metrics-only row's numbers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsOnly {
    pub endpoint: String,
    /// The cluster label's value.
    pub label: String,
    pub state: SourceState,
    pub at: Option<DateTime<Utc>>,
}

impl ClusterRow {
    #[must_use]
    pub fn addons_text(&self) -> String {
        self.addons
            .iter()
            .map(|a| match a.present {
                Some(true) => a.short.to_string(),
                Some(false) => "--".to_string(),
                None => "??".to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[must_use]
    pub fn problems_text(&self) -> String {
        match self.problems.len() {
            0 => "—".into(),
            1 => self.problems[0].text.clone(),
            n => format!("{n}: {}", self.problems[0].text),
        }
    }

    /// Where the row sorts, worst first: clusters that cannot be reached (or whose watches
    /// fail), then critical problems, then stale data, then warnings, then clusters still
    /// connecting, then healthy ones; within a class, more problems first, then by name.
    #[must_use]
    pub fn rank(&self) -> (u8, std::cmp::Reverse<usize>, &str) {
        let worst_problem = self.problems.iter().map(|p| p.severity).max().unwrap_or(0);
        let unreachable = matches!(
            self.info.reach,
            Reach::Unreachable { .. } | Reach::Failed { .. }
        );
        let class = match (self.status_role, worst_problem) {
            _ if unreachable => 0,
            (Role::Crit, _) => 0,
            (_, 2..) => 1,
            (Role::Warn, _) => 2,
            (_, 1) => 3,
            (Role::Ok, _) => 5,
            _ if self.metrics_only.is_some() => 5,
            _ => 4,
        };
        (
            class,
            std::cmp::Reverse(self.problems.len()),
            self.context.as_str(),
        )
    }

    #[must_use]
    pub fn problems_role(&self) -> Role {
        match self.problems.iter().map(|p| p.severity).max() {
            Some(2..) => Role::Crit,
            Some(1) => Role::Warn,
            _ => Role::Muted,
        }
    }
}

fn retry_in(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let s = (at - now).num_seconds();
    if s > 0 {
        format!("retrying in {s}s")
    } else {
        "retrying".into()
    }
}

/// The status cell: reachability first (a dead API server explains everything else), then
/// the worst watch state.
fn status(input: &ClusterInput, clock: Clock) -> (String, Role) {
    let now = clock.now();
    let had_data = input.nodes.is_some();
    match &input.info.reach {
        Reach::Failed { reason } => (format!("✖ {reason}"), Role::Crit),
        Reach::Unreachable {
            since,
            retry_at,
            reason,
        } => {
            if had_data {
                (
                    format!(
                        "◐ stale since {} ({}; {reason})",
                        clock.time_of_day(*since),
                        retry_in(now, *retry_at)
                    ),
                    Role::Warn,
                )
            } else {
                (
                    format!("✖ unreachable: {reason} ({})", retry_in(now, *retry_at)),
                    Role::Crit,
                )
            }
        }
        Reach::Connecting => ("◌ connecting".into(), Role::Muted),
        Reach::Reachable { latency, .. } => {
            let worst = [&input.nodes_state, &input.pods_state]
                .into_iter()
                .max_by_key(|s| s.severity())
                .cloned()
                .unwrap_or(SourceState::Connecting);
            let ms = latency_text(*latency);
            match worst {
                SourceState::Live { .. } => (format!("● live {ms}"), Role::Ok),
                other => (
                    format!("{} {} · api {ms}", other.symbol(), other.label(clock)),
                    other.role(),
                ),
            }
        }
    }
}

/// API round-trip time: tenths below 10 ms (loopback and LAN), whole milliseconds above.
#[must_use]
pub fn latency_text(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

/// Builds the rows, worst first ([`ClusterRow::rank`]); `addons` are the registered panes'
/// add-on APIs (Prometheus is added as the last one).
#[must_use]
pub fn build_rows(
    inputs: &[ClusterInput],
    focus: Option<&str>,
    clock: Clock,
    addons: &[AddonSpec],
) -> Vec<ClusterRow> {
    let mut rows: Vec<ClusterRow> = inputs
        .iter()
        .map(|input| {
            let (status, status_role) = status(input, clock);
            let mut problems = Vec::new();
            if input.insecure {
                problems.push(Problem {
                    cluster: input.context.clone(),
                    severity: 1,
                    text: "TLS not verified (insecure-skip-tls-verify): what kdeck sees and \
                           sends can be read and changed on the way"
                        .into(),
                });
            }
            if let Reach::Failed { reason } = &input.info.reach {
                problems.push(Problem {
                    cluster: input.context.clone(),
                    severity: 2,
                    text: format!("cannot connect: {reason}"),
                });
            }
            if let Reach::Unreachable { since, reason, .. } = &input.info.reach {
                problems.push(Problem {
                    cluster: input.context.clone(),
                    severity: 2,
                    text: format!(
                        "API unreachable for {} ({reason})",
                        short_duration((clock.now() - *since).num_seconds())
                    ),
                });
            }
            let (nodes, nodes_role) = match &input.nodes {
                Some((ready, total, node_problems)) => {
                    for p in node_problems {
                        problems.push(Problem {
                            cluster: input.context.clone(),
                            severity: 2,
                            text: p.clone(),
                        });
                    }
                    let role = if ready == total { Role::Ok } else { Role::Crit };
                    (format!("{ready}/{total}"), role)
                }
                None => (placeholder(&input.nodes_state), Role::Muted),
            };
            let (pods_not_ready, pods_role) = match &input.pods {
                Some(p) => {
                    for (name, reason) in &p.failing {
                        problems.push(Problem {
                            cluster: input.context.clone(),
                            severity: 1,
                            text: format!("pod {name} {reason}"),
                        });
                    }
                    let role = if p.not_ready == 0 {
                        Role::Ok
                    } else {
                        Role::Warn
                    };
                    (format!("{}/{}", p.not_ready, p.total), role)
                }
                None => (placeholder(&input.pods_state), Role::Muted),
            };
            problems.extend(input.other_problems.iter().cloned());
            if let Some(f) = &input.fleet {
                problems.extend(alert_problems(f));
            }
            // Worst first, then as reported.
            problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
            let serves = |plural: &str, group: &str| input.discovery.serves(plural, group);
            let prom = match &input.info.prometheus {
                PromReach::Reachable { .. } => Some(true),
                PromReach::Unreachable { .. } => Some(false),
                PromReach::Unknown => None,
            };
            ClusterRow {
                context: input.context.clone(),
                focused: focus == Some(input.context.as_str()),
                status,
                status_role,
                version: input.info.version.clone().unwrap_or_else(|| "?".into()),
                nodes,
                nodes_role,
                pods_not_ready,
                pods_role,
                namespaces: input
                    .namespaces
                    .map_or_else(|| "?".into(), |n| n.to_string()),
                addons: addons
                    .iter()
                    .map(|a| Addon {
                        short: a.short,
                        name: a.name,
                        present: serves(a.resource.0, a.resource.1),
                    })
                    .chain(std::iter::once(Addon {
                        short: "PR",
                        name: "Prometheus",
                        present: prom,
                    }))
                    .collect(),
                problems,
                info: input.info.clone(),
                sources: input.sources.clone(),
                metrics_only: None,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.rank().cmp(&b.rank()));
    rows
}

/// The firing alerts of a cluster as problems (`alert KubeNodeNotReady ×2 (critical)`).
fn alert_problems(f: &FleetCluster) -> Vec<Problem> {
    f.alerts
        .iter()
        .map(|a| Problem {
            cluster: f.context.clone(),
            severity: a.severity_rank(),
            text: format!(
                "alert {}{}{}",
                a.name,
                if a.count > 1 {
                    format!(" ×{}", a.count)
                } else {
                    String::new()
                },
                if a.severity.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", a.severity)
                }
            ),
        })
        .collect()
}

/// Rows for the clusters the fleet endpoint reports that no watched context stands for: their
/// nodes, pods and firing alerts, marked "metrics only".
#[must_use]
pub fn metrics_only_rows(fleet: &FleetSnapshot, watched: &[&str], clock: Clock) -> Vec<ClusterRow> {
    let (status, status_role) = match &fleet.state {
        SourceState::Live { .. } => ("◇ metrics only".to_string(), Role::Muted),
        other => (
            format!("◇ metrics only · {} {}", other.symbol(), other.label(clock)),
            Role::Warn,
        ),
    };
    fleet
        .clusters
        .values()
        .filter(|c| !watched.contains(&c.context.as_str()))
        .map(|c| {
            let mut problems = Vec::new();
            let (nodes, nodes_role) = match (c.nodes_ready, c.nodes) {
                (Some(ready), Some(total)) => {
                    if ready < total {
                        problems.push(Problem {
                            cluster: c.context.clone(),
                            severity: 2,
                            text: format!("{} of {total} nodes not ready", total - ready),
                        });
                    }
                    let role = if ready >= total { Role::Ok } else { Role::Crit };
                    (format!("{ready}/{total}"), role)
                }
                (_, Some(total)) => (format!("?/{total}"), Role::Muted),
                _ => ("?".into(), Role::Muted),
            };
            let (pods_not_ready, pods_role) = match (c.pods_not_ready, c.pods) {
                (Some(bad), Some(total)) => (
                    format!("{bad}/{total}"),
                    if bad == 0 { Role::Ok } else { Role::Warn },
                ),
                _ => ("?".into(), Role::Muted),
            };
            problems.extend(alert_problems(c));
            problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
            ClusterRow {
                context: c.context.clone(),
                focused: false,
                status: status.clone(),
                status_role,
                version: "?".into(),
                nodes,
                nodes_role,
                pods_not_ready,
                pods_role,
                namespaces: "?".into(),
                addons: Vec::new(),
                problems,
                info: ClusterInfo {
                    server: String::new(),
                    user: String::new(),
                    version: None,
                    reach: Reach::Connecting,
                    prometheus: PromReach::Unknown,
                    readonly: true,
                },
                sources: Vec::new(),
                metrics_only: Some(MetricsOnly {
                    endpoint: fleet.endpoint.clone(),
                    label: c.label.clone(),
                    state: fleet.state.clone(),
                    at: fleet.at,
                }),
            }
        })
        .collect()
}

fn placeholder(state: &SourceState) -> String {
    match state {
        SourceState::Forbidden { .. } => "forbidden".into(),
        SourceState::NotInstalled => "n/a".into(),
        SourceState::Error { .. } => "error".into(),
        _ => "…".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::time::Duration;

    /// The add-on APIs of the Rollouts, Drift, Backups and Circuit-breakers panes.
    const ADDONS: &[AddonSpec] = &[
        AddonSpec {
            short: "RO",
            name: "Argo Rollouts",
            resource: ("rollouts", "argoproj.io"),
        },
        AddonSpec {
            short: "CD",
            name: "Argo CD",
            resource: ("applications", "argoproj.io"),
        },
        AddonSpec {
            short: "VE",
            name: "Velero",
            resource: ("backups", "velero.io"),
        },
        AddonSpec {
            short: "IS",
            name: "Istio",
            resource: ("destinationrules", "networking.istio.io"),
        },
    ];

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn input(reach: Reach) -> ClusterInput {
        ClusterInput {
            context: "prod".into(),
            info: ClusterInfo {
                server: "https://x".into(),
                user: "me".into(),
                version: Some("v1.32.4".into()),
                reach,
                prometheus: PromReach::Reachable {
                    version: "2.53".into(),
                },
                readonly: false,
            },
            discovery: Discovery {
                resources: Some(BTreeSet::from(["rollouts.argoproj.io".to_string()])),
                ..Discovery::default()
            },
            nodes: Some((2, 3, vec!["node n3 NotReady (KubeletNotReady)".into()])),
            nodes_state: SourceState::Live {
                since: t("2026-11-22T12:00:00Z"),
            },
            pods: Some(PodCounts {
                total: 10,
                not_ready: 1,
                failing: vec![("shop/catalog-1".into(), "CrashLoopBackOff".into())],
            }),
            pods_state: SourceState::Live {
                since: t("2026-11-22T12:00:00Z"),
            },
            namespaces: Some(7),
            other_problems: vec![Problem {
                cluster: "prod".into(),
                severity: 1,
                text: "rollout shop/checkout paused".into(),
            }],
            sources: Vec::new(),
            insecure: false,
            fleet: None,
        }
    }

    #[test]
    fn live_cluster_row() {
        let clock = Clock::Fixed(t("2026-11-22T12:03:04Z"));
        let rows = build_rows(
            &[input(Reach::Reachable {
                latency: Duration::from_millis(12),
                since: t("2026-11-22T12:00:00Z"),
            })],
            Some("prod"),
            clock,
            ADDONS,
        );
        let r = &rows[0];
        assert_eq!(r.status, "● live 12ms");
        assert_eq!(r.nodes, "2/3");
        assert_eq!(r.nodes_role, Role::Crit);
        assert_eq!(r.pods_not_ready, "1/10");
        assert_eq!(r.addons_text(), "RO -- -- -- PR");
        assert!(r.focused);
        // Critical node problem first, then pod and rollout warnings.
        assert_eq!(r.problems.len(), 3);
        assert_eq!(r.problems_text(), "3: node n3 NotReady (KubeletNotReady)");
        assert_eq!(r.problems_role(), Role::Crit);
    }

    #[test]
    fn an_insecure_cluster_says_so_among_its_problems() {
        let clock = Clock::Fixed(t("2026-11-22T12:03:04Z"));
        let mut i = input(Reach::Reachable {
            latency: Duration::from_millis(12),
            since: t("2026-11-22T12:00:00Z"),
        });
        i.insecure = true;
        let rows = build_rows(&[i], None, clock, ADDONS);
        assert!(
            rows[0].problems.iter().any(|p| p
                .text
                .starts_with("TLS not verified (insecure-skip-tls-verify)")),
            "{:?}",
            rows[0].problems
        );
    }

    #[test]
    fn unreachable_after_data_is_stale_with_time() {
        let clock = Clock::Fixed(t("2026-11-22T12:03:10Z"));
        let rows = build_rows(
            &[input(Reach::Unreachable {
                since: t("2026-11-22T12:03:04Z"),
                retry_at: t("2026-11-22T12:03:14Z"),
                reason: "Connection refused".into(),
            })],
            None,
            clock,
            ADDONS,
        );
        assert_eq!(
            rows[0].status,
            "◐ stale since 12:03:04 (retrying in 4s; Connection refused)"
        );
        assert_eq!(rows[0].status_role, Role::Warn);
        assert!(
            rows[0].problems[0]
                .text
                .starts_with("API unreachable for 6s")
        );
    }

    fn reachable() -> Reach {
        Reach::Reachable {
            latency: Duration::from_millis(3),
            since: t("2026-11-22T12:00:00Z"),
        }
    }

    fn healthy(name: &str) -> ClusterInput {
        let mut i = input(reachable());
        i.context = name.into();
        i.nodes = Some((3, 3, Vec::new()));
        i.pods = Some(PodCounts {
            total: 10,
            ..PodCounts::default()
        });
        i.other_problems = Vec::new();
        i
    }

    #[test]
    fn rows_sort_worst_first_then_by_problem_count_then_name() {
        let clock = Clock::Fixed(t("2026-11-22T12:03:10Z"));
        let mut down = healthy("d-down");
        down.info.reach = Reach::Unreachable {
            since: t("2026-11-22T12:03:04Z"),
            retry_at: t("2026-11-22T12:03:14Z"),
            reason: "Connection refused".into(),
        };
        let mut node_down = healthy("c-node");
        node_down.nodes = Some((2, 3, vec!["node n3 NotReady (KubeletNotReady)".into()]));
        let mut one_warning = healthy("b-warn");
        one_warning.other_problems = vec![Problem {
            cluster: "b-warn".into(),
            severity: 1,
            text: "rollout shop/web paused".into(),
        }];
        let mut two_warnings = healthy("e-warn2");
        two_warnings.other_problems = vec![one_warning.other_problems[0].clone(); 2];
        let mut connecting = healthy("f-new");
        connecting.info.reach = Reach::Connecting;
        let rows = build_rows(
            &[
                healthy("a-fine"),
                one_warning,
                node_down,
                down,
                two_warnings,
                connecting,
            ],
            None,
            clock,
            ADDONS,
        );
        let order: Vec<&str> = rows.iter().map(|r| r.context.as_str()).collect();
        assert_eq!(
            order,
            ["d-down", "c-node", "e-warn2", "b-warn", "f-new", "a-fine"]
        );
    }

    fn fleet(state: SourceState) -> FleetSnapshot {
        let cluster = |label: &str, context: &str| FleetCluster {
            label: label.into(),
            context: context.into(),
            nodes_ready: Some(4),
            nodes: Some(5),
            pods_not_ready: Some(2),
            pods: Some(40),
            alerts: vec![
                crate::source::fleet::FiringAlert {
                    name: "KubeNodeNotReady".into(),
                    severity: "critical".into(),
                    count: 1,
                },
                crate::source::fleet::FiringAlert {
                    name: "KubePodCrashLooping".into(),
                    severity: "warning".into(),
                    count: 2,
                },
            ],
        };
        FleetSnapshot {
            endpoint: "http://thanos:9090".into(),
            clusters: [
                ("prod".to_string(), cluster("prod", "prod")),
                ("gke_edge_1".to_string(), cluster("edge-1", "gke_edge_1")),
            ]
            .into(),
            state,
            at: Some(t("2026-11-22T12:03:00Z")),
        }
    }

    #[test]
    fn clusters_only_the_fleet_endpoint_knows_get_metrics_only_rows() {
        let clock = Clock::Fixed(t("2026-11-22T12:03:10Z"));
        let snapshot = fleet(SourceState::Live {
            since: t("2026-11-22T12:03:00Z"),
        });
        let rows = metrics_only_rows(&snapshot, &["prod"], clock);
        assert_eq!(rows.len(), 1, "the watched context gets no second row");
        let r = &rows[0];
        assert_eq!(r.context, "gke_edge_1");
        assert_eq!(r.status, "◇ metrics only");
        assert_eq!((r.nodes.as_str(), r.nodes_role), ("4/5", Role::Crit));
        assert_eq!(r.pods_not_ready, "2/40");
        let texts: Vec<&str> = r.problems.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "1 of 5 nodes not ready",
                "alert KubeNodeNotReady (critical)",
                "alert KubePodCrashLooping ×2 (warning)"
            ]
        );
        assert_eq!(r.metrics_only.as_ref().unwrap().label, "edge-1");
        // Critical problems sort it among the worst.
        assert_eq!(r.rank().0, 1);
        let stale = fleet(SourceState::Stale {
            since: t("2026-11-22T12:03:00Z"),
            retry_at: t("2026-11-22T12:03:20Z"),
            reason: "timed out".into(),
        });
        let rows = metrics_only_rows(&stale, &["prod"], clock);
        assert_eq!(
            rows[0].status,
            "◇ metrics only · ◐ stale since 12:03:00 (retrying in 10s)"
        );
    }

    #[test]
    fn a_watched_cluster_shows_its_firing_alerts_as_problems() {
        let clock = Clock::Fixed(t("2026-11-22T12:03:10Z"));
        let snapshot = fleet(SourceState::Live {
            since: t("2026-11-22T12:03:00Z"),
        });
        let mut i = healthy("prod");
        i.fleet = snapshot.clusters.get("prod").cloned();
        let rows = build_rows(&[i], None, clock, ADDONS);
        assert_eq!(
            rows[0].problems_text(),
            "2: alert KubeNodeNotReady (critical)"
        );
        assert_eq!(rows[0].problems_role(), Role::Crit);
    }
}
