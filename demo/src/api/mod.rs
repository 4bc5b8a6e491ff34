//! The demo cluster's Kubernetes API: the object store and the kinds it serves, and the HTTP
//! server in front of them (discovery, resources, list/watch, tables, authorization, faults).
//!
//! Request path: [`server`] (hyper listener) → [`handler`] (latency, authentication, error
//! rate, routing, kind check, authorization) → [`discovery`] or [`resources`] /
//! [`list_watch`] → [`store`]. [`faults`] holds what tests change at run time.

pub mod authz;
pub mod discovery;
pub mod faults;
pub mod handler;
pub mod list_watch;
pub mod paging;
pub mod proto;
pub mod registry;
pub mod resources;
pub mod routes;
pub mod selectors;
pub mod server;
pub mod status;
pub mod store;
pub mod table;
