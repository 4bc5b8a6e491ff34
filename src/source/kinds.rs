//! Which kinds kdeck watches, and how each is slimmed before it is stored.

use std::fmt::Debug;

use kube::core::DeserializeGuard;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::k8s::core::{Event, Namespace, Node};
use crate::k8s::slim_metadata;

/// A kind kdeck can watch.
pub trait Watched:
    Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug + Send + Sync + 'static
{
    /// The API to watch: one namespace (with `-n`) for namespaced kinds, else everything.
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<DeserializeGuard<Self>>;
    /// Annotations the panes read; every other annotation is dropped on arrival.
    const KEEP_ANNOTATIONS: &'static [&'static str] = &[];

    /// Drops what the panes never read, before the object is stored.
    fn slim(&mut self) {
        slim_metadata(self.meta_mut(), Self::KEEP_ANNOTATIONS);
    }
}

/// `api` for a namespaced kind.
#[macro_export]
macro_rules! namespaced_api {
    () => {
        fn api(
            client: ::kube::Client,
            namespace: Option<&str>,
        ) -> ::kube::Api<::kube::core::DeserializeGuard<Self>> {
            match namespace {
                Some(ns) => ::kube::Api::namespaced(client, ns),
                None => ::kube::Api::all(client),
            }
        }
    };
}

/// `api` for a cluster-scoped kind.
#[macro_export]
macro_rules! cluster_api {
    () => {
        fn api(
            client: ::kube::Client,
            _namespace: Option<&str>,
        ) -> ::kube::Api<::kube::core::DeserializeGuard<Self>> {
            ::kube::Api::all(client)
        }
    };
}

impl Watched for Node {
    cluster_api!();
    fn slim(&mut self) {
        slim_metadata(&mut self.metadata, &[]);
        // Only the Ready condition is shown.
        self.status.conditions.retain(|c| c.type_ == "Ready");
    }
}

impl Watched for Namespace {
    cluster_api!();
}

impl Watched for Event {
    namespaced_api!();
}
