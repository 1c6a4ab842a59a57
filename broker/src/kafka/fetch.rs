//! Fetch: reads through the HTTP API's fetch path ([`crate::api::fetch::read`]), so only
//! committed records are returned, and long-polls the way Kafka does: the answer goes once
//! `min_bytes` are there, or `max_wait_ms` passed (capped by `limits.max_wait_ms`). While
//! waiting it holds one of the broker's `limits.max_long_polls` permits, like an HTTP long
//! poll; without a free permit it answers at once.

use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};
use raftbus_protocol::acl::{Operation, ResourceKind};
use tokio::sync::watch;
use tokio::time::Instant;

use super::errors::code;
use super::records::to_kafka;
use super::{Kafka, Who};
use crate::state_machine::Watermarks;

/// One pass over the requested partitions.
struct Pass {
    topics: Vec<FetchableTopicResponse>,
    bytes: usize,
    failed: bool,
    /// Partitions read empty at their high watermark: what a long poll waits on.
    idle: Vec<(watch::Receiver<Watermarks>, u64)>,
}

pub(super) async fn handle(k: &Kafka, who: &Who, r: FetchRequest) -> FetchResponse {
    let limits = &k.api.settings.limits;
    let wait = Duration::from_millis(
        u64::try_from(r.max_wait_ms)
            .unwrap_or(0)
            .min(limits.max_wait_ms),
    );
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(r.min_bytes).unwrap_or(0);
    let max_bytes = u64::try_from(r.max_bytes)
        .ok()
        .filter(|b| *b > 0)
        .unwrap_or(limits.max_fetch_bytes)
        .min(limits.max_fetch_bytes);
    let mut permit = None;
    loop {
        let pass = read_all(k, who, &r.topics, max_bytes).await;
        let done = pass.bytes >= min_bytes.max(1)
            || pass.failed
            || pass.idle.is_empty()
            || Instant::now() >= deadline;
        if done {
            return FetchResponse::default().with_responses(pass.topics);
        }
        if permit.is_none() {
            permit = k.api.long_polls.clone().try_acquire_owned().ok();
            if permit.is_none() {
                return FetchResponse::default().with_responses(pass.topics);
            }
        }
        let waits = pass.idle.into_iter().map(|(mut rx, offset)| {
            async move {
                let _ = rx.wait_for(|m| m.next_offset > offset).await;
            }
            .boxed()
        });
        let _ = tokio::time::timeout_at(deadline, futures::future::select_all(waits)).await;
    }
}

async fn read_all(k: &Kafka, who: &Who, topics: &[FetchTopic], max_bytes: u64) -> Pass {
    let mut pass = Pass {
        topics: Vec::with_capacity(topics.len()),
        bytes: 0,
        failed: false,
        idle: Vec::new(),
    };
    for t in topics {
        let name = t.topic.0.as_str();
        let denied = k
            .allowed(who, ResourceKind::Topic, name, Operation::Consume)
            .is_err();
        let mut parts = Vec::with_capacity(t.partitions.len());
        for fp in &t.partitions {
            let base = PartitionData::default()
                .with_partition_index(fp.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_preferred_read_replica(BrokerId(-1))
                .with_records(Some(Bytes::new()));
            let fail = |c: i16| base.clone().with_error_code(c);
            if denied {
                pass.failed = true;
                parts.push(fail(ResponseError::TopicAuthorizationFailed.code()));
                continue;
            }
            let hosted = u32::try_from(fp.partition)
                .ok()
                .and_then(|i| k.api.registry.get(name, i));
            let (Some(p), Ok(offset)) = (hosted, u64::try_from(fp.fetch_offset)) else {
                pass.failed = true;
                parts.push(fail(ResponseError::NotLeaderOrFollower.code()));
                continue;
            };
            let room = max_bytes.saturating_sub(pass.bytes as u64);
            let part_max = u64::try_from(fp.partition_max_bytes).unwrap_or(0).max(1);
            let read = if room == 0 {
                Ok((Vec::new(), *p.marks.borrow()))
            } else {
                crate::api::fetch::read(&k.api, &p, offset, Some(part_max.min(room)), 0).await
            };
            let (batches, marks) = match read {
                Ok(x) => x,
                Err(e) => {
                    pass.failed = true;
                    let mut d = fail(code(&e));
                    if let (Some(hw), Some(ls)) = (e.0.high_watermark, e.0.log_start_offset) {
                        d = d
                            .with_high_watermark(hw as i64)
                            .with_last_stable_offset(hw as i64)
                            .with_log_start_offset(ls as i64);
                    }
                    parts.push(d);
                    continue;
                }
            };
            k.api.metrics.fetched(&batches);
            let records = match to_kafka(&batches) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "stored batch could not be encoded for Kafka");
                    pass.failed = true;
                    parts.push(fail(ResponseError::UnknownServerError.code()));
                    continue;
                }
            };
            if records.is_empty() && offset >= marks.next_offset {
                pass.idle.push((p.marks.clone(), offset));
            }
            pass.bytes += records.len();
            let hw = marks.next_offset as i64;
            parts.push(
                base.with_high_watermark(hw)
                    .with_last_stable_offset(hw)
                    .with_log_start_offset(marks.log_start_offset as i64)
                    .with_records(Some(records)),
            );
        }
        pass.topics.push(
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_partitions(parts),
        );
    }
    pass
}
