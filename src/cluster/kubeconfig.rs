//! Reading kubeconfig files and choosing contexts — all before the terminal is touched, so a
//! bad file or an unknown context is one clear line on stderr and a non-zero exit.

use std::path::Path;

use kube::config::{ExecInteractiveMode, KubeConfigOptions, Kubeconfig};

/// A context kdeck will watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextSpec {
    pub name: String,
    pub cluster: String,
    pub user: String,
    pub namespace: Option<String>,
    pub server: String,
    /// The cluster entry turns TLS verification off (`insecure-skip-tls-verify`).
    pub insecure: bool,
}

/// Why kdeck cannot start on a kubeconfig.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error(
        "no kubeconfig found ($KUBECONFIG is unset and ~/.kube/config does not exist); \
         to try kdeck without a cluster, run: kdeck --demo"
    )]
    NotFound,
    #[error("cannot use kubeconfig {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error(
        "kubeconfig {origin} has no contexts; to try kdeck without a cluster, run: kdeck --demo"
    )]
    Empty { origin: String },
    #[error("unknown context {name:?} (available: {available})")]
    UnknownContext { name: String, available: String },
    #[error("kubeconfig has no current-context; pass --context NAME (available: {available})")]
    NoCurrentContext { available: String },
    #[error("context {context:?}: {message}")]
    Client { context: String, message: String },
}

/// Where a kubeconfig came from, for messages.
#[must_use]
pub fn origin(path: Option<&Path>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => match std::env::var("KUBECONFIG") {
            Ok(v) if !v.is_empty() => v,
            _ => "~/.kube/config".into(),
        },
    }
}

/// Reads `path`, or `$KUBECONFIG` (several files merged, first wins), or `~/.kube/config`.
/// Exec credential plugins are forced non-interactive, so their prompts and stderr can
/// never smear the screen.
pub fn load(path: Option<&Path>) -> Result<Kubeconfig, KubeconfigError> {
    let origin = origin(path);
    let result = match path {
        Some(p) => Kubeconfig::read_from(p),
        None => {
            let env_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
            let default_exists = directories::BaseDirs::new()
                .is_some_and(|b| b.home_dir().join(".kube/config").exists());
            if !env_set && !default_exists {
                return Err(KubeconfigError::NotFound);
            }
            Kubeconfig::read()
        }
    };
    let mut kc = result.map_err(|e| KubeconfigError::Invalid {
        origin: origin.clone(),
        message: crate::source::watch::short_error(&e),
    })?;
    for user in &mut kc.auth_infos {
        if let Some(exec) = user.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
            exec.interactive_mode = Some(ExecInteractiveMode::Never);
        }
    }
    if kc.contexts.is_empty() {
        return Err(KubeconfigError::Empty { origin });
    }
    Ok(kc)
}

/// The contexts to watch: those named, all (`--all-contexts`), or the current one.
pub fn select(
    kc: &Kubeconfig,
    requested: &[String],
    all: bool,
) -> Result<Vec<ContextSpec>, KubeconfigError> {
    let available = || {
        kc.contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let names: Vec<String> = if all {
        kc.contexts.iter().map(|c| c.name.clone()).collect()
    } else if !requested.is_empty() {
        requested.to_vec()
    } else {
        match &kc.current_context {
            Some(c) if !c.is_empty() => vec![c.clone()],
            _ => {
                return Err(KubeconfigError::NoCurrentContext {
                    available: available(),
                });
            }
        }
    };
    let mut out = Vec::new();
    for name in names {
        let Some(ctx) = kc.contexts.iter().find(|c| c.name == name) else {
            return Err(KubeconfigError::UnknownContext {
                name,
                available: available(),
            });
        };
        let inner = ctx.context.clone().unwrap_or_default();
        let cluster = kc
            .clusters
            .iter()
            .find(|c| c.name == inner.cluster)
            .and_then(|c| c.cluster.as_ref());
        let server = cluster.and_then(|c| c.server.clone()).unwrap_or_default();
        let insecure = cluster.and_then(|c| c.insecure_skip_tls_verify) == Some(true);
        if !out.iter().any(|c: &ContextSpec| c.name == name) {
            out.push(ContextSpec {
                name,
                cluster: inner.cluster,
                user: inner.user.unwrap_or_default(),
                namespace: inner.namespace,
                server,
                insecure,
            });
        }
    }
    Ok(out)
}

/// How long a credential plugin may take before the context is given up (an SSO plugin
/// waiting for a browser that will never open, over SSH).
pub const CREDENTIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The exec credential plugin of a context's user, if it has one.
fn exec_of<'a>(kc: &'a Kubeconfig, context: &str) -> Option<&'a kube::config::ExecConfig> {
    let user = kc
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .user
        .clone()?;
    kc.auth_infos
        .iter()
        .find(|a| a.name == user)?
        .auth_info
        .as_ref()?
        .exec
        .as_ref()
}

/// Why a client could not be built, in words that never carry the plugin's arguments or
/// environment (kube's own message prints the whole command line, environment included).
fn client_error(e: &kube::Error, exec: Option<&kube::config::ExecConfig>) -> String {
    use kube::client::AuthError;
    let plugin = exec
        .and_then(|x| x.command.as_deref())
        .map(|c| {
            std::path::Path::new(c)
                .file_name()
                .map_or_else(|| c.to_string(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "the credential plugin".into());
    // Anything the kubeconfig passes the plugin is redacted from what it printed.
    let secrets: Vec<String> = exec
        .map(|x| {
            let args = x.args.iter().flatten().cloned();
            let env = x
                .env
                .iter()
                .flatten()
                .filter_map(|e| e.get("value").cloned());
            args.chain(env).filter(|v| v.len() >= 3).collect()
        })
        .unwrap_or_default();
    let redact = |text: &str| {
        let mut t = text.to_string();
        for s in &secrets {
            t = t.replace(s.as_str(), "…");
        }
        t
    };
    match e {
        kube::Error::Auth(AuthError::AuthExecRun { out, .. }) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
            let code = out
                .status
                .code()
                .map_or_else(|| "a signal".to_string(), |c| format!("exit code {c}"));
            match first {
                Some(line) => format!(
                    "credential plugin {plugin} failed ({code}): {}",
                    crate::widgets::text::ellipsize(&redact(line), 160)
                ),
                None => format!("credential plugin {plugin} failed ({code})"),
            }
        }
        kube::Error::Auth(AuthError::AuthExecStart(io)) => {
            format!("cannot run credential plugin {plugin}: {io}")
        }
        kube::Error::Auth(AuthError::AuthExecParse(_) | AuthError::ExecPluginFailed) => {
            format!("credential plugin {plugin} gave no usable credential")
        }
        other => redact(&crate::source::watch::short_error(other)),
    }
}

/// A client for one context. TLS verification stays on. Building it may run the context's
/// credential plugin: that happens off the async threads and is given up after
/// [`CREDENTIAL_TIMEOUT`].
pub async fn client(kc: &Kubeconfig, context: &str) -> Result<kube::Client, KubeconfigError> {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let exec = exec_of(kc, context).cloned();
    let err = |message: String| KubeconfigError::Client {
        context: context.to_string(),
        message,
    };
    let mut config = kube::Config::from_custom_kubeconfig(kc.clone(), &options)
        .await
        .map_err(|e| err(crate::source::watch::short_error(&e)))?;
    config.connect_timeout = Some(std::time::Duration::from_secs(5));
    // kube would re-send any request answered 429/503/504, up to 15 times over minutes: a
    // mutating request must never be sent again behind the executor's back (a 504 may have
    // been applied). Watches and probes have their own backoff.
    config.default_retry = false;
    let build = tokio::task::spawn_blocking(move || kube::Client::try_from(config));
    match tokio::time::timeout(CREDENTIAL_TIMEOUT, build).await {
        Err(_) => Err(err(format!(
            "the credential plugin did not finish within {}s",
            CREDENTIAL_TIMEOUT.as_secs()
        ))),
        Ok(Err(join)) => Err(err(format!("building the client failed: {join}"))),
        Ok(Ok(result)) => result.map_err(|e| err(client_error(&e, exec.as_ref()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = r"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: { server: 'https://a.example:6443' }
- name: cb
  cluster: { server: 'https://b.example:6443' }
users:
- name: ua
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: get-token
contexts:
- name: a
  context: { cluster: ca, user: ua, namespace: shop }
- name: b
  context: { cluster: cb, user: ua }
";

    fn kc() -> Kubeconfig {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        std::fs::write(&p, KC).unwrap();
        load(Some(&p)).unwrap()
    }

    #[test]
    fn selects_current_named_or_all() {
        let kc = kc();
        let cur = select(&kc, &[], false).unwrap();
        assert_eq!(cur.len(), 1);
        assert_eq!(cur[0].name, "a");
        assert_eq!(cur[0].namespace.as_deref(), Some("shop"));
        assert_eq!(cur[0].server, "https://a.example:6443");
        assert_eq!(select(&kc, &[], true).unwrap().len(), 2);
        let err = select(&kc, &["nope".into()], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown context \"nope\" (available: a, b)"
        );
    }

    #[test]
    fn exec_plugins_are_forced_non_interactive() {
        let kc = kc();
        let exec = kc.auth_infos[0]
            .auth_info
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap();
        assert_eq!(exec.interactive_mode, Some(ExecInteractiveMode::Never));
    }

    #[test]
    fn unreadable_files_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        std::fs::write(&p, "clusters: [ {").unwrap();
        let e = load(Some(&p)).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot use kubeconfig {}", p.display())),
            "{e}"
        );
        let e = load(Some(&dir.path().join("missing")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
