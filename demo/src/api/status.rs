//! HTTP responses of the demo API server: the body type, JSON and `Status` replies, and the
//! errors every route shares (unknown path, method not allowed, forbidden, injected 500).
//!
//! Every error a client sees is a Kubernetes `Status` object with `Content-Type:
//! application/json`, never plain text, because clients (kubectl, kube-rs) parse it.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use serde_json::{Value, json};

use super::authz::Attributes;
use super::store::ApiError;

/// Response body of every demo server: a full buffer or a stream (watches).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A body holding `bytes` in full.
#[must_use]
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A response with the given status, content type and body.
#[must_use]
pub fn respond(code: u16, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response.
#[must_use]
pub fn json_response(code: u16, value: &Value) -> Response<Body> {
    json_bytes(code, serde_json::to_vec(value).unwrap_or_default())
}

/// A JSON response from already-serialized bytes.
#[must_use]
pub fn json_bytes(code: u16, body: impl Into<Bytes>) -> Response<Body> {
    respond(code, "application/json", body)
}

/// The `Status` response for an error.
#[must_use]
pub fn error_response(err: &ApiError) -> Response<Body> {
    let mut status = err.to_status();
    if status.get("details").is_none() {
        // The API server always sends `details`, even empty, for these errors.
        status["details"] = json!({});
    }
    json_response(err.code, &status)
}

/// What the API server answers for a path it does not serve.
#[must_use]
pub fn path_not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

#[must_use]
pub fn method_not_allowed(method: &str) -> ApiError {
    ApiError::new(
        405,
        "MethodNotAllowed",
        format!("the server does not allow this method on the requested resource ({method})"),
    )
}

#[must_use]
pub fn unsupported_media_type(given: &str, accepted: &str) -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format ({given}) - accepted media types \
             include: {accepted}"
        ),
    )
}

#[must_use]
pub fn unauthorized() -> ApiError {
    ApiError::new(401, "Unauthorized", "Unauthorized")
}

/// The injected 500 of the error-rate fault.
#[must_use]
pub fn injected_internal_error() -> ApiError {
    ApiError::new(
        500,
        "InternalError",
        "Internal error occurred: injected fault (demo cluster error rate)",
    )
}

/// A 403 worded like the RBAC authorizer's, e.g. `deployments.apps "web" is forbidden: User
/// "demo-viewer" cannot patch resource "deployments" in API group "apps" in the namespace
/// "shop"`, with the deny rule's reason appended when there is one.
#[must_use]
pub fn forbidden(user: &str, a: &Attributes, reason: &str) -> ApiError {
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let subject = if a.name.is_empty() {
        qualified
    } else {
        format!("{qualified} \"{}\"", a.name)
    };
    let full_resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    let mut message = format!(
        "{subject} is forbidden: User \"{user}\" cannot {} resource \"{full_resource}\" in \
         API group \"{}\" {scope}",
        a.verb, a.group
    );
    if !reason.is_empty() {
        message.push_str(": ");
        message.push_str(reason);
    }
    let mut err = ApiError::new(403, "Forbidden", message);
    err.details = Some((a.name.clone(), a.group.clone(), a.resource.clone()));
    err
}

/// A `Status` reporting success (e.g. for `deletecollection` with no items to return).
#[must_use]
pub fn success_status() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_reads_like_rbac() {
        let a = Attributes {
            verb: "patch".into(),
            group: "apps".into(),
            resource: "deployments".into(),
            subresource: "scale".into(),
            namespace: "shop".into(),
            name: "web".into(),
        };
        let e = forbidden("demo-viewer", &a, "");
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "deployments.apps \"web\" is forbidden: User \"demo-viewer\" cannot patch resource \
             \"deployments/scale\" in API group \"apps\" in the namespace \"shop\""
        );
        let a = Attributes {
            verb: "list".into(),
            resource: "nodes".into(),
            ..Attributes::default()
        };
        let e = forbidden("u", &a, "no nodes for you");
        assert!(
            e.message
                .ends_with("in API group \"\" at the cluster scope: no nodes for you"),
            "{}",
            e.message
        );
    }
}
