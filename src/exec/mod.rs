//! Carrying out user actions against a cluster: the exact requests, the plan the confirm
//! dialog shows, the executor that checks, sends and records them, and the audit log.

pub mod audit;
pub mod executor;
mod finish;
pub mod outcome;
pub mod plan;
pub mod request;
pub mod wire;

pub use executor::{ExecEvent, ExecOptions, Executor, Outcome, OutcomeKind, RbacVerdict};
pub use plan::{ActionPlan, Check, PlanBuild};
