//! Starts and stops sources from what the panes declare. The app calls [`reconcile`] after the
//! panes update: kinds are started once per cluster and kept; scoped watches and Prometheus
//! pollers run exactly while some pane declares them.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use super::set::SourceSet;
use super::spec::SourceSpec;

/// Remembers the last declaration, so an unchanged one costs a hash, not a walk of the sets.
#[derive(Debug, Default)]
pub struct SourceManager {
    last: Option<u64>,
}

impl SourceManager {
    /// Brings every cluster's sources in line with `specs`. `clusters` are (context, sources).
    pub fn reconcile<'a>(
        &mut self,
        clusters: impl IntoIterator<Item = (&'a str, &'a SourceSet)> + Clone,
        specs: &[SourceSpec],
    ) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        specs.hash(&mut h);
        for (ctx, set) in clusters.clone() {
            ctx.hash(&mut h);
            // A cluster whose Prometheus appeared must get its pollers.
            set.prometheus().is_some().hash(&mut h);
        }
        let digest = h.finish();
        if self.last == Some(digest) {
            return;
        }
        self.last = Some(digest);
        reconcile(clusters, specs);
    }
}

/// Starts what `specs` declare and stops scoped watches and pollers no longer declared.
pub fn reconcile<'a>(
    clusters: impl IntoIterator<Item = (&'a str, &'a SourceSet)>,
    specs: &[SourceSpec],
) {
    for (context, set) in clusters {
        let mut scoped_keep: HashSet<&str> = HashSet::new();
        let mut prom_keep: HashSet<&str> = HashSet::new();
        for spec in specs {
            match spec {
                SourceSpec::Kind(k) => (k.start)(set),
                SourceSpec::Scoped { cluster, watch } if cluster == context => {
                    (watch.kind.start_scoped)(set, watch);
                    scoped_keep.insert(&watch.key);
                }
                SourceSpec::Prom { cluster, spec } if cluster == context => {
                    set.start_prom(spec);
                    prom_keep.insert(&spec.key);
                }
                SourceSpec::Scoped { .. } | SourceSpec::Prom { .. } => {}
            }
        }
        set.retain_scoped(&scoped_keep);
        set.retain_prom(&prom_keep);
    }
}
