//! One task per partition: batch, sequence, send, retry.
//!
//! ### To ensure correctness
//! - Sequence numbers are assigned when a batch is closed, in order, and never reused for other
//!   records: a retry resends the *same bytes* with the *same* `(producer id, sequence)`, so
//!   the broker can recognise it.
//! - At most `max_in_flight` (<= `PRODUCER_WINDOW`) batches are unacknowledged, within the broker's
//!   dedup window, so any retry is recognised.
//! - If a batch fails for good, later sequences of that producer id can never be accepted (the
//!   broker refuses gaps), so the worker switches to a fresh producer id starting at 0 — but
//!   only after every other in-flight batch of the old id is resolved. A "failed" batch may in
//!   fact have been committed (a timeout is an unknown outcome), and then later old-id batches
//!   can still succeed; sending new-id batches meanwhile would let records sent later land
//!   before records sent earlier.
//! - `unknown_producer` (the partition does not know the id) is retried while no batch of
//!   the id was acknowledged on the partition (its first batch may just not have arrived yet);
//!   after one was, it means the broker expired the idle id: the batch fails for good (nothing
//!   was appended) and the worker continues with a new id as above. Re-sending the batch as
//!   new could store twice a batch whose earlier attempt was appended before the expiry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use raftbus_protocol::{BatchBuilder, ErrorCode};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Delivery, Pending, Shared};
use crate::SdkError;

/// Longest pause between retries of one batch.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Pause between asks while the survivors of a silent leader elect a new one.
const ELECTION_POLL: Duration = Duration::from_millis(50);

/// The partition worker's loop; ends when the producer is closed and everything is resolved.
pub(super) async fn run(
    shared: Arc<Shared>,
    partition: u32,
    producer_id: Uuid,
    mut rx: mpsc::Receiver<Pending>,
) {
    let cfg = shared.config.clone();
    let mut id = producer_id;
    let mut next_seq = 0u64;
    // Set once a batch of `id` is acknowledged on this partition (see the module docs).
    let mut known = Arc::new(AtomicBool::new(false));
    let mut batch: Vec<Pending> = Vec::new();
    let mut bytes = 0usize;
    let mut inflight = FuturesUnordered::new();
    let mut open = true;
    // A batch failed for good: dispatch nothing until the old id's batches are all resolved.
    let mut draining = false;
    loop {
        if draining && inflight.is_empty() {
            draining = false;
            id = Uuid::new_v4();
            next_seq = 0;
            known = Arc::new(AtomicBool::new(false));
        }
        let full = bytes >= cfg.batch_bytes;
        let can_send = !draining && inflight.len() < cfg.max_in_flight;
        let linger_at = batch
            .first()
            .map(|p| tokio::time::Instant::from_std(p.enqueued + cfg.linger));
        // Nothing in flight: lingering would only add latency (one-at-a-time senders), so
        // send what is queued now. Under load batches form while earlier ones are in flight.
        let idle = inflight.is_empty();
        if idle && open && !batch.is_empty() {
            while bytes < cfg.batch_bytes {
                match rx.try_recv() {
                    Ok(p) => {
                        bytes += p.key.as_ref().map_or(0, Bytes::len) + p.value.len() + 8;
                        batch.push(p);
                    }
                    Err(_) => break,
                }
            }
        }
        let due = !batch.is_empty() && can_send && (full || !open || idle);
        if due {
            let records = std::mem::take(&mut batch);
            bytes = 0;
            let seq = next_seq;
            next_seq += 1;
            inflight.push(send_batch(
                shared.clone(),
                partition,
                (id, seq, known.clone()),
                records,
            ));
            continue;
        }
        if !open && batch.is_empty() && inflight.is_empty() {
            return;
        }
        tokio::select! {
            Some(failed) = inflight.next(), if !inflight.is_empty() => {
                if failed {
                    draining = true;
                }
            }
            r = rx.recv(), if open && !full => match r {
                Some(p) => {
                    bytes += p.key.as_ref().map_or(0, Bytes::len) + p.value.len() + 8;
                    batch.push(p);
                }
                None => open = false,
            },
            _ = tokio::time::sleep_until(linger_at.unwrap_or_else(tokio::time::Instant::now)), if linger_at.is_some() && can_send => {
                let records = std::mem::take(&mut batch);
                bytes = 0;
                let seq = next_seq;
                next_seq += 1;
                inflight.push(send_batch(shared.clone(), partition, (id, seq, known.clone()), records));
            }
        }
    }
}

/// Sends one batch until it is acknowledged, refused, or out of time; resolves its records.
/// Returns true when the batch failed for good.
async fn send_batch(
    shared: Arc<Shared>,
    partition: u32,
    (id, seq, known): (Uuid, u64, Arc<AtomicBool>),
    records: Vec<Pending>,
) -> bool {
    let cfg = &shared.config;
    let mut b = BatchBuilder::new(records[0].timestamp_ms);
    for r in &records {
        b.push(r.key.as_deref(), &r.value, r.timestamp_ms);
    }
    let data = b.finish();
    let deadline = records[0].enqueued + cfg.delivery_timeout;
    let producer = cfg.idempotent.then_some((id, seq));
    let acks_leader = cfg.acks == super::Acks::Leader;
    let mut backoff = Duration::from_millis(25);
    let mut attempts = 0u32;
    // Consecutive immediate retries on leader hints (reset after each backoff).
    let mut quick_retries = 0u32;
    // The last answer named a leader that recently gave no answer (see `Routes::suspect`).
    let mut polling = false;
    loop {
        attempts += 1;
        let err = match shared.routes.leader(partition) {
            None => {
                shared.routes.refresh().await;
                SdkError::Delivery {
                    partition,
                    code: Some(ErrorCode::NotLeader),
                    message: "no known leader".into(),
                }
            }
            Some(addr) => {
                let r = shared
                    .client
                    .produce_acks(
                        &addr,
                        &shared.topic,
                        partition,
                        data.clone(),
                        producer,
                        acks_leader,
                    )
                    .await;
                match r {
                    Ok(resp) => {
                        known.store(true, Ordering::Relaxed);
                        for (i, rec) in records.into_iter().enumerate() {
                            let offset = resp.map(|base| base + i as u64);
                            let _ = rec.tx.send(Ok(Delivery { partition, offset }));
                        }
                        return false;
                    }
                    // The leader is at its queue limit: back off (below) and ask it again.
                    Err(e) if e.code() == Some(ErrorCode::Busy) => e,
                    Err(e)
                        if e.code() == Some(ErrorCode::UnknownProducer)
                            && known.load(Ordering::Relaxed) =>
                    {
                        return fail(records, partition, &e, attempts);
                    }
                    Err(e) if e.is_retryable() => {
                        if let Some((_, leader)) = e.leader_hint() {
                            let taken = shared.routes.hint(partition, leader);
                            // Survivors still name a leader that gave no answer: they are
                            // electing; ask again soon, without growing the backoff.
                            polling = !taken;
                            // A hint naming another broker: retry there at once, a few times
                            // in a row. Replicas that still name a leader which is frozen or
                            // just died would otherwise bounce requests without pause.
                            let fresh = taken && leader != addr.as_str();
                            if fresh && Instant::now() < deadline && quick_retries < 3 {
                                quick_retries += 1;
                                continue;
                            }
                        } else {
                            if matches!(e, SdkError::Transport { .. }) {
                                shared.routes.suspect(&addr);
                            }
                            // Ask the next replica (it names the new leader); now and then
                            // also the managers, in case the replica set itself changed.
                            if attempts.is_multiple_of(4) {
                                shared.routes.refresh().await;
                            }
                            shared.routes.forget(partition, &addr);
                        }
                        e
                    }
                    Err(e) => return fail(records, partition, &e, attempts),
                }
            }
        };
        let pause = if polling {
            backoff.min(ELECTION_POLL)
        } else {
            backoff
        };
        if Instant::now() + pause >= deadline {
            return fail(records, partition, &err, attempts);
        }
        tokio::time::sleep(pause).await;
        if !polling {
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        polling = false;
        quick_retries = 0;
    }
}

fn fail(records: Vec<Pending>, partition: u32, e: &SdkError, attempts: u32) -> bool {
    let message = format!("{e} (after {attempts} attempts)");
    for r in records {
        let _ = r.tx.send(Err(SdkError::Delivery {
            partition,
            code: e.code(),
            message: message.clone(),
        }));
    }
    true
}
