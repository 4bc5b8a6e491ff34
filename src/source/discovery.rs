//! Which API resources a cluster serves, as the cluster monitor last discovered them: the
//! watch loops read it to tell "not installed" from "error" (and which API version of a kind
//! to read), the Clusters pane to list add-ons.

use std::collections::{BTreeMap, BTreeSet};

/// Served resources as `plural.group` (`rollouts.argoproj.io`; core kinds have no group
/// suffix); `None` until discovery first succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub resources: Option<BTreeSet<String>>,
    /// The versions each group serves, preferred first (`networking.istio.io` →
    /// `[v1, v1beta1, v1alpha3]`); a group missing here is known only by its resources.
    pub versions: BTreeMap<String, Vec<String>>,
}

impl Discovery {
    /// Whether `plural.group` is served; `None` while unknown.
    #[must_use]
    pub fn serves(&self, plural: &str, group: &str) -> Option<bool> {
        self.resources
            .as_ref()
            .map(|r| r.contains(&format!("{plural}.{group}")))
    }

    /// Whether `plural.group` is served at `version`; `None` while unknown. Resources are
    /// listed for the preferred version, so a resource counts as served at every version its
    /// group serves (true of the groups kdeck reads at several versions).
    #[must_use]
    pub fn serves_version(&self, plural: &str, group: &str, version: &str) -> Option<bool> {
        let served = self.serves(plural, group)?;
        Some(
            served
                && self
                    .versions
                    .get(group)
                    .is_none_or(|vs| vs.iter().any(|v| v == version)),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_narrow_what_is_served() {
        let mut d = Discovery::default();
        assert_eq!(
            d.serves_version("destinationrules", "networking.istio.io", "v1"),
            None
        );
        d.resources = Some(BTreeSet::from([
            "destinationrules.networking.istio.io".into()
        ]));
        // Versions not known: served at any.
        assert_eq!(
            d.serves_version("destinationrules", "networking.istio.io", "v1"),
            Some(true)
        );
        d.versions.insert(
            "networking.istio.io".into(),
            vec!["v1beta1".into(), "v1alpha3".into()],
        );
        assert_eq!(
            d.serves_version("destinationrules", "networking.istio.io", "v1"),
            Some(false)
        );
        assert_eq!(
            d.serves_version("destinationrules", "networking.istio.io", "v1beta1"),
            Some(true)
        );
        assert_eq!(
            d.serves_version("virtualservices", "networking.istio.io", "v1beta1"),
            Some(false)
        );
    }
}
