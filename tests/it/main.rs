//! kdeck's integration tests: one binary (one link of the dependency tree) with a module per
//! area. Run with `cargo nextest run` or `cargo test`. The simulator's own tests are in
//! `demo/tests/it`; the helpers both use are `kdeck_demo::testing`.

mod backup_actions;
mod backup_fixtures;
mod breaker_demo;
mod breaker_fixtures;
mod breaker_prom;
mod config_files;
mod demo_parse;
mod demo_serve;
mod drift_actions;
mod drift_demo;
mod drift_fixtures;
mod e2e_backups;
mod e2e_breakers;
mod e2e_drift;
mod e2e_hpa;
mod e2e_readme;
mod e2e_rollouts;
mod e2e_shell;
mod e2e_trust;
mod exec_actions;
mod fleet_metrics;
mod fleet_startup;
mod fuzz_corpus;
mod helpers;
mod hpa_actions;
mod hpa_model;
mod liveness;
mod prom_hpa;
mod prom_queries;
mod render;
mod render_backups;
mod render_breakers;
mod render_hpa;
mod rollout_demo;
mod rollout_fixtures;
mod tmux;
mod workload_ref;
