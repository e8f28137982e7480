//! An in-process LLBBridge for tests: answers as a [`Daemon`] says (a healthy daemon, or one
//! that fails, lacks files or caps, or sends broken messages) and records what the frontend
//! solves and returns, so a whole request can be run without BuildKit.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http_body::Frame;
use llb_gen::pb::Definition;
use prost::Message;
use tonic::codegen::http::{self, HeaderMap, HeaderValue};
use tonic::codegen::{BoxFuture, Bytes, Service};
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

use crate::bridge::Bridge;
use crate::client_files::MODE_DIR;
use crate::gateway_pb::llb_bridge_server::{LlbBridge, LlbBridgeServer};
use crate::gateway_pb::{
    self, Any, ApiCap, InputsRequest, InputsResponse, PingRequest, PongResponse, ReadDirRequest,
    ReadDirResponse, ReadFileRequest, ReadFileResponse, ResolveImageConfigRequest,
    ResolveImageConfigResponse, ReturnRequest, ReturnResponse, SolveRequest, SolveResponse, Stat,
    StatFileRequest, StatFileResponse,
};
use crate::options::Options;

/// The LLB caps llb-gen's graphs use, all of which BuildKit 0.8 has.
const LLB_CAPS: [&str; 20] = [
    "source.image",
    "source.local",
    "source.local.sessionid",
    "source.local.followpaths",
    "source.local.includepatterns",
    "source.local.excludepatterns",
    "source.local.sharedkeyhint",
    "file.base",
    "exec.meta.base",
    "exec.meta.network",
    "exec.mount.bind",
    "exec.mount.selector",
    "exec.mount.bind.readwrite-nooutput",
    "exec.mount.cache",
    "exec.mount.cache.sharing",
    "exec.mount.secret",
    "exec.mount.tmpfs",
    "meta.ignorecache",
    "constraints",
    "platform",
];

/// A broken answer to one RPC, as a faulty daemon or a cut connection would send it.
#[derive(Clone, Copy, Debug)]
pub enum Garbage {
    /// A gRPC frame announcing more bytes than follow.
    TruncatedFrame,
    /// A whole frame whose protobuf message is cut inside a field.
    TruncatedMessage,
}

/// The digest a healthy fake daemon resolves every image to.
pub const IMAGE_DIGEST: &str =
    "sha256:4242424242424242424242424242424242424242424242424242424242424242";

/// How the fake daemon answers each RPC.
pub struct Daemon {
    /// ReadFile's answer, whatever the path.
    pub file: Result<Vec<u8>, Status>,
    /// A directory on disk whose files ReadFile, ReadDir and StatFile answer with instead of
    /// `file` and `stats`, whatever the ref: it holds the spec and is the context.
    pub dir: Option<PathBuf>,
    /// How many Solves succeed before `solve_error` (when set) answers the rest.
    pub solves_ok: usize,
    /// What Solve fails with after `solves_ok` successes.
    pub solve_error: Option<Status>,
    /// The step (vertex name) `solve_error` is about: BuildKit then adds an `errdefs.Vertex`
    /// detail holding the digest of that op of the Solve's Definition.
    pub failing_step: Option<&'static str>,
    /// StatFile's answers by path; other paths do not exist.
    pub stats: BTreeMap<String, Result<Stat, Status>>,
    /// ResolveImageConfig's answer, whatever the image.
    pub image_config: Result<Vec<u8>, Status>,
    /// The digest ResolveImageConfig resolves every image to; Docker 20.10 answers "" for an
    /// image in its own store.
    pub image_digest: String,
    /// Ping's answer.
    pub pong: Result<PongResponse, Status>,
    /// RPCs, by method name (`ReadFile`), answered with a broken message instead.
    pub garbled: BTreeMap<&'static str, Garbage>,
}

impl Daemon {
    /// A healthy daemon with every cap llb-gen uses, whose only file is `spec`.
    pub fn holding(spec: &str) -> Self {
        let cap = |id: &str| ApiCap {
            id: id.to_owned(),
            enabled: true,
            ..Default::default()
        };
        Self {
            file: Ok(spec.as_bytes().to_vec()),
            dir: None,
            solves_ok: 0,
            solve_error: None,
            failing_step: None,
            stats: BTreeMap::new(),
            image_config: Ok(br#"{"architecture":"amd64","os":"linux","config":{}}"#.to_vec()),
            image_digest: IMAGE_DIGEST.to_owned(),
            pong: Ok(PongResponse {
                frontend_api_caps: Vec::new(),
                llb_caps: LLB_CAPS.into_iter().map(cap).collect(),
            }),
            garbled: BTreeMap::new(),
        }
    }
}

/// What the frontend sent the fake bridge: the Definition of each Solve, and each Return.
#[derive(Clone, Default)]
pub struct Received {
    /// The Definitions solved, in order.
    pub solved: Arc<Mutex<Vec<Definition>>>,
    /// The Return requests.
    pub returned: Arc<Mutex<Vec<ReturnRequest>>>,
}

/// The bridge itself: `daemon`'s answers, the Solves made so far, and what was received.
struct Fake {
    daemon: Daemon,
    solves: Mutex<usize>,
    received: Received,
}

impl Fake {
    /// `error` as BuildKit sends it for `request`: with a Vertex detail naming the digest of
    /// the `failing_step` op, when the daemon has one.
    fn solve_failure(&self, error: &Status, request: &SolveRequest) -> Status {
        let Some(step) = self.daemon.failing_step else {
            return error.clone();
        };
        let digest = request
            .definition
            .iter()
            .flat_map(|definition| &definition.metadata)
            .find(|(_, metadata)| {
                metadata
                    .description
                    .get("llb.customname")
                    .map(String::as_str)
                    == Some(step)
            })
            .map(|(digest, _)| digest.clone())
            .expect("the failing step is in the Solve's Definition");
        let mut status = gateway_pb::Status::decode(error.details()).unwrap_or_default();
        status.code = error.code() as i32;
        status.message = error.message().to_owned();
        status.details.push(Any {
            type_url: "github.com/moby/buildkit/errdefs.Vertex+json".to_owned(),
            value: serde_json::json!({ "digest": digest })
                .to_string()
                .into_bytes(),
        });
        Status::with_details(error.code(), error.message(), status.encode_to_vec().into())
    }
}

#[tonic::async_trait]
impl LlbBridge for Fake {
    async fn resolve_image_config(
        &self,
        _: Request<ResolveImageConfigRequest>,
    ) -> Result<Response<ResolveImageConfigResponse>, Status> {
        let config = self.daemon.image_config.clone()?;
        Ok(Response::new(ResolveImageConfigResponse {
            digest: self.daemon.image_digest.clone(),
            config,
        }))
    }

    async fn solve(
        &self,
        request: Request<SolveRequest>,
    ) -> Result<Response<SolveResponse>, Status> {
        let mut solves = self.solves.lock().map_err(|_| Status::internal("lock"))?;
        *solves += 1;
        if let Ok(mut solved) = self.received.solved.lock() {
            solved.extend(request.get_ref().definition.clone());
        }
        match &self.daemon.solve_error {
            Some(error) if *solves > self.daemon.solves_ok => {
                Err(self.solve_failure(error, request.get_ref()))
            }
            _ => Ok(Response::new(SolveResponse {
                r#ref: format!("ref-{solves}"),
                result: None,
            })),
        }
    }

    async fn read_file(
        &self,
        request: Request<ReadFileRequest>,
    ) -> Result<Response<ReadFileResponse>, Status> {
        let data = match &self.daemon.dir {
            Some(dir) => served_file(dir, &request.into_inner())?,
            None => self.daemon.file.clone()?,
        };
        Ok(Response::new(ReadFileResponse { data }))
    }

    async fn read_dir(
        &self,
        request: Request<ReadDirRequest>,
    ) -> Result<Response<ReadDirResponse>, Status> {
        let path = request.into_inner().dir_path;
        let Some(dir) = &self.daemon.dir else {
            return listed_stats(&self.daemon.stats, &path);
        };
        let listed =
            std::fs::read_dir(dir.join(&path)).map_err(|error| unreadable(&path, &error))?;
        let mut entries = listed
            .map(|entry| {
                let entry = entry.map_err(|error| unreadable(&path, &error))?;
                stat(&entry.path(), &entry.file_name().to_string_lossy())
            })
            .collect::<Result<Vec<Stat>, Status>>()?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Response::new(ReadDirResponse { entries }))
    }

    async fn stat_file(
        &self,
        request: Request<StatFileRequest>,
    ) -> Result<Response<StatFileResponse>, Status> {
        let path = request.into_inner().path;
        if let Some(dir) = &self.daemon.dir {
            return Ok(Response::new(StatFileResponse {
                stat: Some(stat(&dir.join(&path), &path)?),
            }));
        }
        match self.daemon.stats.get(&path) {
            Some(answer) => Ok(Response::new(StatFileResponse {
                stat: Some(answer.clone()?),
            })),
            None => Err(missing(&path)),
        }
    }

    async fn ping(&self, _: Request<PingRequest>) -> Result<Response<PongResponse>, Status> {
        self.daemon.pong.clone().map(Response::new)
    }

    async fn r#return(
        &self,
        request: Request<ReturnRequest>,
    ) -> Result<Response<ReturnResponse>, Status> {
        if let Ok(mut returned) = self.received.returned.lock() {
            returned.push(request.into_inner());
        }
        Ok(Response::new(ReturnResponse {}))
    }

    async fn inputs(&self, _: Request<InputsRequest>) -> Result<Response<InputsResponse>, Status> {
        Err(Status::unimplemented("inputs"))
    }
}

/// ReadDir's answer from StatFile's answers: those of the paths right under `dir`, named by
/// their last component; a failing StatFile answer fails the listing.
fn listed_stats(
    stats: &BTreeMap<String, Result<Stat, Status>>,
    dir: &str,
) -> Result<Response<ReadDirResponse>, Status> {
    let entries = stats
        .iter()
        .filter_map(|(path, answer)| {
            let name = if dir.is_empty() {
                path.as_str()
            } else {
                path.strip_prefix(dir)?.strip_prefix('/')?
            };
            (!name.contains('/')).then(|| {
                answer.clone().map(|stat| Stat {
                    path: name.to_owned(),
                    ..stat
                })
            })
        })
        .collect::<Result<Vec<Stat>, Status>>()?;
    Ok(Response::new(ReadDirResponse { entries }))
}

/// A file on disk as BuildKit's ReadDir and StatFile report it, named `name`: Go's
/// os.FileMode bits, a link as a link.
fn stat(file: &Path, name: &str) -> Result<Stat, Status> {
    let metadata = std::fs::symlink_metadata(file).map_err(|error| unreadable(name, &error))?;
    let file_type = metadata.file_type();
    let kind = if file_type.is_dir() {
        MODE_DIR
    } else if file_type.is_symlink() {
        1 << 27
    } else if file_type.is_fifo() {
        1 << 25
    } else if file_type.is_socket() {
        1 << 24
    } else if file_type.is_char_device() {
        1 << 26 | 1 << 21
    } else if file_type.is_block_device() {
        1 << 26
    } else {
        0
    };
    Ok(Stat {
        path: name.to_owned(),
        mode: kind | (metadata.permissions().mode() & 0o7777),
        size: i64::try_from(metadata.len()).unwrap_or(i64::MAX),
        ..Default::default()
    })
}

/// A file on disk, as much as `request`'s range asks for. Only regular files are read:
/// BuildKit would follow a link inside the local, but the frontend never asks for one.
fn served_file(dir: &Path, request: &ReadFileRequest) -> Result<Vec<u8>, Status> {
    let name = &request.file_path;
    let path = dir.join(name);
    let metadata = std::fs::symlink_metadata(&path).map_err(|error| unreadable(name, &error))?;
    if !metadata.is_file() {
        return Err(Status::invalid_argument(format!(
            "{name}: the fake reads regular files only"
        )));
    }
    let length = request
        .range
        .as_ref()
        .map_or(u64::MAX, |range| u64::try_from(range.length).unwrap_or(0));
    let mut data = Vec::new();
    std::fs::File::open(&path)
        .and_then(|file| file.take(length).read_to_end(&mut data))
        .map_err(|error| unreadable(name, &error))?;
    Ok(data)
}

/// A file that does not exist, worded as BuildKit words it: the frontend tells it by that.
fn missing(path: &str) -> Status {
    Status::not_found(format!("stat {path}: no such file or directory"))
}

/// A failed read of `path` on disk, as BuildKit reports it.
fn unreadable(path: &str, error: &std::io::Error) -> Status {
    match error.kind() {
        std::io::ErrorKind::NotFound => missing(path),
        _ => Status::internal(format!("{path}: {error}")),
    }
}

/// The bridge's gRPC service, with the garbled RPCs answered by broken frames instead.
#[derive(Clone)]
struct Garbling {
    inner: LlbBridgeServer<Fake>,
    garbled: Arc<BTreeMap<&'static str, Garbage>>,
}

impl NamedService for Garbling {
    const NAME: &'static str = <LlbBridgeServer<Fake> as NamedService>::NAME;
}

impl Service<http::Request<tonic::body::Body>> for Garbling {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<http::Request<tonic::body::Body>>::poll_ready(&mut self.inner, context)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = request.uri().path().rsplit('/').next().unwrap_or_default();
        match self.garbled.get(method) {
            Some(garbage) => {
                let response = garbage.response();
                Box::pin(async move { Ok(response) })
            }
            None => self.inner.call(request),
        }
    }
}

impl Garbage {
    /// A gRPC response that reports success in its trailers around a broken message.
    fn response(self) -> http::Response<tonic::body::Body> {
        // Field 1, length-delimited, announcing 100 bytes of which 2 follow.
        let message = [0x0a, 100, b'x', b'x'];
        let announced = match self {
            Garbage::TruncatedFrame => 64,
            Garbage::TruncatedMessage => message.len(),
        };
        let mut frame = vec![0];
        frame.extend(u32::try_from(announced).unwrap_or(u32::MAX).to_be_bytes());
        frame.extend(message);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let body = Frames(VecDeque::from([
            Frame::data(Bytes::from(frame)),
            Frame::trailers(trailers),
        ]));
        let mut response = http::Response::new(tonic::body::Body::new(body));
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/grpc"));
        response
    }
}

/// A response body of fixed frames.
struct Frames(VecDeque<Frame<Bytes>>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.pop_front().map(Ok))
    }
}

/// Runs the frontend against a fake bridge answering as `daemon` says, with frontend options
/// `opts` (`key=value`, as BuildKit passes them); returns the one Return it sent.
pub async fn run(daemon: Daemon, opts: &[&str]) -> ReturnRequest {
    run_recording(daemon, &Options::from_opts(opts)).await.0
}

/// Runs the frontend with `options` against a fake bridge answering as `daemon` says; returns
/// the one Return it sent and the Definitions it solved, in order.
pub async fn run_recording(daemon: Daemon, options: &Options) -> (ReturnRequest, Vec<Definition>) {
    let (bridge, received) = serve(daemon).await;
    crate::run(&bridge, options).await.expect("the Return call");
    let mut returned = received.returned.lock().expect("returned requests");
    assert_eq!(returned.len(), 1, "exactly one Return");
    let solved = received.solved.lock().expect("solved definitions").clone();
    (returned.remove(0), solved)
}

/// Serves a fake bridge answering as `daemon` says; returns a client of it and what it receives.
pub async fn serve(daemon: Daemon) -> (Bridge, Received) {
    let received = Received::default();
    let garbled = Arc::new(daemon.garbled.clone());
    let fake = Fake {
        daemon,
        solves: Mutex::new(0),
        received: received.clone(),
    };
    let service = Garbling {
        inner: LlbBridgeServer::new(fake),
        garbled,
    };
    let incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into()).expect("bind loopback");
    let address = incoming.local_addr().expect("loopback address");
    tokio::spawn(Server::builder().serve_with_incoming(service, incoming));
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("loopback uri")
        .connect()
        .await
        .expect("connect to the fake bridge");
    (Bridge::new(channel), received)
}
