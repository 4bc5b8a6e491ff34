//! The blue-green strategy, following `rollout/bluegreen.go`: bring up the new ReplicaSet
//! behind the preview Service, run pre-promotion analysis, pause (BlueGreenPause) until
//! promoted when auto-promotion is off, switch the active Service, then mark it stable and
//! scale the old one down after `scaleDownDelaySeconds`.

use serde_json::{Map, Value, json};

use super::controller::{BLUE_GREEN_PAUSE, INCONCLUSIVE_ANALYSIS, Rec};
use super::model::BlueGreen;
use super::util::{self, HASH_LABEL};
use crate::sim::fields;

/// `annotations.IsSaturated`: fully scaled and available.
fn saturated(r: &Rec<'_, '_>) -> bool {
    r.new_rs()
        .is_some_and(|n| n.spec_replicas == r.ro.replicas && n.available >= r.ro.replicas)
}

pub fn reconcile(r: &mut Rec<'_, '_>, b: &BlueGreen) {
    if r.template_or_steps_changed() {
        r.reset_for_new_release(|r, st| set_selectors(r, b, st));
        return;
    }
    r.sync_release();
    if let Some(p) = &b.preview_service {
        let cur = r.cur_hash.clone();
        r.switch_service(p, &cur);
    }
    reconcile_analysis(r, b);
    if r.pause.add.is_empty() {
        reconcile_replica_sets(r, b);
        reconcile_pause(r, b);
        reconcile_active(r, b);
    }
    sync_status(r, b);
}

fn set_selectors(r: &Rec<'_, '_>, b: &BlueGreen, st: &mut Value) {
    let active = r.service_selector(&b.active_service);
    if !active.is_empty() {
        st["blueGreen"]["activeSelector"] = json!(active);
    }
    if let Some(p) = &b.preview_service {
        let preview = r.service_selector(p);
        if !preview.is_empty() {
            st["blueGreen"]["previewSelector"] = json!(preview);
        }
    }
}

/// Pre-promotion analysis (`reconcilePrePromotionAnalysisRun`).
fn reconcile_analysis(r: &mut Rec<'_, '_>, b: &BlueGreen) {
    let current = r.status_run("/blueGreen/prePromotionAnalysisRunStatus/name");
    let owned = r.owned_run_names();
    let skip_all = r.skips_analysis();
    let run = if skip_all {
        r.cancel_runs(&owned);
        current
    } else {
        pre_promotion(r, b, current)
    };
    if !skip_all {
        r.pause_or_abort(run.as_ref());
        r.keep_only_run(owned, run.as_ref());
    }
    if let Some(ar) = &run {
        r.blue_green_status.insert(
            "prePromotionAnalysisRunStatus".to_string(),
            Rec::run_status(ar),
        );
    }
}

fn pre_promotion(r: &mut Rec<'_, '_>, b: &BlueGreen, current: Option<Value>) -> Option<Value> {
    let Some(analysis) = b.pre_promotion.clone() else {
        r.cancel_run(current.as_ref());
        return None;
    };
    let active = fields::str_at(&r.ro.status, "/blueGreen/activeSelector");
    let skip = r.ro.stable_hash() == r.cur_hash
        || active.is_empty()
        || active == r.cur_hash
        || !saturated(r);
    if skip {
        r.cancel_run(current.as_ref());
        return current;
    }
    if r.ro.pause_condition(INCONCLUSIVE_ANALYSIS).is_some() {
        return current;
    }
    if r.needs_new_run(current.as_ref()) {
        let mut labels = Map::new();
        labels.insert(HASH_LABEL.to_string(), json!(r.cur_hash));
        labels.insert("rollout-type".to_string(), json!("PrePromotion"));
        let name = r.create_run(&analysis, "pre", labels)?;
        return r.analysis_run(&name);
    }
    current
}

/// New ReplicaSet to full size, the active one kept, older ones scaled down after the delay.
fn reconcile_replica_sets(r: &mut Rec<'_, '_>, b: &BlueGreen) {
    let aborted = r.pause.is_aborted(&r.ro);
    let active = fields::str_at(&r.ro.status, "/blueGreen/activeSelector").to_string();
    let new_name = r.new_rs().map(|x| x.name.clone());
    let active_name = r.rs_by_hash(&active).map(|x| x.name.clone());
    let n = r.ro.replicas;
    if let Some(a) = &active_name {
        r.clear_deadline(a);
        r.scale(a, n);
    }
    if let Some(name) = &new_name
        && Some(name) != active_name.as_ref()
    {
        let target = if aborted {
            r.delayed_scale_down(name, b.abort_scale_down_delay_secs)
        } else {
            r.clear_deadline(name);
            n
        };
        r.scale(name, target);
    }
    let others: Vec<String> = r
        .all_rs
        .iter()
        .filter(|x| Some(&x.name) != new_name.as_ref() && Some(&x.name) != active_name.as_ref())
        .filter(|x| x.spec_replicas > 0)
        .map(|x| x.name.clone())
        .collect();
    for name in others {
        let target = r.delayed_scale_down(&name, b.scale_down_delay_secs);
        r.scale(&name, target);
    }
}

/// `reconcileBlueGreenPause`.
fn reconcile_pause(r: &mut Rec<'_, '_>, b: &BlueGreen) {
    if r.pause.is_aborted(&r.ro) || !saturated(r) || r.ro.paused {
        return;
    }
    let active = r.service_selector(&b.active_service);
    if active == r.cur_hash {
        r.pause.remove.push(BLUE_GREEN_PAUSE);
        return;
    }
    let cond = r.ro.pause_condition(BLUE_GREEN_PAUSE);
    if cond.is_none() && !r.ro.controller_pause() && r.pause.add.is_empty() {
        r.pause.add.push(BLUE_GREEN_PAUSE);
        return;
    }
    if b.auto_promotion_enabled
        && b.auto_promotion_seconds > 0.0
        && let Some(start) = r.pause_started(BLUE_GREEN_PAUSE)
    {
        let at = r.after(start, b.auto_promotion_seconds);
        r.requeue_at(at);
    }
}

/// `CompletedBlueGreenPause`.
fn completed_pause(r: &Rec<'_, '_>, b: &BlueGreen) -> bool {
    if !r.pause.add.is_empty() {
        return false;
    }
    if r.ro.promote_full() || fields::bool_at(&r.ro.status, "/blueGreen/scaleUpPreviewCheckPoint") {
        return true;
    }
    let cond = r.ro.pause_condition(BLUE_GREEN_PAUSE);
    if b.auto_promotion_enabled {
        if b.auto_promotion_seconds <= 0.0 {
            return true;
        }
        return r
            .pause_started(BLUE_GREEN_PAUSE)
            .is_some_and(|s| r.ctx.now >= r.after(s, b.auto_promotion_seconds));
    }
    r.ro.controller_pause() && cond.is_none()
}

/// `reconcileActiveService`: switch once the preview is saturated, the pause is over and
/// pre-promotion analysis passed; back to stable on abort.
fn reconcile_active(r: &mut Rec<'_, '_>, b: &BlueGreen) {
    if !saturated(r) {
        return;
    }
    let mut target = r.service_selector(&b.active_service);
    if target.is_empty() {
        target = r.cur_hash.clone();
    }
    let analysis_done = b.pre_promotion.is_none()
        || r.ro.promote_full()
        || r.blue_green_status
            .get("prePromotionAnalysisRunStatus")
            .and_then(|s| s.get("status"))
            .and_then(Value::as_str)
            == Some("Successful");
    if completed_pause(r, b) && analysis_done {
        target = r.cur_hash.clone();
    }
    if r.pause.is_aborted(&r.ro) {
        target = r.ro.stable_hash().to_string();
    }
    r.switch_service(&b.active_service, &target);
}

/// `syncRolloutStatusBlueGreen`.
fn sync_status(r: &mut Rec<'_, '_>, b: &BlueGreen) {
    let mut st = r.base_status();
    set_selectors(r, b, &mut st);
    let active = fields::str_at(&st, "/blueGreen/activeSelector").to_string();
    if let Some(rs) = r.rs_by_hash(&active) {
        st["HPAReplicas"] = json!(rs.replicas);
        st["availableReplicas"] = json!(rs.available);
        st["readyReplicas"] = json!(rs.ready);
        let mut sel = r.ro.match_labels.clone();
        sel.insert(HASH_LABEL.to_string(), json!(active));
        st["selector"] = json!(util::selector_string(&sel));
    }
    let promote = r.stable_rs().is_none()
        || (!active.is_empty()
            && active == r.cur_hash
            && (r.ro.promote_full() || !r.pause.is_aborted(&r.ro)));
    if promote {
        r.promote_stable(&mut st);
    }
    r.calculate_conditions(&mut st);
    r.persist(st);
}
