//! Produce coalescing: the `propose` task of a partition turns produce requests that queue up
//! while earlier proposals are in flight into **one** Raft entry.
//!
//! Every Raft entry costs the same fixed work whatever its size: a log row on each replica, an
//! append RPC per follower, an applied-state statement on each replica. Under load, clients'
//! batches are small (a producer with 256 records in flight over 6 partitions sends batches of
//! ~10 records), so that fixed cost, not bytes, bounds throughput. The proposer keeps at most
//! `max_in_flight` proposals in the group's pipeline; whatever arrives meanwhile goes into the
//! next proposal as a [`Command::ProduceMany`]. An idle partition proposes at once: a lone
//! request waits for nothing.
//!
//! ### To ensure correctness
//! - One task submits proposals of both acks modes, in queue order, with `client_write_ff` (which returns once
//!   the entry is queued in the Raft core): requests keep their arrival order in the log, as
//!   they did when each handler proposed its own entry.
//! - Each batch of a merged entry is applied on its own (sequence check, offsets, dedup) and
//!   answered with its own result; a refused batch does not affect the others, identically
//!   on every replica.
//! - The outcome of the entry (committed, leader lost, group stopped) is the outcome of every
//!   batch in it, so a client can never see "failed" for a batch that was committed together
//!   with one reported as committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use raftbus_protocol::api::Acks;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::Instrument;

use crate::raft::{
    Command, CommandResponse, PartitionRaft, ProduceBatch, ProgressResponder, ProposeError,
};

/// Outcome of one proposed batch, as `client_write` would report it.
pub type ProposeResult = Result<CommandResponse, ProposeError>;

/// How a partition's proposer batches (from `[raft]` and `[limits]`).
#[derive(Debug, Clone, Copy)]
pub struct ProposeConfig {
    /// Produce entries in a group's pipeline at once; more requests wait and are merged.
    pub max_in_flight: usize,
    /// A merged entry stops growing at this many record bytes (a single larger batch still
    /// goes alone).
    pub max_entry_bytes: usize,
    /// The write lease (`election_max_ms`), renewed before proposing to a quiet group.
    pub lease: Duration,
    /// Record bytes that may wait for the next proposal; more is refused as `busy`.
    pub max_queued_bytes: usize,
}

/// A queued request: the batch and where its outcome goes (`None` for `acks=leader`: nobody
/// waits, and the batch is proposed all the same).
struct Queued {
    batch: ProduceBatch,
    reply: Option<oneshot::Sender<ProposeResult>>,
}

/// Handle to a partition's `propose` task; the task ends when the handle is dropped.
pub struct Proposer {
    /// Requests to the task; bounded in bytes by `queued`, not in count.
    tx: mpsc::UnboundedSender<Queued>,
    /// Record bytes sent to the task and not yet taken into a proposal.
    queued: Arc<AtomicUsize>,
    /// `max_queued_bytes`.
    limit: usize,
}

impl Proposer {
    /// Spawns the task for `raft`.
    pub fn spawn(raft: PartitionRaft, cfg: ProposeConfig, name: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let span = tracing::info_span!("propose", partition = %name);
        tokio::spawn(run(raft, cfg, rx, queued.clone()).instrument(span));
        Self {
            tx,
            queued,
            limit: cfg.max_queued_bytes,
        }
    }

    /// Queues `batch` for a proposal (possibly merged with others). With `acks=all` the
    /// outcome arrives on the returned channel; with `acks=leader` nobody waits for it (`None`).
    /// Refused as [`ProposeError::Busy`] without queueing when the queue holds too many bytes.
    pub fn submit(
        &self,
        batch: ProduceBatch,
        acks: Acks,
    ) -> Result<Option<oneshot::Receiver<ProposeResult>>, ProposeError> {
        let len = batch.records.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        // An empty queue takes any batch (its size is bounded by `max_batch_bytes`).
        if before > 0 && before + len > self.limit {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(ProposeError::Busy {
                queued: before,
                limit: self.limit,
            });
        }
        let (reply, rx) = match acks {
            Acks::All => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            }
            Acks::Leader => (None, None),
        };
        if self.tx.send(Queued { batch, reply }).is_err() {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(ProposeError::stopped());
        }
        Ok(rx)
    }

    /// Bytes waiting for the next proposal (for `/metrics`).
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// The task: waits for a request, then for a free pipeline slot, then takes everything queued
/// meanwhile (up to `max_entry_bytes`) into one proposal.
async fn run(
    raft: PartitionRaft,
    cfg: ProposeConfig,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    queued_bytes: Arc<AtomicUsize>,
) {
    let slots = Arc::new(Semaphore::new(cfg.max_in_flight.max(1)));
    let mut carried: Option<Queued> = None;
    loop {
        let first = match carried.take() {
            Some(q) => q,
            None => match rx.recv().await {
                Some(q) => q,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = 0;
        let mut queued = Vec::new();
        let mut next = Some(first);
        while let Some(q) = next.take().or_else(|| rx.try_recv().ok()) {
            let len = q.batch.records.len();
            if !queued.is_empty() && bytes + len > cfg.max_entry_bytes {
                carried = Some(q);
                break;
            }
            queued_bytes.fetch_sub(len, Ordering::AcqRel);
            // Its producer stopped waiting (timed out, disconnected) and was told the outcome
            // is unknown: it retries with the same sequence, so dropping it loses nothing and
            // keeps abandoned batches from piling up behind a slow group.
            if q.reply.as_ref().is_some_and(|r| r.is_closed()) {
                continue;
            }
            bytes += len;
            queued.push(q);
        }
        if queued.is_empty() {
            continue;
        }
        let (batches, replies): (Vec<_>, Vec<_>) =
            queued.into_iter().map(|q| (q.batch, q.reply)).unzip();
        let cmd = match <[_; 1]>::try_from(batches) {
            Ok([one]) => Command::from(one),
            Err(batches) => Command::ProduceMany { batches },
        };
        super::renew_lease(&raft, cfg.lease).await;
        let (responder, outcome) = ProgressResponder::complete_only();
        if let Err(f) = raft.client_write_ff(cmd, Some(responder)).await {
            answer(replies, Err(f.into()));
            continue;
        }
        tokio::spawn(async move {
            let r = match outcome.await {
                Ok(Ok(resp)) => Ok(resp.data),
                Ok(Err(e)) => Err(e.into()),
                // The core dropped the responder: the group stopped.
                Err(_) => Err(ProposeError::stopped()),
            };
            drop(slot);
            answer(replies, r);
        });
    }
}

/// Sends each waiting request its part of the entry's outcome.
fn answer(replies: Vec<Option<oneshot::Sender<ProposeResult>>>, r: ProposeResult) {
    match r {
        Ok(CommandResponse::Many(each)) if each.len() == replies.len() => {
            for (reply, resp) in replies.into_iter().zip(each) {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(resp));
                }
            }
        }
        Ok(CommandResponse::Many(each)) => {
            // Cannot happen (one response per batch); refuse rather than mis-assign offsets.
            let msg = format!("{} responses for {} batches", each.len(), replies.len());
            tracing::error!("{msg}");
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(Ok(CommandResponse::Rejected {
                    code: raftbus_protocol::ErrorCode::Internal,
                    message: msg.clone(),
                }));
            }
        }
        r => {
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(r.clone());
            }
        }
    }
}
