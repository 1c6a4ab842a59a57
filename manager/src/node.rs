//! The running manager: its Raft handle, the shared metadata, liveness, and the helpers every
//! handler uses to read, propose and forward.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::ErrorCode;
use raftbus_security::NodeHttp;

use crate::error::{ApiError, internal};
use crate::liveness::Liveness;
use crate::metadata::ClusterMeta;
use crate::raft::{MetaCommand, MetaRaft, MetaResponse, WriteError};
use crate::reports::Reports;
use crate::settings::{Peer, Settings};
use crate::store::SharedMeta;

/// Everything a manager's handlers and loops share.
pub struct Manager {
    /// This manager's id.
    pub id: u64,
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// All managers, from `cluster.peers`.
    pub peers: Vec<Peer>,
    /// The metadata group.
    pub raft: MetaRaft,
    /// Applied metadata, for local reads.
    pub meta: SharedMeta,
    /// Heartbeat bookkeeping (meaningful on the write manager).
    pub liveness: Liveness,
    /// What each broker hosts, merged from its heartbeat reports (write manager only).
    pub reports: Reports,
    /// Forwarding to the write manager, probing peers, proxying to brokers' client API
    /// (15 s timeout).
    pub http: NodeHttp,
    /// Calls to brokers' internal listeners (fencing), as this manager over mutual TLS.
    pub brokers: NodeHttp,
}

impl Manager {
    /// True when this manager is the write manager (Raft leader).
    pub fn is_leader(&self) -> bool {
        crate::raft::is_leader(&self.raft)
    }

    /// The write manager's `(id, api address)`, when known.
    pub fn leader(&self) -> Option<(u64, String)> {
        let id = crate::raft::current_leader(&self.raft)?;
        let peer = self.peers.iter().find(|p| p.id == id)?;
        Some((id, peer.api_addr.clone()))
    }

    /// Runs `f` on the applied metadata (lock held only for `f`).
    pub fn read<T>(&self, f: impl FnOnce(&ClusterMeta) -> T) -> T {
        f(&self.meta.read().expect("meta lock"))
    }

    /// Heartbeat timeout.
    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.heartbeat.timeout_ms)
    }

    /// Proposes a change; only valid on the write manager. Deterministic refusals become
    /// their API errors.
    pub async fn propose(&self, cmd: MetaCommand) -> Result<MetaResponse, ApiError> {
        match crate::raft::write(&self.raft, cmd, Duration::from_secs(10)).await {
            Err(WriteError::Timeout) => Err(ApiError::new(
                ErrorCode::Timeout,
                "metadata change not committed within 10 s",
            )),
            Ok(MetaResponse::Error { code, message }) => Err(ApiError::new(code, message)),
            Ok(other) => Ok(other),
            Err(WriteError::NotLeader) => {
                Err(ApiError::not_leader("the metadata group", self.leader()))
            }
            Err(WriteError::Discarded) => Err(ApiError::new(
                ErrorCode::Timeout,
                "write manager changed while committing; outcome unknown, retry",
            )),
            Err(e @ WriteError::Other(_)) => Err(internal(e)),
        }
    }

    /// Sends the same request to the write manager and relays its answer. Used by every
    /// write endpoint on a read manager, so clients may talk to any manager.
    pub async fn forward(
        &self,
        req: &HttpRequest,
        body: web::Bytes,
    ) -> Result<HttpResponse, ApiError> {
        let Some((id, addr)) = self.leader().filter(|(id, _)| *id != self.id) else {
            return Err(ApiError::not_leader("the metadata group", None));
        };
        // Over HTTP/2 the request URI is absolute: keep only its path and query.
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let url = self.http.url(&addr, path);
        let method =
            reqwest::Method::from_bytes(req.method().as_str().as_bytes()).map_err(internal)?;
        let mut out = self.http.http.request(method, url).body(body.to_vec());
        // The client's own credentials go along: the write manager checks them again.
        for name in ["content-type", "authorization"] {
            if let Some(v) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
                out = out.header(name, v);
            }
        }
        let resp = out.send().await.map_err(|e| {
            ApiError::new(
                ErrorCode::Unavailable,
                format!("write manager {id} at {addr} unreachable: {e}"),
            )
        })?;
        let status =
            actix_web::http::StatusCode::from_u16(resp.status().as_u16()).map_err(internal)?;
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(internal)?;
        let mut b = HttpResponse::build(status);
        if let Some(ct) = ct {
            b.content_type(ct);
        }
        Ok(b.body(bytes))
    }
}

/// This manager's wall clock in ms since the epoch: the time the write manager puts into the
/// commands that need one (applying never reads a clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
