//! From the bytes a list or a watch delivers straight to slim objects: each item is read once,
//! into its slim type (unknown fields skipped unread, no intermediate JSON tree); an item that
//! cannot be read becomes an error entry with the metadata that could be read, so one bad
//! object never stops a list or a watch.

use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Watched;
use super::store::Store;
use crate::k8s::slim_metadata;

/// Why a list or an event could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("unreadable answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown watch event type {0:?}")]
    EventType(String),
}

/// One page of a list.
pub struct ListPage<K> {
    pub items: Vec<DeserializeGuard<K>>,
    /// The resourceVersion the list is consistent with (to watch from).
    pub resource_version: String,
    /// Where the next page starts, if there is one.
    pub continue_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListMeta {
    resource_version: Option<String>,
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

/// Just the metadata of an object (for unreadable objects and deletions).
#[derive(Deserialize, Default)]
#[serde(default)]
struct MetaOnly {
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
}

/// Reads one object into `K` (slimmed), or into an error entry saying why it could not be.
#[must_use]
pub fn decode_object<K: Watched>(raw: &str) -> DeserializeGuard<K> {
    match serde_json::from_str::<K>(raw) {
        Ok(mut o) => {
            o.slim();
            DeserializeGuard(Ok(o))
        }
        Err(e) => {
            let mut metadata = serde_json::from_str::<MetaOnly>(raw)
                .map(|m| m.metadata)
                .unwrap_or_default();
            slim_metadata(&mut metadata, &[]);
            DeserializeGuard(Err(InvalidObject {
                error: e.to_string(),
                metadata,
            }))
        }
    }
}

/// Reads one page of a list.
pub fn decode_list<K: Watched>(body: &str) -> Result<ListPage<K>, WireError> {
    let raw: RawList<'_> = serde_json::from_str(body)?;
    let items = raw.items.unwrap_or_default();
    Ok(ListPage {
        items: items.iter().map(|r| decode_object(r.get())).collect(),
        resource_version: raw.metadata.resource_version.unwrap_or_default(),
        continue_token: raw.metadata.continue_token.filter(|c| !c.is_empty()),
    })
}

/// A watch event, read.
// Events pass one at a time, straight into the store: boxing the object would only add an
// allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum WatchEvent<K> {
    Applied(DeserializeGuard<K>),
    /// The key of the deleted object and its last resourceVersion.
    Deleted {
        namespace: Option<String>,
        name: String,
        resource_version: Option<String>,
    },
    Bookmark {
        resource_version: Option<String>,
    },
    /// The server ended the watch with a `Status` (410 Gone: the version is too old).
    Error {
        code: u16,
        message: String,
    },
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    object: &'a RawValue,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatusWire {
    code: u16,
    message: String,
}

/// Reads one line of a watch stream.
pub fn decode_event<K: Watched>(line: &str) -> Result<WatchEvent<K>, WireError> {
    let ev: RawEvent<'_> = serde_json::from_str(line)?;
    let raw = ev.object.get();
    Ok(match &*ev.kind {
        "ADDED" | "MODIFIED" => WatchEvent::Applied(decode_object(raw)),
        "DELETED" => {
            let m = serde_json::from_str::<MetaOnly>(raw)?.metadata;
            WatchEvent::Deleted {
                namespace: m.namespace,
                name: m.name.unwrap_or_default(),
                resource_version: m.resource_version,
            }
        }
        "BOOKMARK" => WatchEvent::Bookmark {
            resource_version: serde_json::from_str::<MetaOnly>(raw)?
                .metadata
                .resource_version,
        },
        "ERROR" => {
            let s: StatusWire = serde_json::from_str(raw)?;
            WatchEvent::Error {
                code: s.code,
                message: s.message,
            }
        }
        other => return Err(WireError::EventType(other.to_string())),
    })
}

/// Decodes a whole list and makes it the store's content; returns how many objects it held.
/// (What a watch does with its first list, in one step: for benchmarks and tests.)
pub fn store_list<K: Watched>(store: &Store<K>, body: &[u8]) -> Result<usize, WireError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| WireError::Json(serde::de::Error::custom(format!("not UTF-8: {e}"))))?;
    let page = decode_list::<K>(text)?;
    let mut relist = super::store::Relist::default();
    relist.reserve(page.items.len());
    for o in page.items {
        relist.push(o);
    }
    let n = relist.len();
    store.replace(relist);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::core::Namespace;
    use crate::k8s::pod::Pod;

    #[test]
    fn a_list_keeps_its_version_and_an_unreadable_item_becomes_an_error_entry() {
        let body = r#"{"kind":"PodList","metadata":{"resourceVersion":"77","continue":"abc"},
            "items":[{"metadata":{"name":"a","namespace":"n"}},
                     {"metadata":{"name":"b","namespace":"n","creationTimestamp":"never"}}]}"#;
        let page = decode_list::<Pod>(body).unwrap();
        assert_eq!(page.resource_version, "77");
        assert_eq!(page.continue_token.as_deref(), Some("abc"));
        assert_eq!(page.items.len(), 2);
        assert!(page.items[0].0.is_ok());
        let bad = page.items[1].0.as_ref().unwrap_err();
        assert_eq!(bad.metadata.name, None, "its metadata is unreadable too");
        let page =
            decode_list::<Namespace>(r#"{"metadata":{"continue":""},"items":null}"#).unwrap();
        assert!(page.items.is_empty() && page.continue_token.is_none());
    }

    #[test]
    fn an_unreadable_object_keeps_its_name() {
        let g = decode_object::<Pod>(
            r#"{"metadata":{"name":"p","namespace":"n"},"spec":{"nodeName":"x","containers":[]},
                "status":{"containerStatuses":["x"]}}"#,
        );
        let e = g.0.unwrap_err();
        assert_eq!(e.metadata.name.as_deref(), Some("p"));
        assert!(e.error.contains("ContainerStatus"), "{}", e.error);
    }

    #[test]
    fn watch_events_of_every_type() {
        let ev = decode_event::<Pod>(
            r#"{"type":"ADDED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"5"}}}"#,
        )
        .unwrap();
        assert!(matches!(ev, WatchEvent::Applied(DeserializeGuard(Ok(_)))));
        let ev = decode_event::<Pod>(
            r#"{"object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"6"}},"type":"DELETED"}"#,
        )
        .unwrap();
        assert!(
            matches!(ev, WatchEvent::Deleted { ref name, ref resource_version, .. }
                if name == "a" && resource_version.as_deref() == Some("6"))
        );
        let ev = decode_event::<Pod>(
            r#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}}"#,
        )
        .unwrap();
        assert!(matches!(ev, WatchEvent::Bookmark { resource_version: Some(ref v) } if v == "9"));
        let ev = decode_event::<Pod>(
            r#"{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}}"#,
        )
        .unwrap();
        assert!(matches!(ev, WatchEvent::Error { code: 410, .. }));
        assert!(decode_event::<Pod>(r#"{"type":"WHAT","object":{}}"#).is_err());
    }
}
