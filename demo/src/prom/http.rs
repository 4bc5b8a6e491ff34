//! Prometheus' HTTP API (`/api/v1/...`) over the demo TSDB, in Prometheus' JSON shapes.
//! Served on each cluster's Prometheus port and through the Kubernetes service proxy.
//!
//! Bodies are written by hand rather than through serde so that numbers and timestamps come
//! out exactly as Prometheus writes them (`"+Inf"`, `1435781451.781`, `1e+00`), and error
//! messages and status codes follow Prometheus 2.42.
//!
//! This file holds the responses, the routing and the query and series endpoints; `params`
//! parses request parameters and `rules` writes the alerts and rules bodies.

mod params;
mod rules;

use std::fmt::Write as _;

use promql_parser::label::Matcher;
use promql_parser::parser::Expr;

use super::PromState;
use super::alerts;
use super::eval::{self, QueryError, QueryValue};
use super::format::{json_number, json_string, sample_value, timestamp};
use super::functions::valid_label_name;
use super::tsdb::Labels;
pub use params::parse_prom_duration;
use params::{Params, param_error, parse_duration, parse_time, url_decode};
use rules::{alerts_data, rules_data};

/// A response: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl PromResponse {
    /// The `Content-Type` to send: JSON for API bodies, plain text for the health endpoints
    /// and router errors (as Prometheus does).
    #[must_use]
    pub fn content_type(&self) -> &'static str {
        if self.body.first() == Some(&b'{') {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        }
    }

    fn json(status: u16, body: String) -> Self {
        Self {
            status,
            body: body.into_bytes(),
        }
    }

    fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    fn success(data: &str) -> Self {
        Self::json(200, format!("{{\"status\":\"success\",\"data\":{data}}}"))
    }

    fn error(e: &QueryError) -> Self {
        let status = match e.error_type {
            "bad_data" => 400,
            "execution" => 422,
            "not_found" => 404,
            "canceled" | "timeout" | "unavailable" => 503,
            _ => 500,
        };
        Self::json(
            status,
            format!(
                "{{\"status\":\"error\",\"errorType\":{},\"error\":{}}}",
                json_string(e.error_type),
                json_string(&e.message)
            ),
        )
    }
}

/// The build Prometheus reports; the demo claims the version its semantics follow.
pub const BUILD_VERSION: &str = "2.42.0";

fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (k, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(k));
        out.push(':');
        out.push_str(&json_string(v));
    }
    out.push('}');
}

fn write_point(out: &mut String, t: i64, v: f64) {
    let _ = write!(out, "[{},\"{}\"]", timestamp(t), sample_value(v));
}

/// The `data` of a query response.
#[must_use]
pub fn query_data(v: &QueryValue, at_ms: i64) -> String {
    let mut out = String::new();
    match v {
        QueryValue::Scalar(s) => {
            let _ = write!(
                out,
                "{{\"resultType\":\"scalar\",\"result\":[{},\"{}\"]}}",
                json_number(at_ms as f64 / 1000.0),
                sample_value(*s)
            );
        }
        QueryValue::String(s) => {
            let _ = write!(
                out,
                "{{\"resultType\":\"string\",\"result\":[{},{}]}}",
                json_number(at_ms as f64 / 1000.0),
                json_string(s)
            );
        }
        QueryValue::Vector(vec) => {
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, (l, v)) in vec.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, l);
                out.push_str(",\"value\":");
                write_point(&mut out, at_ms, *v);
                out.push('}');
            }
            out.push_str("]}");
        }
        QueryValue::Matrix(m) => {
            out.push_str("{\"resultType\":\"matrix\",\"result\":[");
            for (i, (l, pts)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, l);
                out.push_str(",\"values\":[");
                for (j, (t, v)) in pts.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
    }
    out
}

/// Answers one request. `path` starts at `/api/v1/...` (or `/-/healthy`); `query` is the raw
/// query string; `body` the request body (form-encoded parameters for POST).
#[must_use]
pub fn respond(
    state: &PromState,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    now_ms: i64,
) -> PromResponse {
    // Tolerate a query string left on the path.
    let (path, query) = match path.split_once('?') {
        Some((p, q)) if query.is_empty() => (p, q),
        Some((p, _)) => (p, query),
        None => (path, query),
    };
    let method = method.to_ascii_uppercase();
    let get_post: &[&str] = &["GET", "POST"];
    let get: &[&str] = &["GET"];
    let (allowed, handler): (&[&str], Handler) = match path {
        "/api/v1/query" => (get_post, Handler::Query),
        "/api/v1/query_range" => (get_post, Handler::QueryRange),
        "/api/v1/series" => (get_post, Handler::Series),
        "/api/v1/labels" => (get_post, Handler::Labels),
        "/api/v1/alerts" => (get, Handler::Alerts),
        "/api/v1/rules" => (get, Handler::Rules),
        "/api/v1/status/buildinfo" => (get, Handler::BuildInfo),
        "/-/healthy" => (get, Handler::Healthy),
        "/-/ready" => (get, Handler::Ready),
        p => match p
            .strip_prefix("/api/v1/label/")
            .and_then(|r| r.strip_suffix("/values"))
        {
            Some(name) if !name.contains('/') => (get, Handler::LabelValues(url_decode(name))),
            _ => return PromResponse::text(404, "404 page not found\n"),
        },
    };
    let method = if method == "HEAD" {
        "GET".to_string()
    } else {
        method
    };
    if method == "OPTIONS" && path.starts_with("/api/") {
        return PromResponse::text(200, "");
    }
    if !allowed.contains(&method.as_str()) {
        return PromResponse::text(405, "Method Not Allowed\n");
    }
    let params = if method == "POST" {
        Params::parse(query, body)
    } else {
        Params::parse(query, &[])
    };
    let result = match handler {
        Handler::Query => handle_query(state, &params, now_ms),
        Handler::QueryRange => handle_query_range(state, &params),
        Handler::Series => handle_series(state, &params),
        Handler::Labels => handle_labels(state, &params),
        Handler::LabelValues(name) => handle_label_values(state, &params, &name),
        Handler::Alerts => Ok(alerts_data(&alerts::evaluate(state, now_ms))),
        Handler::Rules => Ok(rules_data(
            &alerts::evaluate(state, now_ms),
            params.get("type"),
            now_ms,
        )),
        Handler::BuildInfo => Ok(format!(
            "{{\"version\":\"{BUILD_VERSION}\",\"revision\":\"kdeck-demo\",\"branch\":\"HEAD\",\"buildUser\":\"kdeck\",\"buildDate\":\"20230131-00:00:00\",\"goVersion\":\"go1.19.5\"}}"
        )),
        Handler::Healthy => return PromResponse::text(200, "Prometheus Server is Healthy.\n"),
        Handler::Ready => return PromResponse::text(200, "Prometheus Server is Ready.\n"),
    };
    match result {
        Ok(data) => PromResponse::success(&data),
        Err(e) => PromResponse::error(&e),
    }
}

enum Handler {
    Query,
    QueryRange,
    Series,
    Labels,
    LabelValues(String),
    Alerts,
    Rules,
    BuildInfo,
    Healthy,
    Ready,
}

fn handle_query(state: &PromState, p: &Params, now_ms: i64) -> Result<String, QueryError> {
    let at = match p.get("time") {
        None | Some("") => now_ms,
        Some(t) => parse_time(t).ok_or_else(|| {
            param_error(
                "time",
                &format!(
                    "Invalid time value for 'time': cannot parse \"{t}\" to a valid timestamp"
                ),
            )
        })?,
    };
    let v = eval::instant(&state.tsdb, p.get("query").unwrap_or(""), at)?;
    Ok(query_data(&v, at))
}

fn required_time(p: &Params, name: &str) -> Result<i64, QueryError> {
    let s = p.get(name).unwrap_or("");
    parse_time(s)
        .ok_or_else(|| param_error(name, &format!("cannot parse \"{s}\" to a valid timestamp")))
}

fn handle_query_range(state: &PromState, p: &Params) -> Result<String, QueryError> {
    let start = required_time(p, "start")?;
    let end = required_time(p, "end")?;
    if end < start {
        return Err(param_error(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_s = p.get("step").unwrap_or("");
    let step = parse_duration(step_s).ok_or_else(|| {
        param_error(
            "step",
            &format!("cannot parse \"{step_s}\" to a valid duration"),
        )
    })?;
    if step <= 0 {
        return Err(param_error(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let v = eval::range(&state.tsdb, p.get("query").unwrap_or(""), start, end, step)?;
    Ok(query_data(&v, start))
}

/// Optional `start`/`end` of the metadata endpoints (default: all time).
fn time_window(p: &Params) -> Result<(i64, i64), QueryError> {
    let t = |name: &str, default: i64| match p.get(name) {
        None | Some("") => Ok(default),
        Some(s) => parse_time(s).ok_or_else(|| {
            param_error(name, &format!("cannot parse \"{s}\" to a valid timestamp"))
        }),
    };
    Ok((t("start", i64::MIN)?, t("end", i64::MAX)?))
}

/// Parses `match[]` selectors.
fn selectors(p: &Params) -> Result<Vec<Vec<Matcher>>, QueryError> {
    p.all("match[]")
        .into_iter()
        .map(|s| {
            let expr = promql_parser::parser::parse(s)
                .map_err(|e| param_error("match[]", &e.to_string()))?;
            match expr {
                Expr::VectorSelector(vs) => {
                    if vs.at.is_some() || vs.offset.is_some() || !vs.matchers.or_matchers.is_empty()
                    {
                        return Err(param_error("match[]", "expected a plain series selector"));
                    }
                    let mut ms = vs.matchers.matchers.clone();
                    if let Some(name) = &vs.name {
                        ms.push(Matcher::new(
                            promql_parser::label::MatchOp::Equal,
                            "__name__",
                            name,
                        ));
                    }
                    if ms.iter().all(|m| m.is_match("")) {
                        return Err(param_error(
                            "match[]",
                            "match[] must contain at least one non-empty matcher",
                        ));
                    }
                    Ok(ms)
                }
                _ => Err(param_error("match[]", "expected a series selector")),
            }
        })
        .collect()
}

/// Label sets of the series the request's selectors (or all series) pick.
fn matched_series(state: &PromState, p: &Params) -> Result<Vec<Labels>, QueryError> {
    let (start, end) = time_window(p)?;
    let sels = selectors(p)?;
    if sels.is_empty() {
        return Ok(state.tsdb.series_labels(&[], start, end));
    }
    let mut all: Vec<Labels> = sels
        .iter()
        .flat_map(|ms| state.tsdb.series_labels(ms, start, end))
        .collect();
    all.sort();
    all.dedup();
    Ok(all)
}

fn string_array(items: impl IntoIterator<Item = String>) -> String {
    let parts: Vec<String> = items.into_iter().map(|s| json_string(&s)).collect();
    format!("[{}]", parts.join(","))
}

fn handle_series(state: &PromState, p: &Params) -> Result<String, QueryError> {
    if p.all("match[]").is_empty() {
        return Err(QueryError::bad_data("no match[] parameter provided"));
    }
    let series = matched_series(state, p)?;
    let mut out = String::from("[");
    for (i, l) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_labels(&mut out, l);
    }
    out.push(']');
    Ok(out)
}

fn handle_labels(state: &PromState, p: &Params) -> Result<String, QueryError> {
    let mut names: Vec<String> = matched_series(state, p)?
        .into_iter()
        .flat_map(|l| l.into_iter().map(|(k, _)| k))
        .collect();
    names.sort();
    names.dedup();
    Ok(string_array(names))
}

fn handle_label_values(state: &PromState, p: &Params, name: &str) -> Result<String, QueryError> {
    if !valid_label_name(name) {
        return Err(QueryError::bad_data(format!(
            "invalid label name: {}",
            json_string(name)
        )));
    }
    let mut values: Vec<String> = matched_series(state, p)?
        .into_iter()
        .filter_map(|l| l.into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
        .collect();
    values.sort();
    values.dedup();
    Ok(string_array(values))
}
