//! (in progress)

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::demo::ClusterState;

pub fn seed(_state: &ClusterState) {}

pub fn spawn(_state: &Arc<ClusterState>, _shutdown: &CancellationToken) {}
