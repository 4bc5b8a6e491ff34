//! kdeck's integration tests: one binary (one link of the dependency tree) with a module per
//! area. Run with `cargo nextest run` or `cargo test`.

mod demo_harness;
mod demo_http;
mod demo_kube_client;
mod demo_kubectl;
mod demo_serve;
mod schema;
mod support;
