//! Rollout actions: when each is enabled and the exact requests it sends.
