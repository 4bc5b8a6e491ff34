//! Authentication and authorization of the demo API server.
//!
//! The run's bearer tokens ([`crate::tokens`], written into the kubeconfig) name the user:
//! `demo-admin` may do anything, `demo-viewer` may only get, list and watch. A request without
//! a token, with another scheme or with an unknown token is a 401, as on a cluster without
//! anonymous access. The admin may impersonate (`kubectl --as demo-viewer`,
//! header `Impersonate-User`): `demo-admin` and `demo-viewer` keep their rights, any other
//! name has none (as a user without RBAC bindings). On top of that, each cluster has a table
//! of deny rules (added by tests and the fault API) matched on user, verb, API group,
//! resource, subresource, namespace and name. One decision function serves both the real
//! request (a 403 Forbidden) and `SelfSubjectAccessReview` (`allowed: false` with the rule's
//! reason), so the two can never disagree.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::status;
use super::store::ApiError;
use crate::tokens::{self, Tokens};

pub const ADMIN: &str = "demo-admin";
pub const VIEWER: &str = "demo-viewer";

/// What a user may do before deny rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    /// get, list and watch only.
    Viewer,
    /// Nothing (an impersonated user without bindings).
    Nobody,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    pub role: Role,
}

impl User {
    fn named(name: &str) -> Self {
        let (role, groups) = match name {
            ADMIN => (Role::Admin, vec!["system:masters", "system:authenticated"]),
            VIEWER => (Role::Viewer, vec!["system:authenticated"]),
            _ => (Role::Nobody, vec!["system:authenticated"]),
        };
        Self {
            name: name.to_string(),
            groups: groups.into_iter().map(str::to_string).collect(),
            role,
        }
    }
}

/// Maps the `Authorization` header (the run's admin or viewer token) and the
/// `Impersonate-User` header to the user a request acts as.
pub fn authenticate(
    known: &Tokens,
    authorization: Option<&str>,
    impersonate: Option<&str>,
) -> Result<User, ApiError> {
    let token = tokens::bearer(authorization).ok_or_else(status::unauthorized)?;
    // Both comparisons always run, so the time taken does not tell which user was tried.
    let (admin, viewer) = (
        tokens::same(token, &known.admin),
        tokens::same(token, &known.viewer),
    );
    let user = match (admin, viewer) {
        (true, _) => User::named(ADMIN),
        (false, true) => User::named(VIEWER),
        (false, false) => return Err(status::unauthorized()),
    };
    match impersonate.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(user),
        Some(target) if user.role == Role::Admin => Ok(User::named(target)),
        Some(target) => {
            let attrs = Attributes {
                verb: "impersonate".into(),
                resource: "users".into(),
                name: target.to_string(),
                ..Attributes::default()
            };
            Err(status::forbidden(&user.name, &attrs, ""))
        }
    }
}

/// What a request does, in RBAC terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    pub verb: String,
    #[serde(default)]
    pub group: String,
    pub resource: String,
    #[serde(default)]
    pub subresource: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
}

fn any() -> String {
    "*".to_string()
}

/// A deny rule. Each field is `*` (anything), or a comma-separated list of exact values; for
/// `subresource` the empty string means "the main resource only". Missing fields are `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenyRule {
    #[serde(default = "any")]
    pub user: String,
    #[serde(default = "any")]
    pub verb: String,
    #[serde(default = "any")]
    pub group: String,
    #[serde(default = "any")]
    pub resource: String,
    #[serde(default = "any")]
    pub subresource: String,
    #[serde(default = "any")]
    pub namespace: String,
    #[serde(default = "any")]
    pub name: String,
    /// Shown in `SelfSubjectAccessReview` and appended to the 403 message.
    #[serde(default)]
    pub reason: String,
}

impl Default for DenyRule {
    fn default() -> Self {
        Self {
            user: any(),
            verb: any(),
            group: any(),
            resource: any(),
            subresource: any(),
            namespace: any(),
            name: any(),
            reason: String::new(),
        }
    }
}

fn field_matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern.split(',').any(|p| p.trim() == value)
}

impl DenyRule {
    /// A rule denying `verb` (comma-separated, or `*`) on `resource` in `group` to everyone.
    #[must_use]
    pub fn verbs(verb: &str, group: &str, resource: &str) -> Self {
        Self {
            verb: verb.to_string(),
            group: group.to_string(),
            resource: resource.to_string(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn matches(&self, user: &str, a: &Attributes) -> bool {
        field_matches(&self.user, user)
            && field_matches(&self.verb, &a.verb)
            && field_matches(&self.group, &a.group)
            && field_matches(&self.resource, &a.resource)
            && field_matches(&self.subresource, &a.subresource)
            && field_matches(&self.namespace, &a.namespace)
            && field_matches(&self.name, &a.name)
    }
}

/// The verdict for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny { reason: String },
}

/// Verbs the read-only user keeps.
const READ_VERBS: &[&str] = &["get", "list", "watch"];

/// The per-cluster rule table.
#[derive(Debug, Default)]
pub struct Authz {
    rules: RwLock<Vec<(u64, DenyRule)>>,
    next_id: AtomicU64,
}

impl Authz {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule; returns its id for [`Self::remove`].
    pub fn add(&self, rule: DenyRule) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.write().push((id, rule));
        id
    }

    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.write();
        let before = rules.len();
        rules.retain(|(i, _)| *i != id);
        rules.len() != before
    }

    pub fn clear(&self) {
        self.write().clear();
    }

    #[must_use]
    pub fn rules(&self) -> Vec<(u64, DenyRule)> {
        self.rules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<(u64, DenyRule)>> {
        self.rules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides a resource request.
    #[must_use]
    pub fn decide(&self, user: &User, a: &Attributes) -> Decision {
        match user.role {
            Role::Admin => {}
            Role::Viewer if READ_VERBS.contains(&a.verb.as_str()) => {}
            Role::Viewer => {
                return Decision::Deny {
                    reason: format!("{VIEWER} is a read-only user"),
                };
            }
            Role::Nobody => {
                return Decision::Deny {
                    reason: format!("user {:?} has no role in the demo cluster", user.name),
                };
            }
        }
        let rules = self
            .rules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match rules.iter().find(|(_, r)| r.matches(&user.name, a)) {
            Some((id, rule)) => Decision::Deny {
                reason: if rule.reason.is_empty() {
                    format!("denied by demo rule #{id}")
                } else {
                    rule.reason.clone()
                },
            },
            None => Decision::Allow,
        }
    }

    /// Decides and turns a denial into the 403 the request gets.
    pub fn check(&self, user: &User, a: &Attributes) -> Result<(), ApiError> {
        match self.decide(user, a) {
            Decision::Allow => Ok(()),
            Decision::Deny { reason } => Err(status::forbidden(&user.name, a, &reason)),
        }
    }

    /// Answers a `SelfSubjectAccessReview` body: the request echoed with `status` filled.
    pub fn review(&self, user: &User, body: &Value) -> Result<Value, ApiError> {
        let spec = body
            .get("spec")
            .filter(|s| s.is_object())
            .ok_or_else(|| ApiError::bad_request("spec is required"))?;
        let decision = if let Some(ra) = spec.get("resourceAttributes") {
            let text = |k: &str| {
                ra.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let attrs = Attributes {
                verb: text("verb"),
                group: text("group"),
                resource: text("resource"),
                subresource: text("subresource"),
                namespace: text("namespace"),
                name: text("name"),
            };
            self.decide(user, &attrs)
        } else if let Some(nra) = spec.get("nonResourceAttributes") {
            let verb = nra.get("verb").and_then(Value::as_str).unwrap_or_default();
            match user.role {
                Role::Admin => Decision::Allow,
                Role::Viewer if verb == "get" => Decision::Allow,
                _ => Decision::Deny {
                    reason: format!("user {:?} may not {verb} non-resource URLs", user.name),
                },
            }
        } else {
            return Err(ApiError::new(
                422,
                "Invalid",
                "spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes \
                 must be specified",
            ));
        };
        let status = match decision {
            Decision::Allow => json!({"allowed": true}),
            Decision::Deny { reason } => {
                json!({"allowed": false, "denied": true, "reason": reason})
            }
        };
        Ok(json!({
            "kind": "SelfSubjectAccessReview",
            "apiVersion": body.get("apiVersion").cloned().unwrap_or_else(|| json!("authorization.k8s.io/v1")),
            "metadata": {"creationTimestamp": null},
            "spec": spec,
            "status": status,
        }))
    }
}

/// Answers a `SelfSubjectReview` (`kubectl auth whoami`).
#[must_use]
pub fn self_review(user: &User, body: &Value) -> Value {
    json!({
        "kind": "SelfSubjectReview",
        "apiVersion": body.get("apiVersion").cloned().unwrap_or_else(|| json!("authentication.k8s.io/v1")),
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": {"username": user.name, "groups": user.groups}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, group: &str, resource: &str, ns: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: ns.into(),
            ..Attributes::default()
        }
    }

    fn known() -> Tokens {
        Tokens {
            admin: "a-secret".into(),
            viewer: "v-secret".into(),
            control: "c-secret".into(),
        }
    }

    const AS_ADMIN: Option<&str> = Some("Bearer a-secret");
    const AS_VIEWER: Option<&str> = Some("Bearer v-secret");

    #[test]
    fn tokens() {
        let k = known();
        assert_eq!(authenticate(&k, AS_ADMIN, None).unwrap().name, ADMIN);
        assert_eq!(
            authenticate(&k, AS_VIEWER, None).unwrap().role,
            Role::Viewer
        );
        for refused in [
            None,
            Some("Bearer nope"),
            Some("Bearer demo-admin"),
            Some("Bearer c-secret"),
            Some("Basic eDp5"),
        ] {
            let e = authenticate(&k, refused, None).unwrap_err();
            assert_eq!((e.code, e.reason), (401, "Unauthorized"), "{refused:?}");
        }
        let as_viewer = authenticate(&k, AS_ADMIN, Some("demo-viewer")).unwrap();
        assert_eq!(
            (as_viewer.name.as_str(), as_viewer.role),
            (VIEWER, Role::Viewer)
        );
        assert_eq!(
            authenticate(&k, AS_ADMIN, Some("alice")).unwrap().role,
            Role::Nobody
        );
        assert_eq!(
            authenticate(&k, None, Some("demo-admin")).unwrap_err().code,
            401,
            "impersonation needs a token too"
        );
        let e = authenticate(&k, AS_VIEWER, Some("demo-admin")).unwrap_err();
        assert_eq!(e.code, 403);
        assert!(
            e.message.contains("cannot impersonate resource \"users\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn rules_and_reviews_agree() {
        let authz = Authz::new();
        let k = known();
        let admin = authenticate(&k, AS_ADMIN, None).unwrap();
        let viewer = authenticate(&k, AS_VIEWER, None).unwrap();
        let nobody = authenticate(&k, AS_ADMIN, Some("alice")).unwrap();
        let patch = attrs("patch", "apps", "deployments", "shop");
        assert_eq!(authz.decide(&admin, &patch), Decision::Allow);
        assert!(matches!(
            authz.decide(&viewer, &patch),
            Decision::Deny { .. }
        ));
        assert_eq!(
            authz.decide(&viewer, &attrs("list", "apps", "deployments", "")),
            Decision::Allow
        );
        assert!(matches!(
            authz.decide(&nobody, &attrs("list", "apps", "deployments", "")),
            Decision::Deny { .. }
        ));
        let id = authz.add(DenyRule {
            namespace: "shop,payments".into(),
            reason: "change freeze".into(),
            ..DenyRule::verbs("patch,update", "apps", "deployments")
        });
        let err = authz.check(&admin, &patch).unwrap_err();
        assert_eq!(err.code, 403);
        assert!(err.message.ends_with(": change freeze"), "{}", err.message);
        assert_eq!(
            authz.decide(&admin, &attrs("patch", "apps", "deployments", "search")),
            Decision::Allow
        );
        let review = authz
            .review(&admin, &json!({"spec": {"resourceAttributes": {"verb": "patch", "group": "apps", "resource": "deployments", "namespace": "shop"}}}))
            .unwrap();
        assert_eq!(review["status"]["allowed"], false);
        assert_eq!(review["status"]["reason"], "change freeze");
        assert_eq!(review["spec"]["resourceAttributes"]["verb"], "patch");
        assert!(authz.remove(id));
        assert!(authz.check(&admin, &patch).is_ok());
        let sub = authz.add(DenyRule {
            subresource: String::new(),
            ..DenyRule::verbs("*", "apps", "deployments")
        });
        let mut scale = patch.clone();
        scale.subresource = "scale".into();
        assert!(
            authz.check(&admin, &scale).is_ok(),
            "empty subresource = main resource only"
        );
        assert!(authz.check(&admin, &patch).is_err());
        assert!(authz.remove(sub));
        assert!(!authz.remove(sub));
    }
}
