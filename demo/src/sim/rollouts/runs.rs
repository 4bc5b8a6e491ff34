//! The Rollout controller's handling of AnalysisRuns: creating them from AnalysisTemplates
//! (names, labels and owner as Argo writes them), cancelling them, reading their outcome
//! (pause on Inconclusive, abort on Failed/Error) and trimming their history.

use serde_json::{Map, Value, json};

use super::analysis::completed;
use super::controller::{BLUE_GREEN_PAUSE, CANARY_PAUSE_STEP, INCONCLUSIVE_ANALYSIS, Rec};
use super::util::{self, REVISION_ANNOTATION};
use crate::sim::fields;

impl Rec<'_, '_> {
    #[must_use]
    pub fn analysis_run(&self, name: &str) -> Option<Value> {
        self.ctx
            .state
            .store
            .get_value(self.ctx.kinds.analysis_runs, &self.ro.ns, name)
    }

    /// The run named at `ptr` in the Rollout's status (the strategy's current run), if it
    /// still exists.
    #[must_use]
    pub fn status_run(&self, ptr: &str) -> Option<Value> {
        let name = fields::get_str(&self.ro.status, ptr)?;
        self.analysis_run(name)
    }

    /// No analysis runs while aborted, fully promoting, or before there is a stable release:
    /// the strategy's runs are all cancelled.
    #[must_use]
    pub fn skips_analysis(&self) -> bool {
        self.pause.is_aborted(&self.ro)
            || self.ro.promote_full()
            || self.ro.stable_hash().is_empty()
    }

    /// Sets `spec.terminate` on runs that are still going (`cancelAnalysisRuns`).
    pub fn cancel_runs(&mut self, names: &[String]) {
        let kinds = self.ctx.kinds;
        for name in names {
            self.ctx
                .state
                .store
                .modify(kinds.analysis_runs, &self.ro.ns, name, |v| {
                    let done = fields::get_str(v, "/status/phase").is_some_and(completed);
                    if !done {
                        v["spec"]["terminate"] = json!(true);
                    }
                });
        }
    }

    /// Cancels `run`, when there is one.
    pub fn cancel_run(&mut self, run: Option<&Value>) {
        self.cancel_runs(&run_names(run));
    }

    /// Leaves `run` as the only live run among `owned` (names): cancels the others and trims
    /// the history of finished ones.
    pub fn keep_only_run(&mut self, owned: Vec<String>, run: Option<&Value>) {
        let keep = run_names(run);
        let others: Vec<String> = owned.into_iter().filter(|n| !keep.contains(n)).collect();
        self.cancel_runs(&others);
        self.gc_runs(&keep);
    }

    /// Names of the runs owned by this Rollout.
    #[must_use]
    pub fn owned_run_names(&self) -> Vec<String> {
        run_names(&self.owned_runs())
    }

    /// The runs owned by this Rollout.
    #[must_use]
    pub fn owned_runs(&self) -> Vec<Value> {
        let (runs, _) = self
            .ctx
            .state
            .store
            .list(self.ctx.kinds.analysis_runs, Some(&self.ro.ns));
        runs.iter()
            .filter(|o| o.owner_uids.first() == Some(&self.ro.uid))
            .map(|o| o.value())
            .collect()
    }

    /// Creates an AnalysisRun from a `RolloutAnalysis` (templates + args), named
    /// `<rollout>-<hash>-<revision>[-<infix>]` with Argo's `.N` suffix on collisions.
    pub fn create_run(
        &mut self,
        analysis: &Value,
        infix: &str,
        mut labels: Map<String, Value>,
    ) -> Option<String> {
        let kinds = self.ctx.kinds;
        let ns = self.ro.ns.clone();
        let mut metrics: Vec<Value> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        for t in fields::array_at(analysis, "/templates") {
            let tname = fields::str_at(t, "/templateName");
            let Some(tpl) = self
                .ctx
                .state
                .store
                .get_value(kinds.analysis_templates, &ns, tname)
            else {
                log::warn!("demo rollouts: AnalysisTemplate '{tname}' not found in {ns}");
                let wait = self.ctx.pace.secs(10.0);
                self.requeue_after(wait);
                return None;
            };
            add_new_by_name(&mut metrics, fields::array_at(&tpl, "/spec/metrics"));
            add_new_by_name(&mut args, fields::array_at(&tpl, "/spec/args"));
        }
        // Rollout-supplied values win over template defaults.
        for a in analysis
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut value = a.get("value").cloned();
            if let Some(which) = fields::get_str(a, "/valueFrom/podTemplateHashValue") {
                value = Some(json!(if which == "Stable" {
                    self.ro.stable_hash().to_string()
                } else {
                    self.cur_hash.clone()
                }));
            }
            let mut arg = json!({"name": a.get("name").cloned().unwrap_or(Value::Null)});
            if let Some(v) = value {
                arg["value"] = v;
            }
            match args.iter_mut().find(|x| x.get("name") == a.get("name")) {
                Some(slot) => *slot = arg,
                None => args.push(arg),
            }
        }
        let revision = self.revision().to_string();
        let mut parts = vec![
            self.ro.name.clone(),
            self.cur_hash.clone(),
            revision.clone(),
        ];
        if !infix.is_empty() {
            parts.push(infix.to_string());
        }
        let base = parts.join("-");
        let mut name = base.clone();
        let mut n = 0;
        while self.analysis_run(&name).is_some() {
            n += 1;
            name = format!("{base}.{n}");
        }
        for (k, v) in &self.ro.match_labels {
            labels.insert(k.clone(), v.clone());
        }
        let mut spec = json!({"metrics": metrics});
        if !args.is_empty() {
            spec["args"] = Value::Array(args);
        }
        let run = json!({
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": {REVISION_ANNOTATION: revision},
                "ownerReferences": [util::controller_ref("Rollout", &self.ro.name, &self.ro.uid)],
            },
            "spec": spec,
        });
        match self
            .ctx
            .state
            .store
            .create(kinds.analysis_runs, &ns, run, false)
        {
            Ok(_) => Some(name),
            Err(e) => {
                log::warn!("demo rollouts: creating AnalysisRun {name}: {e}");
                None
            }
        }
    }

    /// `needsNewAnalysisRun`.
    #[must_use]
    pub fn needs_new_run(&self, current: Option<&Value>) -> bool {
        let Some(ar) = current else {
            return true;
        };
        if self.ro.controller_pause()
            && self.ro.pause_condition(CANARY_PAUSE_STEP).is_none()
            && self.ro.pause_condition(BLUE_GREEN_PAUSE).is_none()
        {
            return fields::get_str(ar, "/status/phase") == Some("Inconclusive");
        }
        self.ro
            .status
            .get("abortedAt")
            .is_some_and(|v| !v.is_null())
    }

    /// `setPauseOrAbort`: an Inconclusive run pauses, a Failed or Error run aborts.
    pub fn pause_or_abort(&mut self, ar: Option<&Value>) {
        let Some(ar) = ar else {
            return;
        };
        match fields::get_str(ar, "/status/phase") {
            Some("Inconclusive") => self.pause.add.push(INCONCLUSIVE_ANALYSIS),
            Some("Failed" | "Error") => {
                let msg = fields::str_at(ar, "/status/message").to_string();
                self.abort_message = msg.clone();
                self.pause.add_abort = Some(msg);
            }
            _ => {}
        }
    }

    /// Deletes completed runs that are no longer current beyond Argo's history limits
    /// (5 successful, 5 unsuccessful), oldest first.
    pub fn gc_runs(&mut self, current: &[String]) {
        let mut done: Vec<(String, String, bool)> = self
            .owned_runs()
            .iter()
            .filter_map(|ar| {
                let name = fields::get_str(ar, "/metadata/name")?.to_string();
                if current.contains(&name) {
                    return None;
                }
                let phase = fields::get_str(ar, "/status/phase")?;
                completed(phase).then(|| {
                    (
                        fields::str_at(ar, "/metadata/creationTimestamp").to_string(),
                        name,
                        phase == "Successful",
                    )
                })
            })
            .collect();
        done.sort();
        let kinds = self.ctx.kinds;
        for ok in [true, false] {
            let group: Vec<&(String, String, bool)> =
                done.iter().filter(|(_, _, s)| *s == ok).collect();
            if group.len() > 5 {
                for (_, name, _) in &group[..group.len() - 5] {
                    let _ =
                        self.ctx
                            .state
                            .store
                            .delete(kinds.analysis_runs, &self.ro.ns, name, false);
                }
            }
        }
    }

    /// The `RolloutAnalysisRunStatus` of a run.
    #[must_use]
    pub fn run_status(ar: &Value) -> Value {
        let mut s = json!({
            "name": fields::name(ar),
            "status": fields::str_at(ar, "/status/phase"),
        });
        if let Some(m) = fields::get_str(ar, "/status/message").filter(|m| !m.is_empty()) {
            s["message"] = json!(m);
        }
        s
    }
}

/// The names of AnalysisRuns.
fn run_names<'a>(runs: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    runs.into_iter()
        .filter_map(|a| fields::get_str(a, "/metadata/name").map(str::to_string))
        .collect()
}

/// Appends the entries of `from` whose `name` is not in `to` yet: the first template to
/// define a metric or argument wins.
fn add_new_by_name(to: &mut Vec<Value>, from: &[Value]) {
    for v in from {
        if !to.iter().any(|x| x.get("name") == v.get("name")) {
            to.push(v.clone());
        }
    }
}
