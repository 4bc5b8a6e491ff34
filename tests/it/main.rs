//! kdeck's integration tests: one binary (one link of the dependency tree) with a module per
//! area. Run with `cargo nextest run` or `cargo test`.

mod config_files;
mod demo_harness;
mod demo_http;
mod demo_kube_client;
mod demo_kubectl;
mod demo_parse;
mod demo_serve;
mod e2e_rollouts;
mod e2e_shell;
mod exec_actions;
mod prom_queries;
mod prometheus_server;
mod promql;
mod render;
mod rollout_demo;
mod rollout_fixtures;
mod schema;
mod sim_rollouts;
mod sim_workloads;
mod support;
mod tmux;
