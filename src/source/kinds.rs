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

impl Watched for crate::k8s::pod::Pod {
    namespaced_api!();
    fn slim(&mut self) {
        slim_metadata(&mut self.metadata, &[]);
        // Only ownership and the template-hash labels are read.
        if let Some(labels) = self.metadata.labels.as_mut() {
            labels.retain(|k, _| {
                k == crate::k8s::apps::POD_TEMPLATE_HASH_LABEL
                    || k == crate::k8s::rollout::ROLLOUT_POD_TEMPLATE_HASH_LABEL
            });
        }
    }
}

impl Watched for crate::k8s::apps::Deployment {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] = crate::k8s::apps::DEPLOYMENT_KEEP_ANNOTATIONS;
}

impl Watched for crate::k8s::apps::ReplicaSet {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] =
        crate::k8s::apps::REPLICA_SET_KEEP_ANNOTATIONS;
}

impl Watched for crate::k8s::rollout::Rollout {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] = crate::k8s::rollout::ROLLOUT_KEEP_ANNOTATIONS;
}

impl Watched for crate::k8s::rollout::AnalysisRun {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] =
        crate::k8s::rollout::ANALYSIS_RUN_KEEP_ANNOTATIONS;
}

impl Watched for crate::k8s::rollout::AnalysisTemplate {
    namespaced_api!();
}

impl Watched for crate::k8s::rollout::ClusterAnalysisTemplate {
    cluster_api!();
}

impl Watched for crate::k8s::apps::StatefulSet {
    namespaced_api!();
}

impl Watched for crate::k8s::autoscaling::HorizontalPodAutoscaler {
    namespaced_api!();
}

impl Watched for crate::k8s::autoscaling::ScaledObject {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] =
        crate::k8s::autoscaling::SCALED_OBJECT_KEEP_ANNOTATIONS;
}

impl Watched for crate::k8s::autoscaling::VerticalPodAutoscaler {
    namespaced_api!();
}
