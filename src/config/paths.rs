//! Where kdeck keeps its files: the config dir (config.toml, user keymaps and themes) and the
//! state dir (log file, audit log). Both follow the platform conventions of `directories`;
//! `KDECK_CONFIG` moves the config dir and `KDECK_STATE` the state dir (tests and
//! multi-profile users use them).

use std::path::PathBuf;

/// Resolved locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
}

impl Paths {
    /// From the environment, falling back to the platform directories, then to `./.kdeck`.
    #[must_use]
    pub fn from_env() -> Self {
        let project = directories::ProjectDirs::from("dev", "kdeck", "kdeck");
        let config_dir = std::env::var_os("KDECK_CONFIG")
            .map(PathBuf::from)
            .or_else(|| project.as_ref().map(|p| p.config_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from(".kdeck"));
        let state_dir = std::env::var_os("KDECK_STATE")
            .map(PathBuf::from)
            .or_else(|| {
                // With KDECK_CONFIG set and no KDECK_STATE, keep everything in one place.
                std::env::var_os("KDECK_CONFIG").map(|c| PathBuf::from(c).join("state"))
            })
            .or_else(|| {
                project.as_ref().map(|p| {
                    p.state_dir()
                        .unwrap_or_else(|| p.data_local_dir())
                        .to_path_buf()
                })
            })
            .unwrap_or_else(|| PathBuf::from(".kdeck/state"));
        Self {
            config_dir,
            state_dir,
        }
    }

    #[must_use]
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    #[must_use]
    pub fn audit_log(&self) -> PathBuf {
        self.state_dir.join("audit.log")
    }

    #[must_use]
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("kdeck.log")
    }

    #[must_use]
    pub fn user_keymap(&self, name: &str) -> PathBuf {
        self.config_dir.join("keymaps").join(format!("{name}.toml"))
    }

    #[must_use]
    pub fn user_theme(&self, name: &str) -> PathBuf {
        self.config_dir.join("themes").join(format!("{name}.toml"))
    }
}
