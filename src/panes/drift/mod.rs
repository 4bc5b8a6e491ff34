//! The Drift pane: every Argo CD Application of the watched clusters (and Flux
//! Kustomizations and HelmReleases where Flux is installed) in one table, what needs a human
//! first: failed syncs, drift nothing will heal, Degraded, errors. Its destination is named
//! as the watched context it deploys to. The detail view shows what is out of sync, the last
//! operation, the history to roll back to, conditions, the project's sync windows judged now,
//! and where the app belongs (app-of-apps, ApplicationSet). The actions (sync, refresh, hard
//! refresh, rollback, terminate; Flux reconcile, suspend, resume) send what the Argo CD API
//! server and the Flux CLI send through the Kubernetes API. Built on the pane kit: this
//! folder holds the rows ([`model`], [`rows`], [`destination`], [`windows`], [`cron`]), the
//! table ([`view`]), the detail ([`detail`], [`detail_view`]) and the actions ([`actions`],
//! [`plan`]).

pub mod actions;
pub mod cron;
pub mod destination;
pub mod detail;
pub mod detail_view;
pub mod model;
pub mod pane;
pub mod plan;
pub mod rows;
pub mod view;
pub mod windows;

pub use pane::{DriftModel, DriftPane};
