//! `GET /v1/partitions/{topic}/{partition}/records?offset=&max_bytes=&wait_ms=`
//!
//! Returns committed records only: the state machine publishes the high watermark once a run
//! of committed entries is applied, and only batches below it are read (from
//! `partition_batches`, and from the replica's not yet persisted batches above them). With
//! `Accept: application/octet-stream` the reply is binary frames
//! (`raftbus_protocol::fetch`), otherwise JSON.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::api::{FetchJsonResponse, FetchParams, FetchedRecord, JsonHeader};
use raftbus_protocol::fetch::{
    BINARY_CONTENT_TYPE, HIGH_WATERMARK_HEADER, LOG_START_HEADER, put_frame,
};
use raftbus_protocol::openapi::Binary;
use raftbus_protocol::{ErrorCode, RecordBatch};

use super::openapi::PartitionPath;
use super::{ApiState, partition, require_leader};
use crate::error::ApiError;
use crate::partition::Partition;
use crate::state_machine::Watermarks;
use crate::state_machine::read::read_committed;

/// `offset_out_of_range` (416) carrying the stored range, so a consumer can apply its reset
/// policy without another request.
fn out_of_range(name: &str, offset: u64, marks: Watermarks) -> ApiError {
    let mut e = ApiError::new(
        ErrorCode::OffsetOutOfRange,
        format!(
            "offset {offset} is outside {name}'s stored range [{}, {}]",
            marks.log_start_offset, marks.next_offset
        ),
    );
    e.0.log_start_offset = Some(marks.log_start_offset);
    e.0.high_watermark = Some(marks.next_offset);
    e
}

#[utoipa::path(
    get,
    path = raftbus_protocol::routes::PARTITION_RECORDS,
    tag = "records",
    params(PartitionPath, FetchParams),
    responses((
        status = 200,
        description = "Committed records from `offset`: JSON, or binary frames (`protocol::fetch`) \
                       with `Accept: application/octet-stream`, the high watermark and log start \
                       offset then in the `x-raftbus-high-watermark` and \
                       `x-raftbus-log-start-offset` headers",
        content((FetchJsonResponse = "application/json"), (Binary = "application/octet-stream"))
    ))
)]
pub(super) async fn fetch(
    state: web::Data<ApiState>,
    path: web::Path<PartitionPath>,
    params: web::Query<FetchParams>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let PartitionPath {
        topic,
        partition: index,
    } = path.into_inner();
    let p = partition(&state, &topic, index)?;
    let (batches, marks) = read(
        &state,
        &p,
        params.offset,
        params.max_bytes,
        params.wait_ms.unwrap_or(0),
    )
    .await?;
    let offset = params.offset;
    state.metrics.fetched(&batches);
    let binary = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(BINARY_CONTENT_TYPE));
    if binary {
        let mut body = Vec::with_capacity(batches.iter().map(|b| b.2.len() + 12).sum());
        for (base, _, data) in &batches {
            put_frame(&mut body, *base, data);
        }
        return Ok(HttpResponse::Ok()
            .content_type(BINARY_CONTENT_TYPE)
            .insert_header((HIGH_WATERMARK_HEADER, marks.next_offset.to_string()))
            .insert_header((LOG_START_HEADER, marks.log_start_offset.to_string()))
            .body(body));
    }
    let mut records = Vec::new();
    let mut next_offset = offset;
    for (base, _, data) in batches {
        let batch = RecordBatch::parse(data).map_err(crate::error::internal)?;
        for (i, r) in batch.records().enumerate() {
            let o = base + i as u64;
            if o < offset {
                continue;
            }
            records.push(FetchedRecord {
                offset: o,
                key: r.key.map(|k| String::from_utf8_lossy(&k).into_owned()),
                value: String::from_utf8_lossy(&r.value).into_owned(),
                timestamp_ms: r.timestamp_ms,
                headers: r.headers.iter().map(JsonHeader::lossy).collect(),
            });
            next_offset = o + 1;
        }
    }
    Ok(HttpResponse::Ok().json(FetchJsonResponse {
        records,
        next_offset,
        high_watermark: marks.next_offset,
        log_start_offset: marks.log_start_offset,
    }))
}

/// Batches stored from `offset` (whole batches: the first may start before it) and the
/// watermarks they were read under: the fetch path shared by the HTTP API and the Kafka
/// listener. Waits up to `wait_ms` (capped by `limits.max_wait_ms`) when `offset` is the high
/// watermark; answers `offset_out_of_range` outside the stored range.
pub(crate) async fn read(
    state: &ApiState,
    p: &Partition,
    offset: u64,
    max_bytes: Option<u64>,
    wait_ms: u64,
) -> Result<(Vec<(u64, u32, bytes::Bytes)>, Watermarks), ApiError> {
    require_leader(state, p, false)?;
    let limits = &state.settings.limits;
    let wait = wait_ms.min(limits.max_wait_ms);
    // Each waiter holds a request, a connection's stream and a watch receiver: bounded. A
    // fetch that looks like it will wait takes its slot before it waits for anything (read
    // readiness included), so a flood of long polls is refused at once instead of first
    // piling up behind the lease renewal.
    let permit = (wait > 0 && offset == p.marks.borrow().next_offset)
        .then(|| long_poll_permit(state))
        .transpose()?;
    if !p.wait_read_ready(state.settings.raft.timing.lease()).await {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "the leader of {} cannot serve reads yet (no quorum acknowledged it within its \
                 lease, or no entry of its term is committed); retry",
                p.name()
            ),
        ));
    }
    let mut marks = *p.marks.borrow();
    if offset < marks.log_start_offset || offset > marks.next_offset {
        return Err(out_of_range(&p.name(), offset, marks));
    }
    if offset == marks.next_offset && wait > 0 {
        let _permit = match permit {
            Some(held) => held,
            None => long_poll_permit(state)?,
        };
        let mut rx = p.marks.clone();
        if let Ok(Ok(m)) = tokio::time::timeout(
            Duration::from_millis(wait),
            rx.wait_for(|m| m.next_offset > offset),
        )
        .await
        {
            marks = *m;
        }
    }
    let max_bytes = max_bytes
        .unwrap_or(limits.max_fetch_bytes)
        .clamp(1, limits.max_fetch_bytes);
    let batches = if offset < marks.next_offset {
        read_committed(
            state.registry.db(),
            p.group_id,
            &p.unpersisted,
            offset,
            marks.next_offset,
            max_bytes,
        )
        .await
        .map_err(crate::error::internal)?
    } else {
        Vec::new()
    };
    // A trim may have committed between the range check and the read: the read then skipped
    // deleted batches silently. Answer out of range instead, with the new log start.
    let now = *p.marks.borrow();
    if offset < now.log_start_offset {
        return Err(out_of_range(&p.name(), offset, now));
    }
    Ok((batches, marks))
}

/// A slot among the `limits.max_long_polls` fetches that may wait at once, or `busy`.
fn long_poll_permit(state: &ApiState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state.long_polls.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            ErrorCode::Busy,
            format!(
                "{} fetches are already waiting on this broker (limits.max_long_polls): back \
                 off and retry",
                state.settings.limits.max_long_polls
            ),
        )
    })
}
