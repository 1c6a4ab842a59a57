//! `POST /v1/partitions/{topic}/{partition}/records`: append one batch.
//!
//! The body is a binary record batch (`application/octet-stream`, see
//! `raftbus_protocol::batch`) or, for curl, JSON `{"records":[{"key":..,"value":..}]}`.
//! The reply comes after the batch is committed by a majority and applied on the leader.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use raftbus_protocol::api::{
    AcceptedResponse, Acks, JsonHeader, ProduceJsonRequest, ProduceParams, ProduceResponse,
};
use raftbus_protocol::openapi::Binary;
use raftbus_protocol::{BatchBuilder, ErrorCode, RecordBatch};

use super::openapi::PartitionPath;
use super::{ApiState, partition, require_leader};
use crate::error::ApiError;
use crate::raft::{Command, CommandResponse, ProduceBatch, ProducerSeq, ProposeError};

/// Reads the body, refusing more than `limit` bytes with `too_large`.
pub(super) async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("cannot read body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            let mut e = ApiError::new(
                ErrorCode::TooLarge,
                format!("request body exceeds limits.max_batch_bytes ({limit} bytes)"),
            );
            e.0.limit_bytes = u32::try_from(limit).ok();
            return Err(e);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn parse_batch(req: &HttpRequest, body: Bytes) -> Result<RecordBatch, ApiError> {
    let is_json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return RecordBatch::parse(body)
            .map_err(|e| ApiError::bad_request(format!("invalid record batch: {e}")));
    }
    let json: ProduceJsonRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    if json.records.is_empty() {
        return Err(ApiError::bad_request("records must not be empty"));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut builder = BatchBuilder::new(now);
    for r in &json.records {
        let headers: Vec<_> = r.headers.iter().map(JsonHeader::to_header).collect();
        let key = r.key.as_deref().map(str::as_bytes);
        builder.push_with_headers(key, r.value.as_bytes(), now, &headers);
    }
    RecordBatch::parse(builder.finish())
        .map_err(|e| ApiError::bad_request(format!("invalid records: {e}")))
}

#[utoipa::path(
    post,
    path = raftbus_protocol::routes::PARTITION_RECORDS,
    tag = "records",
    params(PartitionPath, ProduceParams),
    request_body(
        description = "One record batch: the binary `protocol::batch` format, or JSON records",
        content((Binary = "application/octet-stream"), (ProduceJsonRequest = "application/json"))
    ),
    responses(
        (status = 200, description = "Committed by a majority", body = ProduceResponse),
        (status = 202, description = "Accepted by the leader (`acks=leader`)", body = AcceptedResponse)
    )
)]
pub(super) async fn produce(
    state: web::Data<ApiState>,
    path: web::Path<PartitionPath>,
    params: web::Query<ProduceParams>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let PartitionPath {
        topic,
        partition: index,
    } = path.into_inner();
    let p = partition(&state, &topic, index)?;
    let body = read_body(payload, state.settings.limits.max_batch_bytes).await?;
    let batch = parse_batch(&req, body)?;
    let producer = match (params.producer_id, params.sequence) {
        (Some(id), Some(seq)) => Some(ProducerSeq { id, seq }),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "producer_id and sequence must be given together",
            ));
        }
    };
    let outcome = append(&state, &p, producer, batch, params.acks).await?;
    Ok(match outcome {
        Appended::Accepted { record_count } => {
            HttpResponse::Accepted().json(AcceptedResponse { record_count })
        }
        Appended::Committed(resp) => HttpResponse::Ok().json(resp),
    })
}

/// What [`append`] did with a batch.
#[derive(Debug)]
pub(crate) enum Appended {
    /// `acks=leader`: in the leader's Raft pipeline, not yet durable anywhere.
    Accepted {
        /// Records in the batch.
        record_count: u32,
    },
    /// Committed by a majority and applied on the leader.
    Committed(ProduceResponse),
}

/// The produce path shared by the HTTP API and the Kafka listener: checks leadership and hands
/// the batch to the partition's one door (its propose task, whatever the acks), so both APIs
/// append to the same record space with the same guarantees and are counted alike.
pub(crate) async fn append(
    state: &ApiState,
    p: &crate::partition::Partition,
    producer: Option<ProducerSeq>,
    batch: RecordBatch,
    acks: Acks,
) -> Result<Appended, ApiError> {
    require_leader(state, p, true)?;
    let count = batch.count();
    let bytes = batch.bytes().len();
    let batch = ProduceBatch {
        producer,
        records: batch.into_bytes(),
        count,
        // This broker leads (checked above): its clock is the producer's replicated last-seen.
        at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let timeout = Duration::from_millis(state.settings.limits.produce_timeout_ms);
    let resp = match p.produce(batch, acks, timeout).await {
        Ok(Some(CommandResponse::Rejected { code, message })) => Err(ApiError::new(code, message)),
        r => r.map_err(|e| map_error(p, e)),
    };
    state.metrics.produced(&resp, count, bytes);
    let Some(resp) = resp? else {
        // Accepted into the leader's Raft pipeline; not yet durable anywhere.
        return Ok(Appended::Accepted {
            record_count: count,
        });
    };
    match resp {
        CommandResponse::Appended {
            base_offset,
            count,
            duplicate,
        } => Ok(Appended::Committed(ProduceResponse {
            base_offset,
            record_count: count,
            duplicate,
        })),
        other => Err(crate::error::internal(format!(
            "unexpected apply result {other:?}"
        ))),
    }
}

/// Proposes a command and waits for it to be committed and applied, mapping Raft outcomes to
/// wire errors. Ambiguous outcomes (timeout, entry discarded by a leader change) are
/// `timeout`: the command may or may not have been committed.
pub(super) async fn write(
    state: &ApiState,
    p: &crate::partition::Partition,
    cmd: Command,
) -> Result<CommandResponse, ApiError> {
    let timeout = Duration::from_millis(state.settings.limits.produce_timeout_ms);
    p.renew_lease(state.settings.raft.timing.lease()).await;
    match p.propose(cmd, timeout).await {
        Ok(CommandResponse::Rejected { code, message }) => Err(ApiError::new(code, message)),
        Ok(data) => Ok(data),
        Err(e) => Err(map_error(p, e)),
    }
}

/// Maps a failed proposal to the wire: ambiguous outcomes (timeout, entry discarded by a
/// leader change) are `timeout`, because the command may or may not have been committed.
fn map_error(p: &crate::partition::Partition, e: ProposeError) -> ApiError {
    match e {
        ProposeError::Timeout(timeout) => ApiError::new(
            ErrorCode::Timeout,
            format!(
                "{} did not commit within {} ms; it may still commit: retry with the same producer id and sequence",
                p.name(),
                timeout.as_millis()
            ),
        ),
        ProposeError::NotLeader(leader) => ApiError::not_leader(&p.name(), leader),
        ProposeError::Discarded => ApiError::new(
            ErrorCode::Timeout,
            format!(
                "leadership of {} changed while committing; outcome unknown: retry idempotently",
                p.name()
            ),
        ),
        ProposeError::Stopped(f) => ApiError::new(
            ErrorCode::Unavailable,
            format!("{} is stopped: {f}", p.name()),
        ),
        ProposeError::Busy { queued, limit } => ApiError::new(
            ErrorCode::Busy,
            format!(
                "{} has {queued} bytes of produce requests queued (limits.max_queued_bytes = {limit}): \
                 back off and retry",
                p.name(),
            ),
        ),
        ProposeError::Other(e) => crate::error::internal(e),
    }
}
