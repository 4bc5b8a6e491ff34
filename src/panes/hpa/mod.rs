//! The HPA pane: every HorizontalPodAutoscaler of the watched clusters in one table, what
//! needs a human first (pinned at max, unable to scale, metrics missing); a detail view with
//! each metric against its target, the conditions, behavior and what the controller will do
//! next and why (the upstream algorithm, [`algorithm`]), the replica history, and the KEDA
//! ScaledObject and VPA of the same target; and the actions: `scale` the target (also used by
//! the Rollouts pane, [`scale`]), `set-min-max`, and KEDA `pause`/`resume`.

pub mod algorithm;
pub mod detail;
pub mod detail_view;
pub mod history;
pub mod metrics;
pub mod model;
pub mod next;
pub mod pane;
pub mod plan;
pub mod scale;
pub mod view;

pub use pane::{HpaModel, HpaPane};
