//! Single-object verbs of the demo API server (get, create, update, patch, delete,
//! deletecollection) and the `/scale` subresource, mapped onto the object store, which
//! enforces the API server's write rules.

use http::Response;
use serde_json::{Value, json};

use super::handler::ReqCtx;
use super::registry::{self, ScalePaths};
use super::selectors::{FieldSelector, LabelSelector, Selectors};
use super::status::{self, Body};
use super::store::{ApiError, Patch, Subresource};
use crate::ClusterState;

fn not_found(ctx: &ReqCtx) -> ApiError {
    ApiError::not_found(ctx.type_id, ctx.name())
}

/// The media type without parameters, lower-cased.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Create and update bodies must be JSON (kubectl and kube-rs always send JSON).
fn require_json(ctx: &ReqCtx) -> Result<(), ApiError> {
    match media_type(&ctx.content_type).as_str() {
        "" | "application/json" | "*/*" => Ok(()),
        other => Err(status::unsupported_media_type(other, "application/json")),
    }
}

/// Checks that a body names this kind (when it names one at all).
fn check_kind(ctx: &ReqCtx, obj: &Value) -> Result<(), ApiError> {
    match obj.get("kind").and_then(Value::as_str) {
        Some(kind) if !kind.is_empty() && kind != ctx.t.kind => {
            Err(ApiError::bad_request(format!(
                "the kind {kind:?} of the body does not match the resource {:?} ({})",
                ctx.t.plural, ctx.t.kind
            )))
        }
        _ => Ok(()),
    }
}

pub fn get(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    let obj = ctx
        .store()
        .get(ctx.type_id, ctx.ns(), ctx.name())
        .ok_or_else(|| not_found(ctx))?;
    Ok(ctx.object_response(200, obj.value()))
}

pub fn create(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    if ctx.path.name.is_some() {
        return Err(status::method_not_allowed("POST"));
    }
    require_json(ctx)?;
    let obj = ctx.json_body()?;
    check_kind(ctx, &obj)?;
    let created = ctx
        .store()
        .create(ctx.type_id, ctx.ns(), obj, ctx.query.dry_run())?;
    Ok(ctx.object_response(201, created))
}

pub fn update(ctx: &ReqCtx, sub: Subresource) -> Result<Response<Body>, ApiError> {
    require_json(ctx)?;
    let obj = ctx.json_body()?;
    check_kind(ctx, &obj)?;
    let updated = ctx.store().update(
        ctx.type_id,
        ctx.ns(),
        ctx.name(),
        obj,
        sub,
        ctx.query.dry_run(),
    )?;
    Ok(ctx.object_response(200, updated))
}

/// Reads the patch body according to its content type.
fn parse_patch(ctx: &ReqCtx) -> Result<Patch, ApiError> {
    let media = media_type(&ctx.content_type);
    let accepted = if ctx.accepts_strategic_merge() {
        "application/json-patch+json, application/merge-patch+json, \
         application/strategic-merge-patch+json"
    } else {
        "application/json-patch+json, application/merge-patch+json"
    };
    let bad = |e: serde_json::Error| ApiError::bad_request(format!("invalid patch body: {e}"));
    match media.as_str() {
        "application/merge-patch+json" => Ok(Patch::Merge(ctx.json_body()?)),
        "application/json-patch+json" => serde_json::from_slice::<json_patch::Patch>(&ctx.body)
            .map(Patch::Json)
            .map_err(bad),
        "application/strategic-merge-patch+json" if ctx.accepts_strategic_merge() => {
            Ok(Patch::Strategic(ctx.json_body()?))
        }
        other => Err(status::unsupported_media_type(other, accepted)),
    }
}

pub fn patch(ctx: &ReqCtx, sub: Subresource) -> Result<Response<Body>, ApiError> {
    let p = parse_patch(ctx)?;
    let patched = ctx.store().patch(
        ctx.type_id,
        ctx.ns(),
        ctx.name(),
        &p,
        sub,
        ctx.query.dry_run(),
    )?;
    Ok(ctx.object_response(200, patched))
}

/// Checks `DeleteOptions.preconditions` (uid, resourceVersion) when a body is given.
fn check_delete_preconditions(ctx: &ReqCtx) -> Result<(), ApiError> {
    if ctx.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let options = ctx.json_body()?;
    let Some(pre) = options.get("preconditions") else {
        return Ok(());
    };
    let current = ctx
        .store()
        .get(ctx.type_id, ctx.ns(), ctx.name())
        .ok_or_else(|| not_found(ctx))?;
    let uid_ok = pre
        .get("uid")
        .and_then(Value::as_str)
        .is_none_or(|u| u == current.uid);
    let rv_ok = pre
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_none_or(|rv| rv == current.rv.to_string());
    if uid_ok && rv_ok {
        Ok(())
    } else {
        Err(ApiError::conflict(ctx.type_id, ctx.name()))
    }
}

pub fn delete(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    check_delete_preconditions(ctx)?;
    let dry_run = ctx.query.dry_run();
    let deleted = ctx
        .store()
        .delete(ctx.type_id, ctx.ns(), ctx.name(), dry_run)?;
    if ctx.t.group.is_empty() && ctx.t.plural == "namespaces" && !dry_run {
        // Like the namespace controller, empty it in the background: each store delete scans
        // for dependents, so this is CPU work that must not hold up an async worker.
        let cluster = ctx.server.cluster.clone();
        let ns = ctx.name().to_string();
        tokio::task::spawn_blocking(move || empty_namespace(&cluster, &ns));
    }
    Ok(ctx.object_response(200, deleted))
}

/// Deletes everything in a deleted namespace (a real cluster shows the namespace
/// `Terminating` meanwhile; here it is gone at once and its contents follow shortly).
fn empty_namespace(cluster: &ClusterState, ns: &str) {
    let store = &cluster.store;
    for (id, t) in registry::RESOURCE_TYPES.iter().enumerate() {
        if !t.namespaced || t.create_only || !store.serves(id) {
            continue;
        }
        let (objects, _) = store.list(id, Some(ns));
        for o in objects {
            // Gone already (garbage-collected with its owner) is fine.
            let _ = store.delete(id, ns, &o.key.name, false);
        }
    }
}

/// Deletes every object of the kind (in the namespace) that matches the selectors; answers
/// the list of deleted objects.
pub async fn delete_collection(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    let selectors = Selectors {
        labels: LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or_default())?,
        fields: FieldSelector::parse(ctx.query.get("fieldSelector").unwrap_or_default(), ctx.t)?,
    };
    let cluster = ctx.server.cluster.clone();
    let ns = ctx.path.namespace.clone();
    let type_id = ctx.type_id;
    let dry_run = ctx.query.dry_run();
    // CPU work proportional to the cluster (see `delete`): off the async workers.
    let deleted = tokio::task::spawn_blocking(move || {
        let store = &cluster.store;
        let (page, _) = store.list_page(type_id, ns.as_deref(), None, usize::MAX, |o| {
            selectors.matches(o)
        });
        page.iter()
            // Already gone (garbage-collected with an owner deleted just before) is fine.
            .filter_map(|o| store.delete(type_id, &o.key.ns, &o.key.name, dry_run).ok())
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::new(500, "InternalError", format!("delete failed: {e}")))?;
    let items: Vec<Value> = deleted.into_iter().map(|v| ctx.at_version(v)).collect();
    let list = json!({
        "kind": format!("{}List", ctx.t.kind),
        "apiVersion": ctx.api_version(),
        "metadata": {"resourceVersion": ctx.store().current_rv().to_string()},
        "items": items,
    });
    Ok(status::json_response(200, &list))
}

fn at_path<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, p| v.get(p))
}

/// Builds a JSON object holding `value` at `path`.
fn nest(path: &[&str], value: Value) -> Value {
    path.iter()
        .rev()
        .fold(value, |inner, key| json!({ *key: inner }))
}

/// The `autoscaling/v1` `Scale` of an object.
fn scale_of(obj: &Value, paths: &ScalePaths) -> Value {
    let int = |p: &[&str]| at_path(obj, p).and_then(Value::as_i64).unwrap_or(0);
    let selector = match paths.label_selector {
        Some(p) => at_path(obj, p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        None => obj
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|m| {
                let mut pairs: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                pairs.sort();
                pairs.join(",")
            })
            .unwrap_or_default(),
    };
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut scale_meta = json!({});
    for key in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(key) {
            scale_meta[key] = v.clone();
        }
    }
    let mut status = json!({"replicas": int(paths.status_replicas)});
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": int(paths.spec_replicas)},
        "status": status,
    })
}

fn scale_paths(ctx: &ReqCtx) -> Result<ScalePaths, ApiError> {
    ctx.t.scale.ok_or_else(status::path_not_found)
}

pub fn get_scale(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    let paths = scale_paths(ctx)?;
    let obj = ctx
        .store()
        .get(ctx.type_id, ctx.ns(), ctx.name())
        .ok_or_else(|| not_found(ctx))?;
    Ok(status::json_response(200, &scale_of(&obj.value(), &paths)))
}

/// What a write to `/scale` brings: a whole Scale, or a patch to the current one.
enum ScaleWrite {
    Put(Value),
    Patch(Patch),
}

/// PUT or PATCH of `/scale`: the new Scale's `spec.replicas` goes to the object's replica
/// path, with the Scale's resourceVersion (if any) as precondition.
///
/// The Scale is computed from the object and written back in one step of the store: a PATCH
/// leaves the version of the Scale it was applied to in place, and reading that Scale first
/// and writing later would turn any controller write in between into a 409 the client never
/// asked for (`kubectl scale` sends no version). Only a version the client gives can conflict.
pub fn write_scale(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    let paths = scale_paths(ctx)?;
    let given = if ctx.method == http::Method::PUT {
        require_json(ctx)?;
        ScaleWrite::Put(ctx.json_body()?)
    } else {
        ScaleWrite::Patch(parse_patch(ctx)?)
    };
    let (type_id, name) = (ctx.type_id, ctx.name());
    let updated = ctx.store().patch_with(
        type_id,
        ctx.ns(),
        name,
        Subresource::Main,
        ctx.query.dry_run(),
        |current| {
            let new_scale = match &given {
                ScaleWrite::Put(scale) => scale.clone(),
                ScaleWrite::Patch(patch) => {
                    let mut s = scale_of(current, &paths);
                    match patch {
                        Patch::Merge(p) => json_patch::merge(&mut s, p),
                        Patch::Strategic(p) => super::store::apply_strategic(&mut s, p),
                        Patch::Json(p) => json_patch::patch(&mut s, &p.0).map_err(|e| {
                            ApiError::invalid(type_id, name, format!("invalid JSON patch: {e}"))
                        })?,
                    }
                    s
                }
            };
            let replicas = new_scale
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .filter(|r| *r >= 0)
                .ok_or_else(|| {
                    ApiError::invalid(
                        type_id,
                        name,
                        "spec.replicas: Invalid value: must be a non-negative integer",
                    )
                })?;
            let mut obj = current.clone();
            json_patch::merge(&mut obj, &nest(paths.spec_replicas, json!(replicas)));
            // The Scale's version is the object's; an empty one means no precondition.
            let rv = new_scale
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|rv| !rv.is_empty());
            if let Some(rv) = rv {
                obj["metadata"]["resourceVersion"] = json!(rv);
            }
            Ok(obj)
        },
    )?;
    Ok(status::json_response(200, &scale_of(&updated, &paths)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::registry;

    #[test]
    fn scale_shapes() {
        let t = registry::get(registry::find("apps", "deployments").unwrap());
        let d = json!({
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"tier": "front", "app": "web"}}},
            "status": {"replicas": 2},
        });
        let s = scale_of(&d, &t.scale.unwrap());
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web,tier=front");
        assert_eq!(s["metadata"]["resourceVersion"], "7");
        assert!(s["metadata"].get("labels").is_none());
        let ro = registry::get(registry::find("argoproj.io", "rollouts").unwrap());
        let r =
            json!({"spec": {"replicas": 5}, "status": {"HPAReplicas": 4, "selector": "app=shop"}});
        let s = scale_of(&r, &ro.scale.unwrap());
        assert_eq!(s["status"]["replicas"], 4);
        assert_eq!(s["status"]["selector"], "app=shop");
        assert_eq!(
            nest(&["spec", "replicas"], json!(2)),
            json!({"spec": {"replicas": 2}})
        );
    }
}
