//! The Kubernetes API handler of one simulated cluster: every request goes through injected
//! latency, authentication, the injected error rate, then discovery or a resource route with
//! its kind check, authorization and kind faults, and finally the resource verb
//! ([`super::resources`], [`super::list_watch`]).
//!
//! Not served (documented gaps): `/openapi/v2` and `/openapi/v3` answer 404, so
//! `kubectl create/apply` need `--validate=false` and `kubectl explain` does not work;
//! server-side apply (`application/apply-patch+yaml`) answers 415; protobuf is never used
//! (JSON only); `resourceVersionMatch=Exact` lists serve the current state.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::authz::{self, Attributes, Authz, User};
use super::discovery;
use super::faults::{Counted, FaultState};
use super::list_watch;
use super::proto;
use super::registry::{self, Addon, ResourceType, TypeId};
use super::resources;
use super::routes::{self, Query, Representation, ResourcePath, Route};
use super::server::{Handler, ResponseFuture};
use super::status::{self, Body};
use super::store::{ApiError, ObjectStore};
use super::table;
use crate::ClusterState;
use crate::prom;
use crate::tokens::Tokens;

/// Largest request body accepted (the real API server's limit is 3 MiB per object).
const MAX_BODY: usize = 16 << 20;

/// Tunables of the API server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How often a watch that allows bookmarks gets one: once a minute, as kube-apiserver's
    /// watch cache does (`bookmarkFrequency`), so clients see what a real cluster sends.
    pub bookmark_interval: Duration,
    /// How long a watch without `timeoutSeconds` lasts.
    pub default_watch_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            bookmark_interval: Duration::from_secs(60),
            default_watch_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// The Kubernetes API server of one simulated cluster.
pub struct ApiServer {
    pub(crate) cluster: Arc<ClusterState>,
    pub(crate) faults: Arc<FaultState>,
    pub(crate) authz: Arc<Authz>,
    /// The run's bearer tokens.
    pub(crate) tokens: Arc<Tokens>,
    pub(crate) options: ServerOptions,
    pub(crate) shutdown: CancellationToken,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("cluster", &self.cluster.profile.name)
            .finish_non_exhaustive()
    }
}

impl Handler for ApiServer {
    fn handle(self: Arc<Self>, req: Request<Incoming>) -> ResponseFuture {
        Box::pin(async move { self.serve(req).await })
    }

    fn forbidden(&self, message: &str) -> Response<Body> {
        status::error_response(&ApiError::new(403, "Forbidden", message))
    }
}

/// Everything a resource verb needs about its request.
pub struct ReqCtx {
    pub server: Arc<ApiServer>,
    pub type_id: TypeId,
    pub t: &'static ResourceType,
    pub path: ResourcePath,
    pub query: Query,
    /// The undecoded query string (passed through by the service proxy).
    pub raw_query: String,
    pub repr: Representation,
    pub user: User,
    pub method: Method,
    pub content_type: String,
    pub body: Bytes,
}

impl ReqCtx {
    #[must_use]
    pub fn store(&self) -> &ObjectStore {
        &self.server.cluster.store
    }

    /// The namespace of the path (empty for cluster-scoped kinds and cluster-wide lists).
    #[must_use]
    pub fn ns(&self) -> &str {
        self.path.namespace.as_deref().unwrap_or_default()
    }

    #[must_use]
    pub fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or_default()
    }

    /// The `apiVersion` objects are served with at the requested version.
    #[must_use]
    pub fn api_version(&self) -> String {
        self.t.api_version_for(&self.path.version)
    }

    /// Rewrites a stored object to the requested version.
    #[must_use]
    pub fn at_version(&self, mut obj: Value) -> Value {
        if self.path.version != self.t.versions[0] && obj.is_object() {
            obj["apiVersion"] = Value::String(self.api_version());
        }
        obj
    }

    /// The request body as JSON.
    pub fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }

    /// A single object answered in the representation the client accepts.
    #[must_use]
    pub fn object_response(&self, code: u16, obj: Value) -> Response<Body> {
        let obj = self.at_version(obj);
        match self.repr {
            Representation::Object => status::json_response(code, &obj),
            Representation::Metadata => status::json_response(code, &table::partial_metadata(&obj)),
            Representation::Table(api_version) => {
                let include = table::IncludeObject::parse(self.query.get("includeObject"));
                let row = table::row(self.t, &obj, include, chrono::Utc::now());
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let tbl = table::table(self.t, api_version, vec![row], rv, None, None);
                status::json_response(code, &tbl)
            }
        }
    }

    /// Whether the kind accepts strategic merge patches (built-in kinds only, as on a real
    /// cluster, where custom resources answer 415).
    #[must_use]
    pub fn accepts_strategic_merge(&self) -> bool {
        self.t.addon == Addon::Core
    }
}

fn header_str(parts: &http::request::Parts, name: header::HeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The RBAC verb of a request.
fn verb_of(method: &Method, path: &ResourcePath, query: &Query) -> Result<&'static str, ApiError> {
    let collection = path.name.is_none();
    Ok(match *method {
        Method::GET | Method::HEAD if collection && query.flag("watch") => "watch",
        Method::GET | Method::HEAD if collection => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        _ => return Err(status::method_not_allowed(method.as_str())),
    })
}

impl ApiServer {
    async fn serve(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        self.faults.wait_unfrozen().await;
        let latency = self.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let (parts, body) = req.into_parts();
        let route = routes::parse(parts.uri.path());
        self.faults.count(Counted::Request);
        if route == Route::Health {
            // Health answers despite injected errors, but only to a client with a token.
            return match self.authenticate(&parts) {
                Ok(_) => status::respond(200, "text/plain; charset=utf-8", "ok"),
                Err(e) => status::error_response(&e),
            };
        }
        // Access reviews are POSTs that store nothing: not writes.
        let write = !matches!(parts.method, Method::GET | Method::HEAD)
            && !parts.uri.path().contains("/selfsubject");
        if write {
            self.faults.count(Counted::Write);
        }
        let hold = self.faults.write_answer_delay();
        let resp = match self.route(route, parts, body).await {
            Ok(resp) => resp,
            Err(err) => status::error_response(&err),
        };
        if write && !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        resp
    }

    fn authenticate(&self, parts: &http::request::Parts) -> Result<User, ApiError> {
        authz::authenticate(
            &self.tokens,
            header_str(parts, header::AUTHORIZATION),
            parts
                .headers
                .get("impersonate-user")
                .and_then(|v| v.to_str().ok()),
        )
    }

    async fn route(
        self: Arc<Self>,
        route: Route,
        parts: http::request::Parts,
        body: Incoming,
    ) -> Result<Response<Body>, ApiError> {
        let user = self.authenticate(&parts)?;
        if self.faults.roll_error() {
            return Err(status::injected_internal_error());
        }
        let accept = header_str(&parts, header::ACCEPT);
        let is_get = parts.method == Method::GET;
        let discovery_only = |resp: Response<Body>| {
            if is_get {
                Ok(resp)
            } else {
                Err(status::method_not_allowed(parts.method.as_str()))
            }
        };
        let state = &self.cluster;
        match route {
            Route::Health => Ok(status::respond(200, "text/plain; charset=utf-8", "ok")),
            Route::Version => {
                discovery_only(status::json_response(200, &discovery::version(state)))
            }
            Route::OpenApi | Route::NotFound => Err(status::path_not_found()),
            Route::LegacyRoot | Route::GroupList => {
                let legacy = route == Route::LegacyRoot;
                if let Some(v) = routes::aggregated_discovery(accept) {
                    let doc = discovery::aggregated(state, &self.faults, legacy, v);
                    let content_type = if v == "v2" {
                        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
                    } else {
                        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
                    };
                    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
                    return discovery_only(status::respond(200, content_type, bytes));
                }
                let doc = if legacy {
                    let host = header_str(&parts, header::HOST).unwrap_or("127.0.0.1");
                    discovery::legacy_versions(host)
                } else {
                    discovery::group_list(state, &self.faults)
                };
                discovery_only(status::json_response(200, &doc))
            }
            Route::Group(g) => {
                let doc =
                    discovery::group(state, &self.faults, &g).ok_or_else(status::path_not_found)?;
                discovery_only(status::json_response(200, &doc))
            }
            Route::ResourceList { group, version } => {
                let doc = discovery::resource_list(state, &self.faults, &group, &version)
                    .ok_or_else(status::path_not_found)?;
                discovery_only(status::json_response(200, &doc))
            }
            Route::Resource(path) => self.resource(path, parts, body, user).await,
        }
    }

    async fn resource(
        self: Arc<Self>,
        path: ResourcePath,
        parts: http::request::Parts,
        body: Incoming,
        user: User,
    ) -> Result<Response<Body>, ApiError> {
        let store = &self.cluster.store;
        let type_id = registry::find(&path.group, &path.plural)
            .filter(|id| store.serves(*id))
            .ok_or_else(status::path_not_found)?;
        let t = registry::get(type_id);
        let kind_code = self.faults.kind_code(type_id);
        if !t.versions.contains(&path.version.as_str())
            || self.faults.version_hidden(&path.group, &path.version)
            || kind_code == Some(404)
            || (!t.namespaced && path.namespace.is_some())
            || (t.namespaced && path.namespace.is_none() && path.name.is_some())
        {
            return Err(status::path_not_found());
        }
        let query = Query::parse(parts.uri.query());
        let verb = verb_of(&parts.method, &path, &query)?;
        let attrs = Attributes {
            verb: verb.to_string(),
            group: path.group.clone(),
            resource: path.plural.clone(),
            subresource: path.subresource.clone().unwrap_or_default(),
            namespace: path.namespace.clone().unwrap_or_default(),
            name: path.name.clone().unwrap_or_default(),
        };
        // Review APIs are open to every authenticated user (system:basic-user).
        if !t.create_only {
            self.authz.check(&user, &attrs)?;
            if kind_code == Some(403) {
                return Err(status::forbidden(&user.name, &attrs, ""));
            }
        }
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| ApiError::new(413, "RequestEntityTooLarge", e.to_string()))?
            .to_bytes();
        let ctx = ReqCtx {
            server: self.clone(),
            type_id,
            t,
            repr: Representation::from_accept(header_str(&parts, header::ACCEPT)),
            content_type: header_str(&parts, header::CONTENT_TYPE)
                .unwrap_or_default()
                .to_string(),
            method: parts.method.clone(),
            raw_query: parts.uri.query().unwrap_or_default().to_string(),
            path,
            query,
            user,
            body,
        };
        if t.create_only {
            return review(&ctx, verb);
        }
        let has_status = self.faults.has_status(type_id);
        // Without a status subresource, main-resource writes carry status too.
        let main = if has_status || !t.status_subresource {
            super::store::Subresource::Main
        } else {
            super::store::Subresource::Whole
        };
        match (ctx.path.subresource.as_deref(), verb) {
            (None, "list") => {
                self.faults.count(Counted::List);
                list_watch::list(&ctx).await
            }
            (None, "watch") => {
                self.faults.count(Counted::Watch);
                list_watch::watch(&ctx)
            }
            (None, "get") => resources::get(&ctx),
            (None, "create") => resources::create(&ctx),
            (None, "update") => resources::update(&ctx, main),
            (None, "patch") => resources::patch(&ctx, main),
            (None, "delete") => resources::delete(&ctx),
            (None, "deletecollection") => resources::delete_collection(&ctx).await,
            (Some("status"), _) if has_status => match verb {
                "get" => resources::get(&ctx),
                "update" => resources::update(&ctx, super::store::Subresource::Status),
                "patch" => resources::patch(&ctx, super::store::Subresource::Status),
                _ => Err(status::method_not_allowed(ctx.method.as_str())),
            },
            (Some("scale"), _) if t.scale.is_some() => match verb {
                "get" => resources::get_scale(&ctx),
                "update" | "patch" => resources::write_scale(&ctx),
                _ => Err(status::method_not_allowed(ctx.method.as_str())),
            },
            (Some("proxy"), _) if t.group.is_empty() && t.plural == "services" => Ok(proxy(&ctx)),
            _ => Err(status::path_not_found()),
        }
    }
}

/// `SelfSubjectAccessReview` and `SelfSubjectReview`: create only.
fn review(ctx: &ReqCtx, verb: &str) -> Result<Response<Body>, ApiError> {
    if verb != "create" || ctx.path.name.is_some() {
        return Err(status::method_not_allowed(ctx.method.as_str()));
    }
    // kubectl sends these two as protobuf; everything else it sends as JSON.
    let protobuf = ctx.content_type.starts_with(proto::MEDIA_TYPE) || proto::is_envelope(&ctx.body);
    let body = match (protobuf, ctx.t.kind) {
        (false, _) => ctx.json_body()?,
        (true, "SelfSubjectAccessReview") => proto::access_review(&ctx.body)
            .ok_or_else(|| ApiError::bad_request("cannot decode the protobuf body"))?,
        (true, _) => serde_json::json!({}),
    };
    let answer = if ctx.t.kind == "SelfSubjectAccessReview" {
        ctx.server.authz.review(&ctx.user, &body)?
    } else {
        authz::self_review(&ctx.user, &body)
    };
    Ok(status::json_response(201, &answer))
}

/// The service proxy, for the one service the demo runs: Prometheus in `monitoring`
/// (`services/prometheus:9090/proxy/...` or `services/http:prometheus:9090/proxy/...`); every
/// other service has no endpoints, as a service without pods answers.
fn proxy(ctx: &ReqCtx) -> Response<Body> {
    if ctx.server.faults.prom_down() {
        let err = ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no endpoints available for service \"{}\"", ctx.name()),
        );
        return status::error_response(&err);
    }
    let raw = ctx.name();
    let without_scheme = raw
        .strip_prefix("http:")
        .or_else(|| raw.strip_prefix("https:"))
        .unwrap_or(raw);
    let service = without_scheme.split(':').next().unwrap_or_default();
    let port_ok = without_scheme
        .split(':')
        .nth(1)
        .is_none_or(|p| p == "9090" || p == "web" || p == "http");
    if ctx.ns() != "monitoring" || service != "prometheus" || !port_ok {
        let err = ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no endpoints available for service \"{raw}\""),
        );
        return status::error_response(&err);
    }
    let path = format!("/{}", ctx.path.rest);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let resp = prom::http::respond(
        &ctx.server.cluster.prom,
        ctx.method.as_str(),
        &path,
        &ctx.raw_query,
        &ctx.body,
        now_ms,
    );
    status::respond(resp.status, "application/json", resp.body)
}
