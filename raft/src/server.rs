//! Server side of the multi-raft transport: actix-web handlers under `/raft/v1/{group}/{rpc}`.
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

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use openraft::{Raft, RaftTypeConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
}

/// The process-wide counters (one Raft listener per process).
pub static RECEIVED: Received = Received {
    append: AtomicU64::new(0),
    vote: AtomicU64::new(0),
};

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
    let target = req
        .headers()
        .get(TARGET_NODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if target != Some(lookup.node_id()) {
        return HttpResponse::Conflict().body(format!(
            "this is node {}, the RPC is for node {:?}",
            lookup.node_id(),
            target
        ));
    }
    let Some(raft) = lookup.raft(group) else {
        return HttpResponse::NotFound().body(format!("group {group} is not hosted here"));
    };
    match rpc.as_str() {
        "append" | "vote" | "pre-vote" => {
            let counter = if rpc == "append" {
                &RECEIVED.append
            } else {
                &RECEIVED.vote
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
    match rpc.as_str() {
        "append" => match decode(&body) {
            Ok(r) => reply(raft.append_entries(r).await),
            Err(e) => bad(e),
        },
        "vote" => match decode(&body) {
            Ok(r) => reply(raft.vote(r).await),
            Err(e) => bad(e),
        },
        "pre-vote" => match decode(&body) {
            Ok(r) => reply(raft.pre_vote(r).await),
            Err(e) => bad(e),
        },
        "transfer-leader" => match decode(&body) {
            Ok(r) => reply(raft.handle_transfer_leader(r).await),
            Err(e) => bad(e),
        },
        "snapshot" => match decode::<SnapshotEnvelope<C>>(&body) {
            Ok(env) => {
                let snapshot = Snapshot {
                    meta: env.meta,
                    snapshot: Cursor::new(env.data.to_vec()),
                };
                reply(raft.install_full_snapshot(env.vote, snapshot).await)
            }
            Err(e) => bad(e),
        },
        other => HttpResponse::NotFound().body(format!("unknown raft rpc {other:?}")),
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
