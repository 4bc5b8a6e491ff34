//! The canary strategy, following `rollout/canary.go`: create the canary ReplicaSet, shift
//! traffic (Istio VirtualService weights, or replica ratios for a basic canary), run step
//! analysis, pause on `pause` steps, advance steps, promote, abort and retry.

use serde_json::{Map, Value, json};

use super::controller::{CANARY_PAUSE_STEP, Rec, set_virtual_service_weights};
use super::model::Canary;
use super::util::{self, HASH_LABEL};
use crate::sim::fields;

fn ceil_share(replicas: i64, weight: i64) -> i64 {
    (replicas * weight + 99) / 100
}

/// Desired (canary, stable) replicas for the current step.
fn desired_counts(r: &Rec<'_, '_>, c: &Canary) -> (i64, i64) {
    let n = r.ro.replicas;
    let stable = r.ro.stable_hash();
    if stable == r.cur_hash || stable.is_empty() {
        return (n, n);
    }
    let canary = ceil_share(n, r.ro.current_set_weight());
    if c.traffic_routed {
        // Without dynamicStableScale the stable stays fully scaled.
        (canary, n)
    } else {
        (canary, n - canary)
    }
}

/// `AtDesiredReplicaCountsForCanary`.
fn at_desired_counts(r: &Rec<'_, '_>, c: &Canary) -> bool {
    let (dn, ds) = desired_counts(r, c);
    let Some(new_rs) = r.new_rs() else {
        return false;
    };
    if new_rs.spec_replicas != dn || new_rs.available != dn {
        return false;
    }
    let Some(stable_rs) = r.stable_rs() else {
        return false;
    };
    if stable_rs.name != new_rs.name && (stable_rs.spec_replicas != ds || stable_rs.available != ds)
    {
        return false;
    }
    if !c.traffic_routed {
        let others: i64 = r
            .all_rs
            .iter()
            .filter(|x| x.name != new_rs.name && x.name != stable_rs.name)
            .map(|x| x.available)
            .sum();
        if others != 0 {
            return false;
        }
    }
    true
}

pub fn reconcile(r: &mut Rec<'_, '_>, c: &Canary) {
    let step_count = c.steps.len() as i64;
    if r.template_or_steps_changed() {
        r.reset_for_new_release(|r, st| {
            if let Some(new_rs) = r.new_rs()
                && step_count > 0
                && r.ro.stable_hash() == new_rs.hash
            {
                // Moved back to the stable ReplicaSet: skip the steps (Argo's "SkipSteps").
                st["currentStepIndex"] = json!(step_count);
            }
            st["currentStepHash"] = json!(util::step_hash(&c.steps_raw));
        });
        return;
    }
    r.sync_release();
    reconcile_services(r, c);
    reconcile_traffic(r, c);
    reconcile_analysis(r);
    if r.pause.add.is_empty() {
        let scaled = reconcile_replica_sets(r, c);
        if !scaled {
            reconcile_pause(r, c);
        }
    }
    sync_status(r, c);
}

/// Stable and canary Services select their ReplicaSets (`reconcileStableAndCanaryService`).
fn reconcile_services(r: &mut Rec<'_, '_>, c: &Canary) {
    let stable = r.ro.stable_hash().to_string();
    let cur = r.cur_hash.clone();
    if let Some(s) = &c.stable_service {
        r.switch_service(s, if stable.is_empty() { &cur } else { &stable });
    }
    if let Some(s) = &c.canary_service {
        r.switch_service(s, &cur);
    }
}

/// `reconcileTrafficRouting`: the weight for this step on the VirtualService and in
/// `status.canary.weights`.
fn reconcile_traffic(r: &mut Rec<'_, '_>, c: &Canary) {
    if !c.traffic_routed {
        return;
    }
    let stable = r.ro.stable_hash().to_string();
    let fully_promoted = stable == r.cur_hash;
    let no_canary = r.new_rs().is_none_or(|rs| rs.available == 0);
    let weight = if fully_promoted || r.pause.is_aborted(&r.ro) || no_canary {
        0
    } else {
        let (_, idx) = r.ro.current_step();
        let idx = idx.unwrap_or(0);
        if !at_desired_counts(r, c) && !r.ro.promote_full() {
            // The canary is not ready for the new weight: keep the previous setWeight.
            let upto = usize::try_from(idx).unwrap_or(0).min(c.steps.len());
            c.steps[..upto]
                .iter()
                .rev()
                .find_map(|s| fields::get_i64(s, "/setWeight"))
                .unwrap_or(0)
        } else if idx != c.steps.len() as i64 {
            r.ro.current_set_weight()
        } else {
            100
        }
    };
    if let (Some((vs, routes)), Some(canary), Some(stable_svc)) =
        (&c.virtual_service, &c.canary_service, &c.stable_service)
    {
        set_virtual_service_weights(
            r.ctx.state,
            r.ctx.kinds,
            &r.ro.ns,
            vs,
            routes,
            canary,
            stable_svc,
            weight,
        );
    }
    let stable_hash = if stable.is_empty() {
        r.cur_hash.clone()
    } else {
        stable
    };
    let mut canary_w = json!({"podTemplateHash": r.cur_hash, "weight": weight});
    let mut stable_w = json!({"podTemplateHash": stable_hash, "weight": 100 - weight});
    if let Some(s) = &c.canary_service {
        canary_w["serviceName"] = json!(s);
    }
    if let Some(s) = &c.stable_service {
        stable_w["serviceName"] = json!(s);
    }
    r.canary_status.insert(
        "weights".to_string(),
        json!({"canary": canary_w, "stable": stable_w}),
    );
}

/// `reconcileAnalysisRuns` for canary step analysis.
fn reconcile_analysis(r: &mut Rec<'_, '_>) {
    let current = r.status_run("/canary/currentStepAnalysisRunStatus/name");
    let owned = r.owned_run_names();
    let run = if r.skips_analysis() {
        r.cancel_runs(&owned);
        current
    } else {
        let step_run = step_analysis(r, current);
        r.keep_only_run(owned, step_run.as_ref());
        step_run
    };
    if let Some(ar) = &run {
        r.canary_status.insert(
            "currentStepAnalysisRunStatus".to_string(),
            super::controller::Rec::run_status(ar),
        );
    }
}

/// `reconcileStepBasedAnalysisRun`.
fn step_analysis(r: &mut Rec<'_, '_>, current: Option<Value>) -> Option<Value> {
    let (step, index) = r.ro.current_step();
    if !r.ro.pause_conditions().is_empty() || r.ro.aborted() {
        return current;
    }
    let analysis = step.as_ref().and_then(|s| s.get("analysis")).cloned();
    let from_previous_step = analysis.is_some()
        && current.as_ref().is_some_and(|ar| {
            fields::get_str(ar, "/metadata/labels/step-index")
                != index.map(|i| i.to_string()).as_deref()
        });
    let (Some(analysis), Some(index)) = (analysis, index) else {
        r.cancel_run(current.as_ref());
        return None;
    };
    if from_previous_step {
        r.cancel_run(current.as_ref());
        return None;
    }
    if r.needs_new_run(current.as_ref()) {
        let mut labels = Map::new();
        labels.insert(HASH_LABEL.to_string(), json!(r.cur_hash));
        labels.insert("rollout-type".to_string(), json!("Step"));
        labels.insert("step-index".to_string(), json!(index.to_string()));
        let name = r.create_run(&analysis, &index.to_string(), labels)?;
        return r.analysis_run(&name);
    }
    r.pause_or_abort(current.as_ref());
    current
}

/// `reconcileCanaryReplicaSets`: stable, then canary, then older ReplicaSets; true when
/// something was scaled this pass.
fn reconcile_replica_sets(r: &mut Rec<'_, '_>, c: &Canary) -> bool {
    let (dn, ds) = desired_counts(r, c);
    let aborted = r.pause.is_aborted(&r.ro);
    let new_name = r.new_rs().map(|x| x.name.clone());
    let stable_name = r.stable_rs().map(|x| x.name.clone());
    if let Some(s) = &stable_name
        && Some(s) != new_name.as_ref()
    {
        r.clear_deadline(s);
        if r.scale(s, ds) {
            return true;
        }
    }
    if let Some(n) = &new_name {
        let target = if aborted && Some(n) != stable_name.as_ref() {
            if c.traffic_routed && c.abort_scale_down_delay_secs > 0.0 {
                // The aborted canary lingers for abortScaleDownDelaySeconds.
                let stable_ready = r.stable_rs().is_none_or(|s| s.available >= s.spec_replicas);
                if stable_ready {
                    r.delayed_scale_down(n, c.abort_scale_down_delay_secs)
                } else {
                    r.new_rs().map_or(0, |x| x.spec_replicas)
                }
            } else {
                0
            }
        } else {
            r.clear_deadline(n);
            dn
        };
        if r.scale(n, target) {
            return true;
        }
    }
    // Older ReplicaSets: immediately for a basic canary; after scaleDownDelaySeconds for the
    // previous stable of a traffic-routed canary.
    let fully_promoted = r.ro.stable_hash() == r.cur_hash;
    let others: Vec<(String, bool)> = r
        .all_rs
        .iter()
        .filter(|x| Some(&x.name) != new_name.as_ref() && Some(&x.name) != stable_name.as_ref())
        .filter(|x| x.spec_replicas > 0)
        .map(|x| (x.name.clone(), x.deadline.is_some()))
        .collect();
    let mut scaled = false;
    for (name, has_deadline) in others {
        let target = if c.traffic_routed && (fully_promoted || has_deadline) {
            r.delayed_scale_down(&name, c.scale_down_delay_secs)
        } else {
            0
        };
        scaled |= r.scale(&name, target);
    }
    scaled
}

/// `reconcileCanaryPause`: adds the CanaryPauseStep condition and arms the pause timer.
fn reconcile_pause(r: &mut Rec<'_, '_>, c: &Canary) {
    if r.ro.paused || r.ro.promote_full() || c.steps.is_empty() {
        return;
    }
    let (Some(step), Some(_)) = r.ro.current_step() else {
        return;
    };
    let Some(pause) = step.get("pause") else {
        return;
    };
    if r.ro.pause_condition(CANARY_PAUSE_STEP).is_none() {
        if !r.ro.controller_pause() {
            r.pause.add.push(CANARY_PAUSE_STEP);
        }
        return;
    }
    if let Some(secs) = pause.get("duration").and_then(util::duration_secs)
        && let Some(start) = r.pause_started(CANARY_PAUSE_STEP)
    {
        let at = r.after(start, secs);
        r.requeue_at(at);
    }
}

/// `completedCurrentCanaryStep`.
fn completed_current_step(r: &Rec<'_, '_>, c: &Canary) -> bool {
    if r.ro.paused {
        return false;
    }
    let (Some(step), _) = r.ro.current_step() else {
        return false;
    };
    if let Some(pause) = step.get("pause") {
        let cond = r.ro.pause_condition(CANARY_PAUSE_STEP);
        if r.ro.controller_pause() && cond.is_none() {
            return true;
        }
        return match (
            pause.get("duration").and_then(util::duration_secs),
            r.pause_started(CANARY_PAUSE_STEP),
        ) {
            (Some(secs), Some(start)) => r.ctx.now >= r.after(start, secs),
            _ => false,
        };
    }
    if step.get("setWeight").is_some() || step.get("setCanaryScale").is_some() {
        return at_desired_counts(r, c);
    }
    if step.get("analysis").is_some() {
        return r
            .canary_status
            .get("currentStepAnalysisRunStatus")
            .and_then(|s| s.get("status"))
            .and_then(Value::as_str)
            == Some("Successful");
    }
    false
}

/// `shouldFullPromote` for a canary.
fn should_full_promote(r: &Rec<'_, '_>, c: &Canary) -> bool {
    if r.stable_rs().is_none() {
        return true;
    }
    if r.pause.is_aborted(&r.ro) {
        return false;
    }
    if r.new_rs().is_none_or(|n| n.available != r.ro.replicas) {
        return false;
    }
    if r.ro.promote_full() {
        return true;
    }
    let (_, idx) = r.ro.current_step();
    c.steps.is_empty() || idx == Some(c.steps.len() as i64)
}

/// `syncRolloutStatusCanary`.
fn sync_status(r: &mut Rec<'_, '_>, c: &Canary) {
    let step_count = c.steps.len() as i64;
    let mut st = r.base_status();
    st["currentStepHash"] = json!(util::step_hash(&c.steps_raw));
    let (_, idx) = r.ro.current_step();
    let mut index = idx;
    if r.ro.promote_full() {
        r.pause.clear = true;
        r.pause.remove_abort = true;
        if step_count > 0 {
            index = Some(step_count);
        }
    }
    if should_full_promote(r, c) {
        r.promote_stable(&mut st);
        r.calculate_conditions(&mut st);
        r.persist(st);
        return;
    }
    if r.pause.is_aborted(&r.ro) {
        if step_count > 0 {
            let i = if fields::get_str(&st, "/stableRS") == fields::get_str(&st, "/currentPodHash")
            {
                step_count
            } else {
                0
            };
            st["currentStepIndex"] = json!(i);
        }
        r.calculate_conditions(&mut st);
        r.persist(st);
        return;
    }
    if !r.ro.promote_full() && completed_current_step(r, c) {
        index = index.map(|i| i + 1);
        if let Some(m) = st["canary"].as_object_mut() {
            m.remove("currentStepAnalysisRunStatus");
        }
        r.pause.remove.push(CANARY_PAUSE_STEP);
        // The next step acts right away.
        r.requeue_after(std::time::Duration::from_millis(5));
    }
    if let Some(i) = index {
        st["currentStepIndex"] = json!(i);
    }
    r.calculate_conditions(&mut st);
    r.persist(st);
}
