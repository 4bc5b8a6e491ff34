//! What kdeck keeps of each Kubernetes kind: small typed structs holding only the fields the
//! panes show. Unknown fields are dropped while parsing (that is the memory budget), missing
//! fields default, and unknown enum values are kept as text, so newer or older controllers
//! never break a pane. Each struct implements `kube::Resource`, so the generic watcher and
//! reflector work on it directly.

pub mod analysis;
pub mod apps;
pub mod argocd;
pub mod argocd_projects;
pub mod autoscaling;
pub mod core;
pub mod crd;
pub mod flux;
pub mod intern;
pub mod istio;
pub mod lenient;
pub mod pod;
pub mod rollout;
pub mod velero;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Implements `kube::Resource` for a slim struct with a `metadata: ObjectMeta` field.
///
/// ```text
/// slim_resource!(Rollout, "argoproj.io", "v1alpha1", "Rollout", "rollouts", Namespaced);
/// ```
#[macro_export]
macro_rules! slim_resource {
    ($ty:ty, $group:expr, $version:expr, $kind:expr, $plural:expr, $scope:ident) => {
        impl ::kube::Resource for $ty {
            type DynamicType = ();
            type Scope = ::kube::core::$scope;

            fn kind(_: &()) -> ::std::borrow::Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> ::std::borrow::Cow<'_, str> {
                $group.into()
            }
            fn version(_: &()) -> ::std::borrow::Cow<'_, str> {
                $version.into()
            }
            fn plural(_: &()) -> ::std::borrow::Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(
                &mut self,
            ) -> &mut ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// Drops what kdeck never shows from an object's metadata before it is stored: managed
/// fields, the name prefix and self link, and every annotation except the ones named in `keep`.
pub fn slim_metadata(meta: &mut ObjectMeta, keep: &[&str]) {
    meta.managed_fields = None;
    meta.generate_name = None;
    meta.self_link = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|k, _| keep.contains(&k.as_str()));
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// Drops every label except the ones named in `keep`.
pub fn slim_labels(meta: &mut ObjectMeta, keep: &[&str]) {
    if let Some(labels) = meta.labels.as_mut() {
        labels.retain(|k, _| keep.contains(&k.as_str()));
        if labels.is_empty() {
            meta.labels = None;
        }
    }
}

/// A Kubernetes `Time` (jiff) as a chrono UTC timestamp.
#[must_use]
pub fn to_chrono(
    t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> chrono::DateTime<chrono::Utc> {
    let ts = t.0;
    chrono::DateTime::from_timestamp(
        ts.as_second(),
        u32::try_from(ts.subsec_nanosecond()).unwrap_or(0),
    )
    .unwrap_or_default()
}

/// When an object was created, if known.
#[must_use]
pub fn created(meta: &ObjectMeta) -> Option<chrono::DateTime<chrono::Utc>> {
    meta.creation_timestamp.as_ref().map(to_chrono)
}
