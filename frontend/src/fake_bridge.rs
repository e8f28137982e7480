//! An in-process LLBBridge for tests: serves one spec file and records what the frontend
//! returns, so a whole request can be run without BuildKit.

use std::sync::{Arc, Mutex};

use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

use crate::bridge::Bridge;
use crate::gateway_pb::llb_bridge_server::{LlbBridge, LlbBridgeServer};
use crate::gateway_pb::{
    InputsRequest, InputsResponse, PingRequest, PongResponse, ReadDirRequest, ReadDirResponse,
    ReadFileRequest, ReadFileResponse, ResolveImageConfigRequest, ResolveImageConfigResponse,
    ReturnRequest, ReturnResponse, SolveRequest, SolveResponse, StatFileRequest, StatFileResponse,
};

/// A bridge whose only file is the spec, whatever path is asked for.
struct Fake {
    spec: String,
    returned: Arc<Mutex<Vec<ReturnRequest>>>,
}

#[tonic::async_trait]
impl LlbBridge for Fake {
    async fn resolve_image_config(
        &self,
        _: Request<ResolveImageConfigRequest>,
    ) -> Result<Response<ResolveImageConfigResponse>, Status> {
        Err(Status::unimplemented("resolve_image_config"))
    }

    async fn solve(&self, _: Request<SolveRequest>) -> Result<Response<SolveResponse>, Status> {
        Ok(Response::new(SolveResponse {
            r#ref: "spec".to_owned(),
            result: None,
        }))
    }

    async fn read_file(
        &self,
        _: Request<ReadFileRequest>,
    ) -> Result<Response<ReadFileResponse>, Status> {
        Ok(Response::new(ReadFileResponse {
            data: self.spec.clone().into_bytes(),
        }))
    }

    async fn read_dir(
        &self,
        _: Request<ReadDirRequest>,
    ) -> Result<Response<ReadDirResponse>, Status> {
        Err(Status::unimplemented("read_dir"))
    }

    async fn stat_file(
        &self,
        _: Request<StatFileRequest>,
    ) -> Result<Response<StatFileResponse>, Status> {
        Err(Status::unimplemented("stat_file"))
    }

    async fn ping(&self, _: Request<PingRequest>) -> Result<Response<PongResponse>, Status> {
        Ok(Response::new(PongResponse::default()))
    }

    async fn r#return(
        &self,
        request: Request<ReturnRequest>,
    ) -> Result<Response<ReturnResponse>, Status> {
        if let Ok(mut returned) = self.returned.lock() {
            returned.push(request.into_inner());
        }
        Ok(Response::new(ReturnResponse {}))
    }

    async fn inputs(&self, _: Request<InputsRequest>) -> Result<Response<InputsResponse>, Status> {
        Err(Status::unimplemented("inputs"))
    }
}

/// Serves a fake bridge holding `spec` on a loopback port; returns a client of it and the
/// list of Return requests it receives.
pub async fn serve(spec: &str) -> (Bridge, Arc<Mutex<Vec<ReturnRequest>>>) {
    let returned = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake {
        spec: spec.to_owned(),
        returned: Arc::clone(&returned),
    };
    let incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into()).expect("bind loopback");
    let address = incoming.local_addr().expect("loopback address");
    tokio::spawn(Server::builder().serve_with_incoming(LlbBridgeServer::new(fake), incoming));
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("loopback uri")
        .connect()
        .await
        .expect("connect to the fake bridge");
    (Bridge::new(channel), returned)
}
