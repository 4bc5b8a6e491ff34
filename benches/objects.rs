//! Memory per stored object, per kind: the demo's objects (`--scale 10000`, controllers
//! stopped) are listed over HTTP, then decoded and stored by kdeck's own watch path, with a
//! counting allocator measuring what stays allocated (the store's index included) and the
//! peak while decoding.
//!
//! Run: `cargo bench --bench objects`. Adding a kind is one line in `main` (its list path and
//! its slim type).

#[path = "support/common.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::DemoServe;

/// Counts live heap bytes as glibc malloc hands them out (a chunk is the request plus an
/// 8-byte header, rounded up to 16, at least 32), and the peak since the last reset.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn chunk(size: usize) -> isize {
    ((size + 8).div_ceil(16) * 16).max(32) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(chunk(l.size()), Ordering::Relaxed) + chunk(l.size());
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(chunk(l.size()), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let now = LIVE.fetch_add(chunk(new) - chunk(l.size()), Ordering::Relaxed) + chunk(new)
            - chunk(l.size());
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Lists `path` in one request (the whole list, as the JSON the server sends).
async fn list(http: &reqwest::Client, api: &str, path: &str) -> Vec<u8> {
    http.get(format!("{api}{path}"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// Decodes and stores one list the way a watch does; prints bytes per stored object.
fn measure<K: kdeck::source::Watched>(name: &str, body: &[u8]) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let store = kdeck::source::store::Store::<K>::default();
    let n = kdeck::source::wire::store_list(&store, body).unwrap();
    let after = LIVE.load(Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed);
    let per = if n == 0 {
        0.0
    } else {
        (after - before) as f64 / n as f64
    };
    println!(
        "{name:<14} {n:>7}  {per:>9.0} B  {:>11.0} B  {:>9.1} MiB",
        body.len() as f64 / n.max(1) as f64,
        (peak - before) as f64 / (1024.0 * 1024.0)
    );
    drop(store);
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let demo = DemoServe::start(1, 10_000, 0.0);
    let http = demo.http();
    let api = demo.api_url(0);
    let get = |path: &str| rt.block_on(list(&http, &api, path));
    println!("memory per stored object (demo cluster at --scale 10000, release build)\n");
    println!(
        "{:<14} {:>7}  {:>11}  {:>13}  {:>13}",
        "kind", "objects", "stored/obj", "JSON/obj", "peak decoding"
    );
    use kdeck::k8s::{apps, argocd, autoscaling, pod, rollout, velero};
    measure::<pod::Pod>("pods", &get("/api/v1/pods"));
    measure::<apps::ReplicaSet>("replicasets", &get("/apis/apps/v1/replicasets"));
    measure::<apps::Deployment>("deployments", &get("/apis/apps/v1/deployments"));
    measure::<rollout::Rollout>("rollouts", &get("/apis/argoproj.io/v1alpha1/rollouts"));
    measure::<velero::Backup>("backups", &get("/apis/velero.io/v1/backups"));
    measure::<autoscaling::HorizontalPodAutoscaler>(
        "hpas",
        &get("/apis/autoscaling/v2/horizontalpodautoscalers"),
    );
    measure::<argocd::Application>(
        "applications",
        &get("/apis/argoproj.io/v1alpha1/applications"),
    );
    println!(
        "\nstored/obj: heap that stays allocated per object (the object, its strings and the \
         store's index), counted as malloc chunks.\nJSON/obj: what the server sent per object. \
         peak decoding: most heap held at once while decoding the whole list."
    );

    // The page size of a first list: 10,000 pods through kdeck's own list code.
    let kc = kdeck::cluster::kubeconfig::load(Some(&demo.kubeconfig)).unwrap();
    let ctx = kdeck::cluster::kubeconfig::select(&kc, &[], true).unwrap()[0]
        .name
        .clone();
    let client = rt
        .block_on(kdeck::cluster::kubeconfig::client(&kc, &ctx))
        .unwrap();
    println!("\nfirst list of every pod, by page size (median of 5; peak heap while listing)\n");
    println!("{:>9}  {:>9}  {:>11}", "page", "time", "peak heap");
    for page in [100u32, 250, 500, 1000, 2000, 5000, 0] {
        let mut times = Vec::new();
        let mut peak = 0.0f64;
        for _ in 0..5 {
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let store = kdeck::source::store::Store::<pod::Pod>::default();
            let started = std::time::Instant::now();
            let n = rt
                .block_on(kdeck::source::watch::list_into(
                    client.clone(),
                    &store,
                    page,
                ))
                .unwrap();
            times.push(started.elapsed());
            assert!(n >= 10_000);
            drop(store);
            peak = peak.max((PEAK.load(Ordering::Relaxed) - before) as f64 / 1048576.0);
        }
        let (median, _, _) = common::summary(times);
        let label = if page == 0 {
            "all".to_string()
        } else {
            page.to_string()
        };
        println!("{label:>9}  {median:>6.0} ms  {peak:>7.1} MiB");
    }
}
