//! Request parsing for the demo API server: which route a path names, the query parameters,
//! and which representation the client accepts (object, server-side `Table`, metadata only,
//! aggregated discovery).
//!
//! Resource paths follow the API server's layout:
//! `/api/v1/[namespaces/NS/]PLURAL[/NAME[/SUB]]` and the same under `/apis/GROUP/VERSION`;
//! `/api/v1/namespaces/NS/status` and `.../finalize` are subresources of the namespace itself.

/// A parsed resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// What follows the subresource, e.g. the proxied path after `services/NAME/proxy/`.
    pub rest: String,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    Version,
    OpenApi,
    /// `/api`
    LegacyRoot,
    /// `/apis`
    GroupList,
    /// `/apis/GROUP`
    Group(String),
    /// `/api/v1` or `/apis/GROUP/VERSION`
    ResourceList {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    NotFound,
}

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`, for query strings).
#[must_use]
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a request path.
#[must_use]
pub fn parse(path: &str) -> Route {
    let trimmed = path.trim_end_matches('/');
    let raw: Vec<&str> = trimmed.split('/').skip(1).collect();
    let segs: Vec<String> = raw.iter().map(|s| percent_decode(s, false)).collect();
    let seg = |i: usize| segs.get(i).map(String::as_str);
    match (seg(0), seg(1), seg(2)) {
        (Some("healthz" | "livez" | "readyz"), _, _) => Route::Health,
        (Some("version"), None, _) => Route::Version,
        (Some("openapi"), _, _) => Route::OpenApi,
        (Some("api"), None, _) => Route::LegacyRoot,
        (Some("api"), Some("v1"), None) => Route::ResourceList {
            group: String::new(),
            version: "v1".to_string(),
        },
        (Some("api"), Some("v1"), Some(_)) => {
            resource_path("", "v1", &segs[2..], &raw[2..]).map_or(Route::NotFound, Route::Resource)
        }
        (Some("apis"), None, _) => Route::GroupList,
        (Some("apis"), Some(g), None) => Route::Group(g.to_string()),
        (Some("apis"), Some(g), Some(v)) if segs.len() == 3 => Route::ResourceList {
            group: g.to_string(),
            version: v.to_string(),
        },
        (Some("apis"), Some(g), Some(v)) => {
            resource_path(g, v, &segs[3..], &raw[3..]).map_or(Route::NotFound, Route::Resource)
        }
        _ => Route::NotFound,
    }
}

/// Subresources of a namespace (as opposed to resources inside it).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

fn resource_path(
    group: &str,
    version: &str,
    segs: &[String],
    raw: &[&str],
) -> Option<ResourcePath> {
    let mut namespace = None;
    let mut parts = segs;
    let mut raw_parts = raw;
    if parts.first().map(String::as_str) == Some("namespaces")
        && parts.len() > 2
        && !NAMESPACE_SUBRESOURCES.contains(&parts[2].as_str())
    {
        namespace = Some(parts[1].clone());
        parts = &parts[2..];
        raw_parts = &raw_parts[2..];
    }
    let plural = parts.first()?.clone();
    if plural.is_empty() {
        return None;
    }
    Some(ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        plural,
        name: parts.get(1).cloned(),
        subresource: parts.get(2).cloned(),
        rest: raw_parts.get(3..).map(|r| r.join("/")).unwrap_or_default(),
    })
}

/// Decoded query parameters.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    #[must_use]
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            query
                .unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k, true), percent_decode(v, true))
                })
                .collect(),
        )
    }

    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter: present as `1`, `true` (or empty, as in `?watch`).
    #[must_use]
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True" | ""))
    }

    /// `dryRun=All`.
    #[must_use]
    pub fn dry_run(&self) -> bool {
        self.0.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }
}

/// The representation a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Object,
    /// Server-side `Table`, with the `meta.k8s.io` version to answer with.
    Table(&'static str),
    /// `PartialObjectMetadata(List)`, as kube-rs' metadata watcher asks.
    Metadata,
}

/// The media-type parameters (`as`, `g`, `v`) of each alternative in an `Accept` header.
fn accept_alternatives(accept: &str) -> impl Iterator<Item = (String, String, String)> + '_ {
    accept.split(',').map(|alt| {
        let mut as_ = String::new();
        let mut g = String::new();
        let mut v = String::new();
        for param in alt.split(';').skip(1) {
            if let Some((k, val)) = param.trim().split_once('=') {
                let val = val.trim().to_string();
                match k.trim() {
                    "as" => as_ = val,
                    "g" => g = val,
                    "v" => v = val,
                    _ => {}
                }
            }
        }
        (as_, g, v)
    })
}

impl Representation {
    /// The first alternative we can serve wins, as content negotiation goes.
    #[must_use]
    pub fn from_accept(accept: Option<&str>) -> Self {
        for (as_, g, v) in accept_alternatives(accept.unwrap_or_default()) {
            if g != "meta.k8s.io" {
                if as_.is_empty() {
                    return Self::Object;
                }
                continue;
            }
            match (as_.as_str(), v.as_str()) {
                ("Table", "v1") => return Self::Table("meta.k8s.io/v1"),
                ("Table", "v1beta1") => return Self::Table("meta.k8s.io/v1beta1"),
                ("PartialObjectMetadata" | "PartialObjectMetadataList", "v1" | "v1beta1") => {
                    return Self::Metadata;
                }
                _ => {}
            }
        }
        Self::Object
    }
}

/// Which aggregated discovery version (`apidiscovery.k8s.io/v2` or `v2beta1`) the client
/// accepts before plain JSON, if any.
#[must_use]
pub fn aggregated_discovery(accept: Option<&str>) -> Option<&'static str> {
    for (as_, g, v) in accept_alternatives(accept.unwrap_or_default()) {
        if as_ == "APIGroupDiscoveryList" && g == "apidiscovery.k8s.io" {
            match v.as_str() {
                "v2" => return Some("v2"),
                "v2beta1" => return Some("v2beta1"),
                _ => {}
            }
        } else if as_.is_empty() {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        assert_eq!(parse("/version"), Route::Version);
        assert_eq!(parse("/healthz"), Route::Health);
        assert_eq!(parse("/api"), Route::LegacyRoot);
        assert_eq!(parse("/apis/"), Route::GroupList);
        assert_eq!(parse("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(
            parse("/apis/apps/v1"),
            Route::ResourceList {
                group: "apps".into(),
                version: "v1".into()
            }
        );
        assert_eq!(parse("/nope"), Route::NotFound);
        let r = res("/api/v1/pods");
        assert_eq!(
            (r.plural.as_str(), r.namespace, r.name),
            ("pods", None, None)
        );
        let r = res("/apis/apps/v1/namespaces/shop/deployments/web/scale");
        assert_eq!(r.group, "apps");
        assert_eq!(r.namespace.as_deref(), Some("shop"));
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.subresource.as_deref(), Some("scale"));
        let r = res("/api/v1/namespaces/shop");
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("shop"), None)
        );
        let r = res("/api/v1/namespaces/shop/status");
        assert_eq!(
            (r.plural.as_str(), r.subresource.as_deref()),
            ("namespaces", Some("status"))
        );
        let r =
            res("/api/v1/namespaces/monitoring/services/http:prometheus:9090/proxy/api/v1/query");
        assert_eq!(r.name.as_deref(), Some("http:prometheus:9090"));
        assert_eq!(r.subresource.as_deref(), Some("proxy"));
        assert_eq!(r.rest, "api/v1/query");
        let r = res("/api/v1/namespaces/monitoring/services/prometheus%3A9090/proxy/");
        assert_eq!(r.name.as_deref(), Some("prometheus:9090"));
        assert_eq!(r.rest, "");
    }

    #[test]
    fn queries() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&limit=5&dryRun=All&x",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch"));
        assert!(q.flag("x"));
        assert!(!q.flag("allowWatchBookmarks"));
        assert_eq!(q.get("limit"), Some("5"));
        assert!(q.dry_run());
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz", false), "%zz");
    }

    #[test]
    fn accept_headers() {
        use Representation as R;
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            R::from_accept(Some(kubectl_get)),
            R::Table("meta.k8s.io/v1")
        );
        assert_eq!(R::from_accept(Some("application/json")), R::Object);
        assert_eq!(R::from_accept(None), R::Object);
        assert_eq!(
            R::from_accept(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            )),
            R::Metadata
        );
        let disco = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_discovery(Some(disco)), Some("v2"));
        assert_eq!(aggregated_discovery(Some("application/json")), None);
        assert_eq!(
            aggregated_discovery(Some(
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            )),
            Some("v2beta1")
        );
    }
}
