//! Where an Application deploys, named as the user knows it: the watched context whose API
//! server URL is `spec.destination.server` (or whose name is `spec.destination.name`).
//! Argo CD's in-cluster destination (`https://kubernetes.default.svc`, or the cluster named
//! `in-cluster`) is the cluster the Application itself lives in.

use crate::k8s::argocd::Destination;
use crate::panes::kit::WatchedContext;

/// The in-cluster API server URL Argo CD uses for its own cluster.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// The name Argo CD gives its own cluster.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// A destination as the table shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DestLabel {
    /// The watched context it is, if one is.
    pub context: Option<String>,
    /// The context's short name, else the destination as written (name or server host).
    pub cluster: String,
    pub namespace: String,
}

impl DestLabel {
    /// Just the namespace when it deploys to `home` (the cluster the app lives in), else
    /// [`Self::text`].
    #[must_use]
    pub fn text_from(&self, home: &str) -> String {
        if self.context.as_deref() == Some(home) && !self.namespace.is_empty() {
            self.namespace.clone()
        } else {
            self.text()
        }
    }

    /// `eu-west/payments`; an unwatched cluster is marked `?`.
    #[must_use]
    pub fn text(&self) -> String {
        let mark = if self.context.is_none() && !self.cluster.is_empty() {
            "?"
        } else {
            ""
        };
        match (self.cluster.is_empty(), self.namespace.is_empty()) {
            (true, _) => self.namespace.clone(),
            (false, true) => format!("{}{mark}", self.cluster),
            (false, false) => format!("{}{mark}/{}", self.cluster, self.namespace),
        }
    }
}

fn same_server(a: &str, b: &str) -> bool {
    !a.is_empty() && a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The host of a server URL (`https://10.0.0.1:6443` → `10.0.0.1:6443`).
fn host(server: &str) -> &str {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Names `dest` for an Application living in context `home`.
#[must_use]
pub fn resolve(dest: &Destination, home: &str, contexts: &[WatchedContext]) -> DestLabel {
    let found = |c: &WatchedContext| DestLabel {
        context: Some(c.context.clone()),
        cluster: c.short.clone(),
        namespace: dest.namespace.clone(),
    };
    let in_cluster = same_server(&dest.server, IN_CLUSTER_SERVER)
        || (dest.server.is_empty() && dest.name == IN_CLUSTER_NAME);
    let hit = if in_cluster {
        contexts.iter().find(|c| c.context == home)
    } else if dest.server.is_empty() {
        contexts
            .iter()
            .find(|c| !dest.name.is_empty() && c.context == dest.name)
    } else {
        contexts
            .iter()
            .find(|c| same_server(&c.server, &dest.server))
    };
    match hit {
        Some(c) => found(c),
        None => DestLabel {
            context: None,
            cluster: if in_cluster {
                IN_CLUSTER_NAME.to_string()
            } else if dest.server.is_empty() {
                dest.name.clone()
            } else {
                host(&dest.server).to_string()
            },
            namespace: dest.namespace.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts() -> Vec<WatchedContext> {
        vec![
            WatchedContext {
                context: "prod-us-east".into(),
                short: "us-east".into(),
                server: "https://10.0.0.1:6443".into(),
            },
            WatchedContext {
                context: "prod-eu-west".into(),
                short: "eu-west".into(),
                server: "https://10.0.0.2:6443/".into(),
            },
        ]
    }

    fn dest(server: &str, name: &str) -> Destination {
        Destination {
            server: server.into(),
            name: name.into(),
            namespace: "payments".into(),
        }
    }

    #[test]
    fn destinations_are_named_as_watched_contexts() {
        let c = contexts();
        let home = "prod-us-east";
        let d = resolve(&dest(IN_CLUSTER_SERVER, ""), home, &c);
        assert_eq!(d.text(), "us-east/payments");
        assert_eq!(d.context.as_deref(), Some("prod-us-east"));
        assert_eq!(d.text_from("prod-us-east"), "payments");
        assert_eq!(d.text_from("prod-eu-west"), "us-east/payments");
        assert_eq!(
            resolve(&dest("", "in-cluster"), home, &c).text(),
            "us-east/payments"
        );
        // By server URL (a trailing slash does not matter), or by context name.
        let d = resolve(&dest("https://10.0.0.2:6443", ""), home, &c);
        assert_eq!(d.text(), "eu-west/payments");
        assert_eq!(
            resolve(&dest("", "prod-eu-west"), home, &c).text(),
            "eu-west/payments"
        );
        // Not watched: said as written, marked.
        let d = resolve(&dest("https://10.9.9.9:6443", ""), home, &c);
        assert_eq!(d.text(), "10.9.9.9:6443?/payments");
        assert_eq!(d.context, None);
        assert_eq!(
            resolve(&dest("", "gke-alpha-01-europe-west1"), home, &c).text(),
            "gke-alpha-01-europe-west1?/payments"
        );
    }
}
