//! Panes: one folder each, registered in [`registry`]. The app, the keymap loader and the
//! tests iterate over the registry; nothing else names a pane. A pane declares what it reads
//! as data ([`Pane::sources`]), turns store snapshots into its view model when they change
//! (`update`, which only reads), draws that model (`render`, which only reads it), and turns
//! actions into replies (a toast, a focus change, or an action plan for the executor). The
//! machinery panes share is the [`kit`].

pub mod backups;
pub mod breakers;
pub mod clusters;
pub mod drift;
pub mod hpa;
pub mod kit;
pub mod rollouts;

use std::collections::BTreeMap;
use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::clock::Clock;
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::exec::ActionPlan;
use crate::keymap::{ActionCall, Keymap};
use crate::source::SourceSpec;
use crate::theme::Theme;

/// The panes, in tab order. Adding a pane is one line here (plus its folder and keymap
/// section).
#[must_use]
pub fn registry() -> Vec<Box<dyn Pane>> {
    vec![
        Box::new(clusters::ClustersPane::default()),
        Box::new(rollouts::RolloutsPane::default()),
        Box::new(hpa::HpaPane::default()),
        Box::new(breakers::BreakersPane::default()),
        Box::new(drift::DriftPane::default()),
        Box::new(backups::BackupsPane::default()),
    ]
}

/// Every add-on API the registered panes read, for the Clusters pane.
#[must_use]
pub fn addons(panes: &[Box<dyn Pane>]) -> Vec<AddonSpec> {
    let mut out: Vec<AddonSpec> = Vec::new();
    for a in panes.iter().flat_map(|p| p.addons()) {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

/// An add-on API (a CRD group a pane reads), as the Clusters pane lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddonSpec {
    /// Two letters for the ADD-ONS column (`RO`).
    pub short: &'static str,
    /// The product (`Argo Rollouts`).
    pub name: &'static str,
    /// A resource whose presence means it is installed: (plural, group).
    pub resource: (&'static str, &'static str),
}

/// Which clusters and namespace the panes show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The focused context (Enter on a cluster row, or `:ctx`).
    pub focus: Option<String>,
    /// Show every watched cluster (the default) rather than only the focused one.
    pub all_clusters: bool,
    /// Only this namespace (`-n`, `:ns`), or all.
    pub namespace: Option<String>,
}

impl Scope {
    #[must_use]
    pub fn includes_cluster(&self, context: &str) -> bool {
        self.all_clusters || self.focus.as_deref().is_none_or(|f| f == context)
    }

    #[must_use]
    pub fn includes_namespace(&self, ns: &str) -> bool {
        self.namespace.as_deref().is_none_or(|n| n == ns)
    }
}

/// Short names for contexts in narrow columns: the prefix every watched context shares (up to
/// a separator) is dropped, so `demo-us-east`/`demo-eu-west` show as `us-east`/`eu-west` and
/// `gke_acme_us-central1_prod`/`gke_acme_europe-west1_prod` keep what tells them apart.
#[must_use]
pub fn short_context_names(contexts: &[String]) -> std::collections::HashMap<String, String> {
    let mut prefix_len = 0;
    if contexts.len() > 1 {
        let first = &contexts[0];
        let common = contexts[1..].iter().fold(first.len(), |n, c| {
            first
                .bytes()
                .zip(c.bytes())
                .take(n)
                .take_while(|(a, b)| a == b)
                .count()
        });
        // Cut after the last separator inside the common part (never inside a character).
        let mut common = common;
        while !first.is_char_boundary(common) {
            common -= 1;
        }
        prefix_len = first[..common]
            .rfind(['-', '_', '.', '/', ':'])
            .map_or(0, |i| i + 1);
    }
    contexts
        .iter()
        .map(|c| {
            let short = &c[prefix_len.min(c.len())..];
            let short = if short.is_empty() { c.as_str() } else { short };
            (c.clone(), short.to_string())
        })
        .collect()
}

/// Something wrong in a cluster, for the Clusters pane's roll-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub cluster: String,
    /// 1 = warning, 2 = critical.
    pub severity: u8,
    pub text: String,
}

/// What a pane reads when it updates.
pub struct ViewCtx<'a> {
    pub clusters: &'a [Arc<ClusterHandle>],
    pub scope: &'a Scope,
    pub clock: Clock,
    pub config: &'a Config,
    /// Problems reported by the other panes, by cluster.
    pub problems: &'a BTreeMap<String, Vec<Problem>>,
    /// Every registered pane's add-on APIs.
    pub addons: &'a [AddonSpec],
    /// The fleet metrics endpoint's last answer (`[fleet]` in config), if one is configured.
    pub fleet: Option<&'a crate::source::fleet::FleetSnapshot>,
}

/// What a pane reports about itself, computed when it updates (never per frame).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// A short badge for the tab bar (`2!` when rows need a human).
    pub badge: Option<String>,
    /// Problems for the Clusters pane's roll-up.
    pub problems: Vec<Problem>,
    /// Rows that need a human.
    pub attention: usize,
}

/// What a pane needs to draw.
pub struct RenderCtx<'a> {
    pub theme: &'a Theme,
    pub clock: Clock,
    pub focused: bool,
    pub keymap: &'a Keymap,
}

/// A pane's answer to an action.
#[derive(Debug)]
pub enum Reply {
    /// Not this pane's action: let the app try.
    Unhandled,
    Handled,
    /// Tell the user something (errors for disabled actions, "nothing selected" …).
    Info(String),
    Warn(String),
    /// Focus this cluster in every pane.
    FocusCluster(String),
    /// Ask the executor (through the confirm dialog) to carry this out.
    Plan(Box<ActionPlan>),
    /// Ask the user for arguments on the status line, then run an action with them.
    Prompt(Prompt),
}

/// A question on the status line whose answer completes an action: `scale` asks for the
/// replicas, then runs `scale N` on the same row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What is asked (`replicas for shop/web (now 3)`).
    pub label: String,
    /// Run with the answer's words appended to its arguments.
    pub action: ActionCall,
    /// The answer already filled in.
    pub initial: String,
}

/// A pane.
pub trait Pane {
    /// Stable id, used by `:pane`, `kdeck open` and in config.
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// The keymap layer for the pane's current view (a detail view may have its own).
    fn layer(&self) -> &'static str;
    /// Every keymap layer the pane uses, with the action names each accepts.
    fn layers(&self) -> &'static [(&'static str, &'static [&'static str])];
    /// Add-on APIs this pane's data comes from, for the Clusters pane.
    fn addons(&self) -> &'static [AddonSpec] {
        &[]
    }
    /// Everything the pane reads, as data: kinds on every cluster, and what an open view
    /// needs. The app starts and stops sources to match; reading never starts one.
    fn sources(&self) -> Vec<SourceSpec>;
    /// Recomputes the view model from store snapshots if anything it reads changed.
    fn update(&mut self, ctx: &ViewCtx);
    /// Draws the view model; reads it only.
    fn render(&self, frame: &mut Frame, area: Rect, ctx: &RenderCtx);
    fn on_action(&mut self, action: &ActionCall, ctx: &ViewCtx) -> Reply;
    /// Opens the detail view of the object named `name` once it appears
    /// (`kdeck open PANE NAME`).
    fn open_named(&mut self, name: &str, _namespace: Option<&str>) -> Reply {
        Reply::Warn(format!(
            "{}: this pane has no detail view ({name})",
            self.id()
        ))
    }
    /// Badge and problems, as of the last update.
    fn summary(&self) -> &Summary;
    /// The row filter (`/`).
    fn filter(&self) -> &str;
    fn set_filter(&mut self, filter: &str);
    /// Whether the pane consumes other panes' problems (it is updated after them).
    fn uses_problems(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::short_context_names;

    #[test]
    fn context_names_lose_their_shared_prefix() {
        let n = short_context_names(&["demo-us-east".into(), "demo-eu-west".into()]);
        assert_eq!(n["demo-us-east"], "us-east");
        let n = short_context_names(&[
            "gke_acme_us-central1_prod".into(),
            "gke_acme_europe-west1_prod".into(),
        ]);
        assert_eq!(n["gke_acme_us-central1_prod"], "us-central1_prod");
        let n = short_context_names(&["prod".into()]);
        assert_eq!(n["prod"], "prod");
        let n = short_context_names(&["a".into(), "a-b".into()]);
        assert_eq!(n["a"], "a");
        // Names sharing only part of a multi-byte character.
        let n = short_context_names(&["本番-東京".into(), "本番-大阪".into(), "本".into()]);
        assert_eq!(n["本番-東京"], "本番-東京");
        let n = short_context_names(&["本番-東京".into(), "本番-大阪".into()]);
        assert_eq!(n["本番-大阪"], "大阪");
        // 京 and 亜 share their first two bytes: the cut must not land between them.
        let n = short_context_names(&["東京".into(), "東亜".into()]);
        assert_eq!(n["東亜"], "東亜");
    }
}
