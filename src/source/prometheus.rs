//! A Prometheus client for kdeck's queries: through the Kubernetes API's service proxy by
//! default (an SSH user needs no port-forward), or a configured URL. Every call has a timeout
//! and a clear error; results are parsed from Prometheus' JSON shapes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// Where a cluster's Prometheus is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromEndpoint {
    /// A base URL such as `https://prometheus.example.com`.
    Url(String),
    /// A Service reached through the Kubernetes API proxy.
    Service {
        namespace: String,
        name: String,
        port: String,
    },
}

impl PromEndpoint {
    /// Parses `namespace/service:port`.
    #[must_use]
    pub fn service(spec: &str) -> Option<Self> {
        let (namespace, rest) = spec.split_once('/')?;
        let (name, port) = rest.split_once(':').unwrap_or((rest, "9090"));
        if namespace.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self::Service {
            namespace: namespace.into(),
            name: name.into(),
            port: port.into(),
        })
    }

    /// A short description for the UI.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Url(u) => u.clone(),
            Self::Service {
                namespace,
                name,
                port,
            } => format!("svc {namespace}/{name}:{port}"),
        }
    }
}

/// One series of a vector or matrix result.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSeries {
    pub labels: BTreeMap<String, String>,
    /// (unix seconds, value); one point for an instant vector.
    pub points: Vec<(f64, f64)>,
}

/// A query result.
#[derive(Debug, Clone, PartialEq)]
pub enum PromData {
    Vector(Vec<PromSeries>),
    Matrix(Vec<PromSeries>),
    Scalar(f64),
}

impl PromData {
    /// The series, whatever the result type (a scalar is one unlabelled series).
    #[must_use]
    pub fn series(&self) -> Vec<PromSeries> {
        match self {
            Self::Vector(s) | Self::Matrix(s) => s.clone(),
            Self::Scalar(v) => vec![PromSeries {
                labels: BTreeMap::new(),
                points: vec![(0.0, *v)],
            }],
        }
    }
}

/// Why a query gave no data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromError {
    #[error("prometheus unreachable: {0}")]
    Unreachable(String),
    #[error("prometheus {error_type}: {message}")]
    Api { error_type: String, message: String },
    #[error("unexpected prometheus answer: {0}")]
    Decode(String),
}

/// A client for one cluster's Prometheus.
#[derive(Clone)]
pub struct PromClient {
    endpoint: PromEndpoint,
    kube: Option<kube::Client>,
    http: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for PromClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn encode(params: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        for b in v.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(char::from(b));
                }
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    out
}

impl PromClient {
    #[must_use]
    pub fn new(endpoint: PromEndpoint, kube: Option<kube::Client>, timeout: Duration) -> Self {
        // reqwest is built without a default TLS provider; use ring (as kube does), once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            endpoint,
            kube,
            http,
            timeout,
        }
    }

    /// The same client, sending `headers` with every request (a Mimir tenant's
    /// `X-Scope-OrgID`, an `Authorization` header); names or values that are not valid
    /// header text are skipped with a warning.
    #[must_use]
    pub fn with_headers(mut self, headers: &BTreeMap<String, String>) -> Self {
        if headers.is_empty() {
            return self;
        }
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            match (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) {
                (Ok(name), Ok(mut value)) => {
                    value.set_sensitive(true);
                    map.insert(name, value);
                }
                _ => log::warn!("prometheus: header {k:?} is not valid; not sent"),
            }
        }
        self.http = reqwest::Client::builder()
            .timeout(self.timeout)
            .default_headers(map)
            .build()
            .unwrap_or_default();
        self
    }

    #[must_use]
    pub fn endpoint(&self) -> &PromEndpoint {
        &self.endpoint
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Value, PromError> {
        let query = encode(params);
        let (status, body) = match &self.endpoint {
            PromEndpoint::Url(base) => {
                let url = format!("{}{path}?{query}", base.trim_end_matches('/'));
                let resp =
                    self.http.get(&url).send().await.map_err(|e| {
                        PromError::Unreachable(crate::source::watch::short_error(&e))
                    })?;
                let status = resp.status().as_u16();
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| PromError::Unreachable(crate::source::watch::short_error(&e)))?;
                (status, body.to_vec())
            }
            PromEndpoint::Service {
                namespace,
                name,
                port,
            } => {
                let Some(client) = &self.kube else {
                    return Err(PromError::Unreachable("no cluster connection".into()));
                };
                let uri = format!(
                    "/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy{path}?{query}"
                );
                let req = http::Request::get(uri)
                    .body(Vec::new())
                    .map_err(|e| PromError::Decode(e.to_string()))?;
                let send = client.send(req.map(kube::client::Body::from));
                let resp = tokio::time::timeout(self.timeout, send)
                    .await
                    .map_err(|_| PromError::Unreachable("timed out".into()))?
                    .map_err(|e| PromError::Unreachable(crate::source::watch::short_error(&e)))?;
                let status = resp.status().as_u16();
                let collect = http_body_util::BodyExt::collect(resp.into_body());
                let body = tokio::time::timeout(self.timeout, collect)
                    .await
                    .map_err(|_| PromError::Unreachable("timed out".into()))?
                    .map_err(|e| PromError::Unreachable(crate::source::watch::short_error(&e)))?
                    .to_bytes();
                (status, body.to_vec())
            }
        };
        interpret(status, &body)
    }

    /// An instant query at `time` (unix seconds), or now.
    pub async fn query(&self, q: &str, time: Option<f64>) -> Result<PromData, PromError> {
        let mut params = vec![("query", q.to_string())];
        if let Some(t) = time {
            params.push(("time", format!("{t:.3}")));
        }
        parse_data(&self.get("/api/v1/query", &params).await?)
    }

    /// A range query over [start, end] every `step` seconds.
    pub async fn query_range(
        &self,
        q: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<PromData, PromError> {
        let params = [
            ("query", q.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{step}")),
        ];
        parse_data(&self.get("/api/v1/query_range", &params).await?)
    }

    /// The server's version (`/api/v1/status/buildinfo`): a cheap reachability probe.
    pub async fn version(&self) -> Result<String, PromError> {
        let data = self.get("/api/v1/status/buildinfo", &[]).await?;
        Ok(data
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string())
    }
}

fn parse_value(v: &Value) -> Option<(f64, f64)> {
    let pair = v.as_array()?;
    let t = pair.first()?.as_f64()?;
    let s = pair.get(1)?.as_str()?;
    let x = match s {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some((t, x))
}

fn parse_labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// What a Prometheus (or service-proxy) answer with HTTP `status` and `body` says: the
/// `data` member of a success, or why there is none.
pub fn interpret(status: u16, body: &[u8]) -> Result<Value, PromError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if status == 404 || status == 503 {
            PromError::Unreachable(format!(
                "HTTP {status} {}",
                text.chars().take(80).collect::<String>()
            ))
        } else {
            PromError::Decode(format!(
                "HTTP {status}: {}",
                text.chars().take(80).collect::<String>()
            ))
        }
    })?;
    if json.get("status").and_then(Value::as_str) == Some("success") {
        Ok(json.get("data").cloned().unwrap_or(Value::Null))
    } else if json.get("kind").and_then(Value::as_str) == Some("Status") {
        // The service proxy itself answered (e.g. no such service).
        Err(PromError::Unreachable(
            json.get("message")
                .and_then(Value::as_str)
                .unwrap_or("proxy error")
                .to_string(),
        ))
    } else {
        Err(PromError::Api {
            error_type: json
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string(),
            message: json
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

/// Parses the `data` member of a query response.
pub fn parse_data(data: &Value) -> Result<PromData, PromError> {
    let bad = |what: &str| PromError::Decode(what.to_string());
    let kind = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no resultType"))?;
    let result = data.get("result").ok_or_else(|| bad("no result"))?;
    match kind {
        "vector" => {
            let items = result
                .as_array()
                .ok_or_else(|| bad("vector is not a list"))?;
            let mut out = Vec::new();
            for item in items {
                let point = item
                    .get("value")
                    .and_then(parse_value)
                    .ok_or_else(|| bad("bad sample"))?;
                out.push(PromSeries {
                    labels: parse_labels(item.get("metric")),
                    points: vec![point],
                });
            }
            Ok(PromData::Vector(out))
        }
        "matrix" => {
            let items = result
                .as_array()
                .ok_or_else(|| bad("matrix is not a list"))?;
            let mut out = Vec::new();
            for item in items {
                let points = item
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| vs.iter().filter_map(parse_value).collect())
                    .unwrap_or_default();
                out.push(PromSeries {
                    labels: parse_labels(item.get("metric")),
                    points,
                });
            }
            Ok(PromData::Matrix(out))
        }
        "scalar" => parse_value(result)
            .map(|(_, v)| PromData::Scalar(v))
            .ok_or_else(|| bad("bad scalar")),
        other => Err(bad(&format!("unsupported resultType {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vector_and_matrix_shapes() {
        let v: Value = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "job": "p"}, "value": [1435781451.781, "1"]},
            {"metric": {}, "value": [1435781451.781, "NaN"]}
        ]});
        let PromData::Vector(s) = parse_data(&v).unwrap() else {
            panic!()
        };
        assert_eq!(s[0].labels["job"], "p");
        assert_eq!(s[0].points, vec![(1435781451.781, 1.0)]);
        assert!(s[1].points[0].1.is_nan());
        let m: Value = serde_json::json!({"resultType": "matrix", "result": [
            {"metric": {"a": "b"}, "values": [[1.0, "2"], [2.0, "+Inf"]]}
        ]});
        let PromData::Matrix(s) = parse_data(&m).unwrap() else {
            panic!()
        };
        assert_eq!(s[0].points[1].1, f64::INFINITY);
    }

    #[test]
    fn service_spec() {
        assert_eq!(
            PromEndpoint::service("monitoring/prometheus:9090"),
            Some(PromEndpoint::Service {
                namespace: "monitoring".into(),
                name: "prometheus".into(),
                port: "9090".into()
            })
        );
        assert_eq!(PromEndpoint::service("nope"), None);
        assert_eq!(
            encode(&[("query", "a{b=\"c\"}".into())]),
            "query=a%7Bb%3D%22c%22%7D"
        );
    }
}
