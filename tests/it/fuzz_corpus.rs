//! The fuzz targets' seed corpus (`fuzz/corpus/TARGET/*`) replayed through the same entry
//! points the fuzzers drive (`kdeck::fuzzing`), so every input that once crashed kdeck stays
//! fixed without a nightly toolchain; and every upstream object in `../shared/fixtures`
//! through the object decoder.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// A fuzz target: its corpus folder and its entry point.
type Target = (&'static str, fn(&[u8]));

#[test]
fn every_seed_of_every_target_runs_clean() {
    let targets: [Target; 6] = [
        ("decode_object", kdeck::fuzzing::decode_object),
        ("prometheus_answer", kdeck::fuzzing::prometheus_answer),
        ("kubeconfig", kdeck::fuzzing::kubeconfig),
        ("config_files", kdeck::fuzzing::config_files),
        ("command_line", kdeck::fuzzing::command_line),
        ("table_layout", kdeck::fuzzing::table_layout),
    ];
    for (name, run) in targets {
        for (path, data) in corpus(name) {
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{name}: {} crashes", path.display());
        }
    }
}

#[test]
fn every_upstream_fixture_object_decodes_without_a_panic() {
    let mut n = 0;
    // Objects, not CRDs (a few upstream CRD files are beyond the YAML reader anyway).
    for file in kdeck_demo::testing::support::yaml_files_under("")
        .into_iter()
        .filter(|f| !f.contains("/crds/") && !f.starts_with("crds/"))
    {
        for doc in kdeck_demo::testing::support::load_yaml_docs(&file) {
            let bytes = serde_json::to_vec(&doc).unwrap();
            kdeck::fuzzing::decode_object(&bytes);
            n += 1;
        }
    }
    assert!(n > 50, "only {n} fixture objects found");
}
