//! Label and field selectors of list and watch requests, parsed from their query strings and
//! matched against the fields the object store indexes.
//!
//! Label selectors support `=`, `==`, `!=`, `in (...)`, `notin (...)`, `key` and `!key`,
//! comma-separated, as the API server does. Field selectors support `=`, `==` and `!=` on
//! `metadata.name`, `metadata.namespace` and the kind's registered field paths; any other
//! field is a 400, as on a real cluster.

use super::registry::ResourceType;
use super::store::{ApiError, StoredObject};

#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelOp {
    Eq,
    NotEq,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: LabelOp,
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match self.op {
            LabelOp::Eq | LabelOp::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            LabelOp::NotEq | LabelOp::NotIn => {
                value.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
        }
    }
}

/// A parsed `labelSelector`; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

fn bad_selector(what: &str, text: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: {what} {text:?}: {why}"
    ))
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, ApiError> {
    let mut parts = Vec::new();
    let mut depth = 0_i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(bad_selector("label selector", text, "unbalanced ')'"));
                }
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(bad_selector("label selector", text, "unbalanced '('"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

impl LabelSelector {
    /// Parses a selector such as `app=web,tier in (front,back),!canary`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self { requirements });
        }
        for part in split_top_level(text)? {
            requirements.push(Self::parse_requirement(part.trim())?);
        }
        Ok(Self { requirements })
    }

    fn parse_requirement(req: &str) -> Result<Requirement, ApiError> {
        if req.is_empty() {
            return Err(bad_selector("label selector", req, "empty requirement"));
        }
        if let Some(key) = req.strip_prefix('!') {
            let key = key.trim();
            if !valid_key(key) {
                return Err(bad_selector("key", key, "invalid label key"));
            }
            return Ok(Requirement {
                key: key.to_string(),
                op: LabelOp::DoesNotExist,
                values: Vec::new(),
            });
        }
        let key_end = req
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '!' | '('))
            .unwrap_or(req.len());
        let key = &req[..key_end];
        if !valid_key(key) {
            return Err(bad_selector("key", key, "invalid label key"));
        }
        let rest = req[key_end..].trim_start();
        let (op, values) = if rest.is_empty() {
            (LabelOp::Exists, Vec::new())
        } else if let Some(v) = rest.strip_prefix("==") {
            (LabelOp::Eq, vec![v.trim().to_string()])
        } else if let Some(v) = rest.strip_prefix("!=") {
            (LabelOp::NotEq, vec![v.trim().to_string()])
        } else if let Some(v) = rest.strip_prefix('=') {
            (LabelOp::Eq, vec![v.trim().to_string()])
        } else if let Some(v) = rest.strip_prefix("notin") {
            (LabelOp::NotIn, Self::parse_set(v)?)
        } else if let Some(v) = rest.strip_prefix("in") {
            (LabelOp::In, Self::parse_set(v)?)
        } else {
            return Err(bad_selector("label selector", req, "unknown operator"));
        };
        if let Some(bad) = values.iter().find(|v| !valid_value(v)) {
            return Err(bad_selector("value", bad, "invalid label value"));
        }
        Ok(Requirement {
            key: key.to_string(),
            op,
            values,
        })
    }

    fn parse_set(text: &str) -> Result<Vec<String>, ApiError> {
        let inner = text
            .trim()
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(|| bad_selector("set", text, "expected '(' values ')'"))?;
        let values: Vec<String> = inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(bad_selector(
                "set",
                text,
                "for 'in', 'notin' operators, values set can't be empty",
            ));
        }
        Ok(values)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether labels (looked up by key) satisfy every requirement.
    pub fn matches<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(label(&r.key)))
    }
}

/// A parsed `fieldSelector`; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// (field, equal?, value)
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses a selector such as `metadata.name=web,status.phase!=Running`, refusing fields
    /// the kind does not index.
    pub fn parse(text: &str, kind: &ResourceType) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let known = matches!(field, "metadata.name" | "metadata.namespace")
                || kind.field_paths.iter().any(|(sel, _)| *sel == field);
            if !known {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self { terms })
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether fields (looked up by selector name) satisfy every term.
    pub fn matches<'a>(&self, field: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.terms.iter().all(|(f, eq, v)| {
            let actual = field(f).unwrap_or_default();
            (actual == v) == *eq
        })
    }
}

/// Both selectors of a request.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    #[must_use]
    pub fn matches(&self, obj: &StoredObject) -> bool {
        self.labels.matches(|k| obj.label(k)) && self.fields.matches(|f| obj.field(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::registry;

    fn labels<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
    }

    #[test]
    fn label_operators() {
        let obj = [("app", "web"), ("tier", "front")];
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(labels(&obj));
        assert!(m("app=web"));
        assert!(m("app==web"));
        assert!(!m("app=api"));
        assert!(m("app!=api"));
        assert!(!m("app!=web"));
        assert!(m("missing!=x"), "!= matches objects without the key");
        assert!(m("tier in (back, front)"));
        assert!(!m("tier in (back)"));
        assert!(m("tier notin (back)"));
        assert!(!m("tier notin (front,back)"));
        assert!(m("missing notin (x)"));
        assert!(m("app"));
        assert!(!m("missing"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m("app=web,tier in (front),!canary"));
        assert!(!m("app=web,tier in (front),canary"));
        assert!(m(""));
        assert!(m("app.kubernetes.io/name notin (x),app=web"));
    }

    #[test]
    fn label_errors() {
        for bad in [
            "app in (a",
            "app in ()",
            "app=web)",
            "=web",
            "app ~ web",
            "app=we b!",
            "a,,b",
        ] {
            let e = LabelSelector::parse(bad).unwrap_err();
            assert_eq!(e.code, 400, "{bad}");
        }
    }

    #[test]
    fn field_selectors() {
        let pods = registry::get(registry::find("", "pods").unwrap());
        let fields = [
            ("metadata.name", "web-1"),
            ("metadata.namespace", "shop"),
            ("status.phase", "Running"),
        ];
        let m = |s: &str| {
            FieldSelector::parse(s, pods)
                .unwrap()
                .matches(labels(&fields))
        };
        assert!(m("metadata.name=web-1"));
        assert!(m("metadata.name==web-1,metadata.namespace=shop"));
        assert!(!m("metadata.name=web-2"));
        assert!(m("status.phase!=Pending"));
        assert!(!m("status.phase!=Running"));
        assert!(m("spec.nodeName="), "an unset field compares as empty");
        let e = FieldSelector::parse("spec.restartPolicy=Always", pods).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e.message.contains("field label not supported"));
        assert_eq!(
            FieldSelector::parse("metadata.name", pods)
                .unwrap_err()
                .code,
            400
        );
    }
}
