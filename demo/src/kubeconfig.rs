//! The kubeconfig the demo writes: one cluster, user and context per simulated cluster
//! (context named after the profile, e.g. `demo-us-east`; the first is current), plus a
//! shared `demo-viewer` user for read-only tests (`kubectl --user demo-viewer`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::api::authz::{ADMIN, VIEWER};

/// One context of the kubeconfig.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Cluster and context name.
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub server: String,
}

/// The kubeconfig user of a cluster's context (token `demo-admin`).
#[must_use]
pub fn admin_user(cluster: &str) -> String {
    format!("{ADMIN}@{cluster}")
}

/// A YAML double-quoted scalar (JSON string escaping is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Renders the kubeconfig as YAML.
#[must_use]
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::from("apiVersion: v1\nkind: Config\npreferences: {}\n");
    let current = entries.first().map_or("", |e| e.name.as_str());
    let _ = writeln!(out, "current-context: {}", quoted(current));
    out.push_str("clusters:\n");
    for e in entries {
        let _ = write!(
            out,
            "- name: {}\n  cluster:\n    server: {}\n",
            quoted(&e.name),
            quoted(&e.server)
        );
    }
    out.push_str("users:\n");
    let mut user = |name: &str, token: &str| {
        let _ = write!(
            out,
            "- name: {}\n  user:\n    token: {}\n",
            quoted(name),
            quoted(token)
        );
    };
    for e in entries {
        user(&admin_user(&e.name), ADMIN);
    }
    user(VIEWER, VIEWER);
    out.push_str("contexts:\n");
    for e in entries {
        let _ = write!(
            out,
            "- name: {}\n  context:\n    cluster: {}\n    user: {}\n",
            quoted(&e.name),
            quoted(&e.name),
            quoted(&admin_user(&e.name))
        );
    }
    out
}

/// Writes the kubeconfig atomically (temp file, then rename), readable by the owner only
/// since it holds tokens; creates the parent directory.
pub fn write(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map_or_else(|| "kubeconfig".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(render(entries).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_context_per_cluster() {
        let y = render(&[
            Entry {
                name: "demo-us-east".into(),
                server: "http://127.0.0.1:7701".into(),
            },
            Entry {
                name: "demo-eu-west".into(),
                server: "http://127.0.0.1:7703".into(),
            },
        ]);
        assert!(y.contains("current-context: \"demo-us-east\"\n"));
        assert!(y.contains("    server: \"http://127.0.0.1:7703\"\n"));
        assert!(
            y.contains("- name: \"demo-admin@demo-eu-west\"\n  user:\n    token: \"demo-admin\"\n")
        );
        assert!(
            y.contains("    cluster: \"demo-eu-west\"\n    user: \"demo-admin@demo-eu-west\"\n")
        );
        assert!(y.contains("- name: \"demo-viewer\""));
    }
}
