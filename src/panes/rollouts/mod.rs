//! The Rollouts pane: every Argo Rollout (canary, blue-green) and Deployment of the watched
//! clusters in one table, what needs a human first; a live detail view like
//! `kubectl argo rollouts get rollout --watch` with canary-vs-stable charts; and the actions
//! (promote, promote-full, abort, retry, undo, pause, resume, restart, scale; rollback for
//! Deployments) with the upstream tools' exact requests. Built on the pane kit: this folder
//! holds the rows ([`rows`], [`status`]), the detail ([`detail`], [`detail_view`]), the charts'
//! queries ([`metrics`]) and the actions ([`actions`], [`plan`]).

pub mod actions;
pub mod detail;
pub mod detail_analysis;
pub mod detail_tree;
pub mod detail_view;
pub mod metrics;
pub mod model;
pub mod pane;
pub mod plan;
pub mod requests;
pub mod rows;
pub mod status;
pub mod template_ref;
pub mod view;

pub use pane::{RolloutsModel, RolloutsPane};
