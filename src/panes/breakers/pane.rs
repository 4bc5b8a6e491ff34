//! The Circuit-breakers pane on the kit: the Istio kinds it reads (at `v1`, or `v1beta1` where
//! the cluster serves no `v1`), the list queries it polls on each cluster for the live
//! columns, how one cluster's objects and answer become rows, and the detail view with its
//! half-hour queries. It has no actions: it answers "is a breaker open or tripping, for which
//! service and callers, and is it configured as we think".

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use kube::core::DeserializeGuard;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::detail::{self, BreakerDetail, DetailMetrics};
use super::detail_view::{self, ViewInputs};
use super::hosts::{HostRef, parse_host};
use super::live::{self, BreakerState, LiveIndex};
use super::model::{BreakerRow, Objects, Routes, RowKind, Rule, build_rows, retries_for};
use super::view;
use crate::clock::Clock;
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::k8s::istio::{DestinationRule, V1beta1, VirtualService};
use crate::keymap::ActionCall;
use crate::pane_actions;
use crate::panes::kit::{
    DetailCx, DrawCx, EmptyTexts, ObjectKey, PaneModel, PromView, RowCache, RowCx, TablePane, worst,
};
use crate::panes::{AddonSpec, Problem, Reply};
use crate::source::{KindSpec, PromQuery, PromSpec, SourceState, Watched, kind};
use crate::widgets::table::{Column, TableRow};

/// The Circuit-breakers pane.
pub type BreakersPane = TablePane<BreakersModel>;

/// The Circuit-breakers pane's own parts (its state lives in the kit).
#[derive(Debug, Default)]
pub struct BreakersModel;

/// An open detail view: the detail, and its series as of the last answer.
#[derive(Debug)]
pub struct BreakersDetail {
    pub detail: BreakerDetail,
    pub metrics: Option<DetailMetrics>,
    /// Why there are no (or only old) series.
    pub note: Option<String>,
}

/// The series of the detail's queries and what to say about them.
fn metrics(
    prom: &PromView,
    d: &BreakerDetail,
    clock: Clock,
) -> (Option<DetailMetrics>, Option<String>) {
    match prom {
        PromView::Data { snapshot, state } => (
            Some(DetailMetrics::from_prom(snapshot, d)),
            (!state.is_live())
                .then(|| format!("{} Prometheus {}", state.symbol(), state.label(clock))),
        ),
        PromView::Unconfigured => (
            None,
            Some("no Prometheus configured for this cluster".into()),
        ),
        PromView::Waiting => (None, Some("waiting for Prometheus…".into())),
        PromView::None if d.service.is_none() => (
            None,
            Some("a wildcard host: open one of the services it covers for live numbers".into()),
        ),
        PromView::None => (None, Some("waiting for Prometheus…".into())),
    }
}

/// The key of the list queries' poller on each cluster.
pub const LIST_KEY: &str = "breakers/list";

/// The list queries: every service of the cluster at once.
#[must_use]
pub fn list_spec(config: &Config) -> PromSpec {
    let q = &config.queries.breakers;
    let instant = |id: &str, promql: &str| PromQuery {
        id: id.into(),
        promql: promql.into(),
        range: None,
    };
    PromSpec {
        key: LIST_KEY.into(),
        interval: Duration::from_secs(config.prometheus.interval_secs.max(2)),
        queries: vec![
            instant(live::TRIPS, &q.trips),
            instant(live::REQUESTS, &q.requests),
            instant(live::ERRORS, &q.errors),
            instant(live::P50, &q.latency_p50),
            instant(live::P99, &q.latency_p99),
            instant(live::ENVOY, &q.envoy),
        ],
    }
}

/// Whether the cluster's Istio is read at `v1beta1`: it serves the kind there but not at
/// `v1` (the `v1` watch then reports not installed, the `v1beta1` one does not).
fn beta<K: Watched>(c: &ClusterHandle) -> bool
where
    V1beta1<K>: Watched,
{
    matches!(c.sources.state::<K>(), SourceState::NotInstalled)
        && !matches!(
            c.sources.state::<V1beta1<K>>(),
            SourceState::NotInstalled | SourceState::Connecting
        )
}

fn kind_state<K: Watched>(c: &ClusterHandle) -> SourceState
where
    V1beta1<K>: Watched,
{
    if beta::<K>(c) {
        c.sources.state::<V1beta1<K>>()
    } else {
        c.sources.state::<K>()
    }
}

fn revisions(c: &ClusterHandle) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    c.sources.revision::<DestinationRule>().hash(&mut h);
    c.sources
        .revision::<V1beta1<DestinationRule>>()
        .hash(&mut h);
    c.sources.revision::<VirtualService>().hash(&mut h);
    c.sources.revision::<V1beta1<VirtualService>>().hash(&mut h);
    h.finish()
}

/// The objects of a kind at the version the cluster serves, projected to the `v1` type.
struct Read<K: Watched> {
    v1: Vec<Arc<DeserializeGuard<K>>>,
    beta: Vec<Arc<DeserializeGuard<V1beta1<K>>>>,
}

impl<K: Watched> Read<K>
where
    V1beta1<K>: Watched,
{
    fn of(c: &ClusterHandle) -> Self {
        if beta::<K>(c) {
            Self {
                v1: Vec::new(),
                beta: c.sources.objects::<V1beta1<K>>(),
            }
        } else {
            Self {
                v1: c.sources.objects::<K>(),
                beta: Vec::new(),
            }
        }
    }

    fn readable(&self) -> impl Iterator<Item = &K> {
        let v1 = self.v1.iter().filter_map(|g| g.0.as_ref().ok());
        let beta = self
            .beta
            .iter()
            .filter_map(|g| g.0.as_ref().ok().map(|b| &b.0));
        v1.chain(beta)
    }

    /// (namespace, name, why) of every object that could not be parsed.
    fn unreadable(&self) -> Vec<(String, String, String)> {
        let v1 = self.v1.iter().filter_map(|g| g.0.as_ref().err());
        let beta = self.beta.iter().filter_map(|g| g.0.as_ref().err());
        v1.chain(beta)
            .map(|e| {
                (
                    e.metadata.namespace.clone().unwrap_or_default(),
                    e.metadata.name.clone().unwrap_or_default(),
                    e.error.clone(),
                )
            })
            .collect()
    }
}

fn rules(read: &Read<DestinationRule>) -> Vec<Rule<'_>> {
    read.readable()
        .map(|r| Rule {
            meta: &r.metadata,
            spec: &r.spec,
            malformed: r.malformed.as_deref(),
        })
        .collect()
}

fn routes(read: &Read<VirtualService>) -> Vec<Routes<'_>> {
    read.readable()
        .map(|v| Routes {
            meta: &v.metadata,
            spec: &v.spec,
        })
        .collect()
}

impl PaneModel for BreakersModel {
    type Row = BreakerRow;
    type Detail = BreakersDetail;

    const ID: &'static str = "breakers";
    const TITLE: &'static str = "Breakers";
    pane_actions!(list: "breakers", detail: "breaker-detail", rows: []);
    const COLUMNS: &'static [Column] = view::COLUMNS;
    const EMPTY: EmptyTexts = EmptyTexts {
        none: "no DestinationRules and no mesh traffic in view",
        not_installed: "Istio is not installed on the clusters in view",
    };
    const ADDONS: &'static [AddonSpec] = &[AddonSpec {
        short: "IS",
        name: "Istio",
        resource: ("destinationrules", "networking.istio.io"),
    }];

    fn kinds(&self) -> Vec<KindSpec> {
        vec![
            kind::<DestinationRule>(),
            kind::<V1beta1<DestinationRule>>(),
            kind::<VirtualService>(),
            kind::<V1beta1<VirtualService>>(),
        ]
    }

    fn state(&self, c: &ClusterHandle) -> SourceState {
        worst(
            kind_state::<DestinationRule>(c),
            kind_state::<VirtualService>(c),
        )
    }

    fn revision(&self, c: &ClusterHandle) -> u64 {
        revisions(c)
    }

    fn list_prom(&self, c: &ClusterHandle, config: &Config) -> Option<PromSpec> {
        // A cluster without Istio has no mesh traffic to ask about.
        (!matches!(kind_state::<DestinationRule>(c), SourceState::NotInstalled))
            .then(|| list_spec(config))
    }

    fn rows(
        &self,
        cx: &RowCx<'_>,
        cache: &mut RowCache<BreakerRow>,
        out: &mut Vec<(Arc<BreakerRow>, TableRow)>,
    ) {
        let dr = Read::<DestinationRule>::of(cx.cluster);
        let vs = Read::<VirtualService>::of(cx.cluster);
        let live = LiveIndex::new(cx.prom);
        let objects = Objects {
            rules: &rules(&dr),
            routes: &routes(&vs),
            unreadable: &dr.unreadable(),
            live: &live,
        };
        let in_scope = |ns: &str| cx.scope.includes_namespace(ns);
        build_rows(
            &cx.cluster.context,
            cx.short,
            &objects,
            &in_scope,
            cache,
            out,
        );
    }

    fn object(row: &BreakerRow) -> ObjectKey {
        ObjectKey {
            cluster: row.cluster.clone(),
            kind: match row.kind {
                RowKind::Rule => "DestinationRule",
                RowKind::Service => "Service",
            },
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        }
    }

    fn problem(r: &BreakerRow) -> Option<Problem> {
        let severity = match r.state {
            BreakerState::Open | BreakerState::Malformed => 2,
            BreakerState::Tripping | BreakerState::Ejecting => 1,
            _ => return None,
        };
        let live = r
            .live
            .as_ref()
            .map(|l| l.trips.text())
            .filter(|t| t != "—")
            .map_or_else(String::new, |t| format!(" ({t} in 5m)"));
        Some(Problem {
            cluster: r.cluster.clone(),
            severity,
            text: format!(
                "breaker {}/{} {}{live}",
                r.namespace,
                r.host,
                r.state.as_str()
            ),
        })
    }

    fn detail_revision(&self, c: &ClusterHandle, _key: &ObjectKey) -> u64 {
        revisions(c)
    }

    fn detail(&self, cx: &DetailCx<'_>) -> Option<BreakersDetail> {
        let dr = Read::<DestinationRule>::of(cx.cluster);
        let vs = Read::<VirtualService>::of(cx.cluster);
        let routes = routes(&vs);
        let (ns, name) = (cx.key.namespace.as_str(), cx.key.name.as_str());
        let detail = match cx.key.kind {
            "DestinationRule" => {
                let rule = dr.readable().find(|r| {
                    r.metadata.namespace.as_deref() == Some(ns)
                        && r.metadata.name.as_deref() == Some(name)
                })?;
                let host = rule.spec.host.clone().unwrap_or_default();
                BreakerDetail::new(
                    &cx.cluster.context,
                    RowKind::Rule,
                    (ns, name),
                    &host,
                    Some(&rule.spec),
                    None,
                    retries_for(&parse_host(&host, ns), &routes),
                    rule.malformed.clone(),
                )
            }
            _ => {
                let host = HostRef::Service(super::hosts::ServiceRef {
                    name: name.into(),
                    namespace: ns.into(),
                });
                let svc = host.service()?;
                // The most specific wildcard rule covering the service, if any.
                let via = dr
                    .readable()
                    .filter_map(|r| {
                        let rns = r.metadata.namespace.as_deref().unwrap_or_default();
                        let h = parse_host(r.spec.host.as_deref().unwrap_or_default(), rns);
                        match &h {
                            HostRef::Wildcard(s) if h.matches(&svc) => Some((s.len(), r)),
                            _ => None,
                        }
                    })
                    .max_by_key(|(len, _)| *len)
                    .map(|(_, r)| r);
                BreakerDetail::new(
                    &cx.cluster.context,
                    RowKind::Service,
                    (ns, name),
                    name,
                    via.map(|r| &r.spec),
                    via.map(|r| {
                        format!(
                            "{}/{} {}",
                            r.metadata.namespace.as_deref().unwrap_or_default(),
                            r.metadata.name.as_deref().unwrap_or_default(),
                            r.spec.host.as_deref().unwrap_or_default()
                        )
                    }),
                    retries_for(&host, &routes),
                    None,
                )
            }
        };
        let (metrics, note) = metrics(cx.prom, &detail, Clock::Fixed(cx.now));
        Some(BreakersDetail {
            detail,
            metrics,
            note,
        })
    }

    fn detail_prom(&self, d: &BreakersDetail, config: &Config) -> Option<PromSpec> {
        let interval = Duration::from_secs(config.prometheus.interval_secs.max(2));
        d.detail
            .service
            .as_ref()
            .map(|s| detail::prom_spec(s, &config.queries.breakers, interval))
    }

    fn render_detail(&self, d: &BreakersDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
        detail_view::render(
            frame,
            area,
            &d.detail,
            &ViewInputs {
                metrics: d.metrics.as_ref(),
                note: d.note.as_deref(),
                events: cx.events,
                scroll: cx.scroll,
                theme: cx.theme,
                clock: cx.clock,
            },
        );
    }

    fn plan(&self, action: &ActionCall, _row: &BreakerRow, _cluster: &ClusterHandle) -> Reply {
        Reply::Warn(format!("{}: the Breakers pane has no actions", action.name))
    }
}
