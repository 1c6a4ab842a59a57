//! Server side of the multi-raft transport: actix-web handlers under `/raft/v1/{group}/{rpc}`
//! (one group's RPC, snapshots) and `/raft/v1/batch` (many groups' RPCs from one peer, see
//! `batch.rs`; each group's answer is streamed back as soon as it is ready, so one slow group
//! holds up no other).
//!
//! Bodies are MessagePack; every reply is `200` with an encoded `Result<Resp, String>`, except
//! when the RPC must not reach Raft at all:
//! - `401`/`403` unless the caller is a node of this node's role whose certificate is valid for
//!   the name it claims (`raftbus_security::Caller`), and every vote an RPC carries (the
//!   sending leader's or candidate's) names that same node: a node can speak only for itself;
//! - `409` when the `x-raft-target-node` header names another node (a reused address must not
//!   let a vote or an append reach the wrong replica);
//! - `404` for a group this node does not host: an RPC never creates a group, or a deleted
//!   partition could come back to life.

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use openraft::{Raft, RaftTypeConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use openraft::raft::{AppendEntriesRequest, TransferLeaderRequest, VoteRequest};
use openraft::vote::{RaftLeaderId, RaftVote};
use raftbus_security::{Caller, NodeTls, Role};

use crate::batch::{BatchItem, ItemReply, RpcKind, frame};
use crate::codec::{decode, encode};
use crate::snapshot::{FrameReader, SnapshotData, discard_transfer, stage};

/// Header naming the node an RPC is meant for.
pub const TARGET_NODE_HEADER: &str = "x-raft-target-node";

/// Body limit of every Raft RPC but snapshots (which stream, see `snapshot.rs`): a batch
/// message (`peers.max_message_bytes`) or one group's append (entries up to
/// [`crate::MAX_APPEND_BYTES`], or a single larger entry of at most `limits.max_batch_bytes`),
/// with room for encoding overhead. Nodes validate that their settings fit under it.
pub const RPC_BODY_LIMIT: usize = 64 << 20;

/// The first frame of a snapshot stream: who sends it and what it covers.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SnapshotEnvelope<C: RaftTypeConfig> {
    /// The sending leader's vote.
    pub vote: VoteOf<C>,
    /// What the snapshot covers.
    pub meta: SnapshotMetaOf<C>,
}

/// How the RPC handlers find a group's Raft handle.
pub trait GroupLookup<C, SM>: Send + Sync + 'static
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C>,
{
    /// This node's id; RPCs addressed to another id are refused.
    fn node_id(&self) -> u64;
    /// This node's role: only nodes of the same role may send it Raft RPCs.
    fn role(&self) -> Role;
    /// The group's Raft handle if this node hosts it.
    fn raft(&self, group: Uuid) -> Option<Raft<C, SM>>;
    /// The node's database, where received snapshot frames are staged.
    fn db(&self) -> &sqlx::PgPool;
}

/// Registers the Raft RPC route. `L` is the node's group registry.
pub fn configure<C, SM, L>(cfg: &mut web::ServiceConfig, lookup: Arc<L>)
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = SnapshotData>,
    L: GroupLookup<C, SM>,
{
    cfg.app_data(web::Data::from(lookup))
        .app_data(web::PayloadConfig::new(RPC_BODY_LIMIT))
        .route("/raft/v1/batch", web::post().to(handle_batch::<C, SM, L>))
        .route(
            "/raft/v1/{group}/snapshot-frames",
            web::post().to(handle_snapshot::<C, SM, L>),
        )
        .route("/raft/v1/{group}/{rpc}", web::post().to(handle::<C, SM, L>));
}

/// Binds the node's internal listener: the Raft RPC routes plus the node's own internal
/// routes (`internal`), over mutual TLS with `tls` (cleartext HTTP/2 and HTTP/1 without, in
/// insecure mode). Returns the server to spawn; signals are left to the caller, which stops
/// the listener after its groups.
pub fn listen<C, SM, L, F>(
    addr: &str,
    workers: usize,
    lookup: Arc<L>,
    tls: Option<&NodeTls>,
    internal: F,
) -> std::io::Result<actix_web::dev::Server>
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = SnapshotData>,
    L: GroupLookup<C, SM>,
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let server = actix_web::HttpServer::new(move || {
        let internal = internal.clone();
        actix_web::App::new()
            .configure(internal)
            .configure(|cfg| configure::<C, SM, L>(cfg, lookup.clone()))
    })
    .workers(workers)
    .disable_signals()
    .on_connect(raftbus_security::identity::on_connect)
    // Peers keep HTTP/2 connections open: give in-flight requests 1 s, not 30.
    .shutdown_timeout(1);
    Ok(raftbus_security::bind!(server, addr, tls.map(|t| &t.internal))?.run())
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

/// The authenticated peer node sending a Raft RPC, or the refusal to answer: it must be a node
/// of this node's role (`401`/`403` otherwise) and name this node as its target (`409`).
fn sender(req: &HttpRequest, me: u64, role: Role) -> Result<u64, Box<HttpResponse>> {
    use actix_web::ResponseError;
    let caller = Caller::of(req)
        .and_then(|c| c.require(role).map(|()| c))
        .map_err(|e| Box::new(e.error_response()))?;
    match not_for_me(req, me) {
        Some(refused) => Err(Box::new(refused)),
        None => Ok(caller.0.id),
    }
}

/// `Ok` when the vote an RPC carries is `sender`'s own: a node may not campaign or lead
/// under another node's name.
fn claim<V: RaftVote>(vote: &V, sender: u64) -> Result<(), String> {
    let leader = vote.leader_id().node_id().to_string();
    if leader == sender.to_string() {
        Ok(())
    } else {
        Err(format!(
            "node {sender} sent an RPC carrying node {leader}'s vote: refused"
        ))
    }
}

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
    SM: RaftStateMachine<C, SnapshotData = SnapshotData>,
    L: GroupLookup<C, SM>,
{
    let from = match sender(&req, lookup.node_id(), lookup.role()) {
        Ok(from) => from,
        Err(refused) => return *refused,
    };
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
                        match tokio::time::timeout(
                            ttl,
                            dispatch(&raft, from, item.kind, &item.body),
                        )
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
async fn dispatch<C, SM>(
    raft: &Raft<C, SM>,
    from: u64,
    kind: RpcKind,
    body: &[u8],
) -> Result<Bytes, String>
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
        RpcKind::Append => {
            let rpc: AppendEntriesRequest<C> = decode(body).map_err(undecodable)?;
            claim(&rpc.vote, from)?;
            encoded(raft.append_entries(rpc).await)
        }
        RpcKind::Vote | RpcKind::PreVote => {
            let rpc: VoteRequest<C> = decode(body).map_err(undecodable)?;
            claim(&rpc.vote, from)?;
            if kind == RpcKind::Vote {
                encoded(raft.vote(rpc).await)
            } else {
                encoded(raft.pre_vote(rpc).await)
            }
        }
        RpcKind::TransferLeader => {
            let rpc: TransferLeaderRequest<C> = decode(body).map_err(undecodable)?;
            claim(rpc.from_leader(), from)?;
            encoded(raft.handle_transfer_leader(rpc).await)
        }
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
    SM: RaftStateMachine<C, SnapshotData = SnapshotData>,
    L: GroupLookup<C, SM>,
{
    let (group, rpc) = path.into_inner();
    let (from, raft) = match addressed(&req, lookup.get_ref(), group) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let kind = match rpc.as_str() {
        "append" => RpcKind::Append,
        "vote" => RpcKind::Vote,
        "pre-vote" => RpcKind::PreVote,
        "transfer-leader" => RpcKind::TransferLeader,
        other => return HttpResponse::NotFound().body(format!("unknown raft rpc {other:?}")),
    };
    match dispatch(&raft, from, kind, &body).await {
        Ok(b) => HttpResponse::Ok()
            .content_type("application/msgpack")
            .body(b),
        Err(m) => HttpResponse::BadRequest().body(m),
    }
}

/// The sender of a one-group RPC and the group's Raft handle, or the refusal to answer.
fn addressed<C, SM, L>(
    req: &HttpRequest,
    lookup: &L,
    group: Uuid,
) -> Result<(u64, Raft<C, SM>), Box<HttpResponse>>
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C>,
    L: GroupLookup<C, SM>,
{
    let from = sender(req, lookup.node_id(), lookup.role())?;
    RECEIVED.messages.fetch_add(1, Ordering::Relaxed);
    match lookup.raft(group) {
        Some(raft) => Ok((from, raft)),
        None => Err(Box::new(
            HttpResponse::NotFound().body(format!("group {group} is not hosted here")),
        )),
    }
}

/// `POST /raft/v1/{group}/snapshot-frames`: a snapshot streamed as frames (`snapshot.rs`).
/// Every frame is staged in the database as it arrives; openraft gets the snapshot only once
/// the stream is complete, so a broken transfer never reaches the state machine.
async fn handle_snapshot<C, SM, L>(
    req: HttpRequest,
    group: web::Path<Uuid>,
    mut payload: web::Payload,
    lookup: web::Data<L>,
) -> HttpResponse
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = SnapshotData>,
    L: GroupLookup<C, SM>,
{
    let group = group.into_inner();
    let (from, raft) = match addressed(&req, lookup.get_ref(), group) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let db = lookup.db().clone();
    let transfer = Uuid::new_v4();
    let mut reader = FrameReader::new();
    let mut envelope: Option<SnapshotEnvelope<C>> = None;
    let mut frames = 0u32;
    let received: Result<SnapshotEnvelope<C>, HttpResponse> = async {
        let bad = |m: String| HttpResponse::BadRequest().body(m);
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| bad(format!("snapshot stream broke off: {e}")))?;
            reader.push(&chunk);
            while let Some(frame) = reader.next_frame().map_err(|e| bad(e.to_string()))? {
                if envelope.is_none() {
                    let env: SnapshotEnvelope<C> = decode(&frame)
                        .map_err(|e| bad(format!("undecodable snapshot envelope: {e}")))?;
                    claim(&env.vote, from).map_err(|m| HttpResponse::Forbidden().body(m))?;
                    envelope = Some(env);
                    continue;
                }
                stage(&db, group, transfer, frames, &frame)
                    .await
                    .map_err(|e| HttpResponse::ServiceUnavailable().body(e.to_string()))?;
                frames += 1;
            }
        }
        if !reader.is_empty() {
            return Err(bad("snapshot stream ended inside a frame".into()));
        }
        envelope.ok_or_else(|| bad("empty snapshot stream".into()))
    }
    .await;
    let env = match received {
        Ok(env) => env,
        Err(refused) => {
            discard_transfer(&db, group, transfer).await;
            return refused;
        }
    };
    let snapshot = Snapshot {
        meta: env.meta,
        snapshot: SnapshotData::Staged {
            db: db.clone(),
            group,
            transfer,
            frames,
        },
    };
    let r = raft.install_full_snapshot(env.vote, snapshot).await;
    // Installed frames are gone already (the install deletes them); refused ones are not.
    discard_transfer(&db, group, transfer).await;
    reply(r)
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
