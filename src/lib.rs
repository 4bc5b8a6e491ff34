//! kdeck: a terminal dashboard for on-call Kubernetes work.
//!
//! Data flows one way: sources (Kubernetes watches, Prometheus queries) feed stores, panes
//! turn store snapshots into view models, widgets draw them. User intent flows back as data:
//! key, action, command, executor, outcome. The binary in `main.rs` only parses arguments.

pub mod cli;
pub mod demo;
pub mod exec;
pub mod k8s;
pub mod panes;
