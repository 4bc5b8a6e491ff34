//! kdeck: a terminal dashboard for on-call Kubernetes work.
//!
//! Data flows one way: sources (Kubernetes watches, Prometheus queries) feed stores, panes
//! turn store snapshots into view models, widgets draw them. User intent flows back as data:
//! key, action, command, executor, outcome. The binary in `main.rs` only parses arguments.

pub mod app;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod exec;
pub mod fuzzing;
pub mod k8s;
pub mod keymap;
pub mod logging;
pub mod panes;
pub mod run;
pub mod source;
pub mod theme;
pub mod tui;
pub mod widgets;
pub mod world;
