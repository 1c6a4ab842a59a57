//! Client side of the multi-raft transport.
//!
//! One [`Router`] per node holds one `reqwest` client speaking HTTP/2 with prior knowledge, so
//! all groups' RPCs to a peer share a single TCP connection, and one message stream per peer
//! (`peer.rs`): appends, heartbeats, votes and transfers of all groups ready at the same time
//! travel in one request. Snapshots go alone, streamed frame by frame on the per-group route
//! (`snapshot.rs`). Every request names its
//! target node in a header and every RPC its group: the receiver refuses RPCs meant for
//! another node (addresses get reused, node ids never) and for groups it does not host.

use raftbus_security::{NodeIdentity, NodeTls};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::{OptionalSend, RaftNetworkFactory, RaftTypeConfig};
use openraft_multi::{GroupNetworkAdapter, GroupRouter};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::NodeAddr;
use crate::batch::RpcKind;
use crate::codec::{decode, encode};
use crate::peer::{PeerConfig, PeerError, PeerLink, PeerQueue, Rpc};
use crate::server::{SnapshotEnvelope, TARGET_NODE_HEADER};
use crate::snapshot::{SnapshotData, wire_frame};

mod group;

pub use group::NetworkFactory;

/// A snapshot transfer fails when no frame left for this long: the receiver (or its database)
/// stopped taking them. Progress, not the whole transfer, is timed: a large partition takes
/// minutes to send, and openraft's snapshot timeout is meant for a single RPC.
const SNAPSHOT_STALL: Duration = Duration::from_secs(30);
/// How long the receiver may take to install a snapshot once every frame was sent (it copies
/// the staged frames into the partition in one transaction).
const SNAPSHOT_INSTALL: Duration = Duration::from_secs(600);

/// Shared RPC client of one node: the HTTP/2 connection pool and the peers' addresses.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
    /// Set on the copy openraft's heartbeat workers use: their entry-less appends may wait
    /// for company (`peer.rs`). Replication (entries, commit notices) always goes at once.
    heartbeats: bool,
}

struct Inner {
    /// One client for all groups and peers: connections are reused and multiplexed.
    http: reqwest::Client,
    /// `https`, or `http` in insecure mode.
    scheme: &'static str,
    /// Raft address per peer node id, learned from membership through `new_client`.
    addrs: Arc<RwLock<HashMap<u64, String>>>,
    /// Pause between retries to an unreachable peer, so a dead peer costs little CPU.
    backoff: Duration,
    /// How the per-peer streams batch.
    batching: PeerConfig,
    /// The message stream of each peer, started on first use.
    peers: Mutex<HashMap<u64, PeerQueue>>,
}

/// Errors of one RPC attempt, before they are mapped to openraft's error types.
enum Failure {
    /// Peer not reachable, or it refused the RPC (wrong node, unknown group): back off.
    Unreachable(String),
    /// Transient failure (timeout, bad response): retry.
    Network(String),
}

impl Router {
    /// Builds the shared client, calling peers as `me` over mutual TLS with `tls` (cleartext
    /// without, in insecure mode). `connect_timeout` bounds how long a dead peer can stall a
    /// replication stream before it is reported unreachable.
    pub fn new(
        me: NodeIdentity,
        tls: Option<&NodeTls>,
        connect_timeout: Duration,
        backoff: Duration,
        batching: PeerConfig,
    ) -> Self {
        let builder = reqwest::Client::builder()
            .http2_prior_knowledge()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Some(Duration::from_secs(5)))
            .http2_keep_alive_while_idle(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .no_proxy();
        let http = raftbus_security::internal_client(builder, tls, me)
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            inner: Arc::new(Inner {
                http,
                scheme: raftbus_security::scheme(tls),
                addrs: Arc::new(RwLock::new(HashMap::new())),
                backoff,
                batching,
                peers: Mutex::new(HashMap::new()),
            }),
            heartbeats: false,
        }
    }

    /// Records where `node` listens for Raft RPCs, if not known yet: a request can never
    /// redirect a known peer (its address changes only through [`Router::remember`], from committed memberships).
    pub fn remember_new(&self, node: u64, raft_addr: &str) {
        let mut addrs = self.inner.addrs.write().expect("addrs lock");
        addrs.entry(node).or_insert_with(|| raft_addr.to_string());
    }

    /// Records (or updates) where `node` listens for Raft RPCs, from a membership committed
    /// in a Raft group (written by an authenticated leader).
    pub fn remember(&self, node: u64, raft_addr: &str) {
        let mut addrs = self.inner.addrs.write().expect("addrs lock");
        if addrs.get(&node).map(String::as_str) != Some(raft_addr) {
            addrs.insert(node, raft_addr.to_string());
        }
    }

    fn addr(&self, node: u64) -> Option<String> {
        self.inner
            .addrs
            .read()
            .expect("addrs lock")
            .get(&node)
            .cloned()
    }

    /// Messages and RPCs sent so far to each peer: `(peer, messages, rpcs)`.
    pub fn peer_stats(&self) -> Vec<(u64, u64, u64)> {
        let peers = self.inner.peers.lock().expect("peers lock");
        let mut v: Vec<_> = peers
            .iter()
            .map(|(id, q)| {
                (
                    *id,
                    q.stats.messages.load(Ordering::Relaxed),
                    q.stats.rpcs.load(Ordering::Relaxed),
                )
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// Queues one RPC on the peer's message stream and decodes the `Result<Resp, String>`
    /// the group answered with.
    async fn rpc<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        target: u64,
        group: Uuid,
        kind: RpcKind,
        req: &Req,
        urgent: bool,
        ttl: Duration,
    ) -> Result<Resp, Failure> {
        let body = encode(req).map_err(|e| Failure::Network(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        let rpc = Rpc {
            group,
            kind,
            ttl,
            body: Bytes::from(body),
            urgent,
            reply: tx,
        };
        {
            let mut peers = self.inner.peers.lock().expect("peers lock");
            let queue = peers.entry(target).or_insert_with(|| {
                PeerQueue::spawn(PeerLink {
                    target,
                    http: self.inner.http.clone(),
                    scheme: self.inner.scheme,
                    addrs: self.inner.addrs.clone(),
                    config: self.inner.batching,
                })
            });
            queue
                .tx
                .send(rpc)
                .map_err(|_| Failure::Unreachable(format!("stream to node {target} stopped")))?;
        }
        let bytes = match tokio::time::timeout(ttl, rx).await {
            Err(_) => {
                return Err(Failure::Network(format!(
                    "node {target}: no answer to {} within {ttl:?}",
                    kind.name()
                )));
            }
            Ok(Err(_)) => return Err(Failure::Network("rpc dropped".into())),
            Ok(Ok(Err(PeerError::Unreachable(m)))) => return Err(Failure::Unreachable(m)),
            Ok(Ok(Err(PeerError::Network(m)))) => return Err(Failure::Network(m)),
            Ok(Ok(Ok(b))) => b,
        };
        let result: Result<Resp, String> =
            decode(&bytes).map_err(|e| Failure::Network(format!("bad response: {e}")))?;
        result.map_err(|e| Failure::Unreachable(format!("node {target}: {e}")))
    }

    /// Streams a snapshot: the envelope frame, then every data frame as the sender produces
    /// it (HTTP/2 flow control holds the producer back when the receiver is slower).
    async fn send_snapshot<C: RaftTypeConfig>(
        &self,
        target: u64,
        group: Uuid,
        envelope: &SnapshotEnvelope<C>,
        data: SnapshotData,
    ) -> Result<SnapshotResponse<C>, Failure> {
        let network = |e: std::io::Error| Failure::Network(e.to_string());
        let first = wire_frame(&encode(envelope).map_err(network)?).map_err(network)?;
        let start = Instant::now();
        // Milliseconds since `start` when the last frame left, and whether all have.
        let progress = Arc::new(AtomicU64::new(0));
        let sent_all = Arc::new(AtomicBool::new(false));
        let (p, done) = (progress.clone(), sent_all.clone());
        let frames = data
            .into_frames()
            .map(|frame| frame.and_then(|f| wire_frame(&f)))
            .chain(futures::stream::once(async move {
                done.store(true, Ordering::Relaxed);
                Ok(Bytes::new())
            }))
            .inspect(move |_| p.store(start.elapsed().as_millis() as u64, Ordering::Relaxed));
        let body = futures::stream::once(async { Ok::<_, std::io::Error>(first) }).chain(frames);
        let send = self.send(
            target,
            group,
            "snapshot-frames",
            reqwest::Body::wrap_stream(body),
            SNAPSHOT_INSTALL + SNAPSHOT_STALL,
        );
        let watchdog = async {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let last = Duration::from_millis(progress.load(Ordering::Relaxed));
                let idle = start.elapsed().saturating_sub(last);
                if sent_all.load(Ordering::Relaxed) {
                    if idle > SNAPSHOT_INSTALL {
                        return format!("node {target} did not install the snapshot in {idle:?}");
                    }
                } else if idle > SNAPSHOT_STALL {
                    return format!("snapshot to node {target} stalled for {idle:?}");
                }
            }
        };
        tokio::select! {
            r = send => r,
            stalled = watchdog => Err(Failure::Network(stalled)),
        }
    }

    async fn send<Resp: DeserializeOwned>(
        &self,
        target: u64,
        group: Uuid,
        path: &str,
        body: impl Into<reqwest::Body>,
        timeout: Duration,
    ) -> Result<Resp, Failure> {
        let addr = self
            .addr(target)
            .ok_or_else(|| Failure::Unreachable(format!("no address known for node {target}")))?;
        let resp = self
            .inner
            .http
            .post(format!(
                "{}://{addr}/raft/v1/{group}/{path}",
                self.inner.scheme
            ))
            .header(TARGET_NODE_HEADER, target.to_string())
            .header("content-type", "application/msgpack")
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    Failure::Unreachable(format!("node {target} at {addr}: {e}"))
                } else {
                    Failure::Network(format!("node {target} at {addr}: {e}"))
                }
            })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Failure::Network(e.to_string()))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(Failure::Unreachable(format!(
                "node {target} refused {path}: {status} {text}"
            )));
        }
        let result: Result<Resp, String> =
            decode(&bytes).map_err(|e| Failure::Network(format!("bad response: {e}")))?;
        result.map_err(|e| Failure::Unreachable(format!("node {target}: {e}")))
    }
}
