//! The demo cluster's Kubernetes API: the object store and the kinds it serves.

pub mod registry;
pub mod store;
