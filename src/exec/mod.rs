//! Carrying out user actions against a cluster: the exact requests, and the executor that
//! checks, sends and records them.

pub mod request;
