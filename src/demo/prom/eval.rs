//! PromQL evaluation over the demo TSDB.

use super::tsdb::{Labels, Tsdb};

/// The value of an evaluated expression.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    Scalar(f64),
    /// One sample per series, at the evaluation time.
    Vector(Vec<(Labels, f64)>),
    /// Samples per series over a range (timestamps in ms).
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    String(String),
}

/// An error in Prometheus' terms: `errorType` is `bad_data`, `execution`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub error_type: &'static str,
    pub message: String,
}

/// Evaluates `query` at `at_ms` (an instant query).
pub fn instant(_tsdb: &Tsdb, query: &str, _at_ms: i64) -> Result<QueryValue, QueryError> {
    Err(QueryError {
        error_type: "bad_data",
        message: format!("PromQL evaluation is not available yet: {query}"),
    })
}
