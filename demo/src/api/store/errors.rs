//! Object store: the API errors its reads and writes return, rendered by the HTTP layer as
//! `Status` bodies (see store.rs).

use serde_json::{Value, json};

use crate::api::registry::{self, TypeId};

/// An error the API server would return, rendered by the HTTP layer as a `Status` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// (name, group, kind) for `details`.
    pub details: Option<(String, String, String)>,
}

impl ApiError {
    #[must_use]
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub(super) fn for_object(mut self, type_id: TypeId, name: &str) -> Self {
        let t = registry::get(type_id);
        self.details = Some((name.to_string(), t.group.to_string(), t.plural.to_string()));
        self
    }

    #[must_use]
    pub fn not_found(type_id: TypeId, name: &str) -> Self {
        let what = qualified(type_id);
        Self::new(404, "NotFound", format!("{what} \"{name}\" not found")).for_object(type_id, name)
    }

    #[must_use]
    pub fn conflict(type_id: TypeId, name: &str) -> Self {
        let what = qualified(type_id);
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {what} \"{name}\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            ),
        )
        .for_object(type_id, name)
    }

    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    #[must_use]
    pub fn invalid(type_id: TypeId, name: &str, message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message).for_object(type_id, name)
    }

    #[must_use]
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `Status` object the API server sends for this error.
    #[must_use]
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((name, group, kind)) = &self.details {
            status["details"] = json!({ "name": name, "group": group, "kind": kind });
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

pub(super) fn qualified(type_id: TypeId) -> String {
    let t = registry::get(type_id);
    if t.group.is_empty() {
        t.plural.to_string()
    } else {
        format!("{}.{}", t.plural, t.group)
    }
}

/// Result of a write.
pub type ApiResult<T = Value> = Result<T, ApiError>;
