//! The kubeconfig the demo writes: one cluster, user and context per simulated cluster
//! (context named after the profile, e.g. `demo-us-east`; the first is current), plus a
//! shared `demo-viewer` user for read-only tests (`kubectl --user demo-viewer`). Each cluster
//! carries the run's CA, each user the run's token; the file is the owner's only.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;

use super::api::authz::{ADMIN, VIEWER};
use super::tokens::Tokens;

/// One context of the kubeconfig.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Cluster and context name.
    pub name: String,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
}

/// The kubeconfig user of a cluster's context (the run's admin token).
#[must_use]
pub fn admin_user(cluster: &str) -> String {
    format!("{ADMIN}@{cluster}")
}

/// A YAML double-quoted scalar (JSON string escaping is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Renders the kubeconfig as YAML; `ca_pem` is the CA the servers' certificate chains to.
#[must_use]
pub fn render(entries: &[Entry], tokens: &Tokens, ca_pem: &str) -> String {
    let ca_data = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut out = String::from("apiVersion: v1\nkind: Config\npreferences: {}\n");
    let current = entries.first().map_or("", |e| e.name.as_str());
    let _ = writeln!(out, "current-context: {}", quoted(current));
    out.push_str("clusters:\n");
    for e in entries {
        let _ = write!(
            out,
            "- name: {}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n",
            quoted(&e.name),
            quoted(&e.server),
            quoted(&ca_data)
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
        user(&admin_user(&e.name), &tokens.admin);
    }
    user(VIEWER, &tokens.viewer);
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

/// Writes the kubeconfig atomically, readable by the owner only since it holds tokens.
pub fn write(path: &Path, entries: &[Entry], tokens: &Tokens, ca_pem: &str) -> std::io::Result<()> {
    write_private(path, render(entries, tokens, ca_pem).as_bytes())
}

/// Writes a secret file atomically (a new temp file, then rename), mode 0600 from the start;
/// creates the parent directory. The temp file is created exclusively, so a link planted at
/// its name in a shared directory is never followed.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map_or_else(|| "kubeconfig".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    // A leftover of a crashed run with the same pid (or anything planted there) goes first.
    let _ = std::fs::remove_file(&tmp);
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_context_per_cluster() {
        let tokens = Tokens {
            admin: "adm1n".into(),
            viewer: "v1ewer".into(),
            control: "c0ntrol".into(),
        };
        let y = render(
            &[
                Entry {
                    name: "demo-us-east".into(),
                    server: "https://127.0.0.1:7701".into(),
                },
                Entry {
                    name: "demo-eu-west".into(),
                    server: "https://127.0.0.1:7703".into(),
                },
            ],
            &tokens,
            "PEM",
        );
        assert!(y.contains("current-context: \"demo-us-east\"\n"));
        // base64("PEM") = "UEVN"
        assert!(y.contains(
            "    server: \"https://127.0.0.1:7703\"\n    certificate-authority-data: \"UEVN\"\n"
        ));
        assert!(y.contains("- name: \"demo-admin@demo-eu-west\"\n  user:\n    token: \"adm1n\"\n"));
        assert!(
            y.contains("    cluster: \"demo-eu-west\"\n    user: \"demo-admin@demo-eu-west\"\n")
        );
        assert!(y.contains("- name: \"demo-viewer\"\n  user:\n    token: \"v1ewer\"\n"));
        assert!(
            !y.contains("c0ntrol"),
            "the control token is not a kubeconfig user"
        );
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_are_private_and_never_follow_a_planted_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile_dir();
        let path = dir.join("kc");
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let tmp = dir.join(format!(".kc.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        write_private(&path, b"secret").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "secret");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A fresh directory under the system temp dir (`tempfile` is a test-feature dependency).
    fn tempfile_dir() -> std::path::PathBuf {
        let mut name = [0u8; 8];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut name)
            .unwrap();
        let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("kdeck-demo-kc-{hex}"));
        std::fs::create_dir(&dir).unwrap();
        dir
    }
}
