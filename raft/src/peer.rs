//! One message stream per peer node: the Raft RPCs of every group going to the same peer
//! travel together.
//!
//! Each peer has a queue and a `peer` task. Replication, votes and transfers are sent at once,
//! taking along everything queued for that peer; a heartbeat (an entry-less append from
//! openraft's heartbeat worker) waits up to `coalesce` for company, so the heartbeats of all
//! groups to one peer cost one message per tick, whatever the number of groups. At most
//! `in_flight` messages are being sent at once; RPCs arriving meanwhile queue and go together,
//! so messages grow with load by themselves. Answers stream back per group (see `batch`).
//!
//! ### To ensure correctness
//! Batching changes only how RPCs travel, never what they say: each group still gets exactly
//! its own request and answer, and openraft keeps at most one append in flight per (group,
//! peer) pair, so a group's order is unchanged. A heartbeat's lease counts from when openraft
//! sent it, so the coalescing delay can only shorten a lease, never extend it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use crate::batch::{BatchItem, ItemReply, RpcKind, take_frames};
use crate::codec::encode;
use crate::server::TARGET_NODE_HEADER;

/// How the per-peer streams batch.
#[derive(Debug, Clone, Copy)]
pub struct PeerConfig {
    /// Longest a heartbeat waits for company.
    pub coalesce: Duration,
    /// At most this many request bytes per message (a larger single RPC goes alone).
    pub max_message_bytes: usize,
    /// Messages being sent to one peer at once.
    pub in_flight: usize,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            coalesce: Duration::from_millis(20),
            max_message_bytes: 8 << 20,
            in_flight: 4,
        }
    }
}

/// Why an RPC got no answer from the peer.
#[derive(Debug, Clone)]
pub(crate) enum PeerError {
    /// The peer is not reachable or refused the RPC: back off.
    Unreachable(String),
    /// Transient: retry.
    Network(String),
}

/// One RPC waiting for its message.
pub(crate) struct Rpc {
    pub group: Uuid,
    pub kind: RpcKind,
    pub ttl: Duration,
    pub body: Bytes,
    /// False for entry-less appends: they may wait up to `coalesce`.
    pub urgent: bool,
    pub reply: oneshot::Sender<Result<Bytes, PeerError>>,
}

/// Messages and RPCs sent to one peer (for `/metrics`).
#[derive(Debug, Default)]
pub struct PeerStats {
    /// Messages (HTTP requests) sent.
    pub messages: AtomicU64,
    /// RPCs carried by them.
    pub rpcs: AtomicU64,
}

/// The queue of one peer.
pub(crate) struct PeerQueue {
    pub tx: mpsc::UnboundedSender<Rpc>,
    pub stats: Arc<PeerStats>,
}

/// What the `peer` task needs of the router.
pub(crate) struct PeerLink {
    pub target: u64,
    pub http: reqwest::Client,
    /// `https`, or `http` in insecure mode.
    pub scheme: &'static str,
    pub addrs: Arc<RwLock<HashMap<u64, String>>>,
    pub config: PeerConfig,
}

impl PeerQueue {
    /// Starts the `peer` task of `link.target`. It ends when the queue's sender is dropped.
    pub fn spawn(link: PeerLink) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(PeerStats::default());
        let span = tracing::debug_span!("peer", target = link.target);
        let task = PeerTask {
            slots: Arc::new(Semaphore::new(link.config.in_flight.max(1))),
            link: Arc::new(link),
            rx,
            pending: Vec::new(),
            flush_at: None,
            stats: stats.clone(),
        };
        tokio::spawn(task.run().instrument(span));
        Self { tx, stats }
    }
}

struct PeerTask {
    link: Arc<PeerLink>,
    rx: mpsc::UnboundedReceiver<Rpc>,
    /// RPCs taken from the queue and not sent yet, oldest first.
    pending: Vec<Rpc>,
    /// When `pending` must go: now for urgent RPCs, `coalesce` after the oldest heartbeat.
    flush_at: Option<Instant>,
    slots: Arc<Semaphore>,
    stats: Arc<PeerStats>,
}

impl PeerTask {
    async fn run(mut self) {
        loop {
            if self.flush_at.is_some_and(|t| t <= Instant::now()) {
                let Ok(slot) = self.slots.clone().acquire_owned().await else {
                    return;
                };
                // Everything that queued while we waited for the slot goes along.
                while let Ok(rpc) = self.rx.try_recv() {
                    self.push(rpc);
                }
                let batch = self.take_batch();
                if !batch.is_empty() {
                    let link = self.link.clone();
                    self.stats.messages.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .rpcs
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tokio::spawn(send(link, batch, slot));
                }
                continue;
            }
            let wait = self.flush_at;
            tokio::select! {
                rpc = self.rx.recv() => match rpc {
                    Some(rpc) => self.push(rpc),
                    None => return,
                },
                _ = sleep_until(wait), if wait.is_some() => {}
            }
        }
    }

    fn push(&mut self, rpc: Rpc) {
        let at = if rpc.urgent {
            Instant::now()
        } else {
            Instant::now() + self.link.config.coalesce
        };
        self.flush_at = Some(self.flush_at.map_or(at, |t| t.min(at)));
        self.pending.push(rpc);
    }

    /// The oldest pending RPCs within the message limit; the rest stay and go next.
    fn take_batch(&mut self) -> Vec<Rpc> {
        self.pending.retain(|r| !r.reply.is_closed());
        let mut bytes = 0;
        let mut n = 0;
        for r in &self.pending {
            if n > 0 && bytes + r.body.len() > self.link.config.max_message_bytes {
                break;
            }
            bytes += r.body.len();
            n += 1;
        }
        let batch: Vec<Rpc> = self.pending.drain(..n).collect();
        self.flush_at = if self.pending.is_empty() {
            None
        } else {
            Some(Instant::now())
        };
        batch
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Sends one message and hands each answer to its caller as it streams in. The slot is given
/// back once the peer answered the message's headers (it has the whole request by then).
async fn send(link: Arc<PeerLink>, batch: Vec<Rpc>, slot: tokio::sync::OwnedSemaphorePermit) {
    let target = link.target;
    let mut slot = Some(slot);
    let ttl = batch.iter().map(|r| r.ttl).max().unwrap_or_default();
    let items: Vec<BatchItem> = batch
        .iter()
        .map(|r| BatchItem {
            group: r.group,
            kind: r.kind,
            ttl_ms: r.ttl.as_millis().min(u32::MAX as u128) as u32,
            body: r.body.clone(),
        })
        .collect();
    let mut waiting: HashMap<u32, oneshot::Sender<Result<Bytes, PeerError>>> = batch
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i as u32, r.reply))
        .collect();
    let addr = link.addrs.read().expect("addrs lock").get(&target).cloned();
    let Some(addr) = addr else {
        fail_all(
            &mut waiting,
            PeerError::Unreachable(format!("no address known for node {target}")),
        );
        return;
    };
    let body = match encode(&items) {
        Ok(b) => b,
        Err(e) => {
            fail_all(&mut waiting, PeerError::Network(e.to_string()));
            return;
        }
    };
    drop(items);
    let resp = link
        .http
        .post(format!("{}://{addr}/raft/v1/batch", link.scheme))
        .header(TARGET_NODE_HEADER, target.to_string())
        .header("content-type", "application/msgpack")
        .timeout(ttl)
        .body(body)
        .send()
        .await;
    slot.take();
    let mut resp = match resp {
        Ok(r) => r,
        Err(e) => {
            let m = format!("node {target} at {addr}: {e}");
            let err = if e.is_connect() {
                PeerError::Unreachable(m)
            } else {
                PeerError::Network(m)
            };
            fail_all(&mut waiting, err);
            return;
        }
    };
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let m = format!("node {target} refused a batch: {status} {text}");
        fail_all(&mut waiting, PeerError::Unreachable(m));
        return;
    }
    let mut buf = BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                buf.extend_from_slice(&chunk);
                match take_frames(&mut buf) {
                    Ok(frames) => {
                        for (i, reply) in frames {
                            if let Some(tx) = waiting.remove(&i) {
                                let _ = tx.send(match reply {
                                    ItemReply::Done(b) => Ok(b),
                                    ItemReply::Refused(m) => Err(PeerError::Unreachable(m)),
                                });
                            }
                        }
                    }
                    Err(e) => {
                        let m = format!("node {target}: bad batch reply: {e}");
                        fail_all(&mut waiting, PeerError::Network(m));
                        return;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                let m = format!("node {target}: batch reply cut: {e}");
                fail_all(&mut waiting, PeerError::Network(m));
                return;
            }
        }
    }
    let m = format!("node {target} gave no answer for an RPC of the batch");
    fail_all(&mut waiting, PeerError::Network(m));
}

/// Answers every RPC still waiting with `err`.
fn fail_all(waiting: &mut HashMap<u32, oneshot::Sender<Result<Bytes, PeerError>>>, err: PeerError) {
    for (_, tx) in waiting.drain() {
        let _ = tx.send(Err(err.clone()));
    }
}
