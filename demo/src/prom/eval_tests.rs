//! Evaluator edge cases: empty results, NaN, division by zero, counter resets, histogram
//! buckets, regex anchoring, lookback and staleness, name dropping, errors. Expected values
//! follow Prometheus 2.42 (tie-breaking cases were read from a live server).

use std::time::Duration;

use super::eval::{QueryValue, instant, range};
use super::http::respond;
use super::tsdb::{Labels, STALE_NAN_BITS, Tsdb, labels};
use super::{AlertRule, PromState};

const T0: i64 = 1_700_000_000_000;

fn db() -> Tsdb {
    let db = Tsdb::new(Duration::from_secs(86_400));
    for i in 0..=120 {
        let t = T0 + i * 5000;
        // A counter that resets to 0 at i = 60.
        let c = if i < 60 {
            100.0 + i as f64 * 2.0
        } else {
            (i - 60) as f64 * 2.0
        };
        db.append(labels("req_total", &[("code", "200"), ("job", "a")]), t, c);
        db.append(
            labels("req_total", &[("code", "2000"), ("job", "a")]),
            t,
            i as f64,
        );
        db.append(
            labels("req_total", &[("code", "503"), ("job", "a")]),
            t,
            0.0,
        );
        db.append(
            labels("gauge", &[("job", "a")]),
            t,
            if i % 10 == 0 { f64::NAN } else { 1.0 },
        );
        for (le, frac) in [("0.1", 0.5), ("0.5", 0.9), ("1", 1.0), ("+Inf", 1.0)] {
            db.append(
                labels("lat_bucket", &[("job", "a"), ("le", le)]),
                t,
                i as f64 * 10.0 * frac,
            );
        }
        db.append(
            labels("other_total", &[("code", "200"), ("job", "a")]),
            t,
            1.0,
        );
        // Buckets without +Inf: histogram_quantile gives NaN.
        db.append(labels("bad_bucket", &[("le", "1")]), t, i as f64);
    }
    db
}

fn vector(v: QueryValue) -> Vec<(Labels, f64)> {
    match v {
        QueryValue::Vector(v) => v,
        other => panic!("expected a vector, got {other:?}"),
    }
}

fn at(db: &Tsdb, q: &str, t: i64) -> Vec<(Labels, f64)> {
    vector(instant(db, q, t).unwrap_or_else(|e| panic!("{q}: {e}")))
}

fn one(db: &Tsdb, q: &str, t: i64) -> f64 {
    let v = at(db, q, t);
    assert_eq!(v.len(), 1, "{q}: {v:?}");
    v[0].1
}

fn scalar(db: &Tsdb, q: &str) -> f64 {
    match instant(db, q, T0) {
        Ok(QueryValue::Scalar(s)) => s,
        other => panic!("{q}: {other:?}"),
    }
}

fn err_type(db: &Tsdb, q: &str) -> &'static str {
    match instant(db, q, T0 + 600_000) {
        Err(e) => e.error_type,
        Ok(v) => panic!("{q} should fail, got {v:?}"),
    }
}

const END: i64 = T0 + 600_000;

#[test]
fn empty_results_stay_empty() {
    let db = db();
    assert!(at(&db, "nope", END).is_empty());
    assert!(at(&db, "sum(nope)", END).is_empty());
    assert!(at(&db, "count(nope)", END).is_empty());
    assert!(at(&db, "rate(nope[1m])", END).is_empty());
    assert!(at(&db, "histogram_quantile(0.9, nope)", END).is_empty());
    assert!(at(&db, "nope / on() group_left req_total", END).is_empty());
    // Before the first sample, nothing.
    assert!(at(&db, "req_total", T0 - 1).is_empty());
    assert!(scalar(&db, "scalar(nope)").is_nan());
}

#[test]
fn division_by_zero_and_nan() {
    let db = db();
    assert_eq!(scalar(&db, "1/0"), f64::INFINITY);
    assert_eq!(scalar(&db, "-1/0"), f64::NEG_INFINITY);
    assert!(scalar(&db, "0/0").is_nan());
    assert_eq!(scalar(&db, "5 % 3"), 2.0);
    assert_eq!(scalar(&db, "-5 % 3"), -2.0);
    assert_eq!(scalar(&db, "2 ^ 3 ^ 2"), 512.0);
    assert_eq!(scalar(&db, "1 > bool 0"), 1.0);
    assert!(one(&db, "req_total{code=\"503\"} / 0", END).is_nan());
    assert_eq!(one(&db, "req_total{code=\"2000\"} / 0", END), f64::INFINITY);
    // NaN compares unequal to itself, so the filter drops it.
    let t_nan = T0 + 100 * 5000;
    assert!(one(&db, "gauge", t_nan).is_nan());
    assert!(at(&db, "gauge == gauge", t_nan).is_empty());
    assert_eq!(one(&db, "gauge != bool gauge", t_nan), 1.0);
    // max/min skip a leading NaN; max_over_time too.
    assert_eq!(one(&db, "max_over_time(gauge[1m])", t_nan), 1.0);
    assert!(one(&db, "avg_over_time(gauge[1m])", t_nan).is_nan());
}

#[test]
fn counter_resets_and_extrapolation() {
    let db = db();
    // The minute before the reset: a plain slope of 2 per 5 s.
    let r = one(&db, "rate(req_total{code=\"200\"}[1m])", T0 + 295_000);
    assert!((r - 0.4).abs() < 1e-12, "{r}");
    // Across the reset (at i = 60, t = 300 s) 218 -> 0 counts as +0 (the counter restarted),
    // so the minute holds 22 rather than 24.
    let r = one(&db, "rate(req_total{code=\"200\"}[1m])", T0 + 330_000);
    assert!((r - 22.0 / 60.0).abs() < 1e-12, "{r}");
    let inc = one(&db, "increase(req_total{code=\"200\"}[1m])", T0 + 330_000);
    assert!((inc - 22.0).abs() < 1e-9, "{inc}");
    assert_eq!(one(&db, "resets(req_total{code=\"200\"}[10m])", END), 1.0);
    // irate across the reset takes the new value.
    assert_eq!(
        one(&db, "irate(req_total{code=\"200\"}[1m])", T0 + 300_000),
        0.0
    );
    // delta does not treat decreases as resets.
    assert!(one(&db, "delta(req_total{code=\"200\"}[1m])", T0 + 330_000) < 0.0);
    // One sample in the window: no rate.
    assert!(at(&db, "rate(req_total[4s])", T0 + 2000).is_empty());
}

#[test]
fn histogram_quantile_edge_cases() {
    let db = db();
    // 50% of observations are <= 0.1, 90% <= 0.5.
    let q = one(&db, "histogram_quantile(0.5, lat_bucket)", END);
    assert!((q - 0.1).abs() < 1e-12, "{q}");
    let q = one(&db, "histogram_quantile(0.7, rate(lat_bucket[1m]))", END);
    assert!((q - 0.3).abs() < 1e-12, "{q}");
    // Rank in the +Inf bucket: the largest finite bound.
    assert_eq!(one(&db, "histogram_quantile(1, lat_bucket)", END), 1.0);
    assert_eq!(
        one(&db, "histogram_quantile(2, lat_bucket)", END),
        f64::INFINITY
    );
    assert_eq!(
        one(&db, "histogram_quantile(-1, lat_bucket)", END),
        f64::NEG_INFINITY
    );
    // No observations yet (all zero at T0): NaN.
    assert!(one(&db, "histogram_quantile(0.5, lat_bucket)", T0).is_nan());
    // Without a +Inf bucket: NaN.
    assert!(one(&db, "histogram_quantile(0.5, bad_bucket)", END).is_nan());
    // The output drops `le` and the name.
    let v = at(&db, "histogram_quantile(0.5, lat_bucket)", END);
    assert_eq!(v[0].0, vec![("job".to_string(), "a".to_string())]);
}

#[test]
fn regexes_are_anchored() {
    let db = db();
    assert_eq!(at(&db, "req_total{code=~\"2..\"}", END).len(), 1);
    assert_eq!(at(&db, "req_total{code=~\"20\"}", END).len(), 0);
    assert_eq!(at(&db, "req_total{code=~\"5\"}", END).len(), 0);
    assert_eq!(at(&db, "req_total{code!~\"2.*\"}", END).len(), 1);
    assert_eq!(at(&db, "req_total{code=~\"200|503\"}", END).len(), 2);
    assert_eq!(
        at(&db, "{__name__=~\"req_.*\", code=\"200\"}", END).len(),
        1
    );
    assert_eq!(at(&db, "{__name__=~\"req\"}", END).len(), 0);
    // A missing label matches "".
    assert_eq!(at(&db, "gauge{code=\"\"}", END).len(), 1);
}

#[test]
fn lookback_staleness_ranges_and_offset() {
    let db = Tsdb::new(Duration::from_secs(86_400));
    let l = labels("g", &[]);
    db.append(l.clone(), T0, 1.0);
    db.append(l.clone(), T0 + 10_000, 2.0);
    // The latest sample counts for exactly 5 minutes.
    assert_eq!(one(&db, "g", T0 + 10_000 + 300_000), 2.0);
    assert!(at(&db, "g", T0 + 10_000 + 300_001).is_empty());
    // Range selectors include both ends (Prometheus 2.x).
    assert_eq!(one(&db, "count_over_time(g[10s])", T0 + 10_000), 2.0);
    assert_eq!(one(&db, "count_over_time(g[9999ms])", T0 + 10_000), 1.0);
    assert_eq!(one(&db, "g offset 10s", T0 + 10_000), 1.0);
    assert_eq!(one(&db, "g offset -10s", T0), 2.0);
    // A staleness marker ends the series at once.
    db.append(l.clone(), T0 + 20_000, f64::from_bits(STALE_NAN_BITS));
    assert!(at(&db, "g", T0 + 25_000).is_empty());
    assert_eq!(one(&db, "count_over_time(g[1m])", T0 + 25_000), 2.0);
}

#[test]
fn metric_names_dropped_where_prometheus_drops_them() {
    let db = db();
    let has_name = |q: &str| {
        at(&db, q, END)
            .iter()
            .all(|(l, _)| l.iter().any(|(k, _)| k == "__name__"))
    };
    assert!(has_name("req_total > 1"));
    assert!(has_name("req_total and req_total"));
    assert!(has_name("last_over_time(req_total[1m])"));
    assert!(has_name("topk(1, req_total)"));
    assert!(has_name(
        "label_replace(req_total, \"x\", \"y\", \"\", \"\")"
    ));
    assert!(has_name("sum by (__name__) (req_total)"));
    assert!(!has_name("req_total + 1"));
    assert!(!has_name("req_total > bool 1"));
    assert!(!has_name("rate(req_total[1m])"));
    assert!(!has_name("max_over_time(req_total[1m])"));
    assert!(!has_name("-req_total"));
    assert!(!has_name("abs(req_total)"));
}

#[test]
fn vector_matching() {
    let db = db();
    // one-to-one on all labels but the name.
    assert_eq!(at(&db, "req_total / req_total", END).len(), 3);
    // many-to-one needs group_left; without it, an execution error.
    assert_eq!(err_type(&db, "req_total / on(job) gauge"), "execution",);
    assert_eq!(
        at(&db, "req_total / on(job) group_left gauge", END).len(),
        3
    );
    assert_eq!(err_type(&db, "req_total / on(job) req_total"), "execution");
    // Duplicate label sets after dropping names.
    assert_eq!(
        err_type(
            &db,
            "rate({__name__=~\"req_total|other_total\", code=\"200\"}[1m])"
        ),
        "execution"
    );
    // Set operators.
    assert_eq!(at(&db, "req_total or gauge", END).len(), 4);
    assert_eq!(
        at(
            &db,
            "req_total unless on(code) req_total{code=\"200\"}",
            END
        )
        .len(),
        2
    );
    assert_eq!(
        at(&db, "req_total and on(code) req_total{code=\"200\"}", END).len(),
        1
    );
}

#[test]
fn aggregations_and_ties() {
    let db = Tsdb::new(Duration::from_secs(3600));
    // Values and expected winners as Prometheus 2.42 picked them.
    for (i, v) in [5.0, 1.0, 1.0, 0.5].iter().enumerate() {
        db.append(labels("x", &[("i", &i.to_string())]), T0, *v);
    }
    let picked = |q: &str| {
        let mut v: Vec<String> = at(&db, q, T0)
            .into_iter()
            .map(|(l, _)| {
                l.iter()
                    .find(|(k, _)| k == "i")
                    .map(|x| x.1.clone())
                    .unwrap_or_default()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(picked("bottomk(2, x)"), ["2", "3"]);
    assert_eq!(picked("topk(2, x)"), ["0", "1"]);
    assert_eq!(picked("bottomk(1, x)"), ["3"]);
    assert!(picked("topk(0, x)").is_empty());
    assert_eq!(one(&db, "sum(x)", T0), 7.5);
    // The incremental mean, as Prometheus computes it (not 1.875).
    assert_eq!(one(&db, "avg(x)", T0), 1.874_999_999_999_999_8);
    assert_eq!(one(&db, "count(x)", T0), 4.0);
    assert_eq!(one(&db, "min(x)", T0), 0.5);
    assert_eq!(one(&db, "max(x)", T0), 5.0);
    assert_eq!(one(&db, "group(x)", T0), 1.0);
    assert_eq!(one(&db, "quantile(0.5, x)", T0), 1.0);
    assert_eq!(at(&db, "sum by (i) (x)", T0).len(), 4);
    assert_eq!(at(&db, "sum without (i) (x)", T0)[0].0, Labels::new());
}

#[test]
fn range_queries_step_like_prometheus() {
    let db = db();
    let m = match range(&db, "req_total{code=\"2000\"}", T0, T0 + 60_000, 15_000) {
        Ok(QueryValue::Matrix(m)) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(m.len(), 1);
    let ts: Vec<i64> = m[0].1.iter().map(|p| p.0).collect();
    assert_eq!(
        ts,
        vec![T0, T0 + 15_000, T0 + 30_000, T0 + 45_000, T0 + 60_000]
    );
    assert_eq!(m[0].1[2].1, 6.0);
    // A scalar becomes one series without labels.
    match range(&db, "time()", T0, T0 + 10_000, 5000) {
        Ok(QueryValue::Matrix(m)) => {
            assert_eq!(m[0].0, Labels::new());
            assert_eq!(m[0].1.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        range(&db, "req_total[1m]", T0, T0, 1000)
            .unwrap_err()
            .error_type,
        "bad_data"
    );
    assert_eq!(
        range(&db, "1", T0, T0 + 11_001_000, 1000)
            .unwrap_err()
            .error_type,
        "bad_data"
    );
    assert_eq!(
        range(&db, "1", T0, T0 - 1, 1000).unwrap_err().error_type,
        "bad_data"
    );
    assert_eq!(
        range(&db, "1", T0, T0, 0).unwrap_err().error_type,
        "bad_data"
    );
}

#[test]
fn unsupported_is_bad_data_never_a_number() {
    let db = db();
    for q in [
        "rate(req_total[5m])[30m:1m]",
        "req_total @ 100",
        "predict_linear(req_total[5m], 60)",
        "count_values(\"v\", req_total)",
        "deriv(req_total[5m])",
        "sum(",
        "",
    ] {
        assert_eq!(err_type(&db, q), "bad_data", "{q}");
    }
    assert_eq!(
        err_type(
            &db,
            "label_replace(req_total, \"x\", \"y\", \"code\", \"(\")"
        ),
        "execution"
    );
    assert_eq!(
        err_type(
            &db,
            "label_replace(req_total, \"1x\", \"y\", \"code\", \".*\")"
        ),
        "execution"
    );
}

#[test]
fn functions() {
    let db = db();
    assert_eq!(scalar(&db, "time()"), T0 as f64 / 1000.0);
    assert_eq!(one(&db, "vector(2)", T0), 2.0);
    assert_eq!(one(&db, "abs(vector(-2))", T0), 2.0);
    assert_eq!(one(&db, "round(vector(2.5))", T0), 3.0);
    assert_eq!(one(&db, "round(vector(-2.5))", T0), -2.0);
    assert_eq!(one(&db, "round(vector(2.34), 0.1)", T0), 2.3);
    assert_eq!(one(&db, "ceil(vector(2.1))", T0), 3.0);
    assert_eq!(one(&db, "floor(vector(2.9))", T0), 2.0);
    assert_eq!(one(&db, "clamp_min(vector(1), 3)", T0), 3.0);
    assert_eq!(one(&db, "clamp_max(vector(5), 3)", T0), 3.0);
    assert!(at(&db, "clamp(vector(5), 3, 1)", T0).is_empty());
    assert_eq!(one(&db, "absent(nope{a=\"b\", c=~\"d\"})", T0), 1.0);
    assert_eq!(
        at(&db, "absent(nope{a=\"b\", c=~\"d\"})", T0)[0].0,
        vec![("a".to_string(), "b".to_string())]
    );
    assert!(at(&db, "absent(req_total)", END).is_empty());
    let v = at(
        &db,
        "label_replace(req_total{code=\"503\"}, \"class\", \"${1}xx\", \"code\", \"(.).*\")",
        END,
    );
    assert!(v[0].0.contains(&("class".to_string(), "5xx".to_string())));
    let v = at(
        &db,
        "label_join(req_total{code=\"503\"}, \"id\", \"-\", \"job\", \"code\")",
        END,
    );
    assert!(v[0].0.contains(&("id".to_string(), "a-503".to_string())));
    let v = at(&db, "sort_desc(req_total)", END);
    assert!(v[0].1 >= v[1].1 && v[1].1 >= v[2].1);
}

#[test]
fn http_statuses_and_bodies() {
    let st = PromState::new(Duration::from_secs(3600));
    st.tsdb.append(labels("up", &[("job", "x")]), T0, 1.0);
    let get = |path: &str, q: &str| respond(&st, "GET", path, q, b"", T0 + 1000);
    let r = get("/api/v1/query", "query=up");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "application/json");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\",\"job\":\"x\"},\"value\":[1700000001,\"1\"]}]}}"
    );
    let r = respond(
        &st,
        "POST",
        "/api/v1/query",
        "",
        b"query=up%20*%202&time=1700000000.5",
        0,
    );
    assert!(String::from_utf8_lossy(&r.body).contains("[1700000000.500,\"2\"]"));
    let r = get("/api/v1/query", "query=1/0&time=1700000000");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000,\"+Inf\"]}}"
    );
    assert_eq!(get("/api/v1/query", "query=sum(").status, 400);
    assert_eq!(
        get("/api/v1/query", "query=up%20*%20on()%20up%20or%20up").status,
        200
    );
    assert_eq!(get("/api/v1/nope", "").status, 404);
    assert_eq!(
        respond(&st, "POST", "/api/v1/alerts", "", b"", 0).status,
        405
    );
    assert_eq!(
        respond(&st, "DELETE", "/api/v1/query", "", b"", 0).status,
        405
    );
    let r = get("/-/healthy", "");
    assert_eq!(
        (r.status, r.content_type()),
        (200, "text/plain; charset=utf-8")
    );
    let r = get("/api/v1/status/buildinfo", "");
    assert!(String::from_utf8_lossy(&r.body).contains("\"version\":\"2.42.0\""));
    let r = get("/api/v1/label/job/values", "");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "{\"status\":\"success\",\"data\":[\"x\"]}"
    );
    // Execution errors are 422.
    st.tsdb.append(labels("up", &[("job", "y")]), T0, 1.0);
    let r = get("/api/v1/query", "query=up%20*%20on()%20up");
    assert_eq!(r.status, 422);
    assert!(
        String::from_utf8_lossy(&r.body)
            .starts_with("{\"status\":\"error\",\"errorType\":\"execution\"")
    );
}

#[test]
fn alerts_endpoint_shape() {
    let st = PromState::new(Duration::from_secs(3600));
    st.tsdb.append(labels("up", &[("job", "x")]), T0, 0.0);
    *st.rules
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = vec![AlertRule {
        name: "Down".into(),
        expr: "up == 0".into(),
        for_secs: 0,
        labels: vec![("severity".into(), "page".into())],
        annotations: vec![("summary".into(), "{{ $labels.job }} is down".into())],
    }];
    let r = respond(&st, "GET", "/api/v1/alerts", "", b"", T0 + 1500);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "{\"status\":\"success\",\"data\":{\"alerts\":[{\"labels\":{\"alertname\":\"Down\",\"job\":\"x\",\"severity\":\"page\"},\"annotations\":{\"summary\":\"x is down\"},\"state\":\"firing\",\"activeAt\":\"2023-11-14T22:13:21.5Z\",\"value\":\"0e+00\"}]}}"
    );
    let r = respond(&st, "GET", "/api/v1/rules", "", b"", T0 + 1500);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    assert_eq!(v["data"]["groups"][0]["rules"][0]["state"], "firing");
    assert_eq!(v["data"]["groups"][0]["rules"][0]["health"], "ok");
}
