//! Fetching: resolve positions, then fetch every owned partition from its leader.
//!
//! A poll first asks every partition without waiting; only when none has records does it
//! long-poll, returning as soon as one partition has something (the other requests are
//! dropped). Busy partitions are never held back by idle ones.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use futures::stream::FuturesUnordered;
use raftbus_protocol::ErrorCode;

use super::{Consumer, ConsumerRecord, ResetPolicy, StartFrom};
use crate::SdkError;

/// What one partition's fetch produced.
enum Outcome {
    Records(Vec<ConsumerRecord>, u64),
    /// Position must move (reset policy applied to `offset_out_of_range`).
    Reset(u64),
    /// Leader moved or unreachable: routes updated, try again next round.
    Retry,
}

impl Consumer {
    pub(super) async fn fetch(
        &mut self,
        timeout: Duration,
    ) -> Result<Vec<ConsumerRecord>, SdkError> {
        let deadline = Instant::now() + timeout;
        let mut wait = Duration::ZERO;
        loop {
            self.resolve_positions().await?;
            let targets: Vec<(u32, u64)> = self
                .owned
                .iter()
                .filter_map(|(p, o)| Some((*p, o.position?)))
                .collect();
            if targets.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Vec::new());
                }
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
                self.rebalance_if_needed().await;
                continue;
            }
            let results = if wait.is_zero() {
                join_all(
                    targets
                        .iter()
                        .map(|&(p, pos)| self.fetch_one(p, pos, Duration::ZERO)),
                )
                .await
            } else {
                let mut pending: FuturesUnordered<_> = targets
                    .iter()
                    .map(|&(p, pos)| self.fetch_one(p, pos, wait))
                    .collect();
                let mut done = Vec::new();
                while let Some(r) = pending.next().await {
                    let has_records =
                        matches!(&r, (_, Ok(Outcome::Records(v, _))) if !v.is_empty());
                    done.push(r);
                    if has_records {
                        break;
                    }
                }
                done
            };
            let mut out = Vec::new();
            let mut failed = None;
            for (p, r) in results {
                // A fatal error on one partition must not drop records already taken from
                // another whose position moved: return those, report the error on a poll
                // that has nothing else to return.
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        failed.get_or_insert(e);
                        continue;
                    }
                };
                match r {
                    Outcome::Records(recs, next) => {
                        if let Some(o) = self.owned.get_mut(&p) {
                            o.position = Some(next);
                        }
                        out.extend(recs);
                    }
                    Outcome::Reset(to) => {
                        if let Some(o) = self.owned.get_mut(&p) {
                            o.position = Some(to);
                        }
                    }
                    Outcome::Retry => {}
                }
            }
            if out.is_empty()
                && let Some(e) = failed
            {
                return Err(e);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !out.is_empty() || left.is_zero() {
                return Ok(out);
            }
            wait = self.config.fetch_wait.min(left);
        }
    }

    /// Fetches one partition from `pos`; errors other than `offset_out_of_range` with a
    /// `Fail` policy or a fatal answer become retries.
    async fn fetch_one(
        &self,
        p: u32,
        pos: u64,
        wait: Duration,
    ) -> (u32, Result<Outcome, SdkError>) {
        let Some(addr) = self.routes.leader(p) else {
            self.routes.refresh().await;
            return (p, Ok(Outcome::Retry));
        };
        let r = self
            .client
            .fetch(
                &addr,
                &self.topic,
                p,
                pos,
                self.config.fetch_max_bytes,
                wait,
            )
            .await;
        let outcome = match r {
            Ok(f) => {
                self.succeeded(p);
                let mut recs = Vec::new();
                let mut next = pos;
                for (base, batch) in &f.batches {
                    for (i, r) in batch.records().enumerate() {
                        let offset = base + i as u64;
                        if offset >= pos {
                            recs.push(ConsumerRecord {
                                partition: p,
                                offset,
                                key: r.key,
                                value: r.value,
                                timestamp_ms: r.timestamp_ms,
                                headers: r.headers,
                            });
                            next = offset + 1;
                        }
                    }
                }
                Ok(Outcome::Records(recs, next))
            }
            Err(SdkError::Api { body, status }) if body.code == ErrorCode::OffsetOutOfRange => {
                match self.config.reset {
                    ResetPolicy::Earliest => Ok(Outcome::Reset(body.log_start_offset.unwrap_or(0))),
                    ResetPolicy::Latest => Ok(Outcome::Reset(body.high_watermark.unwrap_or(pos))),
                    ResetPolicy::Fail => Err(SdkError::Api { body, status }),
                }
            }
            // The same policy as the producer's (`busy` included: the leader is kept and
            // asked again after the backoff); a frozen leader named by survivors' hints is not
            // taken back until they elect a new one.
            Err(e) if e.is_retryable() => {
                self.retry_after(p, &addr, &e).await;
                Ok(Outcome::Retry)
            }
            Err(e) => Err(e),
        };
        (p, outcome)
    }

    /// Gives every owned partition without a position one: the group's committed offset, or
    /// the start policy.
    async fn resolve_positions(&mut self) -> Result<(), SdkError> {
        let unresolved: Vec<(u32, StartFrom)> = self
            .owned
            .iter()
            .filter(|(_, o)| o.position.is_none())
            .map(|(p, o)| (*p, o.start))
            .collect();
        for (p, start) in unresolved {
            let Some(addr) = self.routes.leader(p) else {
                self.routes.refresh().await;
                continue;
            };
            let group = self.member.as_ref().map(|m| m.group.clone());
            let committed = match &group {
                Some(g) => match self.client.read_offset(&addr, &self.topic, p, g).await {
                    Ok(r) => r.offset,
                    Err(e) if e.is_retryable() => {
                        self.retry_after(p, &addr, &e).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let position = match (committed, start) {
                (Some(c), _) => c,
                (None, StartFrom::Earliest) => 0, // below the log start: reset policy moves it
                (None, StartFrom::Offset(o)) => o,
                (None, StartFrom::Latest) => {
                    match self.client.partition_status(&addr, &self.topic, p).await {
                        Ok(s) => s.log_end_offset,
                        Err(e) => {
                            self.retry_after(p, &addr, &e).await;
                            continue;
                        }
                    }
                }
            };
            if let Some(o) = self.owned.get_mut(&p) {
                o.position = Some(position);
                o.committed = committed;
            }
        }
        Ok(())
    }
}
