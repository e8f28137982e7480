//! The image config returned with a build result (`containerimage.config`): the base image's
//! config with the spec applied. Fields this crate does not set (OnBuild, Volumes…) pass
//! through untouched.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
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
    /// When the image says it was made: the config's `created` and that of the history entries
    /// added here, as docker/dockerfile does. `None` keeps the base's `created` and dates no
    /// new entry.
    pub created: Option<SourceDateEpoch>,
}

/// The build arg that buildx fills from the client's `SOURCE_DATE_EPOCH` variable.
pub const SOURCE_DATE_EPOCH_ARG: &str = "SOURCE_DATE_EPOCH";
/// 9999-12-31T23:59:59Z, the last instant an RFC 3339 time (a four-digit year) can hold, and
/// so the last `created` BuildKit reads.
const MAX_EPOCH: u64 = 253_402_300_799;

/// `SOURCE_DATE_EPOCH` (reproducible-builds.org): whole seconds since 1970-01-01 UTC, the
/// instant a reproducible build dates its image at, so that rebuilding one source gives one
/// config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceDateEpoch(u64);

impl SourceDateEpoch {
    /// Reads build arg `SOURCE_DATE_EPOCH`; unset or empty is `None`, as in BuildKit. It is
    /// read whether or not the spec declares it: it dates the image, it is no spec arg.
    pub fn from_build_args(build_args: &BTreeMap<String, String>) -> Result<Option<Self>, Error> {
        let Some(text) = build_args
            .get(SOURCE_DATE_EPOCH_ARG)
            .filter(|text| !text.is_empty())
        else {
            return Ok(None);
        };
        let invalid = |message: String| Error::InvalidOption {
            option: format!("build-arg:{SOURCE_DATE_EPOCH_ARG}"),
            message,
        };
        let seconds: u64 = text.parse().map_err(|_| {
            invalid(format!(
                "`{text}` is not a Unix time: a whole number of seconds since 1970-01-01 UTC, as `date +%s` prints"
            ))
        })?;
        if seconds > MAX_EPOCH {
            return Err(invalid(format!(
                "`{text}` is after 9999-12-31T23:59:59Z ({MAX_EPOCH}), the last time an image config can hold"
            )));
        }
        Ok(Some(Self(seconds)))
    }

    /// The instant in RFC 3339, UTC, as image configs write it: `2021-01-01T00:00:00Z`.
    pub fn rfc3339(self) -> String {
        let (days, seconds) = (self.0 / 86_400, self.0 % 86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }
}

/// The Gregorian `(year, month, day)` that is `days` days after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Counted from 0000-03-01, so that a leap day ends its year; an era is 400 years.
    let days = days + 719_468;
    let (era, day_of_era) = (days / 146_097, days % 146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    (era * 400 + year_of_era + u64::from(month <= 2), month, day)
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

    /// The environment variables, name and value, in the config's order.
    pub fn env_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.config
            .env
            .iter()
            .flatten()
            .filter_map(|entry| entry.split_once('='))
    }

    /// This config with `changes` applied, Dockerfile-style.
    pub fn apply(mut self, changes: &ConfigChanges) -> Self {
        let config = &mut self.config;
        let env = config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|entry| entry.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        // Where each name is set (the first entry, should one repeat), so that a long env
        // is merged in one pass.
        let mut places: HashMap<String, usize> = HashMap::new();
        for (place, entry) in env.iter().enumerate() {
            let name = entry.split('=').next().unwrap_or_default();
            places.entry(name.to_owned()).or_insert(place);
        }
        for (name, value) in &changes.env {
            let entry = format!("{name}={value}");
            match places.get(name) {
                Some(&place) => env[place] = entry,
                None => {
                    places.insert(name.clone(), env.len());
                    env.push(entry);
                }
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
        // The base's history keeps its own dates (docker/dockerfile, BuildKit issue 4614).
        let created = changes
            .created
            .map(|epoch| ("created".to_owned(), Value::String(epoch.rfc3339())));
        self.other.extend(created.clone());
        self.history
            .extend(changes.history.iter().map(|created_by| History {
                created_by: Some(created_by.clone()),
                comment: Some("flotilla".to_owned()),
                other: created.clone().into_iter().collect(),
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

    fn epoch(text: &str) -> Result<Option<SourceDateEpoch>, Error> {
        SourceDateEpoch::from_build_args(&BTreeMap::from([(
            SOURCE_DATE_EPOCH_ARG.to_owned(),
            text.to_owned(),
        )]))
    }

    #[test]
    fn source_date_epoch_dates_the_config_and_the_new_history_only() {
        let mut base = ImageConfig::from_json(DEBIAN.as_bytes()).unwrap();
        base.other
            .insert("created".into(), "2026-01-01T00:00:00Z".into());
        let changes = ConfigChanges {
            history: vec!["WORKDIR /srv".into(), "COPY hello -> /bin/hello".into()],
            created: epoch("1609459200").unwrap(),
            ..Default::default()
        };
        let json: Value = serde_json::from_slice(&base.clone().apply(&changes).to_json()).unwrap();
        assert_eq!(json["created"], "2021-01-01T00:00:00Z");
        let dates: Vec<&Value> = json["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| &entry["created"])
            .collect();
        assert_eq!(
            dates,
            [
                "2026-01-01T00:00:00Z",
                "2021-01-01T00:00:00Z",
                "2021-01-01T00:00:00Z"
            ],
            "the base's entry keeps its date"
        );
        // Without it, the base's `created` stays and the new entries have none.
        let undated = ConfigChanges {
            created: None,
            ..changes
        };
        let json: Value = serde_json::from_slice(&base.apply(&undated).to_json()).unwrap();
        assert_eq!(json["created"], "2026-01-01T00:00:00Z");
        assert_eq!(json["history"][1].get("created"), None);
    }

    #[test]
    fn source_date_epoch_is_whole_seconds_written_in_rfc3339() {
        let rfc3339 = |text: &str| epoch(text).unwrap().unwrap().rfc3339();
        assert_eq!(rfc3339("0"), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339("951782400"), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339("1700000501"), "2023-11-14T22:21:41Z");
        assert_eq!(rfc3339("4107542399"), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339("4107542400"), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339("253402300799"), "9999-12-31T23:59:59Z");
        assert_eq!(epoch(""), Ok(None), "empty is unset");
        assert_eq!(SourceDateEpoch::from_build_args(&BTreeMap::new()), Ok(None));
    }

    #[test]
    fn a_bad_source_date_epoch_names_the_option_and_the_value() {
        let message = |text: &str| epoch(text).unwrap_err().to_string();
        assert_eq!(
            message("abc"),
            "option build-arg:SOURCE_DATE_EPOCH: `abc` is not a Unix time: a whole number of seconds since 1970-01-01 UTC, as `date +%s` prints"
        );
        for bad in ["-1", "1.5", " 1", "1e9"] {
            assert!(
                message(bad).starts_with(&format!(
                    "option build-arg:SOURCE_DATE_EPOCH: `{bad}` is not a Unix time"
                )),
                "{bad}"
            );
        }
        assert_eq!(
            message("253402300800"),
            "option build-arg:SOURCE_DATE_EPOCH: `253402300800` is after 9999-12-31T23:59:59Z (253402300799), the last time an image config can hold"
        );
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
        assert!(config.env_vars().any(|var| var == ("PATH", DEFAULT_PATH)));
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
