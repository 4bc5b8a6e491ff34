//! The Circuit-breakers pane: per cluster, one row per Istio DestinationRule host (and per
//! service with mesh traffic that no rule names) with the connection-pool limits and outlier
//! detection in force, the retries of the routes to it, and live signals from Prometheus —
//! breaker 503s by response flag at the calling proxies, hosts ejected now, success rate and
//! latency — judged into one state: tripping, open, ejecting, quiet or no breaker configured.
//! The detail view charts the last half hour per caller, per subset and per Envoy cluster.
//!
//! Data flow: DestinationRules and VirtualServices (watched at `v1`, or `v1beta1` on older
//! Istio) and the list queries' answer → [`model::build_rows`] (with [`policy`] for the limits
//! in force and [`live`] for the numbers and the state) → [`view`] table rows; the detail is
//! [`detail`] (model and queries) drawn by [`detail_view`].

pub mod detail;
pub mod detail_view;
pub mod hosts;
pub mod live;
pub mod model;
pub mod pane;
pub mod policy;
pub mod view;

pub use pane::{BreakersModel, BreakersPane};
