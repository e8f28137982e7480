//! The gateway client: gRPC to BuildKit's LLBBridge over this process's stdin/stdout
//! (cleartext HTTP/2; BuildKit is the server), with one method per RPC the frontend uses.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper_util::rt::TokioIo;
use llb_gen::llb::ResolveMode;
use llb_gen::pb;
use llb_gen::platform::Platform;
use prost::Message;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::gateway_pb::{
    self, CacheOptionsEntry, FileRange, PingRequest, ReadDirRequest, ReadFileRequest,
    ResolveImageConfigRequest, ResolveImageConfigResponse as ImageConfigResponse, ReturnRequest,
    SolveRequest, StatFileRequest, llb_bridge_client::LlbBridgeClient,
};
use crate::outcome::{Outcome, PlatformImage};

/// BuildKit may answer with more than tonic's 4 MiB default (e.g. a large ReadFile).
const MAX_DECODE_BYTES: usize = 64 << 20;
/// gRPC status code for errors that are not the client's fault: BuildKit shows the message.
const CODE_UNKNOWN: i32 = 2;

/// A failed call to BuildKit.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The connection over stdio could not be set up.
    #[error("cannot talk to BuildKit over stdin/stdout: {0}")]
    Connect(#[from] tonic::transport::Error),
    /// BuildKit answered an RPC with an error.
    #[error("{message}")]
    Rpc {
        /// Its text.
        message: String,
        /// The typed details of its google.rpc.Status (`errdefs.Source` of a failing step, the
        /// vertex, a stack…), passed on when the build fails because of it.
        details: Vec<gateway_pb::Any>,
    },
}

impl BridgeError {
    /// Whether BuildKit said the path asked about does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Rpc { message, .. } if message.contains("no such file"))
    }

    /// BuildKit's typed details of the error; none when it never answered.
    pub fn details(&self) -> &[gateway_pb::Any] {
        match self {
            Self::Connect(_) => &[],
            Self::Rpc { details, .. } => details,
        }
    }
}

impl From<tonic::Status> for BridgeError {
    /// Keeps the details tonic leaves encoded: `grpc-status-details-bin` is the whole
    /// google.rpc.Status; unreadable details are dropped, the message is kept.
    fn from(status: tonic::Status) -> Self {
        let details = gateway_pb::Status::decode(status.details())
            .map(|decoded| decoded.details)
            .unwrap_or_default();
        Self::Rpc {
            message: status.message().to_owned(),
            details,
        }
    }
}

/// An error the frontend returns: its text, and BuildKit's typed error details (`…+json`
/// type URLs) that let clients such as buildx tell errors apart and show where they are.
#[derive(Debug, Default)]
pub struct Failure {
    /// What the user sees.
    pub message: String,
    /// Typed details.
    pub details: Vec<gateway_pb::Any>,
}

impl From<BridgeError> for Failure {
    fn from(error: BridgeError) -> Self {
        Self {
            message: error.to_string(),
            details: error.details().to_vec(),
        }
    }
}

/// What the daemon supports, by cap id.
#[derive(Clone, Debug, Default)]
pub struct DaemonCaps {
    /// LLB caps: which ops and fields the solver understands.
    pub llb: Vec<String>,
    /// Frontend API caps: which gateway RPCs exist (`gateway.warnings` for Warn).
    pub frontend: Vec<String>,
}

/// A connected gateway client.
#[derive(Clone)]
pub struct Bridge {
    client: LlbBridgeClient<Channel>,
    /// For RPCs outside the generated client (Warn).
    channel: Channel,
    /// Set by `FLOTILLA_DEBUG`: each RPC is timed on stderr, to count the round trips a build
    /// costs and see which of them overlap.
    trace: Option<Arc<Trace>>,
}

/// The RPCs made so far, from when the frontend started.
struct Trace {
    started: Instant,
    calls: AtomicUsize,
}

/// Milliseconds since `from`, with a fraction.
fn millis_since(from: Instant) -> f64 {
    from.elapsed().as_secs_f64() * 1000.0
}

/// BuildKit's `WarnRequest` (the fields Flotilla sends). Warn exists only from BuildKit 0.12
/// (frontend cap `gateway.warnings`), so it is called by path, gated on that cap.
#[derive(Clone, PartialEq, prost::Message)]
struct WarnRequest {
    /// 1 is a warning.
    #[prost(int64, tag = "2")]
    level: i64,
    /// The one-line message.
    #[prost(bytes = "vec", tag = "3")]
    short: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WarnResponse {}

impl Bridge {
    /// Connects over stdin/stdout. The stream can be handed out once only: there is no
    /// reconnecting to the process's own stdio.
    pub async fn connect_stdio() -> Result<Self, BridgeError> {
        let stdio = Arc::new(Mutex::new(Some(tokio::io::join(
            tokio::io::stdin(),
            tokio::io::stdout(),
        ))));
        let connector = tower::service_fn(move |_: Uri| {
            let stream = stdio.lock().ok().and_then(|mut slot| slot.take());
            async move {
                stream.map(TokioIo::new).ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotConnected, "stdio is already in use")
                })
            }
        });
        let channel = Endpoint::from_static("http://localhost")
            .connect_with_connector(connector)
            .await?;
        Ok(Self::new(channel))
    }

    /// A client over an existing channel (tests use an in-process fake bridge).
    pub fn new(channel: Channel) -> Self {
        Self {
            client: LlbBridgeClient::new(channel.clone())
                .max_decoding_message_size(MAX_DECODE_BYTES),
            channel,
            trace: None,
        }
    }

    /// This client, printing one line per RPC to stderr from now on: its method, what it was
    /// about, when it started and how long it took.
    pub fn traced(self) -> Self {
        let trace = Trace {
            started: Instant::now(),
            calls: AtomicUsize::new(0),
        };
        Self {
            trace: Some(Arc::new(trace)),
            ..self
        }
    }

    /// Prints the RPC count and the time since tracing began, when tracing.
    pub fn trace_total(&self) {
        if let Some(trace) = &self.trace {
            eprintln!(
                "flotilla-frontend: debug: {} RPCs, {:.1} ms in total",
                trace.calls.load(Ordering::Relaxed),
                millis_since(trace.started)
            );
        }
    }

    /// Runs `call`, RPC `method` about `about`, timing it when tracing.
    async fn timed<T>(&self, method: &str, about: &str, call: impl Future<Output = T>) -> T {
        let Some(trace) = &self.trace else {
            return call.await;
        };
        let number = trace.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let start = millis_since(trace.started);
        let begun = Instant::now();
        let output = call.await;
        eprintln!(
            "flotilla-frontend: debug: rpc {number} {method} {about}: {:.1} ms (from {start:.1} ms)",
            millis_since(begun)
        );
        output
    }

    /// Shows `message` as a build warning (only where the daemon has `gateway.warnings`).
    pub async fn warn(&self, message: &str) -> Result<(), BridgeError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await?;
        let request = WarnRequest {
            level: 1,
            short: message.as_bytes().to_vec(),
        };
        let call = grpc.unary::<_, WarnResponse, _>(
            tonic::Request::new(request),
            PathAndQuery::from_static("/moby.buildkit.v1.frontend.LLBBridge/Warn"),
            tonic_prost::ProstCodec::default(),
        );
        self.timed("Warn", "", call).await?;
        Ok(())
    }

    /// The daemon's caps (enabled ones only), from Ping.
    pub async fn caps(&self) -> Result<DaemonCaps, BridgeError> {
        let mut client = self.client.clone();
        let pong = self
            .timed("Ping", "", client.ping(PingRequest {}))
            .await?
            .into_inner();
        let enabled = |caps: Vec<gateway_pb::ApiCap>| {
            caps.into_iter()
                .filter(|cap| cap.enabled)
                .map(|cap| cap.id)
                .collect()
        };
        Ok(DaemonCaps {
            llb: enabled(pong.llb_caps),
            frontend: enabled(pong.frontend_api_caps),
        })
    }

    /// Solves `definition` and returns the result's ref id.
    pub async fn solve(
        &self,
        definition: pb::Definition,
        cache_imports: Vec<CacheOptionsEntry>,
    ) -> Result<String, BridgeError> {
        self.send_solve(definition, cache_imports, false).await
    }

    /// Solves `definition` and builds it now (`Evaluate`): a failing op is an error here, where
    /// the frontend can still explain it, rather than at export after it has returned.
    pub async fn solve_and_build(
        &self,
        definition: pb::Definition,
        cache_imports: Vec<CacheOptionsEntry>,
    ) -> Result<String, BridgeError> {
        self.send_solve(definition, cache_imports, true).await
    }

    async fn send_solve(
        &self,
        definition: pb::Definition,
        cache_imports: Vec<CacheOptionsEntry>,
        evaluate: bool,
    ) -> Result<String, BridgeError> {
        let about = format!(
            "{} ops{}",
            definition.def.len(),
            if evaluate { ", evaluated" } else { "" }
        );
        let request = SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports,
            evaluate,
            ..Default::default()
        };
        let mut client = self.client.clone();
        let response = self
            .timed("Solve", &about, client.solve(request))
            .await?
            .into_inner();
        let id = match response.result.and_then(|result| result.result) {
            Some(gateway_pb::result::Result::Ref(reference)) => reference.id,
            _ => response.r#ref,
        };
        Ok(id)
    }

    /// At most the first `limit` bytes of `path` in a solved ref: a hostile file is not sent
    /// whole.
    pub async fn read_file_head(
        &self,
        reference: &str,
        path: &str,
        limit: usize,
    ) -> Result<Vec<u8>, BridgeError> {
        let request = ReadFileRequest {
            r#ref: reference.to_owned(),
            file_path: path.to_owned(),
            range: Some(FileRange {
                offset: 0,
                length: i64::try_from(limit).unwrap_or(i64::MAX),
            }),
        };
        let mut client = self.client.clone();
        Ok(self
            .timed("ReadFile", path, client.read_file(request))
            .await?
            .into_inner()
            .data)
    }

    /// The entries of directory `path` in a solved ref (paths relative to it).
    pub async fn read_dir(
        &self,
        reference: &str,
        path: &str,
    ) -> Result<Vec<gateway_pb::Stat>, BridgeError> {
        let request = ReadDirRequest {
            r#ref: reference.to_owned(),
            dir_path: path.to_owned(),
            include_pattern: String::new(),
        };
        let mut client = self.client.clone();
        Ok(self
            .timed("ReadDir", path, client.read_dir(request))
            .await?
            .into_inner()
            .entries)
    }

    /// The stat of `path` in a solved ref; `None` when it does not exist.
    pub async fn stat_file(
        &self,
        reference: &str,
        path: &str,
    ) -> Result<Option<gateway_pb::Stat>, BridgeError> {
        let request = StatFileRequest {
            r#ref: reference.to_owned(),
            path: path.to_owned(),
        };
        let mut client = self.client.clone();
        match self
            .timed("StatFile", path, client.stat_file(request))
            .await
        {
            Ok(response) => Ok(response.into_inner().stat),
            Err(status) => match BridgeError::from(status) {
                error if error.is_not_found() => Ok(None),
                error => Err(error),
            },
        }
    }

    /// The config JSON of image `reference` for `platform`, and the digest the daemon
    /// resolved the reference to: empty when Docker 20.10 took the image from its own store.
    pub async fn resolve_image_config(
        &self,
        reference: &str,
        platform: &Platform,
        resolve_mode: ResolveMode,
    ) -> Result<ImageConfigResponse, BridgeError> {
        let request = ResolveImageConfigRequest {
            r#ref: reference.to_owned(),
            platform: Some(platform.to_pb()),
            resolve_mode: resolve_mode.as_str().to_owned(),
            log_name: format!("[internal] load metadata for {reference}"),
        };
        let mut client = self.client.clone();
        let call = client.resolve_image_config(request);
        let response = self.timed("ResolveImageConfig", reference, call).await?;
        Ok(response.into_inner())
    }

    /// Ends the build with its images: one ref and `containerimage.config`; or a ref per
    /// platform, `containerimage.config/<platform>` each and `refs.platforms`; or nothing.
    pub async fn return_outcome(&self, outcome: Outcome) -> Result<(), BridgeError> {
        let result = match outcome {
            Outcome::Image(image) => gateway_pb::Result {
                result: Some(gateway_pb::result::Result::Ref(gateway_pb::Ref {
                    id: image.reference,
                    def: None,
                })),
                metadata: BTreeMap::from([("containerimage.config".to_owned(), image.config)]),
            },
            Outcome::Platforms(images) => platforms_result(images),
            Outcome::Nothing => gateway_pb::Result::default(),
        };
        self.finish(ReturnRequest {
            result: Some(result),
            error: None,
        })
        .await
    }

    /// Ends a subrequest with its answer: metadata only, no ref.
    pub async fn return_metadata(
        &self,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<(), BridgeError> {
        let result = gateway_pb::Result {
            result: None,
            metadata,
        };
        self.finish(ReturnRequest {
            result: Some(result),
            error: None,
        })
        .await
    }

    /// Ends the build with an error BuildKit shows to the user.
    pub async fn return_error(&self, error: Failure) -> Result<(), BridgeError> {
        self.finish(ReturnRequest {
            result: None,
            error: Some(gateway_pb::Status {
                code: CODE_UNKNOWN,
                message: error.message,
                details: error.details,
            }),
        })
        .await
    }

    async fn finish(&self, request: ReturnRequest) -> Result<(), BridgeError> {
        let mut client = self.client.clone();
        self.timed("Return", "", client.r#return(request)).await?;
        Ok(())
    }
}

/// A result with one ref per platform, keyed by the platform ids `refs.platforms` lists.
fn platforms_result(images: Vec<PlatformImage>) -> gateway_pb::Result {
    let mut refs = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    let mut listed = Vec::new();
    for image in images {
        let id = image.platform.to_string();
        let mut platform = serde_json::json!({
            "os": image.platform.os,
            "architecture": image.platform.architecture,
        });
        if let Some(variant) = &image.platform.variant {
            platform["variant"] = variant.clone().into();
        }
        listed.push(serde_json::json!({ "ID": id, "Platform": platform }));
        metadata.insert(format!("containerimage.config/{id}"), image.config);
        refs.insert(
            id,
            gateway_pb::Ref {
                id: image.reference,
                def: None,
            },
        );
    }
    let platforms = serde_json::json!({ "Platforms": listed });
    metadata.insert(
        "refs.platforms".to_owned(),
        platforms.to_string().into_bytes(),
    );
    gateway_pb::Result {
        result: Some(gateway_pb::result::Result::Refs(gateway_pb::RefMap {
            refs,
        })),
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llb_gen::platform::Platform;

    #[test]
    fn platforms_result_lists_each_platform_with_its_ref_and_config() {
        let image = |platform: Platform, id: &str| PlatformImage {
            platform,
            reference: id.to_owned(),
            config: id.as_bytes().to_vec(),
        };
        let arm = Platform {
            variant: Some("v7".to_owned()),
            ..Platform::linux("arm")
        };
        let result = platforms_result(vec![image(Platform::linux("amd64"), "a"), image(arm, "b")]);
        let Some(gateway_pb::result::Result::Refs(map)) = &result.result else {
            panic!("a ref map")
        };
        assert_eq!(map.refs["linux/amd64"].id, "a");
        assert_eq!(map.refs["linux/arm/v7"].id, "b");
        assert_eq!(result.metadata["containerimage.config/linux/arm/v7"], b"b");
        let listed: serde_json::Value =
            serde_json::from_slice(&result.metadata["refs.platforms"]).unwrap();
        assert_eq!(
            listed,
            serde_json::json!({"Platforms": [
                {"ID": "linux/amd64", "Platform": {"os": "linux", "architecture": "amd64"}},
                {"ID": "linux/arm/v7", "Platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            ]})
        );
    }
}
