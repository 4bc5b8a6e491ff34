//! Which service a host names, so a DestinationRule, a VirtualService route, Istio's request
//! metrics and Envoy's cluster names can be matched to one another (pure). Istio expands only
//! a bare name (`reviews` → `reviews.<rule's namespace>.svc.<domain>`); a Kubernetes FQDN is
//! `name.namespace.svc.<domain>` whatever the cluster domain; anything else (a ServiceEntry
//! host such as `api.example.com`) is matched as written, and a `*.` prefix is a wildcard.

/// A service as Istio's metrics label it (`destination_service_name`,
/// `destination_service_namespace`); external hosts have their host as the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceRef {
    pub name: String,
    pub namespace: String,
}

/// What a DestinationRule's (or a route's) host refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostRef {
    /// A Kubernetes service.
    Service(ServiceRef),
    /// A host outside the cluster's services, matched by name.
    External(String),
    /// `*.suffix` (or `*`): every host ending in `suffix`.
    Wildcard(String),
}

/// The service `host` names, written in a rule or route of `namespace`.
#[must_use]
pub fn parse_host(host: &str, namespace: &str) -> HostRef {
    let host = host.trim().trim_end_matches('.');
    if let Some(suffix) = host.strip_prefix('*') {
        return HostRef::Wildcard(suffix.to_string());
    }
    if !host.contains('.') {
        return HostRef::Service(ServiceRef {
            name: host.to_string(),
            namespace: namespace.to_string(),
        });
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() >= 3 && parts[2] == "svc" && !parts[0].is_empty() && !parts[1].is_empty() {
        return HostRef::Service(ServiceRef {
            name: parts[0].to_string(),
            namespace: parts[1].to_string(),
        });
    }
    HostRef::External(host.to_string())
}

impl HostRef {
    /// Whether this host is `svc` (an external host matches a service labelled with it).
    #[must_use]
    pub fn matches(&self, svc: &ServiceRef) -> bool {
        match self {
            Self::Service(s) => s == svc,
            Self::External(h) => svc.name == *h,
            Self::Wildcard(suffix) => {
                let fqdn = if svc.namespace.is_empty() || svc.name.contains('.') {
                    svc.name.clone()
                } else {
                    format!("{}.{}.svc.cluster.local", svc.name, svc.namespace)
                };
                fqdn.ends_with(suffix.as_str())
            }
        }
    }

    /// The service for the metrics queries, if this host is one service.
    #[must_use]
    pub fn service(&self) -> Option<ServiceRef> {
        match self {
            Self::Service(s) => Some(s.clone()),
            Self::External(h) => Some(ServiceRef {
                name: h.clone(),
                namespace: String::new(),
            }),
            Self::Wildcard(_) => None,
        }
    }
}

/// An Envoy cluster of a calling proxy, from its name: `outbound|PORT|SUBSET|HOST`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvoyCluster {
    pub port: Option<u64>,
    /// Empty for the host's default (subset-less) cluster.
    pub subset: String,
    pub service: ServiceRef,
}

/// Parses an outbound Envoy cluster name; `None` for anything else (inbound, BlackHole …).
#[must_use]
pub fn parse_cluster_name(name: &str) -> Option<EnvoyCluster> {
    let mut parts = name.split('|');
    if parts.next()? != "outbound" {
        return None;
    }
    let port = parts.next()?.parse().ok();
    let subset = parts.next()?.to_string();
    let host = parts.next()?;
    let service = match parse_host(host, "") {
        HostRef::Service(s) => s,
        HostRef::External(h) => ServiceRef {
            name: h,
            namespace: String::new(),
        },
        HostRef::Wildcard(_) => return None,
    };
    Some(EnvoyCluster {
        port,
        subset,
        service,
    })
}

/// The regular expression for the HOST part of `svc`'s Envoy cluster names, whatever the
/// cluster domain (the detail queries' `{cluster_host}`).
#[must_use]
pub fn cluster_host_pattern(svc: &ServiceRef) -> String {
    let esc = |s: &str| s.replace('.', "\\\\.");
    if svc.namespace.is_empty() {
        esc(&svc.name)
    } else {
        format!(
            "{}\\\\.{}\\\\.svc\\\\..+",
            esc(&svc.name),
            esc(&svc.namespace)
        )
    }
}

/// How a host reads in a narrow column: `name` in its own namespace, `name.namespace`
/// elsewhere, external hosts as written.
#[must_use]
pub fn short_host(host: &HostRef, namespace: &str) -> String {
    match host {
        HostRef::Service(s) if s.namespace == namespace => s.name.clone(),
        HostRef::Service(s) => format!("{}.{}", s.name, s.namespace),
        HostRef::External(h) => h.clone(),
        HostRef::Wildcard(suffix) => format!("*{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, ns: &str) -> ServiceRef {
        ServiceRef {
            name: name.into(),
            namespace: ns.into(),
        }
    }

    #[test]
    fn hosts_name_services_as_istio_expands_them() {
        assert_eq!(
            parse_host("reviews", "shop"),
            HostRef::Service(svc("reviews", "shop"))
        );
        assert_eq!(
            parse_host("reviews.prod.svc.cluster.local", "shop"),
            HostRef::Service(svc("reviews", "prod"))
        );
        assert_eq!(
            parse_host("reviews.prod.svc.corp.example", "shop"),
            HostRef::Service(svc("reviews", "prod")),
            "any cluster domain"
        );
        // Only bare names are expanded: `reviews.prod` is not a service name to Istio.
        assert_eq!(
            parse_host("reviews.prod", "shop"),
            HostRef::External("reviews.prod".into())
        );
        let w = parse_host("*.shop.svc.cluster.local", "x");
        assert!(w.matches(&svc("cart", "shop")));
        assert!(!w.matches(&svc("cart", "shop2")));
        assert!(parse_host("api.example.com", "x").matches(&svc("api.example.com", "x")));
    }

    #[test]
    fn envoy_cluster_names() {
        assert_eq!(
            parse_cluster_name("outbound|8080|v1|reviews.shop.svc.cluster.local"),
            Some(EnvoyCluster {
                port: Some(8080),
                subset: "v1".into(),
                service: svc("reviews", "shop"),
            })
        );
        assert_eq!(
            parse_cluster_name("outbound|443||api.example.com").map(|c| c.service),
            Some(svc("api.example.com", ""))
        );
        assert_eq!(parse_cluster_name("inbound|8080||"), None);
        assert_eq!(parse_cluster_name("BlackHoleCluster"), None);
    }

    #[test]
    fn cluster_host_patterns_escape_dots() {
        assert_eq!(
            cluster_host_pattern(&svc("cart", "shop")),
            r"cart\\.shop\\.svc\\..+"
        );
    }
}
