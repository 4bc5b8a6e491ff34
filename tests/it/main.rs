//! kdeck's integration tests: one binary (one link of the dependency tree) with a module per
//! area. Run with `cargo nextest run` or `cargo test`. The simulator's own tests are in
//! `demo/tests/it`; the helpers both use are `kdeck_demo::testing`.

mod config_files;
mod demo_parse;
mod demo_serve;
mod e2e_hpa;
mod e2e_rollouts;
mod e2e_shell;
mod exec_actions;
mod helpers;
mod hpa_actions;
mod hpa_model;
mod prom_hpa;
mod prom_queries;
mod render;
mod render_hpa;
mod rollout_demo;
mod rollout_fixtures;
mod tmux;
