//! Shared test helpers: where the upstream fixtures are and how to read them.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The upstream fixtures (`../shared/fixtures` beside the checkout, or `$KDECK_FIXTURES`).
pub fn fixtures_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("KDECK_FIXTURES") {
        return PathBuf::from(dir);
    }
    // This crate is `demo/` in the checkout.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// A fixture file's path, relative to the fixtures dir.
pub fn fixture(rel: &str) -> PathBuf {
    fixtures_dir().join(rel)
}

/// Every YAML document of a fixture file, as JSON values (empty documents skipped).
pub fn load_yaml_docs(rel: &str) -> Vec<Value> {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("parsing fixture {}: {e}", path.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// The single YAML document of a fixture file.
pub fn load_yaml(rel: &str) -> Value {
    let mut docs = load_yaml_docs(rel);
    assert_eq!(docs.len(), 1, "{rel} should hold one document");
    docs.remove(0)
}

/// Fixture files under a folder (recursively) whose names end with `.yaml`, sorted.
pub fn yaml_files_under(rel: &str) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|x| x == "yaml")
                && let Ok(r) = p.strip_prefix(base)
            {
                out.push(r.to_string_lossy().into_owned());
            }
        }
    }
    let base = fixtures_dir();
    let mut out = Vec::new();
    walk(&base.join(rel), &base, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_readable() {
        let ro =
            load_yaml("argo-rollouts/argocd-health/Rollout/actions/testdata/rollout-step1.yaml");
        assert_eq!(ro["kind"], "Rollout");
        assert!(!yaml_files_under("argo-rollouts/info-testdata").is_empty());
    }
}
