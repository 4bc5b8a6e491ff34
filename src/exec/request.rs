//! The exact HTTP request an action sends, as data: tests compare these with what the
//! upstream tools send, the confirm dialog describes them, the audit log records them.

use serde::Serialize;
use serde_json::Value;

/// The object a request targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Target {
    /// The target of any object kdeck keeps (its kind's group, version and plural, and the
    /// object's namespace and name).
    #[must_use]
    pub fn of<K: kube::Resource<DynamicType = ()>>(obj: &K) -> Self {
        Self {
            group: K::group(&()).into_owned(),
            version: K::version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            plural: K::plural(&()).into_owned(),
            namespace: obj.meta().namespace.clone(),
            name: obj.meta().name.clone().unwrap_or_default(),
        }
    }

    /// `group/version`, or just `version` for the core group.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The path of the object's collection (where a POST creates it).
    #[must_use]
    pub fn collection_path(&self) -> String {
        let mut p = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let Some(ns) = &self.namespace {
            p.push_str("/namespaces/");
            p.push_str(ns);
        }
        p.push('/');
        p.push_str(&self.plural);
        p
    }

    /// The request path of the object (or of one of its subresources).
    #[must_use]
    pub fn path(&self, subresource: Option<&str>) -> String {
        let mut p = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let Some(ns) = &self.namespace {
            p.push_str("/namespaces/");
            p.push_str(ns);
        }
        p.push('/');
        p.push_str(&self.plural);
        p.push('/');
        p.push_str(&self.name);
        if let Some(s) = subresource {
            p.push('/');
            p.push_str(s);
        }
        p
    }
}

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verb {
    Get,
    Patch,
    Put,
    Post,
}

/// Content type of a PATCH body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchType {
    /// `application/merge-patch+json`
    Merge,
    /// `application/json-patch+json`
    Json,
    /// `application/strategic-merge-patch+json`
    Strategic,
}

impl PatchType {
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Merge => "application/merge-patch+json",
            Self::Json => "application/json-patch+json",
            Self::Strategic => "application/strategic-merge-patch+json",
        }
    }
}

/// One request of an action. An action may need several (promote on a paused canary patches
/// `spec` and then `status`), sent in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KubeRequest {
    pub verb: Verb,
    pub target: Target,
    /// `status` or `scale`, when the request goes to a subresource.
    pub subresource: Option<String>,
    pub patch_type: Option<PatchType>,
    pub body: Value,
}

impl KubeRequest {
    /// A PATCH of the object or a subresource.
    #[must_use]
    pub fn patch(
        target: &Target,
        subresource: Option<&str>,
        patch_type: PatchType,
        body: Value,
    ) -> Self {
        Self {
            verb: Verb::Patch,
            target: target.clone(),
            subresource: subresource.map(str::to_string),
            patch_type: Some(patch_type),
            body,
        }
    }

    /// A POST creating `target` (named in the body) in its collection.
    #[must_use]
    pub fn create(target: &Target, body: Value) -> Self {
        Self {
            verb: Verb::Post,
            target: target.clone(),
            subresource: None,
            patch_type: None,
            body,
        }
    }

    /// The request path: the collection for a POST, else the object or its subresource.
    #[must_use]
    pub fn path(&self) -> String {
        match self.verb {
            Verb::Post => self.target.collection_path(),
            _ => self.target.path(self.subresource.as_deref()),
        }
    }

    /// The HTTP method.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self.verb {
            Verb::Get => "GET",
            Verb::Patch => "PATCH",
            Verb::Put => "PUT",
            Verb::Post => "POST",
        }
    }

    /// `PATCH /apis/.../name/status (merge)`: a one-line summary for dialogs and logs.
    #[must_use]
    pub fn summary(&self) -> String {
        let verb = self.method();
        let kind = match self.patch_type {
            Some(PatchType::Merge) => " (merge)",
            Some(PatchType::Json) => " (json-patch)",
            Some(PatchType::Strategic) => " (strategic)",
            None => "",
        };
        format!("{verb} {}{kind} {}", self.path(), self.body)
    }
}
