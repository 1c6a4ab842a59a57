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
use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use raftbus_protocol::{BatchBuilder, ErrorCode};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Delivery, Pending, Shared};
use crate::SdkError;
use crate::routes::{Backoff, Retry};

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
                        bytes += p.size + 8;
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
                    bytes += p.size + 8;
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
        b.push_with_headers(r.key.as_deref(), &r.value, r.timestamp_ms, &r.headers);
    }
    let data = b.finish();
    let deadline = records[0].enqueued + cfg.delivery_timeout;
    let producer = cfg.idempotent.then_some((id, seq));
    let acks_leader = cfg.acks == super::Acks::Leader;
    // The routing and retry policy shared with the consumer (`routes::Routes::after_failure`).
    let mut backoff = Backoff::default();
    loop {
        let attempts = backoff.attempt();
        let (err, retry) = match shared.routes.leader(partition) {
            None => {
                shared.routes.refresh().await;
                let e = SdkError::Delivery {
                    partition,
                    code: Some(ErrorCode::NotLeader),
                    message: "no known leader".into(),
                };
                (e, Retry::Backoff)
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
                    Err(e)
                        if e.code() == Some(ErrorCode::UnknownProducer)
                            && known.load(Ordering::Relaxed) =>
                    {
                        return fail(records, partition, &e, attempts);
                    }
                    // `busy` is retryable: the policy keeps the leader and backs off.
                    Err(e) if e.is_retryable() => {
                        let retry = shared
                            .routes
                            .after_failure(partition, &addr, &e, attempts)
                            .await;
                        (e, retry)
                    }
                    Err(e) => return fail(records, partition, &e, attempts),
                }
            }
        };
        let pause = backoff.pause(retry);
        if Instant::now() + pause >= deadline {
            return fail(records, partition, &err, attempts);
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
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
