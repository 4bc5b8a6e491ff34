//! Test helpers shared by this crate's tests and kdeck's (feature `testing`): a demo on free
//! ports with kubectl and HTTP clients ([`demo_harness`]), the upstream fixtures
//! ([`support`]), and a real Prometheus for differential tests ([`prometheus_server`]).

pub mod demo_harness;
pub mod prometheus_server;
pub mod support;
