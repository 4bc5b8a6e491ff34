//! Which kinds kdeck watches, and how each is slimmed before it is stored.

use std::fmt::Debug;

use kube::core::DeserializeGuard;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::k8s::core::{Event, Namespace, Node};
use crate::k8s::{slim_labels, slim_metadata};

/// A kind kdeck can watch.
pub trait Watched:
    Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug + Send + Sync + 'static
{
    /// The API to watch: one namespace (with `-n`) for namespaced kinds, else everything.
    fn api(client: kube::Client, namespace: Option<&str>) -> Api<DeserializeGuard<Self>>;
    /// Annotations the panes read; every other annotation is dropped on arrival.
    const KEEP_ANNOTATIONS: &'static [&'static str] = &[];
    /// Labels the panes read (`None`: all of them); the others are dropped on arrival.
    const KEEP_LABELS: Option<&'static [&'static str]> = None;
    /// Newer API versions of the same objects (a type reading an older version, such as
    /// Istio's `v1beta1`): while the cluster serves one of them, this type's watch stands by
    /// (sends no request, reports "not installed"), so objects served at several versions
    /// are listed once, at the newest version kdeck reads.
    const SUPERSEDED_BY: &'static [&'static str] = &[];

    /// Drops what the panes never read, before the object is stored.
    fn slim(&mut self) {
        slim_metadata(self.meta_mut(), Self::KEEP_ANNOTATIONS);
        if let Some(keep) = Self::KEEP_LABELS {
            slim_labels(self.meta_mut(), keep);
        }
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
    /// Decoding already kept only what is shown (see `k8s::pod`).
    fn slim(&mut self) {}
}

impl Watched for crate::k8s::apps::Deployment {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] = crate::k8s::apps::DEPLOYMENT_KEEP_ANNOTATIONS;
    const KEEP_LABELS: Option<&'static [&'static str]> = Some(&[]);
}

impl Watched for crate::k8s::apps::ReplicaSet {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] =
        crate::k8s::apps::REPLICA_SET_KEEP_ANNOTATIONS;
    const KEEP_LABELS: Option<&'static [&'static str]> = Some(crate::k8s::pod::KEEP_LABELS);
}

impl Watched for crate::k8s::rollout::Rollout {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] = crate::k8s::rollout::ROLLOUT_KEEP_ANNOTATIONS;
    const KEEP_LABELS: Option<&'static [&'static str]> = Some(&[]);
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

impl Watched for crate::k8s::velero::Schedule {
    namespaced_api!();
}

impl Watched for crate::k8s::velero::Backup {
    namespaced_api!();
    fn slim(&mut self) {
        // Thousands of these: keep Velero's own labels only, no owner references or
        // finalizers (never shown).
        slim_metadata(&mut self.metadata, &[]);
        if let Some(labels) = self.metadata.labels.as_mut() {
            labels.retain(|k, _| k.starts_with("velero.io/"));
        }
        self.metadata.owner_references = None;
        self.metadata.finalizers = None;
    }
}

impl Watched for crate::k8s::velero::Restore {
    namespaced_api!();
}

impl Watched for crate::k8s::velero::BackupStorageLocation {
    namespaced_api!();
}
impl Watched for crate::k8s::argocd::Application {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] =
        crate::k8s::argocd::APPLICATION_KEEP_ANNOTATIONS;
    fn slim(&mut self) {
        slim_metadata(&mut self.metadata, Self::KEEP_ANNOTATIONS);
        self.trim_status();
    }
}

impl Watched for crate::k8s::argocd::AppProject {
    namespaced_api!();
}

impl Watched for crate::k8s::argocd::ApplicationSet {
    namespaced_api!();
}

impl Watched for crate::k8s::flux::Kustomization {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] = crate::k8s::flux::FLUX_KEEP_ANNOTATIONS;
}

impl Watched for crate::k8s::flux::HelmRelease {
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] = crate::k8s::flux::FLUX_KEEP_ANNOTATIONS;
}
impl Watched for crate::k8s::istio::DestinationRule {
    namespaced_api!();
}

impl Watched for crate::k8s::istio::VirtualService {
    namespaced_api!();
}

/// Istio objects read at `v1beta1`, only where the cluster serves no `v1` (Istio < 1.22).
impl<K> Watched for crate::k8s::istio::V1beta1<K>
where
    K: Watched + kube::Resource<Scope = kube::core::NamespaceResourceScope>,
{
    namespaced_api!();
    const KEEP_ANNOTATIONS: &'static [&'static str] = K::KEEP_ANNOTATIONS;
    const SUPERSEDED_BY: &'static [&'static str] = &["v1"];

    fn slim(&mut self) {
        self.0.slim();
    }
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
