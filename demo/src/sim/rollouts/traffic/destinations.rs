//! Istio traffic model (see traffic.rs): reads the live Rollouts, ReplicaSets, Services and
//! VirtualService weights into the per-version destinations each scrape splits traffic over.

use serde_json::Value;

use super::{Dest, SERVICES, ServiceModel, quality};
use crate::ClusterState;
use crate::sim::rollouts::model::Rs;
use crate::sim::rollouts::util::{HASH_LABEL, Kinds};
use crate::sim::{clock, fields};

/// The destinations of every scenario service, read from the live objects: VirtualService
/// weights and Service selectors pick the ReplicaSets, whose images decide the quality.
pub(super) fn destinations(state: &ClusterState, kinds: Kinds) -> Vec<(ServiceModel, Vec<Dest>)> {
    let seed = state.options.seed;
    let mut out = Vec::new();
    for svc in SERVICES {
        let Some(ro) = state.store.get_value(kinds.rollouts, svc.ns, svc.rollout) else {
            continue;
        };
        let (rs_objs, _) = state.store.list(kinds.replica_sets, Some(svc.ns));
        let uid = fields::uid(&ro);
        let rss: Vec<Rs> = rs_objs
            .iter()
            .filter(|o| o.owner_uids.first().map(String::as_str) == Some(uid))
            .map(|o| Rs::parse(&o.value()))
            .collect();
        let selected = |service: &str| -> Option<Rs> {
            let v = state.store.get_value(kinds.services, svc.ns, service)?;
            let hash = v.pointer("/spec/selector")?.get(HASH_LABEL)?.as_str()?;
            rss.iter().find(|r| r.hash == hash).cloned()
        };
        let dest = |name: &str, rs: &Rs, share: f64, fixed: Option<f64>| Dest {
            service_name: name.to_string(),
            revision: rs.hash.clone(),
            quality: quality(seed, rs.image()),
            share,
            ready: rs.ready > 0,
            fixed_rps: fixed,
            created_ms: clock::parse(&rs.created).map_or(0, |t| t.timestamp_millis()),
        };
        let mut dests = Vec::new();
        if let Some(c) = ro.pointer("/spec/strategy/canary") {
            let canary = fields::str_at(c, "/canaryService");
            let stable = fields::str_at(c, "/stableService");
            let weight = vs_weight(state, kinds, svc.ns, svc.rollout, canary).unwrap_or(0);
            if let Some(rs) = selected(stable) {
                dests.push(dest(
                    stable,
                    &rs,
                    f64::from(100 - weight.clamp(0, 100) as i32),
                    None,
                ));
            }
            if weight > 0
                && let Some(rs) = selected(canary)
            {
                dests.push(dest(canary, &rs, weight as f64, None));
            }
        } else if let Some(b) = ro.pointer("/spec/strategy/blueGreen") {
            let active = fields::str_at(b, "/activeService");
            let preview = fields::str_at(b, "/previewService");
            let active_rs = selected(active);
            if let Some(rs) = &active_rs {
                dests.push(dest(active, rs, 100.0, None));
            }
            if let Some(rs) = selected(preview)
                && active_rs.as_ref().is_none_or(|a| a.hash != rs.hash)
            {
                // Smoke tests exercise the preview at a small fixed rate.
                dests.push(dest(preview, &rs, 0.0, Some(2.5)));
            }
        }
        out.push((svc.clone(), dests));
    }
    out
}

/// The canary weight on the rollout's VirtualService route (`host` = canary service).
fn vs_weight(state: &ClusterState, kinds: Kinds, ns: &str, vs: &str, canary: &str) -> Option<i64> {
    let v = state.store.get_value(kinds.virtual_services?, ns, vs)?;
    v.pointer("/spec/http")?
        .as_array()?
        .iter()
        .flat_map(|r| {
            r.get("route")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find(|d| {
            fields::get_str(d, "/destination/host")
                .is_some_and(|h| h.split('.').next() == Some(canary))
        })
        .and_then(|d| d.get("weight").and_then(Value::as_i64))
}
