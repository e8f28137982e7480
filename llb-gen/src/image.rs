//! The image config returned with a build result (`containerimage.config`): the base image's
//! config with the spec applied. Fields this crate does not set (OnBuild, Volumes…) pass
//! through untouched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::platform::Platform;

/// An OCI/Docker image config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture; current BuildKit refuses a config without it.
    #[serde(default)]
    pub architecture: String,
    /// Operating system; current BuildKit refuses a config without it.
    #[serde(default)]
    pub os: String,
    /// Architecture variant, e.g. `v7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The runtime settings.
    #[serde(default)]
    pub config: ContainerConfig,
    /// One entry per layer, saying what made it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Everything else (rootfs, created, author…), kept as it came.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The `config` object of an image config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Exec-form entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Exec-form default command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// User to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Image labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Other runtime fields (ExposedPorts, Healthcheck, StopSignal…), kept as they came.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One history entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// What made the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The entry made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
    /// Other fields (created, author), kept as they came.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// What the spec sets on top of the base image.
#[derive(Clone, Debug, Default)]
pub struct ConfigChanges {
    /// Variables added or replaced, in order.
    pub env: Vec<(String, String)>,
    /// Replaces the entrypoint and, as in a Dockerfile, clears the inherited cmd.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the cmd.
    pub cmd: Option<Vec<String>>,
    /// Replaces the user.
    pub user: Option<String>,
    /// Replaces the working directory.
    pub workdir: Option<String>,
    /// Labels added or replaced.
    pub labels: Vec<(String, String)>,
    /// Ports added, keyed as Docker keys them (`8080/tcp`).
    pub exposed_ports: Vec<String>,
    /// Replaces the healthcheck.
    pub healthcheck: Option<Healthcheck>,
    /// Replaces the stop signal.
    pub stop_signal: Option<String>,
    /// One entry per layer the spec adds.
    pub history: Vec<String>,
}

/// Docker's `Healthcheck` (durations in nanoseconds; zero means Docker's default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD-SHELL", script]`, `["CMD", argv…]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Time between checks.
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: u64,
    /// Time a check may take.
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: u64,
    /// Grace time after start.
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: u64,
    /// Failures in a row that make the container unhealthy.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The PATH a container gets when its image sets none (BuildKit's and Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ImageConfig {
    /// Parses the JSON config BuildKit's ResolveImageConfig returns.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The config as JSON bytes (keys in a stable order).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An empty config for `platform`, as for an image `FROM scratch`.
    pub fn scratch(platform: &Platform) -> Self {
        Self::default().for_platform(platform)
    }

    /// The platform the image is for; `None` when the config does not say.
    pub fn platform(&self) -> Option<Platform> {
        (!self.os.is_empty() && !self.architecture.is_empty()).then(|| Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|variant| !variant.is_empty()),
        })
    }

    /// The value of environment variable `name`, if set.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.config
            .env
            .iter()
            .flatten()
            .find_map(|entry| entry.strip_prefix(name)?.strip_prefix('='))
    }

    /// This config with `changes` applied, Dockerfile-style.
    pub fn apply(mut self, changes: &ConfigChanges) -> Self {
        let config = &mut self.config;
        let env = config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|entry| entry.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        for (name, value) in &changes.env {
            let entry = format!("{name}={value}");
            match env
                .iter_mut()
                .find(|e| e.split('=').next() == Some(name.as_str()))
            {
                Some(existing) => *existing = entry,
                None => env.push(entry),
            }
        }
        if let Some(entrypoint) = &changes.entrypoint {
            config.entrypoint = Some(entrypoint.clone());
            config.cmd = None;
        }
        if let Some(cmd) = &changes.cmd {
            config.cmd = Some(cmd.clone());
        }
        if let Some(user) = &changes.user {
            config.user = Some(user.clone());
        }
        if let Some(workdir) = &changes.workdir {
            config.working_dir = Some(workdir.clone());
        }
        if !changes.labels.is_empty() {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(changes.labels.iter().cloned());
        }
        if !changes.exposed_ports.is_empty() {
            let ports = config
                .other
                .entry("ExposedPorts".to_owned())
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(ports) = ports {
                for port in &changes.exposed_ports {
                    ports.insert(port.clone(), Value::Object(Default::default()));
                }
            }
        }
        if let Some(healthcheck) = &changes.healthcheck {
            let value = serde_json::to_value(healthcheck).unwrap_or_default();
            config.other.insert("Healthcheck".to_owned(), value);
        }
        if let Some(signal) = &changes.stop_signal {
            config
                .other
                .insert("StopSignal".to_owned(), Value::String(signal.clone()));
        }
        self.history
            .extend(changes.history.iter().map(|created_by| History {
                created_by: Some(created_by.clone()),
                comment: Some("flotilla".to_owned()),
                ..Default::default()
            }));
        self
    }

    /// This config, declared for `platform` (current BuildKit requires os and architecture).
    pub fn for_platform(mut self, platform: &Platform) -> Self {
        self.os = platform.os.clone();
        self.architecture = platform.architecture.clone();
        self.variant = platform.variant.clone();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin","LANG=C"],"Cmd":["bash"],"Healthcheck":{"Test":["NONE"]}},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"debootstrap","created":"2026-01-01T00:00:00Z"}]}"#;

    #[test]
    fn applies_spec_on_base_keeping_what_it_does_not_know() {
        let base = ImageConfig::from_json(DEBIAN.as_bytes()).unwrap();
        let changes = ConfigChanges {
            env: vec![
                ("LANG".into(), "C.UTF-8".into()),
                ("RUST_LOG".into(), "info".into()),
            ],
            entrypoint: Some(vec!["hello".into()]),
            history: vec!["COPY hello -> /usr/local/bin/hello".into()],
            ..Default::default()
        };
        let config = base.apply(&changes);
        assert_eq!(config.history[1].comment.as_deref(), Some("flotilla"));
        assert_eq!(
            config.config.env.as_deref().unwrap(),
            ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "RUST_LOG=info"]
        );
        assert_eq!(config.config.entrypoint.as_deref().unwrap(), ["hello"]);
        assert_eq!(
            config.config.cmd, None,
            "ENTRYPOINT resets the inherited CMD"
        );
        assert!(config.config.other.contains_key("Healthcheck"));
        assert!(config.other.contains_key("rootfs"));
        assert_eq!(config.history.len(), 2);
        let json: Value = serde_json::from_slice(&config.to_json()).unwrap();
        assert_eq!(json["config"]["Healthcheck"]["Test"][0], "NONE");
        assert_eq!(json["history"][0]["created"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn cmd_alone_keeps_the_entrypoint_and_path_gets_a_default() {
        let changes = ConfigChanges {
            cmd: Some(vec!["serve".into()]),
            ..Default::default()
        };
        let mut base = ImageConfig::default();
        base.config.entrypoint = Some(vec!["tini".into()]);
        let config = base.apply(&changes).for_platform(&Platform::linux("arm64"));
        assert_eq!(config.config.entrypoint.as_deref().unwrap(), ["tini"]);
        assert_eq!(config.config.cmd.as_deref().unwrap(), ["serve"]);
        assert_eq!(config.env_var("PATH"), Some(DEFAULT_PATH));
        assert_eq!(
            (config.os.as_str(), config.architecture.as_str()),
            ("linux", "arm64")
        );
    }

    #[test]
    fn sets_ports_healthcheck_stop_signal_and_labels() {
        let mut base = ImageConfig::from_json(DEBIAN.as_bytes()).unwrap();
        base.config
            .other
            .insert("ExposedPorts".into(), serde_json::json!({"22/tcp": {}}));
        base.config.labels = Some(BTreeMap::from([("a".into(), "base".into())]));
        let changes = ConfigChanges {
            labels: vec![("a".into(), "spec".into()), ("b".into(), "spec".into())],
            exposed_ports: vec!["8080/tcp".into(), "53/udp".into()],
            healthcheck: Some(Healthcheck {
                test: vec!["CMD-SHELL".into(), "true".into()],
                interval: 30_000_000_000,
                retries: 3,
                ..Default::default()
            }),
            stop_signal: Some("SIGQUIT".into()),
            ..Default::default()
        };
        let json: Value = serde_json::from_slice(&base.apply(&changes).to_json()).unwrap();
        let config = &json["config"];
        assert_eq!(
            config["ExposedPorts"],
            serde_json::json!({"22/tcp": {}, "53/udp": {}, "8080/tcp": {}})
        );
        assert_eq!(
            config["Healthcheck"],
            serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 30_000_000_000u64, "Retries": 3})
        );
        assert_eq!(config["StopSignal"], "SIGQUIT");
        assert_eq!(
            config["Labels"],
            serde_json::json!({"a": "spec", "b": "spec"})
        );
    }
}
