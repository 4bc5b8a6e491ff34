//! Which API resources a cluster serves, as the cluster monitor last discovered them: the
//! watch loops read it to tell "not installed" from "error", the Clusters pane to list add-ons.

use std::collections::BTreeSet;

/// Served resources as `plural.group` (`rollouts.argoproj.io`; core kinds have no group
/// suffix); `None` until discovery first succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub resources: Option<BTreeSet<String>>,
}

impl Discovery {
    /// Whether `plural.group` is served; `None` while unknown.
    #[must_use]
    pub fn serves(&self, plural: &str, group: &str) -> Option<bool> {
        self.resources
            .as_ref()
            .map(|r| r.contains(&format!("{plural}.{group}")))
    }

    /// Whether any resource of `group` is served; `None` while unknown.
    #[must_use]
    pub fn serves_group(&self, group: &str) -> Option<bool> {
        self.resources.as_ref().map(|r| {
            r.iter()
                .any(|name| name.split_once('.').is_some_and(|(_, g)| g == group))
        })
    }
}
