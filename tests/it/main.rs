//! kdeck's integration tests: one binary (one link of the dependency tree) with a module per
//! area. Run with `cargo nextest run` or `cargo test`.

mod sim_workloads;
mod support;
