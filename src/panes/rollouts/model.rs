//! Rollout view rows computed from store snapshots (pure functions).
