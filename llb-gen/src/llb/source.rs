//! Source ops: the states a graph starts from, container images and directories synced from the
//! client.

use std::collections::BTreeMap;

use super::state::{Describe, State, Vertex, VertexMeta};
use crate::pb;
use crate::platform::Platform;

/// Options of a `local://` source (a directory synced from the client's session).
#[derive(Clone, Debug, Default)]
pub struct LocalOptions {
    /// The client session that serves the directory; `None` lets BuildKit pick any.
    pub session_id: Option<String>,
    /// Only these paths are synced (cache key stays put when other files change).
    pub follow_paths: Vec<String>,
    /// Only paths matching these patterns are synced.
    pub include_patterns: Vec<String>,
    /// Patterns excluded from the sync, as in `.dockerignore`.
    pub exclude_patterns: Vec<String>,
    /// Key of the reusable snapshot for incremental syncs.
    pub shared_key_hint: Option<String>,
}

/// How BuildKit finds an image (option `image-resolve-mode`): `default` takes a copy the
/// daemon holds (Docker's image store) before the registry, `pull` always asks the registry,
/// `local` never does. A source and the config read for it must resolve alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResolveMode {
    #[default]
    Default,
    Pull,
    Local,
}

impl ResolveMode {
    /// The mode an option value names; `None` for a value that names none.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "default" => Some(Self::Default),
            "pull" => Some(Self::Pull),
            "local" => Some(Self::Local),
            _ => None,
        }
    }

    /// The mode as BuildKit spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Pull => "pull",
            Self::Local => "local",
        }
    }
}

impl State {
    /// A container image's root filesystem. `reference` must be fully normalized. The mode
    /// is written only when it is not the default, as BuildKit's Go client does.
    pub fn image(
        reference: &str,
        mode: ResolveMode,
        platform: &Platform,
        describe: impl Into<Describe>,
    ) -> Self {
        let (attrs, caps) = match mode {
            ResolveMode::Default => (BTreeMap::new(), vec!["source.image"]),
            mode => (
                BTreeMap::from([("image.resolvemode".to_owned(), mode.as_str().to_owned())]),
                vec!["source.image", "source.image.resolvemode"],
            ),
        };
        let op = pb::op::Op::Source(pb::SourceOp {
            identifier: format!("docker-image://{reference}"),
            attrs,
        });
        Self::from_vertex(Vertex::new(
            op,
            Vec::new(),
            Some(platform.to_pb()),
            VertexMeta::new(describe.into(), &caps),
        ))
    }

    /// A file BuildKit fetches over HTTP(S), at `/<filename>` of the state.
    pub fn http(url: &str, filename: &str, describe: impl Into<Describe>) -> Self {
        let op = pb::op::Op::Source(pb::SourceOp {
            identifier: url.to_owned(),
            attrs: BTreeMap::from([("http.filename".to_owned(), filename.to_owned())]),
        });
        Self::from_vertex(Vertex::new(
            op,
            Vec::new(),
            None,
            VertexMeta::new(describe.into(), &["source.http"]),
        ))
    }

    /// A directory synced from the client (`local://name`).
    pub fn local(local_name: &str, options: &LocalOptions, describe: impl Into<Describe>) -> Self {
        let mut attrs = BTreeMap::new();
        let mut caps = vec!["source.local"];
        if let Some(session) = &options.session_id {
            attrs.insert("local.session".to_owned(), session.clone());
            caps.push("source.local.sessionid");
        }
        // BuildKit's include attribute key is singular although it holds a list.
        let lists = [
            (
                "local.followpaths",
                &options.follow_paths,
                "source.local.followpaths",
            ),
            (
                "local.includepattern",
                &options.include_patterns,
                "source.local.includepatterns",
            ),
            (
                "local.excludepatterns",
                &options.exclude_patterns,
                "source.local.excludepatterns",
            ),
        ];
        for (key, list, cap) in lists {
            if !list.is_empty() {
                attrs.insert(key.to_owned(), json_list(list));
                caps.push(cap);
            }
        }
        if let Some(hint) = &options.shared_key_hint {
            attrs.insert("local.sharedkeyhint".to_owned(), hint.clone());
            caps.push("source.local.sharedkeyhint");
        }
        let op = pb::op::Op::Source(pb::SourceOp {
            identifier: format!("local://{local_name}"),
            attrs,
        });
        Self::from_vertex(Vertex::new(
            op,
            Vec::new(),
            None,
            VertexMeta::new(describe.into(), &caps),
        ))
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}
