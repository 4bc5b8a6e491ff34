//! Reading custom resources written by controllers of many versions: each is first read as
//! raw `metadata`/`spec`/`status`, then each part on its own, so a part that cannot be read
//! becomes its default with the reason kept ([`tolerant_crd!`](crate::tolerant_crd)); and the
//! loose value types those resources use (an int or a string, Go durations).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Reads one section (`spec` or `status`) of a custom resource, noting why when it cannot.
pub fn section<T: DeserializeOwned>(
    value: Value,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    if value.is_null() {
        return None;
    }
    // serde would read a list positionally into a struct; a section must be an object.
    if !value.is_object() {
        let found = match value {
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            _ => "a list",
        };
        problems.push(format!("{what}: expected an object, found {found}"));
        return None;
    }
    match serde_json::from_value(value) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!("{what}: {e}"));
            None
        }
    }
}

pub fn join_problems(problems: Vec<String>) -> Option<String> {
    if problems.is_empty() {
        None
    } else {
        Some(problems.join("; "))
    }
}

/// The raw shape every custom resource is first read into.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Wire {
    pub metadata: ObjectMeta,
    pub spec: Value,
    pub status: Value,
}

impl Wire {
    /// Metadata, the spec (its default when unreadable), the status (`None` when absent or
    /// unreadable) and why a part could not be read.
    #[must_use]
    pub fn read<S: DeserializeOwned + Default, T: DeserializeOwned>(
        self,
    ) -> (ObjectMeta, S, Option<T>, Option<String>) {
        let mut problems = Vec::new();
        let spec = section(self.spec, "spec", &mut problems).unwrap_or_default();
        let status = section(self.status, "status", &mut problems);
        (self.metadata, spec, status, join_problems(problems))
    }
}

/// The status of a kind that has none (templates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct NoStatus {}

/// Declares a slim custom resource read tolerantly: `metadata`, a `spec` (its default when
/// unreadable), a `status` (`None` until the controller writes one, or when unreadable), and
/// `malformed` saying why a part could not be read. One odd object then gives a row that says
/// so instead of breaking the watch.
///
/// ```text
/// tolerant_crd!(
///     /// `argoproj.io/v1alpha1` Rollout, slim.
///     Rollout, RolloutSpec, RolloutStatus, GROUP, VERSION, "Rollout", "rollouts", Namespaced
/// );
/// ```
#[macro_export]
macro_rules! tolerant_crd {
    ($(#[$doc:meta])* $name:ident, $spec:ty, $status:ty, $group:expr, $version:expr,
     $kind:literal, $plural:literal, $scope:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, ::serde::Deserialize)]
        #[serde(from = "crate::k8s::crd::Wire")]
        pub struct $name {
            pub metadata: ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            pub spec: $spec,
            /// `None` when the controller has not written any status yet.
            pub status: Option<$status>,
            /// Why `spec` or `status` could not be read (that part is then left at its default).
            pub malformed: Option<String>,
        }
        $crate::slim_resource!($name, $group, $version, $kind, $plural, $scope);
        impl From<$crate::k8s::crd::Wire> for $name {
            fn from(w: $crate::k8s::crd::Wire) -> Self {
                let (metadata, spec, status, malformed) = w.read();
                Self {
                    metadata,
                    spec,
                    status,
                    malformed,
                }
            }
        }
    };
}

/// An integer or a string, as Kubernetes `IntOrString` fields and Argo durations are written
/// (`duration: 10` means ten seconds, `duration: 1h` an hour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntOrText {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for IntOrText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Int(i),
                None => Self::Text(n.to_string()),
            },
            Value::String(s) => Self::Text(s),
            other => Self::Text(other.to_string()),
        })
    }
}

impl std::fmt::Display for IntOrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

impl IntOrText {
    /// The value as an Argo duration: a bare integer (or integer string) is seconds, otherwise
    /// a Go duration such as `1h30m` or `10s`.
    #[must_use]
    pub fn as_duration(&self) -> Option<chrono::Duration> {
        match self {
            Self::Int(i) => chrono::Duration::try_seconds(*i),
            Self::Text(s) => match s.trim().parse::<i64>() {
                Ok(i) => chrono::Duration::try_seconds(i),
                Err(_) => parse_go_duration(s),
            },
        }
    }

    /// The value as an integer, if it is one.
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// Parses a Go `time.ParseDuration` string (`300ms`, `1.5h`, `2h45m`, `-1m`).
#[must_use]
pub fn parse_go_duration(text: &str) -> Option<chrono::Duration> {
    let s = text.trim();
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_nanos = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_nanos += number * unit_nanos;
    }
    if !total_nanos.is_finite() || total_nanos > i64::MAX as f64 {
        return None;
    }
    let d = chrono::Duration::nanoseconds(total_nanos as i64);
    Some(if negative { -d } else { d })
}
