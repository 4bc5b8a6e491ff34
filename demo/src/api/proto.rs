//! Just enough Kubernetes protobuf to read the review requests kubectl sends as
//! `application/vnd.kubernetes.protobuf` (`kubectl auth can-i`, `kubectl auth whoami`), so
//! they work although the demo otherwise speaks JSON only. Other protobuf bodies answer 415.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` message whose field 2 holds
//! the object's own message.

use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// Media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// A length-delimited field of a message: number and payload (the only kind read here).
type Field<'a> = (u32, &'a [u8]);

fn read_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Splits a message into its length-delimited fields (others are skipped); `None` when it is
/// malformed.
fn fields(buf: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos)?;
        let number = u32::try_from(key >> 3).ok()?;
        match key & 7 {
            0 => {
                read_varint(buf, &mut pos)?;
            }
            1 => pos = pos.checked_add(8).filter(|p| *p <= buf.len())?,
            2 => {
                let len = usize::try_from(read_varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len())?;
                out.push((number, &buf[pos..end]));
                pos = end;
            }
            5 => pos = pos.checked_add(4).filter(|p| *p <= buf.len())?,
            _ => return None,
        }
    }
    Some(out)
}

fn bytes_field<'a>(fields: &[Field<'a>], number: u32) -> Option<&'a [u8]> {
    fields.iter().find(|(n, _)| *n == number).map(|(_, b)| *b)
}

/// String fields of a message, by number, as a JSON object with the given names.
fn strings(msg: &[u8], names: &[(u32, &str)]) -> Option<Value> {
    let fields = fields(msg)?;
    let mut out = Map::new();
    for (number, name) in names {
        if let Some(b) = bytes_field(&fields, *number) {
            out.insert(
                (*name).to_string(),
                Value::String(String::from_utf8_lossy(b).into_owned()),
            );
        }
    }
    Some(Value::Object(out))
}

/// The object message inside the `k8s\0` envelope.
fn unwrap_envelope(body: &[u8]) -> Option<&[u8]> {
    let unknown = body.strip_prefix(MAGIC)?;
    bytes_field(&fields(unknown)?, 2)
}

/// Decodes a protobuf `SelfSubjectAccessReview` into its JSON form (`spec` only, which is all
/// the server reads).
#[must_use]
pub fn access_review(body: &[u8]) -> Option<Value> {
    let review = fields(unwrap_envelope(body)?)?;
    let spec = fields(bytes_field(&review, 2).unwrap_or_default())?;
    let mut out = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {}});
    if let Some(ra) = bytes_field(&spec, 1) {
        out["spec"]["resourceAttributes"] = strings(
            ra,
            &[
                (1, "namespace"),
                (2, "verb"),
                (3, "group"),
                (4, "version"),
                (5, "resource"),
                (6, "subresource"),
                (7, "name"),
            ],
        )?;
    }
    if let Some(nra) = bytes_field(&spec, 2) {
        out["spec"]["nonResourceAttributes"] = strings(nra, &[(1, "path"), (2, "verb")])?;
    }
    Some(out)
}

/// Whether a body is a Kubernetes protobuf envelope.
#[must_use]
pub fn is_envelope(body: &[u8]) -> bool {
    body.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(fields: &[(u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, b) in fields {
            out.push(u8::try_from((n << 3) | 2).unwrap());
            out.push(u8::try_from(b.len()).unwrap());
            out.extend_from_slice(b);
        }
        out
    }

    #[test]
    fn decodes_an_access_review() {
        let ra = msg(&[
            (1, b"shop"),
            (2, b"patch"),
            (3, b"apps"),
            (5, b"deployments"),
        ]);
        let spec = msg(&[(1, &ra)]);
        let review = msg(&[(1, b""), (2, &spec)]);
        let type_meta = msg(&[
            (1, b"authorization.k8s.io/v1"),
            (2, b"SelfSubjectAccessReview"),
        ]);
        let unknown = msg(&[(1, &type_meta), (2, &review)]);
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&unknown);
        let v = access_review(&body).unwrap();
        assert_eq!(v["spec"]["resourceAttributes"]["namespace"], "shop");
        assert_eq!(v["spec"]["resourceAttributes"]["verb"], "patch");
        assert_eq!(v["spec"]["resourceAttributes"]["group"], "apps");
        assert_eq!(v["spec"]["resourceAttributes"]["resource"], "deployments");
        assert!(v["spec"]["resourceAttributes"].get("name").is_none());
        assert!(access_review(b"k8s\0\xff").is_none());
        assert!(access_review(b"{}").is_none());
    }
}
