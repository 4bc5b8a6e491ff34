//! The demo simulator's integration tests: one binary (one link of the dependency tree) with a
//! module per area, against the simulator alone (kubectl and kube-rs conformance, the HTTP
//! API under faults, PromQL against a real Prometheus, the simulated controllers, CRD
//! schemas). Tests of kdeck against the demo are in the kdeck package's `tests/it`.

mod demo_http;
mod demo_kube_client;
mod demo_kubectl;
mod promql;
mod schema;
mod sim_autoscalers;
mod sim_mesh;
mod sim_rollouts;
mod sim_workload_ref;
mod sim_workloads;
