//! ListOffsets: earliest (-2) is the log start offset, latest (-1) the high watermark, a
//! timestamp the first offset whose record timestamp is at least it (a scan of the stored
//! batches from the log start: Raftbus keeps no time index). Read through the fetch path, so
//! leadership is checked the same way.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use raftbus_protocol::RecordBatch;
use raftbus_protocol::acl::{Operation, ResourceKind};

use super::errors::code;
use super::{Kafka, Who};
use crate::api::fetch::read;
use crate::error::ApiError;
use crate::partition::Partition;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
/// Bytes read per step of a timestamp scan.
const SCAN_BYTES: u64 = 1 << 20;

pub(super) async fn handle(k: &Kafka, who: &Who, r: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(r.topics.len());
    for t in r.topics {
        let name = t.name.0.as_str().to_string();
        let denied = k
            .allowed(who, ResourceKind::Topic, &name, Operation::Describe)
            .is_err();
        let mut parts = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let resp = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(-1);
            if denied {
                parts.push(resp.with_error_code(ResponseError::TopicAuthorizationFailed.code()));
                continue;
            }
            let hosted = u32::try_from(p.partition_index)
                .ok()
                .and_then(|i| k.api.registry.get(&name, i));
            let Some(hosted) = hosted else {
                parts.push(resp.with_error_code(ResponseError::NotLeaderOrFollower.code()));
                continue;
            };
            parts.push(match offset_for(k, &hosted, p.timestamp).await {
                Ok((offset, ts)) => resp.with_offset(offset).with_timestamp(ts),
                Err(e) => resp.with_error_code(code(&e)),
            });
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(parts),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// `(offset, timestamp)` for a ListOffsets timestamp; the timestamp is -1 unless one was found.
async fn offset_for(k: &Kafka, p: &Partition, timestamp: i64) -> Result<(i64, i64), ApiError> {
    let now = *p.marks.borrow();
    // A read at the high watermark returns nothing but checks leadership and read-readiness.
    let (_, marks) = read(&k.api, p, now.next_offset, Some(1), 0).await?;
    match timestamp {
        LATEST => return Ok((marks.next_offset as i64, -1)),
        EARLIEST => return Ok((marks.log_start_offset as i64, -1)),
        t if t < 0 => {
            return Err(ApiError::bad_request(format!(
                "ListOffsets timestamp {t} is not supported"
            )));
        }
        _ => {}
    }
    let mut from = marks.log_start_offset;
    while from < marks.next_offset {
        let (batches, _) = read(&k.api, p, from, Some(SCAN_BYTES), 0).await?;
        if batches.is_empty() {
            break;
        }
        for (base, _, data) in batches {
            let batch = RecordBatch::parse(data).map_err(crate::error::internal)?;
            for (i, r) in batch.records().enumerate() {
                let offset = base + i as u64;
                if offset >= from && r.timestamp_ms as i64 >= timestamp {
                    return Ok((offset as i64, r.timestamp_ms as i64));
                }
                from = from.max(offset + 1);
            }
        }
    }
    // None that late: like Kafka, offset and timestamp -1 (clients read that as the end).
    Ok((-1, -1))
}
