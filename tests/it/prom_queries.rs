//! The PromQL kdeck ships for canary vs stable (success rate and p99 latency, the
//! `[queries]` defaults in config.toml) run against a *real* Prometheus holding Istio-shaped
//! series, through kdeck's own Prometheus client; the numbers the detail view then shows are
//! checked against values worked out by hand.

use kdeck::config::QueryConfig;
use kdeck::k8s::rollout::{AnalysisTemplate, Rollout};
use kdeck::panes::rollouts::detail::{DetailInputs, rollout_detail};
use kdeck::panes::rollouts::metrics::{MetricTarget, MetricsSnapshot, prom_spec, target_for};
use kdeck::source::prometheus::{PromClient, PromEndpoint};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use kdeck_demo::testing::prometheus_server::{PromServer, SeriesData};

const STEP_MS: i64 = 15_000;
const SPAN_MS: i64 = 20 * 60_000;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    l.sort();
    l
}

/// A counter growing at `rate` per second, sampled every 15 s up to `end_ms`.
fn counter(pairs: &[(&str, &str)], rate: f64, end_ms: i64) -> SeriesData {
    let start = end_ms - SPAN_MS;
    let samples = (0..=SPAN_MS / STEP_MS)
        .map(|i| {
            let t = start + i * STEP_MS;
            (t, rate * ((t - start) as f64 / 1000.0))
        })
        .collect();
    (labels(pairs), samples)
}

fn requests(reporter: &str, service: &str, code: &str, rate: f64, end: i64) -> SeriesData {
    counter(
        &[
            ("__name__", "istio_requests_total"),
            ("reporter", reporter),
            ("destination_workload_namespace", "shop"),
            ("destination_service_name", service),
            ("destination_workload", "checkout"),
            ("response_code", code),
            ("response_flags", "-"),
        ],
        rate,
        end,
    )
}

/// Cumulative bucket rates (per second) by `le`.
fn buckets(service: &str, cumulative: &[(&str, f64)], end: i64) -> Vec<SeriesData> {
    cumulative
        .iter()
        .map(|(le, rate)| {
            counter(
                &[
                    ("__name__", "istio_request_duration_milliseconds_bucket"),
                    ("reporter", "source"),
                    ("destination_workload_namespace", "shop"),
                    ("destination_service_name", service),
                    ("le", le),
                ],
                *rate,
                end,
            )
        })
        .collect()
}

fn dataset(end: i64) -> Vec<SeriesData> {
    let mut s = vec![
        // Canary: 9 good, 1 failing request per second → 0.9.
        requests("source", "checkout-canary", "200", 9.0, end),
        requests("source", "checkout-canary", "500", 1.0, end),
        // Stable: 19.8 good, 0.2 breaker 503s per second → 0.99.
        requests("source", "checkout-stable", "200", 19.8, end),
        requests("source", "checkout-stable", "503", 0.2, end),
        // The destination proxies never see the breaker's 503s: a query that forgot
        // reporter="source" would read 1.0 here.
        requests("destination", "checkout-stable", "200", 19.8, end),
        // Another namespace's service of the same name must not leak in.
    ];
    let mut other = requests("source", "checkout-canary", "500", 50.0, end);
    for (k, v) in &mut other.0 {
        if k == "destination_workload_namespace" {
            *v = "staging".into();
        }
    }
    s.push(other);
    s.extend(buckets(
        "checkout-canary",
        &[
            ("25", 2.0),
            ("50", 5.0),
            ("100", 8.0),
            ("250", 9.5),
            ("500", 9.95),
            ("1000", 10.0),
            ("+Inf", 10.0),
        ],
        end,
    ));
    s.extend(buckets(
        "checkout-stable",
        &[
            ("25", 10.0),
            ("50", 15.0),
            ("100", 19.0),
            ("250", 19.9),
            ("500", 19.96),
            ("1000", 20.0),
            ("+Inf", 20.0),
        ],
        end,
    ));
    s
}

fn rollout() -> Rollout {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "checkout", "namespace": "shop", "uid": "u-1", "resourceVersion": "7"},
        "spec": {"replicas": 5, "strategy": {"canary": {
            "canaryService": "checkout-canary", "stableService": "checkout-stable",
            "steps": [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "success-rate"}]}}, {"pause": {}}]
        }}},
        "status": {"currentStepIndex": 2, "currentPodHash": "abc", "stableRS": "def", "phase": "Paused",
            "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-11-22T12:00:00Z"}]}
    }))
    .unwrap()
}

fn template() -> AnalysisTemplate {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate", "namespace": "shop"},
        "spec": {"metrics": [{
            "name": "success-rate", "interval": "1m", "successCondition": "result[0] >= 0.95",
            "provider": {"prometheus": {"address": "http://prometheus.monitoring.svc:9090",
                "query": "sum(irate(istio_requests_total{reporter=\"source\",destination_service_name=~\"{{args.service-name}}\",response_code!~\"5.*\"}[1m])) / sum(irate(istio_requests_total{reporter=\"source\",destination_service_name=~\"{{args.service-name}}\"}[1m]))"}}
        }]}
    }))
    .unwrap()
}

#[test]
fn shipped_canary_queries_against_a_real_prometheus() {
    // Whole minutes in the recent past, inside Prometheus' retention.
    let end_ms = (chrono::Utc::now().timestamp() / 60 - 5) * 60_000;
    let Some(server) = PromServer::start(&dataset(end_ms)) else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prom = PromClient::new(
        PromEndpoint::Url(format!("http://127.0.0.1:{}", server.port())),
        None,
        std::time::Duration::from_secs(10),
    );
    let ro = rollout();
    let target: MetricTarget = target_for(&ro).unwrap();
    let end = end_ms as f64 / 1000.0;
    // The queries the detail view declares, run once by the poller's own function.
    let spec = prom_spec(
        &target,
        &QueryConfig::default(),
        std::time::Duration::from_secs(15),
        600,
        30,
    );
    let at = chrono::DateTime::from_timestamp(end as i64, 0).unwrap();
    let (polled, unreachable) = rt.block_on(kdeck::source::prom_poll::poll(&prom, &spec, at));
    assert_eq!(unreachable, None);
    let snap = MetricsSnapshot::from_prom(&polled, &target);

    let latest = |series: &[kdeck::panes::rollouts::metrics::SideSeries], label: &str| {
        let s = series.iter().find(|s| s.label == label).unwrap();
        assert!(s.error.is_none(), "{label}: {:?}", s.error);
        s.latest().unwrap()
    };
    let close = |got: f64, want: f64| (got - want).abs() < 1e-9 * want.abs().max(1.0);
    let canary_sr = latest(&snap.success_rate, "canary");
    let stable_sr = latest(&snap.success_rate, "stable");
    assert!(close(canary_sr, 0.9), "canary success rate {canary_sr}");
    assert!(close(stable_sr, 0.99), "stable success rate {stable_sr}");
    // histogram_quantile: rank 0.99·10 = 9.9 falls in (250, 500] holding 0.45/s of which
    // 0.4/s lie below the rank → 250 + 250·0.4/0.45.
    let canary_p99 = latest(&snap.latency_p99, "canary");
    assert!(
        close(canary_p99, 250.0 + 250.0 * 0.4 / 0.45),
        "canary p99 {canary_p99}"
    );
    // Stable: rank 19.8 in (100, 250] holding 0.9/s, 0.8/s below → 100 + 150·0.8/0.9.
    let stable_p99 = latest(&snap.latency_p99, "stable");
    assert!(
        close(stable_p99, 100.0 + 150.0 * 0.8 / 0.9),
        "stable p99 {stable_p99}"
    );
    // A whole window of points, one every 30 s.
    let points = &snap.success_rate[0].points;
    assert!(points.len() >= 19, "{points:?}");

    // What the detail view shows for those numbers, with the AnalysisTemplate's threshold.
    let templates = [template()];
    let detail = rollout_detail(&DetailInputs {
        cluster: "prod",
        rollout: &ro,
        deployments: &[],
        replica_sets: &[],
        pods: &[],
        analysis_runs: &[],
        templates: &templates,
        cluster_templates: &[],
        events: &[],
        now: chrono::Utc::now(),
    });
    let mut term = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let theme = kdeck::theme::Theme::builtin("default").unwrap();
    term.draw(|f| {
        kdeck::panes::rollouts::detail_view::render_detail(
            f,
            f.area(),
            &detail,
            Some(&snap),
            None,
            0,
            &theme,
            kdeck::clock::Clock::System,
        );
    })
    .unwrap();
    let screen = term.backend().to_string();
    assert!(
        screen.contains("threshold result[0] >= 0.95 (success-rate/success-rate)"),
        "{screen}"
    );
    assert!(
        screen.contains(" 0.900 ✖"),
        "canary below its threshold: {screen}"
    );
    assert!(screen.contains(" 0.990"), "{screen}");
    assert!(
        !screen.contains(" 0.990 ✖"),
        "stable is above the threshold: {screen}"
    );
    assert!(
        screen.contains(" 472 ms") && screen.contains(" 233 ms"),
        "{screen}"
    );
    assert!(screen.contains("p99 latency   no threshold"), "{screen}");

    // The same queries through the kdeck client give Prometheus' own error shape for nonsense.
    let bad = rt.block_on(prom.query("sum(rate(", Some(end)));
    assert!(
        matches!(&bad, Err(kdeck::source::prometheus::PromError::Api { error_type, .. }) if error_type == "bad_data"),
        "{bad:?}"
    );
}

/// The rollout detail view's queries for the demo's `checkout` canary, declared as a source
/// of a cluster whose Prometheus is the demo's: the same poller the pane gets (not started).
async fn checkout_queries_on_the_demo() -> (
    kdeck_demo::testing::demo_harness::TestDemo,
    MetricTarget,
    kdeck::source::SourceSet,
    kdeck::source::PromSpec,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t = kdeck_demo::testing::demo_harness::TestDemo::start(1).await;
    let target = MetricTarget {
        namespace: "shop".into(),
        sides: [
            ("canary", "checkout-canary".into()),
            ("stable", "checkout-stable".into()),
        ],
    };
    let sources = kdeck::source::SourceSet::new(
        None,
        None,
        kdeck::source::Notifier::new(),
        CancellationToken::new(),
    );
    sources.set_prometheus(Some(PromClient::new(
        PromEndpoint::Url(t.cluster(0).prom_url()),
        None,
        std::time::Duration::from_secs(2),
    )));
    let spec = prom_spec(
        &target,
        &QueryConfig::default(),
        std::time::Duration::from_millis(200),
        1800,
        30,
    );
    (t, target, sources, spec)
}

/// When Prometheus goes away, the charts keep their last good points, marked stale since
/// they were fetched; when it comes back, fresh data replaces them. Driven over HTTP
/// against the demo's Prometheus, taken down and up with its cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_stay_marked_stale_while_prometheus_is_away() {
    let (t, target, sources, spec) = checkout_queries_on_the_demo().await;
    sources.start_prom(&spec);
    let poller = sources.prom(&spec.key).unwrap();
    let snapshot = || Some(MetricsSnapshot::from_prom(&poller.snapshot(), &target));
    let wait = |what: &'static str, pred: fn(&MetricsSnapshot) -> bool| {
        let snapshot = &snapshot;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                if let Some(s) = snapshot()
                    && pred(&s)
                {
                    return s;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "never {what}: {:?}",
                    snapshot()
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let stable = |s: &MetricsSnapshot| {
        s.success_rate
            .iter()
            .find(|x| x.label == "stable")
            .cloned()
            .unwrap()
    };
    let live = wait("live data", |s| {
        s.success_rate
            .iter()
            .all(|x| x.error.is_none() && !x.points.is_empty())
    })
    .await;
    let fetched = live.fetched_at.unwrap();

    t.cluster(0).faults.down().await;
    let away = wait("stale data", |s| {
        s.success_rate
            .iter()
            .all(|x| x.error.is_some() && x.stale_since.is_some())
    })
    .await;
    let kept = stable(&away);
    assert!(!kept.points.is_empty(), "last good points kept: {kept:?}");
    assert!(kept.stale_since.unwrap() >= fetched, "{kept:?}");
    // Stale stays anchored at the last good fetch, however many polls fail: wait for three
    // more failed polls (each one publishes), then look again.
    let polls = poller.revision();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while poller.revision() < polls + 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the poller stopped polling while Prometheus was away"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let later = stable(&snapshot().unwrap());
    assert!(later.stale_since.is_some(), "{later:?}");
    assert_eq!(later.stale_since, kept.stale_since);

    t.cluster(0).faults.up().await.unwrap();
    wait("fresh data again", |s| {
        s.success_rate
            .iter()
            .all(|x| x.error.is_none() && x.stale_since.is_none() && !x.points.is_empty())
    })
    .await;
}

/// A pane that is switched away from stops its Prometheus queries; when it comes back while
/// Prometheus is down, it shows the numbers it had, marked stale since they were fetched,
/// rather than nothing and an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pane_shown_again_keeps_its_last_numbers_when_prometheus_is_down() {
    use kdeck::source::{SourceSet, SourceState};
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    let (t, target, sources, spec) = checkout_queries_on_the_demo().await;
    let stable_points = |sources: &SourceSet| {
        let poller = sources.prom(&spec.key).unwrap();
        let s = MetricsSnapshot::from_prom(&poller.snapshot(), &target);
        let stable = s.success_rate.iter().find(|x| x.label == "stable").cloned();
        (poller, stable.map(|x| (x.points.len(), x.stale_since)))
    };
    sources.start_prom(&spec);
    let deadline = Instant::now() + Duration::from_secs(60);
    let fetched = loop {
        let (poller, stable) = stable_points(&sources);
        if let Some((n, None)) = stable
            && n > 0
        {
            break poller.snapshot().fetched_at.unwrap();
        }
        assert!(Instant::now() < deadline, "never live: {stable:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The pane goes off screen (its queries are no longer declared), Prometheus goes down,
    // the pane comes back.
    sources.retain_prom(&HashSet::new());
    t.cluster(0).faults.down().await;
    sources.start_prom(&spec);
    let (poller, stable) = stable_points(&sources);
    assert!(
        matches!(stable, Some((n, _)) if n > 0),
        "shown again without its numbers: {stable:?}"
    );
    // After polls that fail, the numbers are still there, stale since they were fetched.
    let polls = poller.revision();
    let deadline = Instant::now() + Duration::from_secs(30);
    while poller.revision() < polls + 2 {
        assert!(Instant::now() < deadline, "the poller does not poll");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (poller, stable) = stable_points(&sources);
    assert!(
        matches!(stable, Some((n, Some(since))) if n > 0 && since == fetched),
        "{stable:?}"
    );
    assert!(
        matches!(poller.state(), SourceState::Stale { since, .. } if since == fetched),
        "{:?}",
        poller.state()
    );
    t.cluster(0).faults.up().await.unwrap();
}
