//! What BuildKit tells a gateway frontend through its environment: the frontend options
//! (`BUILDKIT_FRONTEND_OPT_<n>=key=value`), the session id and the workers' platforms.

use std::collections::{BTreeMap, BTreeSet};

use llb_gen::llb::{ExecNetwork, NetworkMode, ResolveMode};
use llb_gen::named_context::{self, NamedContexts};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use serde::Deserialize;

use crate::gateway_pb::CacheOptionsEntry;

/// Prefix of the variables that carry one frontend option each.
const OPT_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";

/// The build request as the frontend received it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// Every frontend option by key (`target`, `build-arg:NAME`, `platform`…).
    pub opts: BTreeMap<String, String>,
    /// The client session that serves the `context` and `dockerfile` locals.
    pub session_id: Option<String>,
    /// The first platform of the first worker: what "native" means here.
    pub worker_platform: Option<Platform>,
    /// Who exports the result: `buildkit` for buildkitd; Docker's dockerd sets its own name or
    /// nothing, and its image store takes one platform per build.
    pub exported_product: Option<String>,
    /// Whether the worker runs on containerd (buildkitd's containerd worker, or Docker 24+ with
    /// the containerd image store), whose image store holds multi-platform images.
    pub containerd_worker: bool,
}

/// A frontend option with a value this frontend cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("option {option}: {message}")]
pub struct InvalidOption {
    /// The option key.
    pub option: String,
    /// What is wrong with its value.
    pub message: String,
}

/// One entry of `BUILDKIT_WORKERS`: BuildKit 0.8 writes Go field names (`Platforms`), current
/// BuildKit lower-case JSON names (`platforms`).
#[derive(Deserialize)]
struct Worker {
    #[serde(rename = "Platforms", alias = "platforms", default)]
    platforms: Vec<WorkerPlatform>,
    #[serde(rename = "Labels", alias = "labels", default)]
    labels: BTreeMap<String, String>,
}

/// The scanner BuildKit runs for `attest:sbom` when no `generator` is named
/// (`frontend/attestations/parse.go`).
const DEFAULT_SBOM_SCANNER: &str = "docker/buildkit-syft-scanner:stable-1";

/// The worker label that names its executor (`oci`, `containerd`).
const EXECUTOR_LABEL: &str = "org.mobyproject.buildkit.worker.executor";

#[derive(Deserialize)]
struct WorkerPlatform {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct CacheImport {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Attrs", default)]
    attrs: BTreeMap<String, String>,
}

impl Options {
    /// Reads the options from environment variables (`vars` is `std::env::vars()`).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut options = Self::default();
        for (name, value) in vars {
            if name.starts_with(OPT_PREFIX) {
                let (key, value) = value.split_once('=').unwrap_or((value.as_str(), ""));
                options.opts.insert(key.to_owned(), value.to_owned());
            } else if name == "BUILDKIT_SESSION_ID" {
                options.session_id = Some(value).filter(|id| !id.is_empty());
            } else if name == "BUILDKIT_WORKERS" {
                if let Some(worker) = first_worker(&value) {
                    options.containerd_worker = worker
                        .labels
                        .get(EXECUTOR_LABEL)
                        .is_some_and(|executor| executor == "containerd");
                    options.worker_platform = worker_platform(worker);
                }
            } else if name == "BUILDKIT_EXPORTEDPRODUCT" {
                options.exported_product = Some(value);
            }
        }
        options
    }

    /// Options as BuildKit passes them, from `key=value` strings (tests).
    #[cfg(test)]
    pub fn from_opts(opts: &[&str]) -> Self {
        Self::from_env(
            opts.iter()
                .enumerate()
                .map(|(i, opt)| (format!("{OPT_PREFIX}{i}"), (*opt).to_owned())),
        )
    }

    /// The value of option `key`, if given and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.opts
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The named contexts (`context:<name>`) for `platform`, each preferring its
    /// platform-specific form (`context:<name>::<platform>`) that current buildx sends.
    pub fn named_contexts(&self, platform: &Platform) -> NamedContexts {
        let names: BTreeSet<&str> = self
            .opts
            .keys()
            .filter_map(|key| key.strip_prefix(named_context::OPTION_PREFIX))
            .filter_map(|name| name.split("::").next())
            .collect();
        NamedContexts::new(names.into_iter().filter_map(|name| {
            let option = named_context::option(name);
            let value = self
                .get(&format!("{option}::{platform}"))
                .or_else(|| self.get(&option))?;
            Some((name.to_owned(), value.to_owned()))
        }))
    }

    /// The `build-arg:*` options, without their prefix.
    pub fn build_args(&self) -> BTreeMap<String, String> {
        self.opts
            .iter()
            .filter_map(|(key, value)| {
                Some((key.strip_prefix("build-arg:")?.to_owned(), value.clone()))
            })
            .collect()
    }

    /// What the spec's build args get from this build on `platform`: `build-arg:*` and the
    /// platforms.
    pub fn arg_values(&self, platform: &Platform) -> ArgValues {
        ArgValues {
            build_args: self.build_args(),
            target_platform: platform.clone(),
            build_platform: self
                .worker_platform
                .clone()
                .unwrap_or_else(|| platform.clone()),
        }
    }

    /// The `label:*` options (`docker build --label`): image labels over the spec's.
    pub fn labels(&self) -> Vec<(String, String)> {
        self.opts
            .iter()
            .filter_map(|(key, value)| {
                Some((key.strip_prefix("label:")?.to_owned(), value.clone()))
            })
            .collect()
    }

    /// The network of every process: `force-network-mode` (`--network`) and `add-hosts`
    /// (`--add-host`, a comma list of `host=ip`).
    pub fn exec_network(&self) -> Result<ExecNetwork, InvalidOption> {
        let invalid = |option: &str, message: String| InvalidOption {
            option: option.to_owned(),
            message,
        };
        let mode = self
            .get("force-network-mode")
            .map(NetworkMode::parse)
            .transpose()
            .map_err(|message| invalid("force-network-mode", message))?
            .unwrap_or_default();
        let extra_hosts = self
            .get("add-hosts")
            .into_iter()
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| ExecNetwork::parse_host(entry).map_err(|m| invalid("add-hosts", m)))
            .collect::<Result<_, _>>()?;
        Ok(ExecNetwork { mode, extra_hosts })
    }

    /// The target platforms: option `platform` (a comma list, duplicates dropped), else the
    /// worker's, else linux/amd64.
    pub fn platforms(&self) -> Result<Vec<Platform>, InvalidOption> {
        let Some(list) = self.get("platform") else {
            return Ok(vec![
                self.worker_platform
                    .clone()
                    .unwrap_or_else(|| Platform::linux("amd64")),
            ]);
        };
        let mut platforms: Vec<Platform> = Vec::new();
        for text in list.split(',') {
            let platform: Platform =
                text.parse()
                    .map_err(|error: llb_gen::platform::InvalidPlatform| InvalidOption {
                        option: "platform".to_owned(),
                        message: error.to_string(),
                    })?;
            if !platforms.contains(&platform) {
                platforms.push(platform);
            }
        }
        Ok(platforms)
    }

    /// The image BuildKit scans the result with when an SBOM is asked for (`--sbom`, option
    /// `attest:sbom`, with BuildKit's default scanner unless `generator=` names one); `None`
    /// when none is asked for.
    pub fn sbom_scanner(&self) -> Option<&str> {
        let attrs = self.opts.get("attest:sbom")?;
        let mut scanner = DEFAULT_SBOM_SCANNER;
        for (key, value) in attrs.split(',').filter_map(|attr| attr.split_once('=')) {
            match (key.trim(), value.trim()) {
                ("disabled", "true") => return None,
                ("generator", generator) if !generator.is_empty() => scanner = generator,
                _ => {}
            }
        }
        Some(scanner)
    }

    /// Whether to time each RPC on stderr: `--build-arg FLOTILLA_DEBUG=1` (any value but empty,
    /// `0` or `false`).
    pub fn debug(&self) -> bool {
        !matches!(
            self.get("build-arg:FLOTILLA_DEBUG"),
            None | Some("0" | "false")
        )
    }

    /// How image references resolve (`image-resolve-mode`: `default`, `pull` or `local`).
    pub fn resolve_mode(&self) -> Result<ResolveMode, InvalidOption> {
        let Some(value) = self.get("image-resolve-mode") else {
            return Ok(ResolveMode::Default);
        };
        ResolveMode::parse(value).ok_or_else(|| InvalidOption {
            option: "image-resolve-mode".to_owned(),
            message: format!("`{value}` is not `default`, `pull` or `local`"),
        })
    }

    /// The first target platform: the one a question about "the" build (a subrequest) is about.
    pub fn platform(&self) -> Result<Platform, InvalidOption> {
        let first = self.platforms()?.into_iter().next();
        Ok(first.unwrap_or_else(|| Platform::linux("amd64")))
    }

    /// Whether the result must be a per-platform map even for one platform: option
    /// `multi-platform=true`, or build-arg `BUILDKIT_MULTI_PLATFORM=1` as docker/dockerfile reads.
    pub fn multi_platform(&self) -> bool {
        self.get("multi-platform") == Some("true")
            || matches!(
                self.get("build-arg:BUILDKIT_MULTI_PLATFORM"),
                Some("1" | "true")
            )
    }

    /// Whether the exporter takes a map of platforms: BuildKit's own does, and so does Docker's
    /// containerd image store; Docker's classic image store (Docker 20.10) takes one.
    pub fn exporter_takes_many(&self) -> bool {
        self.exported_product.as_deref() == Some("buildkit") || self.containerd_worker
    }

    /// Caches to import, from `cache-imports` (JSON, what buildctl and buildx send) or
    /// `cache-from` (comma-separated refs, what dockerd sends). Passing them on to Solve is
    /// what makes `--cache-from` work with a custom frontend.
    pub fn cache_imports(&self) -> Result<Vec<CacheOptionsEntry>, InvalidOption> {
        if let Some(json) = self.get("cache-imports") {
            let imports: Vec<CacheImport> =
                serde_json::from_str(json).map_err(|error| InvalidOption {
                    option: "cache-imports".to_owned(),
                    message: format!("not a JSON list of {{Type, Attrs}}: {error}"),
                })?;
            return Ok(imports
                .into_iter()
                .map(|import| CacheOptionsEntry {
                    r#type: import.kind,
                    attrs: import.attrs,
                })
                .collect());
        }
        Ok(self
            .get("cache-from")
            .into_iter()
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|reference| !reference.is_empty())
            .map(|reference| CacheOptionsEntry {
                r#type: "registry".to_owned(),
                attrs: BTreeMap::from([("ref".to_owned(), reference.to_owned())]),
            })
            .collect())
    }
}

/// The first worker of `BUILDKIT_WORKERS`, which the build runs on.
fn first_worker(json: &str) -> Option<Worker> {
    let workers: Vec<Worker> = serde_json::from_str(json).ok()?;
    workers.into_iter().next()
}

/// The worker's first platform: what "native" means for this build.
fn worker_platform(worker: Worker) -> Option<Platform> {
    let platform = worker.platforms.into_iter().next()?;
    Some(Platform {
        os: platform.os,
        architecture: platform.architecture,
        variant: platform.variant.filter(|v| !v.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Options {
        Options::from_env(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn reads_options_session_and_worker_platform() {
        let options = env(&[
            ("BUILDKIT_FRONTEND_OPT_0", "target=gateway"),
            (
                "BUILDKIT_FRONTEND_OPT_1",
                "build-arg:BUILDER_IMAGE=localhost:5000/a:1",
            ),
            (
                "BUILDKIT_FRONTEND_OPT_2",
                "cmdline=localhost:5000/flotilla:dev",
            ),
            ("BUILDKIT_FRONTEND_OPT_3", "no-cache="),
            ("BUILDKIT_SESSION_ID", "abc"),
            (
                "BUILDKIT_WORKERS",
                r#"[{"ID":"w","Platforms":[{"architecture":"arm64","os":"linux","variant":"v8"}]}]"#,
            ),
            ("PATH", "/bin"),
        ]);
        assert_eq!(options.get("target"), Some("gateway"));
        assert_eq!(options.get("no-cache"), None);
        assert!(options.opts.contains_key("no-cache"));
        assert_eq!(
            options
                .build_args()
                .get("BUILDER_IMAGE")
                .map(String::as_str),
            Some("localhost:5000/a:1")
        );
        assert_eq!(options.session_id.as_deref(), Some("abc"));
        assert_eq!(
            options.named_contexts(&Platform::linux("amd64")),
            NamedContexts::default()
        );
        assert_eq!(
            options.platforms().unwrap()[0].to_string(),
            "linux/arm64/v8"
        );
    }

    /// Docker 26 with the containerd image store, as its BuildKit writes `BUILDKIT_WORKERS`
    /// (lower-case keys): the native platform is read, and the image store takes a platform map.
    #[test]
    fn reads_a_current_docker_containerd_worker() {
        let options = env(&[
            ("BUILDKIT_EXPORTEDPRODUCT", "docker"),
            (
                "BUILDKIT_WORKERS",
                r#"[{"id":"w","labels":{"org.mobyproject.buildkit.worker.executor":"containerd"},"platforms":[{"architecture":"arm64","os":"linux"},{"architecture":"amd64","os":"linux"}]}]"#,
            ),
        ]);
        assert_eq!(options.platforms().unwrap(), [Platform::linux("arm64")]);
        assert!(options.exporter_takes_many());
        let classic = env(&[
            ("BUILDKIT_EXPORTEDPRODUCT", "docker"),
            (
                "BUILDKIT_WORKERS",
                r#"[{"ID":"w","Labels":{"org.mobyproject.buildkit.worker.executor":"oci"},"Platforms":[{"architecture":"amd64","os":"linux"}]}]"#,
            ),
        ]);
        assert!(!classic.exporter_takes_many());
    }

    #[test]
    fn the_sbom_scanner_is_buildkits_default_or_the_named_generator() {
        let sbom = |value: &str| {
            Options::from_opts(&[&format!("attest:sbom={value}")])
                .sbom_scanner()
                .map(str::to_owned)
        };
        assert_eq!(sbom("").as_deref(), Some(DEFAULT_SBOM_SCANNER));
        assert_eq!(
            sbom("generator=localhost:5000/scanner:1").as_deref(),
            Some("localhost:5000/scanner:1")
        );
        assert_eq!(sbom("disabled=true"), None);
        assert_eq!(env(&[]).sbom_scanner(), None);
    }

    #[test]
    fn platform_specific_named_context_wins() {
        let options = env(&[
            (
                "BUILDKIT_FRONTEND_OPT_0",
                "context:builder=docker-image://a:1",
            ),
            (
                "BUILDKIT_FRONTEND_OPT_1",
                "context:builder::linux/arm64=docker-image://b:1",
            ),
        ]);
        let builder = |arch: &str| {
            options
                .named_contexts(&Platform::linux(arch))
                .builder()
                .map(str::to_owned)
        };
        assert_eq!(builder("arm64").as_deref(), Some("docker-image://b:1"));
        assert_eq!(builder("amd64").as_deref(), Some("docker-image://a:1"));
        let base = env(&[
            (
                "BUILDKIT_FRONTEND_OPT_0",
                "context:localhost:5000/base::linux/arm64=docker-image://localhost:5000/base:arm",
            ),
            ("BUILDKIT_FRONTEND_OPT_1", "context:debian="),
        ]);
        let replaced = |arch: &str| {
            base.named_contexts(&Platform::linux(arch))
                .replace_image("localhost:5000/base:latest")
                .unwrap()
        };
        assert_eq!(
            replaced("arm64").as_deref(),
            Some("localhost:5000/base:arm")
        );
        assert_eq!(replaced("amd64"), None, "no context for this platform");
        assert_eq!(
            base.named_contexts(&Platform::linux("amd64"))
                .replace_image("docker.io/library/debian:latest")
                .unwrap(),
            None,
            "an empty value names no context"
        );
    }

    #[test]
    fn platform_list_wins_and_bad_entries_name_the_option() {
        let options = env(&[(
            "BUILDKIT_FRONTEND_OPT_0",
            "platform=linux/amd64,linux/arm64,linux/amd64",
        )]);
        assert_eq!(
            options.platforms().unwrap(),
            [Platform::linux("amd64"), Platform::linux("arm64")]
        );
        let bad = env(&[("BUILDKIT_FRONTEND_OPT_0", "platform=linux/amd64,amd64")]);
        assert_eq!(
            bad.platforms().unwrap_err().to_string(),
            "option platform: invalid platform `amd64`: expected os/arch[/variant], e.g. linux/amd64"
        );
        assert_eq!(env(&[]).platforms().unwrap(), [Platform::linux("amd64")]);
    }

    #[test]
    fn exporter_and_multi_platform_flags() {
        let docker = env(&[
            ("BUILDKIT_EXPORTEDPRODUCT", ""),
            ("BUILDKIT_FRONTEND_OPT_0", "multi-platform=true"),
        ]);
        assert!(docker.multi_platform() && !docker.exporter_takes_many());
        assert!(env(&[("BUILDKIT_EXPORTEDPRODUCT", "buildkit")]).exporter_takes_many());
        assert!(
            env(&[(
                "BUILDKIT_FRONTEND_OPT_0",
                "build-arg:BUILDKIT_MULTI_PLATFORM=1"
            )])
            .multi_platform()
        );
        assert!(
            !env(&[(
                "BUILDKIT_FRONTEND_OPT_0",
                "build-arg:BUILDKIT_MULTI_PLATFORM=0"
            )])
            .multi_platform()
        );
    }

    #[test]
    fn labels_hosts_and_network_mode() {
        let options = env(&[
            ("BUILDKIT_FRONTEND_OPT_0", "label:org.example.team=infra"),
            (
                "BUILDKIT_FRONTEND_OPT_1",
                "add-hosts=myhost=10.1.2.3,v6=::1",
            ),
            ("BUILDKIT_FRONTEND_OPT_2", "force-network-mode=none"),
        ]);
        assert_eq!(
            options.labels(),
            [("org.example.team".to_owned(), "infra".to_owned())]
        );
        let network = options.exec_network().unwrap();
        assert_eq!(network.mode, NetworkMode::None);
        assert_eq!(
            network.extra_hosts,
            [
                ("myhost".to_owned(), "10.1.2.3".to_owned()),
                ("v6".to_owned(), "::1".to_owned())
            ]
        );
        // dockerd always sends add-hosts, usually empty.
        let plain = env(&[("BUILDKIT_FRONTEND_OPT_0", "add-hosts=")]);
        assert_eq!(plain.exec_network().unwrap(), ExecNetwork::default());
        let bad_host = env(&[("BUILDKIT_FRONTEND_OPT_0", "add-hosts=myhost:10.1.2.3")]);
        assert_eq!(
            bad_host.exec_network().unwrap_err().to_string(),
            "option add-hosts: `myhost:10.1.2.3` is not host=ip"
        );
        let bad_mode = env(&[("BUILDKIT_FRONTEND_OPT_0", "force-network-mode=bridge")]);
        assert!(
            bad_mode
                .exec_network()
                .unwrap_err()
                .to_string()
                .starts_with("option force-network-mode: `bridge`")
        );
    }

    #[test]
    fn image_resolve_mode_is_one_of_three() {
        let mode = |value: &str| env(&[("BUILDKIT_FRONTEND_OPT_0", value)]).resolve_mode();
        assert_eq!(env(&[]).resolve_mode().unwrap(), ResolveMode::Default);
        assert_eq!(mode("image-resolve-mode=pull").unwrap(), ResolveMode::Pull);
        assert_eq!(
            mode("image-resolve-mode=local").unwrap(),
            ResolveMode::Local
        );
        assert_eq!(
            mode("image-resolve-mode=always").unwrap_err().to_string(),
            "option image-resolve-mode: `always` is not `default`, `pull` or `local`"
        );
    }

    #[test]
    fn cache_imports_come_from_json_or_cache_from() {
        let json = env(&[(
            "BUILDKIT_FRONTEND_OPT_0",
            r#"cache-imports=[{"Type":"registry","Attrs":{"ref":"r/c:1"}}]"#,
        )]);
        let imports = json.cache_imports().unwrap();
        assert_eq!(imports.len(), 1);
        assert_eq!(imports[0].attrs["ref"], "r/c:1");
        let from = env(&[("BUILDKIT_FRONTEND_OPT_0", "cache-from=r/a:1, r/b:2")]);
        let imports = from.cache_imports().unwrap();
        let refs: Vec<&str> = imports.iter().map(|i| i.attrs["ref"].as_str()).collect();
        assert_eq!(refs, ["r/a:1", "r/b:2"]);
        let bad = env(&[("BUILDKIT_FRONTEND_OPT_0", "cache-imports=nope")]);
        assert!(
            bad.cache_imports()
                .unwrap_err()
                .to_string()
                .starts_with("option cache-imports:")
        );
    }
}
