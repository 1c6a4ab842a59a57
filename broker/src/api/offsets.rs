//! Consumer-group offsets: `POST|GET /v1/partitions/{topic}/{partition}/offsets/{group}`.
//! Commits go through the partition's Raft log, so they are as durable as the records.

use actix_web::{HttpResponse, web};
use raftbus_protocol::api::{OffsetCommitRequest, OffsetResponse};

use super::{ApiState, partition, require_leader};
use crate::error::ApiError;
use crate::partition::validate_name;
use crate::raft::Command;
use crate::state_machine::read::read_offset;

pub(super) async fn commit(
    state: web::Data<ApiState>,
    path: web::Path<(String, u32, String)>,
    body: web::Json<OffsetCommitRequest>,
) -> Result<HttpResponse, ApiError> {
    let (topic, index, group) = path.into_inner();
    validate_name("consumer group", &group)?;
    let p = partition(&state, &topic, index)?;
    require_leader(&state, &p, true)?;
    let body = body.into_inner();
    let cmd = Command::CommitOffset {
        group: group.clone(),
        offset: body.offset,
        generation: body.generation,
    };
    super::produce::write(&state, &p, cmd).await?;
    Ok(HttpResponse::Ok().json(OffsetResponse {
        group,
        offset: Some(body.offset),
        generation: body.generation,
    }))
}

pub(super) async fn read(
    state: web::Data<ApiState>,
    path: web::Path<(String, u32, String)>,
) -> Result<HttpResponse, ApiError> {
    let (topic, index, group) = path.into_inner();
    validate_name("consumer group", &group)?;
    let p = partition(&state, &topic, index)?;
    require_leader(&state, &p, false)?;
    let c = read_offset(state.registry.db(), p.group_id, &group)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(OffsetResponse {
        group,
        offset: c.map(|c| c.offset),
        generation: c.and_then(|c| c.generation),
    }))
}
