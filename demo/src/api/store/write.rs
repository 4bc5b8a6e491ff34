//! Object store: the write path (create, update, patch, modify, delete) and the API server
//! rules it enforces before a change is committed in watch.rs.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::errors::qualified;
use super::ids::make_uid;
use super::{
    ApiError, ApiResult, EventType, Inner, ObjKey, ObjectStore, Patch, StoredObject, Subresource,
    apply_strategic, now_rfc3339, random_suffix,
};
use crate::api::registry::{self, TypeId};

impl ObjectStore {
    /// Creates an object as a client would: `status` is dropped for kinds with a status
    /// subresource, `generateName` is honoured, the namespace must exist.
    pub fn create(&self, type_id: TypeId, ns: &str, obj: Value, dry_run: bool) -> ApiResult {
        self.create_inner(type_id, ns, obj, dry_run, false)
    }

    /// Creates or replaces an object keeping everything given, including `status`: the path
    /// for seeding and for controllers, which own status.
    pub fn insert(&self, type_id: TypeId, obj: Value) -> ApiResult {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if self.get(type_id, &ns, &name).is_some() {
            self.modify(type_id, &ns, &name, |cur| {
                let meta = cur.get("metadata").cloned();
                *cur = obj.clone();
                if let (Some(Value::Object(old)), Some(Value::Object(new))) =
                    (meta, cur.get_mut("metadata"))
                {
                    for key in ["uid", "creationTimestamp", "generation"] {
                        if let Some(v) = old.get(key) {
                            new.insert(key.to_string(), v.clone());
                        }
                    }
                }
            })
            .ok_or_else(|| ApiError::not_found(type_id, &name))
        } else {
            self.create_inner(type_id, &ns, obj, false, true)
        }
    }

    fn create_inner(
        &self,
        type_id: TypeId,
        ns: &str,
        mut obj: Value,
        dry_run: bool,
        keep_status: bool,
    ) -> ApiResult {
        let t = registry::get(type_id);
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not an object",
            ));
        }
        let mut inner = self.lock();
        let ns = if t.namespaced {
            let given = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(ns);
            if !ns.is_empty() && given != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on \
                     the request",
                ));
            }
            if given.is_empty() {
                return Err(ApiError::bad_request("a namespace is required"));
            }
            let ns_type = registry::find("", "namespaces").unwrap_or_default();
            if !inner.objects[ns_type].contains_key(&ObjKey::new("", given)) {
                return Err(ApiError::not_found(ns_type, given));
            }
            given.to_string()
        } else {
            String::new()
        };
        let meta = ensure_object(&mut obj, "metadata");
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    type_id,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            loop {
                inner.name_counter += 1;
                let candidate = format!(
                    "{prefix}{}",
                    random_suffix(self.salt ^ inner.name_counter.wrapping_mul(0x9E37_79B9))
                );
                if !inner.objects[type_id].contains_key(&ObjKey::new(&ns, &candidate)) {
                    name = candidate;
                    break;
                }
            }
        }
        let key = ObjKey::new(&ns, &name);
        if inner.objects[type_id].contains_key(&key) {
            let what = qualified(type_id);
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{what} \"{name}\" already exists"),
            )
            .for_object(type_id, &name));
        }
        inner.uid_counter += 1;
        let uid = make_uid(self.salt, inner.uid_counter);
        let now = now_rfc3339();
        {
            let meta = ensure_object(&mut obj, "metadata");
            meta.insert("name".into(), Value::String(name.clone()));
            if t.namespaced {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            } else {
                meta.remove("namespace");
            }
            meta.insert("uid".into(), Value::String(uid.clone()));
            meta.entry("creationTimestamp")
                .or_insert_with(|| Value::String(now.clone()));
            if meta.get("creationTimestamp").is_some_and(Value::is_null) {
                meta.insert("creationTimestamp".into(), Value::String(now));
            }
            meta.insert("generation".into(), json!(1));
            meta.remove("deletionTimestamp");
        }
        let map = obj.as_object_mut().map(std::mem::take).unwrap_or_default();
        let mut obj = Value::Object(map);
        obj["apiVersion"] = Value::String(t.api_version());
        obj["kind"] = Value::String(t.kind.to_string());
        if t.status_subresource
            && !keep_status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        if dry_run {
            obj["metadata"]["resourceVersion"] = Value::String(String::new());
            return Ok(obj);
        }
        let stored = self.commit(&mut inner, type_id, key, obj, EventType::Added, None);
        Ok(stored.value())
    }

    /// Replaces an object (PUT). A non-empty `metadata.resourceVersion` must match the stored
    /// one (409 otherwise); identity fields are kept; `sub` decides whether spec or status may
    /// change.
    pub fn update(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        new: Value,
        sub: Subresource,
        dry_run: bool,
    ) -> ApiResult {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = existing(&inner, type_id, &key)?;
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not an object",
            ));
        }
        if let Some(given) = new.pointer("/metadata/name").and_then(Value::as_str)
            && !given.is_empty()
            && given != name
        {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        check_resource_version(&new, &current)?;
        let old = current.value();
        let merged = merge_for_write(type_id, &old, new, sub);
        self.write_if_changed(&mut inner, type_id, key, &current, old, merged, dry_run)
    }

    /// Applies a patch. A `metadata.resourceVersion` left in the patched object that differs
    /// from the stored one is a precondition failure (409), as on a real API server.
    pub fn patch(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        patch: &Patch,
        sub: Subresource,
        dry_run: bool,
    ) -> ApiResult {
        self.patch_with(type_id, ns, name, sub, dry_run, |old| {
            let mut patched = old.clone();
            match patch {
                Patch::Merge(p) => json_patch::merge(&mut patched, p),
                Patch::Strategic(p) => apply_strategic(&mut patched, p),
                Patch::Json(p) => json_patch::patch(&mut patched, &p.0).map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )
                    .for_object(type_id, name)
                })?,
            }
            Ok(patched)
        })
    }

    /// A patch computed from the stored object by `f`, atomically: nothing can be written
    /// between the read `f` sees and the write, so a client's change is never refused because
    /// a controller wrote meanwhile (subresources such as `/scale` patch a view of the object
    /// and need this). The same rules as [`Self::patch`] apply to what `f` returns: a
    /// `metadata.resourceVersion` in it that differs from the stored one is a 409.
    pub fn patch_with(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        sub: Subresource,
        dry_run: bool,
        f: impl FnOnce(&Value) -> ApiResult<Value>,
    ) -> ApiResult {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = existing(&inner, type_id, &key)?;
        let old = current.value();
        let patched = f(&old)?;
        check_resource_version(&patched, &current)?;
        if patched.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
            return Err(ApiError::bad_request(
                "metadata.name may not be changed by a patch",
            ));
        }
        let merged = merge_for_write(type_id, &old, patched, sub);
        self.write_if_changed(&mut inner, type_id, key, &current, old, merged, dry_run)
    }

    /// Read-modify-write for controllers and seeding: `f` may change anything (spec and
    /// status). Nothing is written, and no event sent, when `f` changes nothing.
    /// Returns the object after the change, or `None` when it does not exist.
    pub fn modify(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = inner.objects[type_id].get(&key).cloned()?;
        let old = current.value();
        let mut new = old.clone();
        f(&mut new);
        // Identity is not the controller's to change.
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "resourceVersion",
        ] {
            if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
                new["metadata"][field] = v.clone();
            }
        }
        self.write_if_changed(&mut inner, type_id, key, &current, old, new, false)
            .ok()
    }

    /// Deletes an object and, like the garbage collector with background propagation, every
    /// object that names it as owner.
    pub fn delete(&self, type_id: TypeId, ns: &str, name: &str, dry_run: bool) -> ApiResult {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = existing(&inner, type_id, &key)?;
        if dry_run {
            return Ok(current.value());
        }
        let value = self.remove_locked(&mut inner, type_id, &key);
        // Cascade: collect dependents transitively by owner UID.
        let mut owners: HashSet<String> = HashSet::from([current.uid.clone()]);
        loop {
            let mut victims = Vec::new();
            for (tid, map) in inner.objects.iter().enumerate() {
                for (k, obj) in map {
                    if obj.owner_uids.iter().any(|u| owners.contains(u)) {
                        victims.push((tid, k.clone(), obj.uid.clone()));
                    }
                }
            }
            if victims.is_empty() {
                break;
            }
            owners.clear();
            for (tid, k, uid) in victims {
                self.remove_locked(&mut inner, tid, &k);
                owners.insert(uid);
            }
        }
        Ok(value.unwrap_or(Value::Null))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_if_changed(
        &self,
        inner: &mut Inner,
        type_id: TypeId,
        key: ObjKey,
        current: &Arc<StoredObject>,
        old: Value,
        mut new: Value,
        dry_run: bool,
    ) -> ApiResult {
        let t = registry::get(type_id);
        new["apiVersion"] = Value::String(t.api_version());
        new["kind"] = Value::String(t.kind.to_string());
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        new["metadata"]["generation"] = old["metadata"]["generation"].clone();
        if new == old {
            return Ok(old);
        }
        if spec_changed(type_id, &old, &new) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        if dry_run {
            return Ok(new);
        }
        let stored = self.commit(
            inner,
            type_id,
            key,
            new,
            EventType::Modified,
            Some(current.clone()),
        );
        Ok(stored.value())
    }
}

/// The stored object at `key`, or a 404 naming it.
fn existing(inner: &Inner, type_id: TypeId, key: &ObjKey) -> ApiResult<Arc<StoredObject>> {
    inner.objects[type_id]
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(type_id, &key.name))
}

/// Optimistic concurrency for updates and patches alike: a non-empty
/// `metadata.resourceVersion` in what is written must be the stored one (409 otherwise).
fn check_resource_version(written: &Value, current: &StoredObject) -> ApiResult<()> {
    let given = written
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !given.is_empty() && given != current.rv.to_string() {
        return Err(ApiError::conflict(current.type_id, &current.key.name));
    }
    Ok(())
}

/// Keeps the parts a write may not change: identity metadata always, and status on the main
/// resource (or everything but status on `/status`) for kinds with a status subresource.
fn merge_for_write(type_id: TypeId, old: &Value, mut new: Value, sub: Subresource) -> Value {
    let t = registry::get(type_id);
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        match old.pointer(&format!("/metadata/{field}")) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove(field);
                }
            }
        }
    }
    match sub {
        Subresource::Status => {
            let mut out = old.clone();
            match new.get("status") {
                Some(s) => out["status"] = s.clone(),
                None => {
                    if let Some(m) = out.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            out
        }
        Subresource::Main if t.status_subresource => {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            new
        }
        Subresource::Main | Subresource::Whole => new,
    }
}

/// Generation moves when anything but metadata (and status, for kinds with a status
/// subresource) changes: the rule the API server applies to CRDs, used for all kinds here.
fn spec_changed(type_id: TypeId, old: &Value, new: &Value) -> bool {
    let t = registry::get(type_id);
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            if t.status_subresource {
                m.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

fn ensure_object<'a>(obj: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !obj.get(key).is_some_and(Value::is_object) {
        obj[key] = Value::Object(Map::new());
    }
    match obj.get_mut(key) {
        Some(Value::Object(m)) => m,
        // Just made an object above.
        _ => unreachable!("metadata was set to an object"),
    }
}
