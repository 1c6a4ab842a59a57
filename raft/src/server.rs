//! Server side of the multi-raft transport: actix-web handlers under `/raft/v1/{group}/{rpc}`
//! (one group's RPC, snapshots) and `/raft/v1/batch` (many groups' RPCs from one peer, see
//! `batch.rs`; each group's answer is streamed back as soon as it is ready, so one slow group
//! holds up no other).
//!
//! Bodies are MessagePack; every reply is `200` with an encoded `Result<Resp, String>`, except
//! when the RPC must not reach Raft at all:
//! - `409` when the `x-raft-target-node` header names another node (a reused address must not
//!   let a vote or an append reach the wrong replica);
//! - `404` for a group this node does not host: an RPC never creates a group, or a deleted
//!   partition could come back to life.

use std::fmt::Display;
use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use openraft::{Raft, RaftTypeConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::batch::{BatchItem, ItemReply, RpcKind, frame};
use crate::codec::{decode, encode};

/// Header naming the node an RPC is meant for.
pub const TARGET_NODE_HEADER: &str = "x-raft-target-node";

/// A whole snapshot in one RPC body: vote and meta, then the raw snapshot bytes.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SnapshotEnvelope<C: RaftTypeConfig> {
    /// The sending leader's vote.
    pub vote: VoteOf<C>,
    /// What the snapshot covers.
    pub meta: SnapshotMetaOf<C>,
    /// The snapshot data, sent as raw bytes.
    pub data: Bytes,
}

/// How the RPC handlers find a group's Raft handle.
pub trait GroupLookup<C, SM>: Send + Sync + 'static
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C>,
{
    /// This node's id; RPCs addressed to another id are refused.
    fn node_id(&self) -> u64;
    /// The group's Raft handle if this node hosts it.
    fn raft(&self, group: Uuid) -> Option<Raft<C, SM>>;
}

/// Registers the Raft RPC route. `L` is the node's group registry.
pub fn configure<C, SM, L>(cfg: &mut web::ServiceConfig, lookup: Arc<L>)
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = Cursor<Vec<u8>>>,
    L: GroupLookup<C, SM>,
{
    cfg.app_data(web::Data::from(lookup))
        // Appends carry whole batches and snapshots whole partitions.
        .app_data(web::PayloadConfig::new(1 << 30))
        .route("/raft/v1/batch", web::post().to(handle_batch::<C, SM, L>))
        .route("/raft/v1/{group}/{rpc}", web::post().to(handle::<C, SM, L>));
}

/// Binds the node's Raft RPC listener (HTTP/2 cleartext, also HTTP/1) and returns the server
/// to spawn. Signals are left to the caller, which stops the listener after its groups.
pub fn listen<C, SM, L>(
    addr: &str,
    workers: usize,
    lookup: Arc<L>,
) -> std::io::Result<actix_web::dev::Server>
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = Cursor<Vec<u8>>>,
    L: GroupLookup<C, SM>,
{
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(|cfg| configure::<C, SM, L>(cfg, lookup.clone()))
    })
    .workers(workers)
    .disable_signals()
    // Batch answers stream as separate writes after the headers: without TCP_NODELAY, Nagle
    // holds each one until the peer's delayed ACK (40 ms on Linux) arrives.
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
            && let Err(e) = tcp.set_nodelay(true)
        {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY on a Raft connection");
        }
    })
    // Peers keep HTTP/2 connections open: give in-flight requests 1 s, not 30.
    .shutdown_timeout(1)
    .bind_auto_h2c(addr)?
    .run();
    Ok(server)
}

/// Raft RPCs this process has received since start-up, by kind (for `/metrics`: idle groups
/// should receive none).
#[derive(Debug, Default)]
pub struct Received {
    /// `append` RPCs: replication and heartbeats.
    pub append: AtomicU64,
    /// `vote` and `pre-vote` RPCs: elections.
    pub vote: AtomicU64,
    /// Messages (HTTP requests) that carried them: batches and per-group requests.
    pub messages: AtomicU64,
}

/// The process-wide counters (one Raft listener per process).
pub static RECEIVED: Received = Received {
    append: AtomicU64::new(0),
    vote: AtomicU64::new(0),
    messages: AtomicU64::new(0),
};

/// `None` when the request names this node as its target, else the refusal to answer.
fn not_for_me(req: &HttpRequest, me: u64) -> Option<HttpResponse> {
    let target = req
        .headers()
        .get(TARGET_NODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    (target != Some(me)).then(|| {
        HttpResponse::Conflict().body(format!("this is node {me}, the RPC is for node {target:?}"))
    })
}

/// `POST /raft/v1/batch`: many groups' RPCs from one peer; answers stream back per group.
async fn handle_batch<C, SM, L>(
    req: HttpRequest,
    body: web::Bytes,
    lookup: web::Data<L>,
) -> HttpResponse
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = Cursor<Vec<u8>>>,
    L: GroupLookup<C, SM>,
{
    if let Some(refused) = not_for_me(&req, lookup.node_id()) {
        return refused;
    }
    RECEIVED.messages.fetch_add(1, Ordering::Relaxed);
    let items: Vec<BatchItem> = match decode(&body) {
        Ok(items) => items,
        Err(e) => return bad(e),
    };
    let answers: FuturesUnordered<_> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let raft = lookup.raft(item.group);
            async move {
                let reply = match raft {
                    None => ItemReply::Refused(format!("group {} is not hosted here", item.group)),
                    Some(raft) => {
                        let ttl = Duration::from_millis(u64::from(item.ttl_ms));
                        match tokio::time::timeout(ttl, dispatch(&raft, item.kind, &item.body))
                            .await
                        {
                            Ok(Ok(b)) => ItemReply::Done(b),
                            Ok(Err(m)) => ItemReply::Refused(m),
                            Err(_) => ItemReply::Refused(format!("no answer within {ttl:?}")),
                        }
                    }
                };
                Ok::<_, std::convert::Infallible>(frame(i as u32, &reply))
            }
        })
        .collect();
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .streaming(answers)
}

/// Runs one group's RPC; the encoded `Result<Resp, String>`, or why it did not reach Raft.
async fn dispatch<C, SM>(raft: &Raft<C, SM>, kind: RpcKind, body: &[u8]) -> Result<Bytes, String>
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C>,
{
    let counter = if kind == RpcKind::Append {
        &RECEIVED.append
    } else {
        &RECEIVED.vote
    };
    if kind != RpcKind::TransferLeader {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    let undecodable = |e: std::io::Error| format!("undecodable raft rpc body: {e}");
    match kind {
        RpcKind::Append => encoded(
            raft.append_entries(decode(body).map_err(undecodable)?)
                .await,
        ),
        RpcKind::Vote => encoded(raft.vote(decode(body).map_err(undecodable)?).await),
        RpcKind::PreVote => encoded(raft.pre_vote(decode(body).map_err(undecodable)?).await),
        RpcKind::TransferLeader => encoded(
            raft.handle_transfer_leader(decode(body).map_err(undecodable)?)
                .await,
        ),
    }
}

fn encoded<T: Serialize, E: Display>(r: Result<T, E>) -> Result<Bytes, String> {
    let r: Result<T, String> = r.map_err(|e| e.to_string());
    encode(&r).map(Bytes::from).map_err(|e| e.to_string())
}

async fn handle<C, SM, L>(
    req: HttpRequest,
    path: web::Path<(Uuid, String)>,
    body: web::Bytes,
    lookup: web::Data<L>,
) -> HttpResponse
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = Cursor<Vec<u8>>>,
    L: GroupLookup<C, SM>,
{
    let (group, rpc) = path.into_inner();
    if let Some(refused) = not_for_me(&req, lookup.node_id()) {
        return refused;
    }
    RECEIVED.messages.fetch_add(1, Ordering::Relaxed);
    let Some(raft) = lookup.raft(group) else {
        return HttpResponse::NotFound().body(format!("group {group} is not hosted here"));
    };
    let kind = match rpc.as_str() {
        "append" => RpcKind::Append,
        "vote" => RpcKind::Vote,
        "pre-vote" => RpcKind::PreVote,
        "transfer-leader" => RpcKind::TransferLeader,
        "snapshot" => {
            return match decode::<SnapshotEnvelope<C>>(&body) {
                Ok(env) => {
                    let snapshot = Snapshot {
                        meta: env.meta,
                        snapshot: Cursor::new(env.data.to_vec()),
                    };
                    reply(raft.install_full_snapshot(env.vote, snapshot).await)
                }
                Err(e) => bad(e),
            };
        }
        other => return HttpResponse::NotFound().body(format!("unknown raft rpc {other:?}")),
    };
    match dispatch(&raft, kind, &body).await {
        Ok(b) => HttpResponse::Ok()
            .content_type("application/msgpack")
            .body(b),
        Err(m) => HttpResponse::BadRequest().body(m),
    }
}

fn reply<T: Serialize, E: Display>(r: Result<T, E>) -> HttpResponse {
    let r: Result<T, String> = r.map_err(|e| e.to_string());
    match encode(&r) {
        Ok(b) => HttpResponse::Ok()
            .content_type("application/msgpack")
            .body(b),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

fn bad(e: std::io::Error) -> HttpResponse {
    HttpResponse::BadRequest().body(format!("undecodable raft rpc body: {e}"))
}
