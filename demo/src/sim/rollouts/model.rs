//! Read-only views of a Rollout and its ReplicaSets, parsed from the stored JSON once per
//! reconcile, so the controller logic reads like Argo's (`ro.replicas`, `rs.available`).

use serde_json::{Map, Value};

use super::util::{self, HASH_LABEL, REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION};
use crate::sim::fields;

/// Canary strategy settings the simulator honours.
#[derive(Debug, Clone)]
pub struct Canary {
    pub steps: Vec<Value>,
    pub steps_raw: Value,
    pub canary_service: Option<String>,
    pub stable_service: Option<String>,
    /// Istio VirtualService name and the route names to update (all when empty).
    pub virtual_service: Option<(String, Vec<String>)>,
    pub traffic_routed: bool,
    pub scale_down_delay_secs: f64,
    pub abort_scale_down_delay_secs: f64,
}

/// Blue-green strategy settings the simulator honours.
#[derive(Debug, Clone)]
pub struct BlueGreen {
    pub active_service: String,
    pub preview_service: Option<String>,
    pub auto_promotion_enabled: bool,
    pub auto_promotion_seconds: f64,
    pub pre_promotion: Option<Value>,
    pub scale_down_delay_secs: f64,
    pub abort_scale_down_delay_secs: f64,
}

#[derive(Debug, Clone)]
pub enum Strategy {
    Canary(Canary),
    BlueGreen(BlueGreen),
}

/// A Rollout as the controller sees it.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub ns: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub revision: Option<i64>,
    pub replicas: i64,
    pub match_labels: Map<String, Value>,
    /// `spec.template`, or the referenced workload's after [`Self::use_resolved`].
    pub template: Value,
    /// Set when the template came from `spec.workloadRef` (upstream
    /// `TemplateResolvedFromRef`), with the workload generation it was read at.
    pub workload_generation: Option<i64>,
    pub paused: bool,
    pub restart_at: Option<String>,
    pub revision_history_limit: usize,
    pub strategy: Strategy,
    /// `status` as stored (an object, possibly empty).
    pub status: Value,
}

fn secs_or(v: Option<&Value>, default: f64) -> f64 {
    v.and_then(util::duration_secs).unwrap_or(default)
}

impl Rollout {
    /// `None` for objects without a strategy the simulator knows.
    #[must_use]
    pub fn parse(v: &Value) -> Option<Self> {
        let spec = v.get("spec")?;
        let strategy = if let Some(c) = spec.pointer("/strategy/canary") {
            let steps_raw = c.get("steps").cloned().unwrap_or(Value::Array(Vec::new()));
            let istio = c.pointer("/trafficRouting/istio");
            let virtual_service = istio.and_then(|i| {
                let vs = i.get("virtualService").or_else(|| {
                    i.get("virtualServices")
                        .and_then(Value::as_array)
                        .and_then(|a| a.first())
                })?;
                let routes = vs
                    .get("routes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                Some((fields::get_str(vs, "/name")?.to_string(), routes))
            });
            Strategy::Canary(Canary {
                steps: steps_raw.as_array().cloned().unwrap_or_default(),
                steps_raw,
                canary_service: fields::get_str(c, "/canaryService").map(str::to_string),
                stable_service: fields::get_str(c, "/stableService").map(str::to_string),
                traffic_routed: c.get("trafficRouting").is_some(),
                virtual_service,
                scale_down_delay_secs: secs_or(c.get("scaleDownDelaySeconds"), 30.0),
                abort_scale_down_delay_secs: secs_or(c.get("abortScaleDownDelaySeconds"), 30.0),
            })
        } else {
            let b = spec.pointer("/strategy/blueGreen")?;
            Strategy::BlueGreen(BlueGreen {
                active_service: fields::get_str(b, "/activeService")?.to_string(),
                preview_service: fields::get_str(b, "/previewService").map(str::to_string),
                auto_promotion_enabled: b
                    .get("autoPromotionEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                auto_promotion_seconds: secs_or(b.get("autoPromotionSeconds"), 0.0),
                pre_promotion: b.get("prePromotionAnalysis").cloned(),
                scale_down_delay_secs: secs_or(b.get("scaleDownDelaySeconds"), 30.0),
                abort_scale_down_delay_secs: secs_or(b.get("abortScaleDownDelaySeconds"), 30.0),
            })
        };
        Some(Self {
            ns: fields::get_str(v, "/metadata/namespace")?.to_string(),
            name: fields::get_str(v, "/metadata/name")?.to_string(),
            uid: fields::uid(v).to_string(),
            generation: fields::i64_at(v, "/metadata/generation", 1),
            revision: v
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            replicas: fields::i64_at(spec, "/replicas", 1),
            match_labels: spec
                .pointer("/selector/matchLabels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            template: spec.get("template").cloned().unwrap_or(Value::Null),
            workload_generation: None,
            paused: fields::bool_at(spec, "/paused"),
            restart_at: fields::get_str(spec, "/restartAt").map(str::to_string),
            revision_history_limit: fields::get_i64(spec, "/revisionHistoryLimit")
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(10),
            strategy,
            status: v
                .get("status")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
        })
    }

    /// Takes the template (and, without a selector of its own, the selector) from the
    /// workload `spec.workloadRef` names, in memory only, as upstream's `Resolve`.
    pub fn use_resolved(&mut self, r: super::workload_ref::Resolved) {
        self.template = r.template;
        if self.match_labels.is_empty() {
            self.match_labels = r.match_labels;
        }
        self.workload_generation = Some(r.generation);
    }

    #[must_use]
    pub fn status_str(&self, key: &str) -> Option<&str> {
        self.status.get(key).and_then(Value::as_str)
    }

    #[must_use]
    pub fn stable_hash(&self) -> &str {
        self.status_str("stableRS").unwrap_or_default()
    }

    #[must_use]
    pub fn aborted(&self) -> bool {
        fields::bool_at(&self.status, "/abort")
    }

    #[must_use]
    pub fn promote_full(&self) -> bool {
        fields::bool_at(&self.status, "/promoteFull")
    }

    #[must_use]
    pub fn controller_pause(&self) -> bool {
        fields::bool_at(&self.status, "/controllerPause")
    }

    #[must_use]
    pub fn pause_conditions(&self) -> Vec<Value> {
        self.status
            .get("pauseConditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    #[must_use]
    pub fn pause_condition(&self, reason: &str) -> Option<Value> {
        self.pause_conditions()
            .into_iter()
            .find(|c| fields::get_str(c, "/reason") == Some(reason))
    }

    /// `GetCurrentCanaryStep`: the step at `status.currentStepIndex` (0 when unset) and the
    /// index; the step is `None` past the last one.
    #[must_use]
    pub fn current_step(&self) -> (Option<Value>, Option<i64>) {
        let Strategy::Canary(c) = &self.strategy else {
            return (None, None);
        };
        if c.steps.is_empty() {
            return (None, None);
        }
        let idx = fields::i64_at(&self.status, "/currentStepIndex", 0);
        let step = usize::try_from(idx)
            .ok()
            .and_then(|i| c.steps.get(i))
            .cloned();
        (step, Some(idx))
    }

    /// `GetCurrentSetWeight`: 0 when aborted, 100 past the last step, else the latest setWeight
    /// at or before the current step.
    #[must_use]
    pub fn current_set_weight(&self) -> i64 {
        if self.aborted() {
            return 0;
        }
        let Strategy::Canary(c) = &self.strategy else {
            return 100;
        };
        let (step, idx) = self.current_step();
        if step.is_none() {
            return 100;
        }
        let idx = usize::try_from(idx.unwrap_or(0)).unwrap_or(0);
        c.steps[..=idx.min(c.steps.len().saturating_sub(1))]
            .iter()
            .rev()
            .find_map(|s| fields::get_i64(s, "/setWeight"))
            .unwrap_or(0)
    }
}

/// A ReplicaSet owned by the Rollout.
#[derive(Debug, Clone)]
pub struct Rs {
    pub name: String,
    pub uid: String,
    pub hash: String,
    pub revision: i64,
    pub spec_replicas: i64,
    pub replicas: i64,
    pub ready: i64,
    pub available: i64,
    pub created: String,
    pub deadline: Option<String>,
    pub template: Value,
}

impl Rs {
    #[must_use]
    pub fn parse(v: &Value) -> Self {
        let ann = v.pointer("/metadata/annotations");
        let ann_str = |k: &str| ann.and_then(|a| a.get(k)).and_then(Value::as_str);
        Self {
            name: fields::name(v).to_string(),
            uid: fields::uid(v).to_string(),
            hash: v
                .pointer("/metadata/labels")
                .and_then(|l| l.get(HASH_LABEL))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            revision: ann_str(REVISION_ANNOTATION)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            spec_replicas: fields::i64_at(v, "/spec/replicas", 0),
            replicas: fields::i64_at(v, "/status/replicas", 0),
            ready: fields::i64_at(v, "/status/readyReplicas", 0),
            available: fields::i64_at(v, "/status/availableReplicas", 0),
            created: fields::str_at(v, "/metadata/creationTimestamp").to_string(),
            deadline: ann_str(SCALE_DOWN_DEADLINE_ANNOTATION).map(str::to_string),
            template: v.pointer("/spec/template").cloned().unwrap_or(Value::Null),
        }
    }

    /// The first container's image; what the traffic model judges a release by.
    #[must_use]
    pub fn image(&self) -> &str {
        fields::str_at(&self.template, "/spec/containers/0/image")
    }
}
