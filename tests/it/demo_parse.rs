//! Everything the demo cluster serves parses with kdeck's own types — the same code that
//! parses the upstream fixtures — with nothing reported malformed, and every workload of the
//! scenario makes a readable Rollouts row.

use std::time::Duration;

use kdeck::k8s::apps::{Deployment, ReplicaSet};
use kdeck::k8s::core::{Event, Namespace, Node};
use kdeck::k8s::pod::Pod;
use kdeck::k8s::rollout::{AnalysisRun, AnalysisTemplate, Rollout};
use kdeck::panes::rollouts::model::Objects;
use serde::de::DeserializeOwned;
use serde_json::Value;

use kdeck_demo::testing::demo_harness::TestDemo;

async fn list<K: DeserializeOwned>(demo: &TestDemo, cluster: usize, path: &str) -> Vec<K> {
    let url = format!("{}{path}", demo.url(cluster));
    let body: Value = demo
        .http()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: {body}"));
    items
        .iter()
        .map(|item| {
            serde_json::from_value::<K>(item.clone()).unwrap_or_else(|e| {
                panic!("{path}: {} does not parse: {e}", item["metadata"]["name"])
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn served_objects_parse_with_kdecks_types() {
    let demo = TestDemo::start(2).await;
    // Let the controllers write a few rounds of status.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for cluster in 0..2 {
        let rollouts: Vec<Rollout> =
            list(&demo, cluster, "/apis/argoproj.io/v1alpha1/rollouts").await;
        let runs: Vec<AnalysisRun> =
            list(&demo, cluster, "/apis/argoproj.io/v1alpha1/analysisruns").await;
        let templates: Vec<AnalysisTemplate> = list(
            &demo,
            cluster,
            "/apis/argoproj.io/v1alpha1/analysistemplates",
        )
        .await;
        let deployments: Vec<Deployment> = list(&demo, cluster, "/apis/apps/v1/deployments").await;
        let rss: Vec<ReplicaSet> = list(&demo, cluster, "/apis/apps/v1/replicasets").await;
        let pods: Vec<Pod> = list(&demo, cluster, "/api/v1/pods").await;
        let nodes: Vec<Node> = list(&demo, cluster, "/api/v1/nodes").await;
        let _: Vec<Namespace> = list(&demo, cluster, "/api/v1/namespaces").await;
        let _: Vec<Event> = list(&demo, cluster, "/api/v1/events").await;
        assert!(
            !rollouts.is_empty()
                && !deployments.is_empty()
                && !pods.is_empty()
                && !nodes.is_empty()
        );
        for r in &rollouts {
            assert!(
                r.malformed.is_none(),
                "rollout {:?}: {:?}",
                r.metadata.name,
                r.malformed
            );
            assert!(
                r.status.is_some(),
                "rollout {:?} has no status",
                r.metadata.name
            );
        }
        for r in &runs {
            assert!(
                r.malformed.is_none(),
                "analysis run {:?}: {:?}",
                r.metadata.name,
                r.malformed
            );
        }
        for t in &templates {
            assert!(
                t.malformed.is_none(),
                "template {:?}: {:?}",
                t.metadata.name,
                t.malformed
            );
        }
        let rows = crate::helpers::rollout_rows(
            "c",
            &Objects {
                rollouts: &rollouts.iter().collect::<Vec<_>>(),
                deployments: &deployments.iter().collect::<Vec<_>>(),
                replica_sets: &rss.iter().collect::<Vec<_>>(),
                analysis_runs: &runs.iter().collect::<Vec<_>>(),
                unreadable: &[],
            },
            chrono::Utc::now(),
        );
        assert_eq!(rows.len(), rollouts.len() + deployments.len());
        for row in &rows {
            assert!(row.problem.is_none(), "{}: {:?}", row.key(), row.problem);
            assert!(row.resource_version.is_some(), "{}", row.key());
        }
    }
    demo.demo.shutdown().await;
}
