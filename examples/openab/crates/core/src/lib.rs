//! Configuration of the openab gateway, and which agent CLI it fronts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `/etc/openab/config.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the gateway listens.
    pub listen: SocketAddr,
    #[serde(default)]
    pub agent: AgentConfig,
    #[serde(default)]
    pub log: LogConfig,
}

/// The agent CLI; `OPENAB_AGENT_COMMAND` overrides `command`, so one config serves every image.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub json: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            json: false,
        }
    }
}

fn default_level() -> String {
    "info".to_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The agent command: the environment's choice, else the config's.
    pub fn agent_command(&self, from_env: Option<String>) -> Option<String> {
        from_env
            .filter(|command| !command.is_empty())
            .or_else(|| self.agent.command.clone())
    }
}

/// The first executable `command` on `path` (a `PATH` value), as a shell would find it.
pub fn which(command: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if command.contains('/') {
        return Some(PathBuf::from(command)).filter(|p| p.is_file());
    }
    path.split(':')
        .map(|dir| Path::new(dir).join(command))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_config() {
        let config: Config =
            toml::from_str("listen = \"0.0.0.0:8080\"\n[agent]\ncommand = \"claude\"\n").unwrap();
        assert_eq!(
            config.agent_command(Some("codex".into())).as_deref(),
            Some("codex")
        );
        assert_eq!(
            config.agent_command(Some(String::new())).as_deref(),
            Some("claude")
        );
    }
}
