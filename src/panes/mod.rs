//! Panes: one folder each, registered in one list.

pub mod rollouts;
