//! The Rollouts pane: Argo Rollouts (canary, blue-green) and Deployments, live.

pub mod actions;
pub mod detail;
pub mod model;
